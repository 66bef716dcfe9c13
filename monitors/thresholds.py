"""Turn a series' aggregate into a Reading: which level, if any, it breaches."""

from __future__ import annotations

from monitors.machine import Kind, Reading
from monitors.rules import LEVELS, Rule, compare
from monitors.sources.base import SeriesValue


def effective_thresholds(rule: Rule, baseline: float | None) -> dict[str, float] | None:
    """Absolute thresholds per level for a static or dynamic rule (None: no baseline yet).
    For percent-change rules the thresholds stay percentages."""
    if rule.threshold_type == "dynamic":
        if baseline is None:
            return None
        return {level: baseline * factor for level, factor in rule.thresholds.items()}
    return dict(rule.thresholds)


def percent_change(value: float, previous: float | None) -> float | None:
    if previous is None or previous == 0:
        return None
    return (value - previous) / abs(previous) * 100.0


def classify(rule: Rule, series: SeriesValue, baseline: float | None = None) -> Reading:
    """The reading for one series: the highest level breached, normal, or no data.

    For percent-change rules the reading's value is the change in percent, the quantity
    its thresholds are compared with, so an incident says "+150% > +50%", not "250 > 50".
    """
    if series.value is None:
        return Reading(Kind.NO_DATA)
    compared = series.value
    if rule.threshold_type == "percent_change":
        change = percent_change(series.value, series.previous)
        if change is None:
            return Reading(Kind.NO_DATA)
        compared = change
    thresholds = effective_thresholds(rule, baseline)
    if thresholds is None:
        return Reading(Kind.NO_DATA, series.value)
    for level in reversed(LEVELS):  # highest first
        limit = thresholds.get(level)
        if limit is not None and compare(compared, rule.op, limit):
            return Reading(Kind.BREACH, compared, level=level, threshold=limit)
    lowest = thresholds[rule.levels[0]]
    return Reading(Kind.NORMAL, compared, threshold=lowest)
