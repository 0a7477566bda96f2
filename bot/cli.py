"""The `grouppilot` command line: run, check, exec, sandbox (SPEC section 3).

Exit codes: 0 success, 1 a command failed or was refused, 2 a config error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from bot import __version__
from bot.config import ConfigError, Settings, load_config

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grouppilot",
        description="Chat-ops bot for WhatsApp groups (Pilot Status groups API).",
    )
    parser.add_argument("--version", action="version", version=f"grouppilot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="validate the config and show the next job runs")
    _add_config_option(check)

    sandbox = commands.add_parser("sandbox", help="serve the WhatsApp API emulator over HTTP")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8085)
    sandbox.add_argument("--groups", type=int, default=4, help="groups in total (at least 4)")
    sandbox.add_argument("--latency-ms", type=float, default=0.0)
    sandbox.add_argument(
        "--mode",
        default="normal",
        choices=["normal", "disconnected", "meta-not-eligible", "evolution"],
    )
    return parser


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        help="TOML config file (default: $GROUPPILOT_CONFIG or config.toml)",
    )


def load_or_report(path: str | None) -> Settings | None:
    """The settings, or None after printing every problem to stderr."""
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"grouppilot: invalid configuration\n{exc}", file=sys.stderr)
        return None


def _check(args: argparse.Namespace) -> int:
    from bot.check import format_check

    settings = load_or_report(args.config)
    if settings is None:
        return EXIT_CONFIG
    print(format_check(settings, now=datetime.now(UTC)))
    return EXIT_OK


def _sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox import serve_forever

    serve_forever(
        host=args.host,
        port=args.port,
        groups=args.groups,
        latency_ms=args.latency_ms,
        mode=args.mode,
    )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs request URLs at INFO, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    handlers = {"check": _check, "sandbox": _sandbox}
    return handlers[args.command](args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
