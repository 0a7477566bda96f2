"""Every admin command in one table (docs/commands.md): the single place to add one.

Besides syntax and rights, each entry says what it touches, so that commands
can run side by side and still keep the order that matters
(`bot.commands.claims`): ``changes`` for anything that changes groups,
aliases or jobs; ``group_args`` for the arguments naming a group, a target or
an alias; ``job_arg`` for a job name; ``group_list`` for the list of groups.
Commands that touch nothing of the kind (``/help``, ``/aliases``, ``/jobs``,
``/job``, ``/log``, ``/status``) never wait for another command.
"""

from __future__ import annotations

from bot.commands import (
    aliases,
    groups,
    info,
    job_edit,
    jobs,
    membership,
    membership_apply,
    membership_plan,
    runs,
    send,
    templates,
)
from bot.commands.registry import CommandSpec, Registry
from bot.commands.send_content import SEND_USAGE
from bot.commands.types import Rights

ADMIN, VIEWER = Rights.ADMIN, Rights.VIEWER


def command_specs() -> list[CommandSpec]:
    return [
        CommandSpec("help", "[command]", "commands you can use, or one command's usage",
                    VIEWER, info.help_command, max_args=1, example="/help add"),
        CommandSpec("status", "", "API and number state, sandbox or live, version, uptime",
                    VIEWER, info.status),
        CommandSpec("groups", "[text]", "groups of the number (id, name), filtered by text",
                    VIEWER, groups.list_groups, max_args=None, example="/groups sales",
                    group_list=True),
        CommandSpec("group", "<group>", "subject and participants with roles",
                    VIEWER, groups.show_group, min_args=1, max_args=1, example="/group sales",
                    group_args=(0,)),
        CommandSpec("create", "<subject> [number…]",
                    "create a group; says per number whether it is in",
                    ADMIN, membership.create, min_args=1, max_args=None,
                    example='/create "Launch team" +5511999999999',
                    changes=True, group_args=(0,), group_list=True),
        CommandSpec("add", "<group> <number…>",
                    "add people; reports per number: added, already a member, or not added",
                    ADMIN, membership.add, min_args=2, max_args=None,
                    example="/add sales +55 11 99999-9999", changes=True, group_args=(0,)),
        CommandSpec("remove", "<group> <number…>", "remove people (asks to confirm)",
                    ADMIN, membership.remove, min_args=2, max_args=None,
                    example="/remove sales 5511933334444", changes=True, group_args=(0,)),
        CommandSpec("promote", "<group> <number…>", "make group admins",
                    ADMIN, membership.promote, min_args=2, max_args=None,
                    example="/promote sales 5511933334444", changes=True, group_args=(0,)),
        CommandSpec("demote", "<group> <number…>", "make regular members",
                    ADMIN, membership.demote, min_args=2, max_args=None,
                    example="/demote sales 5511933334444", changes=True, group_args=(0,)),
        CommandSpec("apply", "[group]",
                    "make the groups match the groups file (shows the plan, asks to confirm)",
                    ADMIN, membership_apply.apply_groups, max_args=1, example="/apply sales",
                    changes=True, group_list=True),
        CommandSpec("invite", "<group> [reset | send <number…>]",
                    "current invite link; with reset, a new one; with send, send it by "
                    "WhatsApp message to each number (both ask to confirm)",
                    ADMIN, groups.invite, min_args=1, max_args=None,
                    example="/invite sales send +55 11 99999-9999", changes=True,
                    group_args=(0,)),
        CommandSpec("pin", "<group> <message-id|last>",
                    "pin a message; last = the last one this bot sent there",
                    ADMIN, groups.pin, min_args=2, max_args=2, example="/pin sales last",
                    changes=True, group_args=(0,)),
        CommandSpec("unpin", "<group> <message-id|last>", "unpin a message",
                    ADMIN, groups.unpin, min_args=2, max_args=2, example="/unpin sales last",
                    changes=True, group_args=(0,)),
        CommandSpec("send", SEND_USAGE,
                    "send now to a group, a target or all: a text, a template or media "
                    "(asks to confirm for several)",
                    ADMIN, send.send, min_args=1, max_args=2, free_text_after=1,
                    example="/send all-sales Meeting at 3pm today", changes=True,
                    group_args=(0,)),
        CommandSpec("plan", "[group]",
                    "what apply would change so the live groups match the groups file "
                    "(changes nothing)",
                    VIEWER, membership_plan.plan, max_args=1, example="/plan sales"),
        CommandSpec("templates", "", "saved message templates: sendable or why not, variables",
                    VIEWER, templates.list_templates),
        CommandSpec("alias", "<name> <group>", "name a group (runtime alias)",
                    ADMIN, aliases.set_alias, min_args=2, max_args=2,
                    example='/alias launch "Sales Rio"', changes=True, group_args=(0, 1)),
        CommandSpec("unalias", "<name>", "remove a runtime alias",
                    ADMIN, aliases.remove_alias, min_args=1, max_args=1, example="/unalias launch",
                    changes=True, group_args=(0,)),
        CommandSpec("aliases", "", "all aliases and targets", VIEWER, aliases.list_aliases),
        CommandSpec("jobs", "", "every job: kind, schedule, next run, last outcome, paused",
                    VIEWER, jobs.list_jobs),
        CommandSpec("job", "<name>", "one job and its recent runs",
                    VIEWER, jobs.show_job, min_args=1, max_args=1, example="/job morning-sales"),
        CommandSpec("run", "<job> [--dry-run]",
                    "run a job now (asks to confirm); --dry-run shows what each group would get",
                    ADMIN, jobs.run_job, min_args=1, max_args=2, example="/run morning-sales",
                    changes=True, job_arg=0),
        CommandSpec("pause", "<job> [note…]", "pause a job (kept across restarts)",
                    ADMIN, jobs.pause_job, min_args=1, max_args=2, free_text_after=1,
                    example="/pause morning-sales holiday week", changes=True, job_arg=0),
        CommandSpec("resume", "<job>", "resume a paused job from now (no missed runs)",
                    ADMIN, jobs.resume_job, min_args=1, max_args=1,
                    example="/resume morning-sales", changes=True, job_arg=0),
        CommandSpec("schedule",
                    '<name> [key=value …] "<cron>"|every <duration>|at <ISO time> '
                    "send <target> <text…> | reset-invite <target>",
                    "a runtime job: a broadcast, or an invite reset; options tz=, gap=, "
                    "jitter=, pin=, notify=, until=, skip=, pause_on_failure= "
                    "(shows the next runs and asks to confirm)",
                    ADMIN, jobs.schedule_job, min_args=2, max_args=2, free_text_after=1,
                    example='/schedule promo tz=America/Sao_Paulo "0 10 * * fri" '
                    "send all-sales Weekend offers!",
                    changes=True, job_arg=0),
        CommandSpec("reschedule", job_edit.RESCHEDULE_USAGE,
                    "give a /schedule job a new schedule, keeping its history (asks to confirm)",
                    ADMIN, job_edit.reschedule_job, min_args=2, max_args=2, free_text_after=1,
                    example='/reschedule promo "0 18 * * fri"', changes=True, job_arg=0),
        CommandSpec("edit", job_edit.EDIT_USAGE,
                    "change a /schedule job's text or options, keeping its history "
                    "(asks to confirm)",
                    ADMIN, job_edit.edit_job, min_args=2, max_args=2, free_text_after=1,
                    example="/edit promo text Weekend offers, {group}!", changes=True, job_arg=0),
        CommandSpec("unschedule", "<name>", "delete a runtime job (asks to confirm)",
                    ADMIN, jobs.unschedule_job, min_args=1, max_args=1,
                    example="/unschedule promo", changes=True, job_arg=0),
        CommandSpec("cancel", "<run>",
                    "stop a run in progress (a /send or a job's run) before its next send",
                    ADMIN, runs.cancel_run, min_args=1, max_args=1, example="/cancel 123"),
        CommandSpec("log", "[n] [who=…] [command=…] [group=…] [failed]",
                    "the last n audit entries (default 10), filtered; reasons of failures",
                    VIEWER, info.show_log, max_args=5, example="/log 20 command=add failed"),
    ]  # fmt: skip


def build_registry() -> Registry:
    return Registry(command_specs())
