"""Samples to replay, read from a CSV file: ``timestamp,value`` and any label columns.

Timestamps are RFC 3339 (``2014-04-01T00:00:00Z``, any offset) or ``2014-04-01
00:00:00`` taken as UTC. The whole file is checked before anything is replayed, and
the first problem is reported with its file and line."""

from __future__ import annotations

import csv
import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

TIME_COLUMN, VALUE_COLUMN = "timestamp", "value"
TIME_FORMS = "RFC 3339 like 2014-04-01T00:00:00Z, or 2014-04-01 00:00:00 in UTC"


class SampleFileError(ValueError):
    """A data file that cannot be replayed; the message names the file and the line."""


@dataclass
class SampleSet:
    """Samples of one metric in time order. ``labels[i]`` is shared between samples with
    the same labels."""

    metric: str
    times: array = field(default_factory=lambda: array("d"))
    values: array = field(default_factory=lambda: array("d"))
    labels: list[dict[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.times)

    def add(self, ts: float, value: float, labels: dict[str, str]) -> None:
        self.times.append(ts)
        self.values.append(value)
        self.labels.append(labels)

    def sorted(self) -> SampleSet:
        """The same samples in time order (stable: equal times keep their order)."""
        times = self.times
        if all(times[i] <= times[i + 1] for i in range(len(times) - 1)):
            return self
        order = sorted(range(len(times)), key=times.__getitem__)
        out = SampleSet(self.metric)
        out.times = array("d", (times[i] for i in order))
        out.values = array("d", (self.values[i] for i in order))
        out.labels = [self.labels[i] for i in order]
        return out


def parse_time(text: str) -> float | None:
    """Epoch seconds, or None if ``text`` is neither of the accepted forms."""
    try:
        moment = datetime.fromisoformat(text.strip().upper())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def read_samples(path: str | Path, metric: str) -> SampleSet:
    """Every sample of the file, in time order; SampleFileError names the first problem."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            samples = _parse(path, csv.reader(handle), metric)
    except OSError as exc:
        raise SampleFileError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SampleFileError(f"{path}: not UTF-8 text") from None
    except csv.Error as exc:
        raise SampleFileError(f"{path}: not a CSV file ({exc})") from None
    return samples.sorted()


def _parse(path: Path, rows: Iterator[list[str]], metric: str) -> SampleSet:
    header = next(rows, None)
    columns = [name.strip() for name in header or []]
    if TIME_COLUMN not in columns or VALUE_COLUMN not in columns:
        raise SampleFileError(
            f"{path}: line 1: the header must name the columns {TIME_COLUMN} and "
            f"{VALUE_COLUMN}, then any labels (e.g. timestamp,value,route)"
        )
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    if duplicates or "" in columns:
        problem = f"column {duplicates[0]!r} twice" if duplicates else "an empty column name"
        raise SampleFileError(f"{path}: line 1: the header has {problem}")
    at_time, at_value = columns.index(TIME_COLUMN), columns.index(VALUE_COLUMN)
    label_columns = [(i, name) for i, name in enumerate(columns) if i not in (at_time, at_value)]
    samples = SampleSet(metric)
    seen_labels: dict[tuple[str, ...], dict[str, str]] = {}
    for number, row in enumerate(rows, start=2):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line
        if len(row) != len(columns):
            raise SampleFileError(
                f"{path}: line {number}: {len(row)} fields, the header has {len(columns)}"
            )
        ts = parse_time(row[at_time])
        if ts is None:
            raise SampleFileError(
                f"{path}: line {number}: {row[at_time]!r} is not a timestamp ({TIME_FORMS})"
            )
        value = _number(row[at_value])
        if value is None:
            raise SampleFileError(
                f"{path}: line {number}: value {row[at_value]!r} is not a finite number"
            )
        key = tuple(row[i] for i, _ in label_columns)
        labels = seen_labels.get(key)
        if labels is None:
            labels = seen_labels[key] = {
                name: row[i].strip() for i, name in label_columns if row[i].strip()
            }
        samples.add(ts, value, labels)
    if not samples:
        raise SampleFileError(f"{path}: no samples after the header")
    return samples


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
