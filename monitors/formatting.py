"""Times and values as people read them, on cards, in replies and in the API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from monitors.sources.fields import reads_over_window

CHANGE, SHARE = "change", "share"


def iso(ts: float | None) -> str | None:
    """RFC 3339 in UTC, or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def short_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def clock_time(ts: float, now: float) -> str:
    """``14:05 UTC`` for a time on the same UTC day as ``now``, else with its date."""
    moment = datetime.fromtimestamp(ts, UTC)
    same_day = moment.date() == datetime.fromtimestamp(now, UTC).date()
    return moment.strftime("%H:%M UTC" if same_day else "%Y-%m-%d %H:%M UTC")


def value_style(threshold_type: object, aggregate: object) -> str:
    """How a rule's values and thresholds read: a percent ``change`` (+150%), a ``share``
    of samples in percent (``percent_where``: 3.2%), or plain numbers ("")."""
    if threshold_type == "percent_change":
        return CHANGE
    return SHARE if aggregate == "percent_where" else ""


def snapshot_style(rule_spec: Mapping[str, object]) -> str:
    """``value_style`` of a rule as JSON (an incident's rule snapshot)."""
    return value_style(rule_spec.get("threshold_type"), rule_spec.get("aggregate"))


def format_value(value: float | None, style: str = "") -> str:
    """A value for people: ``1,240``, ``0.25``; ``+150%`` for a change, ``3.2%`` for a
    share (see ``value_style``)."""
    if value is None:
        return "no data"
    if style == CHANGE:
        return f"{value:+,.0f}%" if abs(value) >= 100 else f"{value:+.3g}%"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text}%" if style == SHARE else text


def excess_text(value: float | None, threshold: float | None, op: str, style: str = "") -> str:
    """How far past its threshold a value is: ``55% over``, ``30% under``, or for values
    that are percentages already, ``+1.2 points``; "" when there is nothing to say."""
    if value is None or threshold is None or value == threshold:
        return ""
    if style:
        return f"{value - threshold:+.3g} points"
    if threshold == 0:
        return ""
    relative = (value - threshold) / abs(threshold) * 100
    word = "over" if op in (">", ">=") else "under"
    amount = abs(relative)
    return f"{amount:,.0f}% {word}" if amount >= 10 else f"{amount:.2g}% {word}"


def describe_metric(rule_spec: Mapping[str, object]) -> str:
    """``p95 of http.request.duration_ms over 5m``, or for a percent-change rule
    ``change in rate of checkout.requests over 10m against the previous 10m``."""
    window = rule_spec.get("window", "")
    text = reads_over_window(rule_spec)
    if snapshot_style(rule_spec) == CHANGE:
        return f"change in {text} against the previous {window}"
    return text
