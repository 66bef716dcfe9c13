"""``run.py backtest --config FILE --data FILE.csv [--metric NAME] [--rule NAME]``:
replay a CSV of samples through a config's rules with the real engine, print one JSON
line per incident on stdout and a one-line summary on stderr."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import orjson

from bot.settings import read_config
from monitors.backtest.replay import replay
from monitors.backtest.samples import SampleFileError, read_samples
from monitors.formatting import iso
from monitors.rules.rulefile import RuleFileInvalid
from monitors.rules.schema import Rule
from monitors.wording import counted


def backtest(config: Path, data: Path, metric: str, rule_name: str | None) -> int:
    """Bad input: the problem on stderr, naming the file (and line), exit status 1, and
    nothing on stdout."""
    try:
        _, rules = read_config(config)
    except RuleFileInvalid as exc:
        print(exc, file=sys.stderr)
        return 1
    chosen, problem = _rules_to_replay(rules, config, metric, rule_name)
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


def _rules_to_replay(
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
