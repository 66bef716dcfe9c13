"""What a chart shows: the values the incident's rule read over the last hours, from the
sample history, as the rule reads them (``HistorySource``: the same aggregate over the
same window, a point a minute), its threshold lines and when the incident fired."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from monitors.backtest.history import STEP, SampleHistory, SeriesHistory
from monitors.backtest.history_source import HistorySource
from monitors.formatting import value_style
from monitors.rules.schema import Rule
from monitors.sources.base import LabelSet, label_set
from storage.models import IncidentRow
from storage.vocabulary import IncidentKind

MAX_POINTS = 360
"""Points a chart draws at most: a point a minute, or fewer over a long window."""


@dataclass(frozen=True)
class ChartData:
    """Everything ``render`` needs, as plain values (safe to hand to a thread)."""

    title: str
    reads: str
    """What the values are: ``max of latency`` (``Rule.reads``)."""
    times: tuple[float, ...]
    values: tuple[float | None, ...]
    """None where the rule read no data."""
    thresholds: tuple[tuple[str, float], ...]
    """(level, value), lowest level first; the lines drawn across."""
    op: str
    fired_at: float
    resolved_at: float | None
    style: str = ""
    """``monitors.formatting.value_style``: "" plain, ``share`` or ``change`` (percent)."""

    @property
    def has_values(self) -> bool:
        return any(value is not None for value in self.values)


@dataclass(frozen=True)
class ChartRequest:
    """The incident as the chart needs it, read on the event loop."""

    incident_id: int
    rule: Rule
    series: LabelSet
    title: str
    threshold: float | None
    fired_at: float
    resolved_at: float | None


def chart_rule(incident: IncidentRow) -> Rule | None:
    """The rule whose values a chart of ``incident`` shows, or None when the incident
    has no series of pushed samples to chart (a pushed event, a source down, Tocsin's
    own incidents, a test incident)."""
    snapshot: Mapping[str, Any] = incident.rule_snapshot or {}
    if incident.kind != IncidentKind.METRIC or incident.test or not snapshot:
        return None
    if snapshot.get("source", "ingest") != "ingest":
        return None
    try:
        return Rule.model_validate(dict(snapshot))
    except ValidationError:  # a snapshot from an older schema: no chart, no failure
        return None


def chart_request(incident: IncidentRow) -> ChartRequest | None:
    rule = chart_rule(incident)
    if rule is None:
        return None
    return ChartRequest(
        incident_id=incident.id,
        rule=rule,
        series=label_set(dict(incident.labels or {}), rule.group_by),
        title=f"#{incident.id} {incident.rule}",
        threshold=incident.threshold,
        fired_at=incident.firing_since or incident.opened_at,
        resolved_at=incident.resolved_at,
    )


async def load_history(
    history: SampleHistory, request: ChartRequest, now: float, window: float
) -> SeriesHistory:
    """The minute buckets the chart reads, of the incident's series only: ``window``
    back from ``now``, plus the rule's own window before the first point."""
    rule = request.rule
    since = now - window - rule.window - STEP

    def of_the_series(metric: str, labels: LabelSet) -> bool:
        return label_set(dict(labels), rule.group_by) == request.series

    return await history.load([rule.metric], since, now, of_the_series)


def chart_data(
    history: SeriesHistory, request: ChartRequest, now: float, window: float
) -> ChartData:
    """The values of the incident's series over ``window`` up to ``now`` (CPU only, no
    I/O: run in a worker thread)."""
    rule = request.rule
    source = HistorySource(one_series(history, rule, request.series), [rule])
    step = max(STEP, window / MAX_POINTS)
    count = int(window // step)
    times = tuple(now - step * k for k in range(count, -1, -1))
    values: list[float | None] = []
    for at in times:
        found = [v.value for v in source.values(rule, at) if v.labels == request.series]
        values.append(found[0] if found else None)
    return ChartData(
        title=request.title,
        reads=rule.reads(),
        times=times,
        values=tuple(values),
        thresholds=_thresholds(rule, request.threshold),
        op=rule.op,
        fired_at=request.fired_at,
        resolved_at=request.resolved_at,
        style=value_style(rule.threshold_type, rule.aggregate),
    )


def one_series(history: SeriesHistory, rule: Rule, series: LabelSet) -> SeriesHistory:
    """Only the label sets that make up ``series`` (a metric may hold thousands)."""
    kept = {
        labels: buckets
        for labels, buckets in history.buckets.get(rule.metric, {}).items()
        if label_set(dict(labels), rule.group_by) == series
    }
    return SeriesHistory({rule.metric: kept}, history.first)


def _thresholds(rule: Rule, opened_with: float | None) -> tuple[tuple[str, float], ...]:
    """The rule's levels as lines; a threshold that moves (dynamic, anomaly) is drawn as
    the one the incident opened with."""
    if rule.threshold_type in ("static", "percent_change") and rule.thresholds:
        return tuple((level, float(rule.thresholds[level])) for level in rule.levels)  # type: ignore[index]
    return (("threshold", opened_with),) if opened_with is not None else ()
