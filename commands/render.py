"""Plain-text pieces shared by the handlers: tables of incidents, rules and silences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from commands.render_rule import thresholds_text
from monitors.durations import format_duration
from monitors.formatting import format_value, short_time, snapshot_style
from monitors.incidents.actions import DeliveryState
from monitors.incidents.cards import status_text
from monitors.rules.schema import Rule
from monitors.sources.fields import reads_over_window
from monitors.wording import counted
from storage.models import IncidentEventRow, IncidentRow, SilenceRow
from storage.vocabulary import IncidentKind

Row = tuple[str, ...]


def incident_table(
    incidents: Sequence[IncidentRow], now: float, silenced: Mapping[int, int] | None = None
) -> tuple[Row, ...]:
    """``silenced`` maps an incident id to the silence that hides it."""
    silenced = silenced or {}
    header: Row = ("ID", "Priority", "Severity", "Status", "Rule", "Series", "Value", "Opened")
    rows = [
        (
            f"#{i.id}",
            i.priority,
            i.severity,
            status_text(i, now)
            + (" (test)" if i.test else "")
            + (f", silenced (silence {silenced[i.id]})" if i.id in silenced else ""),
            i.rule,
            ",".join(f"{k}={v}" for k, v in sorted(i.labels.items())) or "-",
            format_value(i.value, snapshot_style(i.rule_snapshot or {}))
            if i.kind == IncidentKind.METRIC
            else "-",  # a source down, an event, Tocsin behind: no value to show
            short_time(i.opened_at),
        )
        for i in incidents
    ]
    return (header, *rows)


def timeline_text(events: Sequence[IncidentEventRow]) -> str:
    return "\n".join(f"{short_time(e.at)}  {e.detail or e.kind}" for e in events)


def rule_table(rules: Sequence[Rule]) -> tuple[Row, ...]:
    header: Row = ("Name", "State", "Measures", "Thresholds", "Every")
    rows = [
        (
            r.name,
            "enabled" if r.enabled else "disabled",
            reads_over_window(r.to_json()),
            thresholds_text(r),
            format_duration(r.interval),
        )
        for r in rules
    ]
    return (header, *rows)


def silence_table(silences: Sequence[SilenceRow], now: float) -> tuple[Row, ...]:
    header: Row = ("ID", "Matchers", "Until", "Left", "By", "Reason")
    rows = [
        (
            str(s.id),
            s.matchers,
            short_time(s.ends_at),
            format_duration(max(s.ends_at - now, 1))
            if s.starts_at <= now
            else f"starts {short_time(s.starts_at)}",
            s.created_by,
            s.reason or "-",
        )
        for s in silences
    ]
    return (header, *rows)


def delivery_text(states: Sequence[DeliveryState]) -> str:
    """The targets whose latest message is failing or failed, and why; "" when every
    message went out or is on its way."""
    latest: dict[str, DeliveryState] = {}
    for state in states:
        latest[state.target] = state
    lines = [
        f"  {target}: {state.status} after {counted(state.attempts, 'attempt')} "
        f"({state.event}): {state.error}"
        for target, state in latest.items()
        if state.status in ("retrying", "failed")
    ]
    return "\n".join(["Delivery:", *lines]) if lines else ""
