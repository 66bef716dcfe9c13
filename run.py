#!/usr/bin/env python3
"""Tocsin: ``python run.py [serve]``, ``python run.py check-config PATH...``,
``python run.py demo``, ``python run.py backtest --config FILE --data FILE.csv``.
See README.md."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__)
    parser.add_argument(
        "--config", type=Path, help="config file (default: TOCSIN_CONFIG, else config/tocsin.yaml)"
    )
    parser.add_argument("--port", type=int, help="HTTP port (default: TOCSIN_HTTP_PORT or 8080)")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the bot (the default)")
    check = commands.add_parser("check-config", help="validate config or rules files")
    check.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    demo = commands.add_parser("demo", help="play a latency regression, fast")
    demo.add_argument("--no-input", action="store_true", help="do not wait for typed commands")
    backtest = commands.add_parser(
        "backtest",
        help="replay a CSV of samples through a config's rules; one JSON line per incident",
    )
    backtest.add_argument("--config", type=Path, required=True, dest="backtest_config")
    backtest.add_argument("--data", type=Path, required=True, help="CSV: timestamp,value,labels")
    backtest.add_argument("--metric", default="value", help="the samples' metric (default value)")
    backtest.add_argument("--rule", help="replay only this rule")
    return parser.parse_args(argv)


def check_config(paths: list[Path]) -> int:
    """Check each file on its own; the status is 1 if any has an error."""
    return max(_check_one(path) for path in paths)


def _check_one(path: Path) -> int:
    from bot.settings import read_config
    from monitors.rules.rulefile import RuleFileInvalid

    try:
        file_settings, rules = read_config(path)
    except RuleFileInvalid as exc:
        print(exc, file=sys.stderr)  # "PATH: N errors", then one line each, in file order
        return 1
    from monitors.wording import counted

    names = ", ".join(r.name for r in rules) or "none"
    events = ""
    if file_settings.event_types is not None:
        from monitors.sources.events import parse_event_types

        events = f"; {counted(len(parse_event_types(file_settings.event_types)), 'event type')}"
    print(f"{path}: OK, {counted(len(rules), 'rule')}: {names}{events}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "check-config":
        return check_config(args.paths)
    if args.command == "backtest":
        from bot.backtest_command import backtest

        return backtest(args.backtest_config, args.data, args.metric, args.rule)

    from bot.settings import CannotStart, load_settings
    from monitors.rules.rulefile import RuleFileInvalid

    try:
        settings = load_settings(args.config, args.port)
    except RuleFileInvalid as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 1
    except CannotStart as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("alembic", "apscheduler"):  # their INFO lines drown the console chat
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.root.level))
    try:
        if args.command == "demo":
            from bot.demo import run_demo

            interactive = sys.stdin.isatty() and not args.no_input
            return asyncio.run(run_demo(settings, interactive))
        from bot.service import serve

        return asyncio.run(serve(settings))
    except ValueError as exc:  # e.g. refusing to listen publicly without a token
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
