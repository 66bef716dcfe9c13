"""The Numenta Anomaly Benchmark's scoring (NAB v1.1), for detectors that say yes or no.

A faithful port of ``nab/sweeper.py`` (``calcSweepScore`` and ``calcScoreByThreshold``
at one threshold) and of the normalisation in ``nab/runner.py``, without pandas:

* the first 15% of each file's rows (at most 750) is probation: not scored at all;
* a window is entered on the row whose timestamp equals its start, left after the row
  equal to its end; only the first detection inside a window counts and earns
  ``tp_weight * S(position) / S(-1)`` (S the scaled sigmoid, position -1 at the window's
  first row, towards 0 at its last); a window without one costs ``fn_weight``;
* a detection outside every window costs ``fp_weight * S(distance past the last window)``,
  the full weight before any window or three window widths after one;
* the corpus score is ``100 * (raw - null) / (perfect - null)``: the null detector never
  fires, the perfect one earns ``tp_weight`` for each window of the windows file.

Detections are row indices (NAB's binary 0/1 scores thresholded: a 1 is a detection).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

PROBATION_PERCENT = 0.15
PROBATION_CAP_ROWS = 5000
"""NAB's ``_getProbationaryLength``: ``min(floor(0.15 * rows), 0.15 * 5000)``."""


@dataclass(frozen=True)
class Profile:
    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


@dataclass(frozen=True)
class FileScore:
    """One file's raw score under one profile, with what made it."""

    score: float
    windows: int
    """Windows with at least one row after probation: those the file is scored on."""
    detected: int
    false_positives: int
    """Detections after probation outside every window."""


def load_profiles(path: str | Path) -> list[Profile]:
    """NAB's ``config/profiles.json``: profile name -> ``CostMatrix`` weights."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    return [
        Profile(
            name,
            float(spec["CostMatrix"]["tpWeight"]),
            float(spec["CostMatrix"]["fpWeight"]),
            float(spec["CostMatrix"]["fnWeight"]),
        )
        for name, spec in document.items()
    ]


def parse_time(text: str) -> datetime:
    """NAB's timestamps: ``2014-04-01 00:00:00`` in data, ``...00.000000`` in windows."""
    return datetime.fromisoformat(text.strip())


def load_windows(path: str | Path) -> dict[str, list[tuple[datetime, datetime]]]:
    """``labels/combined_windows.json``: file -> its ``[start, end]`` windows."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        name: [(parse_time(start), parse_time(end)) for start, end in windows]
        for name, windows in document.items()
    }


def scaled_sigmoid(position: float) -> float:
    """NAB's reward curve: about +1 at -1 (a window's start), 0 at 0 (its end), falling
    towards -1 past it; -1 from 3 on."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probation_rows(rows: int) -> float:
    return min(math.floor(PROBATION_PERCENT * rows), PROBATION_PERCENT * PROBATION_CAP_ROWS)


def score_file(
    timestamps: Sequence[datetime],
    detections: Collection[int],
    windows: Sequence[tuple[datetime, datetime]],
    profile: Profile,
) -> FileScore:
    """Score one file's detections (row indices) as ``Sweeper.scoreDataSet`` would at a
    threshold between 0 and 1 for 0/1 anomaly scores."""
    first_row: dict[datetime, int] = {}
    for i, ts in enumerate(timestamps):
        first_row.setdefault(ts, i)
    probation = probation_rows(len(timestamps))
    max_tp = scaled_sigmoid(-1.0)
    pending = list(windows)
    best: dict[int, float] = {}  # window ordinal -> its part of the score
    fp_total, false_positives = 0.0, 0
    current: int | None = None  # ordinal of the window the row is in
    right = width = 0.0
    previous_right: float | None = None
    previous_width = 0.0
    entered = 0
    for i, ts in enumerate(timestamps):
        if pending and ts == pending[0][0]:
            start, end = pending.pop(0)
            current, entered = entered, entered + 1
            right = float(first_row[end])
            width = float(right - first_row[start] + 1)
        scored = i >= probation
        if scored and current is not None:
            best.setdefault(current, -profile.fn_weight)
        if scored and i in detections:
            if current is not None:
                position = -(right - i + 1) / width
                reward = scaled_sigmoid(position) * profile.tp_weight / max_tp
                best[current] = max(best[current], reward)
            else:
                if previous_right is None:
                    past = 3.0
                else:
                    past = abs(previous_right - i) / (previous_width - 1)
                fp_total += scaled_sigmoid(past) * profile.fp_weight
                false_positives += 1
        if current is not None and ts == end:
            previous_right, previous_width = float(i), width
            current = None
    detected = sum(1 for part in best.values() if part > 0)
    return FileScore(sum(best.values()) + fp_total, len(best), detected, false_positives)


def null_score(timestamps: Sequence[datetime], windows, profile: Profile) -> float:
    """What the detector that never fires scores on the file (minus fn per window)."""
    return score_file(timestamps, (), windows, profile).score


def normalise(raw: float, null: float, window_count: int, profile: Profile) -> float:
    """NAB's final score: 100 for the perfect detector, 0 for the null one."""
    perfect = window_count * profile.tp_weight
    return 100.0 * (raw - null) / (perfect - null)
