"""Tocsin's recommended anomaly rule on the Numenta Anomaly Benchmark, scored by NAB.

    .venv/bin/python benchmarks/nab.py [--nab ../shared/nab] [--config config/examples/anomaly.yaml]

For each data file of the corpus it does what ``run.py backtest --config CONFIG --data
FILE`` does (the same code, in-process): the samples replayed through the real engine,
every incident opening taken as a detection at the row it was opened on. The detections
are scored with NAB's own algorithm (benchmarks/nab_score.py) under each profile of the
corpus' ``config/profiles.json``, normalised between the null and the perfect detector.
Prints a line per file (windows found, false positives, raw standard score) and the
final scores next to NAB's published standard-profile board.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.nab_score import (
    FileScore,
    Profile,
    load_profiles,
    load_windows,
    normalise,
    null_score,
    parse_time,
    score_file,
)
from bot.settings import read_config
from monitors.backtest.replay import replay
from monitors.backtest.samples import read_samples
from monitors.rules.schema import Rule

ROOT = Path(__file__).resolve().parent.parent
BOARD = [
    ("Perfect", 100.0),
    ("ARTime", 74.9),
    ("Numenta HTM", 70.5),
    ("CAD OSE", 69.9),
    ("earthgecko Skyline", 58.2),
    ("KNN CAD", 58.0),
    ("Random Cut Forest", 51.7),
    ("Twitter ADVec", 47.1),
    ("Windowed Gaussian", 39.6),
    ("Null", 0.0),
]
"""NAB's published standard-profile scores, on its whole corpus."""


@dataclass
class FileRun:
    name: str
    timestamps: list[datetime]
    detections: set[int]


def file_timestamps(path: Path) -> list[datetime]:
    """The rows' timestamps as NAB reads them (naive, UTC)."""
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [parse_time(line.split(",", 1)[0]) for line in lines if line.strip()]


def detections(timestamps: list[datetime], openings: list[float]) -> set[int]:
    """Each opening at the last row read by then (the row whose sample triggered it)."""
    epochs = [ts.replace(tzinfo=UTC).timestamp() for ts in timestamps]
    rows = set()
    for opened in openings:
        row = bisect.bisect_right(epochs, opened) - 1
        if row >= 0:
            rows.add(row)
    return rows


async def run_file(data: Path, name: str, rules: list[Rule]) -> FileRun:
    samples = read_samples(data / name, "value")
    result = await replay(rules, samples)
    openings = [incident.opened_at for incident in result.incidents]
    timestamps = file_timestamps(data / name)
    return FileRun(name, timestamps, detections(timestamps, openings))


def corpus_score(
    runs: list[FileRun], windows: dict, profile: Profile
) -> tuple[float, list[FileScore]]:
    raw = null = 0.0
    scores = []
    for run in runs:
        score = score_file(run.timestamps, run.detections, windows[run.name], profile)
        raw += score.score
        null += null_score(run.timestamps, windows[run.name], profile)
        scores.append(score)
    count = sum(len(windows[run.name]) for run in runs)
    return normalise(raw, null, count, profile), scores


async def main(nab: Path, config: Path, quiet: bool) -> None:
    _, rules = read_config(config)
    chosen = [rule for rule in rules if rule.enabled and rule.metric == "value"]
    windows = load_windows(nab / "labels" / "combined_windows.json")
    profiles = load_profiles(nab / "config" / "profiles.json")
    started = time.perf_counter()
    runs = [await run_file(nab / "data", name, chosen) for name in sorted(windows)]
    elapsed = time.perf_counter() - started
    finals = {p.name: corpus_score(runs, windows, p) for p in profiles}
    standard = finals["standard"][1]
    if not quiet:
        for run, score in zip(runs, standard, strict=True):
            print(
                f"{run.name:58s} windows {score.detected}/{score.windows}  "
                f"false positives {score.false_positives:3d}  score {score.score:+.3f}"
            )
    found = sum(s.detected for s in standard)
    total = sum(s.windows for s in standard)
    false = sum(s.false_positives for s in standard)
    print(
        f"\n{len(runs)} files replayed in {elapsed:.1f} s with {config} "
        f"({', '.join(r.name for r in chosen)}): {found}/{total} windows detected, "
        f"{false} false positives"
    )
    for name, (score, _) in finals.items():
        print(f"  NAB score, {name:20s} {score:6.1f}")
    print("\nNAB's published board, standard profile (its whole corpus; ours: this subset)")
    mine = finals["standard"][0]
    board = sorted([*BOARD, ("Tocsin (this run)", round(mine, 1))], key=lambda x: -x[1])
    for name, score in board:
        print(f"  {name:22s} {score:6.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab", type=Path, default=ROOT.parent / "shared" / "nab")
    parser.add_argument("--config", type=Path, default=ROOT / "config/examples/anomaly.yaml")
    parser.add_argument("--quiet", action="store_true", help="only the totals")
    args = parser.parse_args()
    asyncio.run(main(args.nab, args.config, args.quiet))
