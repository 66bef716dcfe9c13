"""What a metric source returns to the engine: one value per series of each rule."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from monitors.rules.schema import Rule

LabelSet = tuple[tuple[str, str], ...]
"""Sorted (label, value) pairs naming one series of a rule (its ``group_by`` labels)."""


@dataclass(frozen=True, slots=True)
class SeriesValue:
    """The aggregate of one series over the rule's window.

    ``value`` is None when the series has fewer than ``min_samples`` samples (no data).
    ``previous`` is the same aggregate over the window before, for percent-change rules.
    """

    labels: LabelSet
    value: float | None
    count: int
    previous: float | None = None


@dataclass(frozen=True, slots=True)
class RuleReading:
    """Everything a source saw for one rule in one tick: its series, or why it could not say."""

    series: Sequence[SeriesValue] = ()
    error: str | None = None


class Source(Protocol):
    """A metric source. Queries are batched: one call per tick for all due rules."""

    name: str

    async def fetch(self, rules: Sequence[Rule], now: float) -> dict[str, RuleReading]:
        """Return a reading for every rule in ``rules``, keyed by rule name."""
        ...


@runtime_checkable
class ClosableSource(Protocol):
    """A source holding connections (pools, clients) that must be closed at shutdown."""

    async def close(self) -> None: ...


@runtime_checkable
class CountsQueries(Protocol):
    """A source that counts the queries (requests, reads) it makes."""

    queries: int


class SourceError(Exception):
    """A read that failed, with a sentence for the rule's reading (and the incident
    card): ``cannot connect to postgresql://db/analytics: connection refused``."""


def label_set(labels: dict[str, str], keys: Sequence[str]) -> LabelSet:
    """The series key for ``labels`` grouped by ``keys``; a missing label counts as empty."""
    return tuple(sorted((k, labels.get(k, "")) for k in keys))


def series_key(labels: LabelSet) -> str:
    """Stable text form of a label set, used as the series key in the database."""
    return ",".join(f"{k}={v}" for k, v in labels) or "-"


def as_number(value: object, what: str) -> float:
    """``value`` as a float, or SourceError saying what it was instead: text, a boolean,
    NaN and infinities are not readings (``value for route=/a is 'n/a' (text)``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        kind = "text" if isinstance(value, str) else type(value).__name__
        raise SourceError(f"{what} is {value!r} ({kind}), not a number")
    try:
        number = float(value)
    except OverflowError:
        raise SourceError(f"{what} is too large to be a number ({str(value)[:30]}...)") from None
    if not math.isfinite(number):
        raise SourceError(f"{what} is {value}, not a finite number")
    return number
