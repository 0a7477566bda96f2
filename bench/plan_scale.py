"""How long ``grouppilot plan`` takes for 1,000 groups x 50 members, against the sandbox.

    uv run python bench/plan_scale.py [--groups 1000] [--members 50] [--latency-ms 0]
                                      [--max-rps 1000] [--concurrency 8]

Serves a sandbox on 127.0.0.1 with ``--groups`` groups of ``--members``
members each (the number itself, its superadmin, included), declares them in a
groups file built in memory with a little drift (every tenth group: one member
to add, one to remove, one to promote), and times :func:`compute_plan` through
one WhatsAppClient (its rate and concurrency caps hold: one list, then one read
per group) and :func:`format_plan`. Prints the wall time; the time excluding
API latency (target: under 5 s), which is the CPU time of the event loop's
thread (the client's own work, parsing the answers, and the plan: the
sandbox server runs in another thread); the API's share, the rest (waiting
for answers and for the rate cap); and the number of requests. Bounded: at
most 2,000 groups of 200 members, on loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bot.membership.model import DeclaredGroup, GroupsFile
from bot.membership.plan import compute_plan, format_plan
from bot.sandbox import Sandbox, SandboxServerThread
from bot.sandbox.groups import OWNER
from bot.whatsapp import RetryPolicy, WhatsAppClient

MAX_GROUPS, MAX_MEMBERS = 2000, 200
TARGET_SECONDS = 5.0


def member(group: int, index: int) -> str:
    """A member's digits; never ending in 0000 (the sandbox's privacy-blocked numbers)."""
    return f"55119{group:05d}{index:03d}"


def populate(sandbox: Sandbox, members: int) -> GroupsFile:
    """Fill every sandbox group to ``members`` and declare them, every tenth one drifted."""
    declared: list[DeclaredGroup] = []
    for position, (gid, group) in enumerate(sorted(sandbox.groups.items())):
        others = [member(position, index) for index in range(1, members)]
        sandbox.add_participants(gid, others)
        live = set(sandbox.groups[gid].participants) if position < 4 else {OWNER, *others}
        admins = {OWNER}
        wanted = set(live)
        if position % 10 == 0:  # drift: one new member, one removed, one promoted
            wanted.discard(others[0])
            wanted.add(member(position, 999))
            admins.add(others[1])
        declared.append(
            DeclaredGroup(f"g{position:04d}", gid, group.name, frozenset(wanted), frozenset(admins))
        )
    return GroupsFile(tuple(declared))


async def measure(
    url: str, sandbox: Sandbox, declared: GroupsFile, args: argparse.Namespace
) -> None:
    async with WhatsAppClient(
        base_url=url,
        api_key="bench",
        max_rps=args.max_rps,
        concurrency=args.concurrency,
        retry=RetryPolicy.fast(),
    ) as client:
        sandbox.reset_stats()
        began, cpu_began = time.perf_counter(), time.thread_time()
        plan = await compute_plan(client, declared, owner=OWNER)
        planned = time.perf_counter() - began
        text = format_plan(plan)
        formatted = time.perf_counter() - began - planned
        ours = time.thread_time() - cpu_began  # this thread only: the server runs in another
    records = sandbox.requests
    api = max(0.0, planned + formatted - ours)
    changes = sum(len(group.changes) for group in plan.groups)
    print(f"groups x members       {len(declared.groups)} x {args.members}")
    print(f"requests               {len(records)} (1 list + 1 read per group)")
    print(f"plan wall time         {planned:.2f} s  (format_plan {formatted * 1000:.0f} ms)")
    print(
        f"API wait (share)       {api:.2f} s  "
        f"({api / (planned + formatted):.0%}: answers, the rate cap)"
    )
    verdict = "ok" if ours < TARGET_SECONDS else "MISSED"
    print(f"excluding API latency  {ours:.2f} s  (target < {TARGET_SECONDS:.0f} s: {verdict})")
    print(f"changes planned        {changes} in {sum(1 for g in plan.groups if g.changes)} groups")
    print(f"plan text              {len(text.splitlines())} lines")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--max-rps", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    args.groups = max(4, min(args.groups, MAX_GROUPS))
    args.members = max(2, min(args.members, MAX_MEMBERS))
    sandbox = Sandbox(groups=args.groups, latency_ms=args.latency_ms)
    declared = populate(sandbox, args.members)
    with SandboxServerThread(sandbox) as server:
        asyncio.run(measure(server.url, sandbox, declared, args))


if __name__ == "__main__":
    main()
