#!/usr/bin/env python3
"""Tocsin: ``python run.py [serve]``, ``python run.py check-config PATH``,
``python run.py demo``, ``python run.py backtest --config FILE --data FILE.csv``.
See README.md."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitors.rules import Rule


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__)
    parser.add_argument(
        "--config", type=Path, help="config file (default: TOCSIN_CONFIG, else config/tocsin.yaml)"
    )
    parser.add_argument("--port", type=int, help="HTTP port (default: TOCSIN_HTTP_PORT or 8080)")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the bot (the default)")
    check = commands.add_parser("check-config", help="validate a config or rules file")
    check.add_argument("path", type=Path)
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


def _read_rules(path: Path) -> list[Rule] | None:
    """The config's rules, or None once every error is on stderr."""
    from bot.settings import read_config
    from monitors.rulefile import RuleFileInvalid

    try:
        _, rules = read_config(path)
    except RuleFileInvalid as exc:
        print(f"{path}: {len(exc.errors)} error(s)", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return None
    return rules


def check_config(path: Path) -> int:
    rules = _read_rules(path)
    if rules is None:
        return 1
    from monitors.wording import counted

    names = ", ".join(r.name for r in rules) or "none"
    print(f"{path}: OK, {counted(len(rules), 'rule')}: {names}")
    return 0


def backtest(config: Path, data: Path, metric: str, rule_name: str | None) -> int:
    """Print one JSON line per incident the rules would have opened over ``data``, then a
    summary on stderr. Bad input: one line on stderr naming the file, exit status 1."""
    import time

    import orjson

    from monitors.announce import iso
    from monitors.backtest.replay import replay
    from monitors.backtest.samples import SampleFileError, read_samples
    from monitors.wording import counted

    rules = _read_rules(config)
    if rules is None:
        return 1
    chosen, problem = _backtest_rules(rules, config, metric, rule_name)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    started = time.perf_counter()
    try:
        samples = read_samples(data, metric)
    except SampleFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    result = asyncio.run(replay(chosen, samples))
    for incident in result.incidents:
        sys.stdout.buffer.write(orjson.dumps(incident.to_json()) + b"\n")
    sys.stdout.flush()
    reopened = sum(1 for incident in result.incidents if incident.reopened)
    print(
        f"{data}: {counted(result.samples, 'sample')} of {metric} from {iso(result.start)} "
        f"to {iso(result.end)}, {counted(len(chosen), 'rule')} "
        f"({', '.join(r.name for r in chosen)}), {counted(result.ticks, 'tick')}: "
        f"{counted(len(result.incidents), 'incident')} opened, {reopened} of them reopened; "
        f"replayed in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


def _backtest_rules(
    rules: Sequence[Rule], config: Path, metric: str, name: str | None
) -> tuple[list[Rule], str | None]:
    """The rules to replay, or the sentence saying why there are none."""
    if name is not None:
        found = [rule for rule in rules if rule.name == name]
        if not found:
            known = ", ".join(rule.name for rule in rules) or "none"
            return [], f"{config}: there is no rule named '{name}' (rules: {known})"
        if found[0].metric != metric:
            return [], (
                f"{config}: rule '{name}' reads metric '{found[0].metric}', not '{metric}'; "
                f"pass --metric {found[0].metric}"
            )
        return found, None
    chosen = [rule for rule in rules if rule.enabled and rule.metric == metric]
    if not chosen:
        return [], f"{config}: no enabled rule reads metric '{metric}' (see --metric, --rule)"
    return chosen, None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "check-config":
        return check_config(args.path)
    if args.command == "backtest":
        return backtest(args.backtest_config, args.data, args.metric, args.rule)

    from bot.settings import load_settings
    from monitors.rulefile import RuleFileInvalid

    try:
        settings = load_settings(args.config, args.port)
    except RuleFileInvalid as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 1
    logging.basicConfig(
        level=settings.log_level.upper(),
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
