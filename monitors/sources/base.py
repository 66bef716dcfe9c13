"""What a metric source returns to the engine: one value per series of each rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from monitors.rules import Rule

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


def label_set(labels: dict[str, str], keys: Sequence[str]) -> LabelSet:
    """The series key for ``labels`` grouped by ``keys``; a missing label counts as empty."""
    return tuple(sorted((k, labels.get(k, "")) for k in keys))


def series_key(labels: LabelSet) -> str:
    """Stable text form of a label set, used as the series key in the database."""
    return ",".join(f"{k}={v}" for k, v in labels) or "-"
