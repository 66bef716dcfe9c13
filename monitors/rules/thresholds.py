"""Turn a series' aggregate into a Reading: which level, if any, it breaches."""

from __future__ import annotations

from monitors.anomaly.model import Judgement
from monitors.incidents.machine import Kind, Reading
from monitors.rules.schema import LEVELS, Rule, compare
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


def classify(
    rule: Rule,
    series: SeriesValue,
    baseline: float | None = None,
    judgement: Judgement | None = None,
) -> Reading:
    """The reading for one series: the highest level breached, normal, or no data.

    For percent-change rules the reading's value is the change in percent, the quantity
    its thresholds are compared with, so an incident says "+150% > +50%", not "250 > 50".
    Anomaly rules are judged by the series' model (``judgement``, None while it learns).
    """
    if series.value is None:
        return Reading(Kind.NO_DATA)
    if rule.threshold_type == "anomaly":
        return classify_anomaly(rule, series.value, judgement)
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


def classify_anomaly(rule: Rule, value: float, judgement: Judgement | None) -> Reading:
    """An anomaly rule's reading: its levels are multiples of the normal band's
    half-width, on the sides its op watches (``>`` above, ``<`` below, ``<>`` both).
    The reading keeps the value itself; its threshold is the band edge for the level
    (so a card reads "950, threshold 420"). No judgement yet reads as no data."""
    if judgement is None:
        return Reading(Kind.NO_DATA, value)
    above = judgement.score_up > 0 or (judgement.score_down == 0 and rule.op != "<")
    if rule.op == "<>" or (rule.op == ">") == above:
        score = judgement.score_up if above else judgement.score_down
        for level in reversed(LEVELS):  # highest first
            limit = rule.thresholds.get(level)
            if limit is not None and score > limit:
                edge = band_edge(judgement, limit, above)
                return Reading(Kind.BREACH, value, level=level, threshold=edge)
    else:  # a departure on the side the rule does not watch: show the watched edge
        above = rule.op == ">"
    lowest = rule.thresholds[rule.levels[0]]
    return Reading(Kind.NORMAL, value, threshold=band_edge(judgement, lowest, above))


def band_edge(judgement: Judgement, multiple: float, above: bool) -> float:
    """Where ``multiple`` half-widths of the normal band end, above or below."""
    if above:
        return judgement.expected + multiple * (judgement.high - judgement.expected)
    return judgement.expected - multiple * (judgement.expected - judgement.low)
