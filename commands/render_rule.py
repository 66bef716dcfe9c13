"""A rule as people write it in the rule file: ``thresholds: warning > 800, critical >
2000``, ``window: 5m``, ``group_by: [route]``, ``enabled: true`` (never Python's
``{'warning': 800.0}``, ``True`` or ``('route',)``)."""

from __future__ import annotations

from typing import Any

import yaml

from monitors.formatting import CHANGE, SHARE, value_style
from monitors.rules.schema import Rule
from monitors.sources.fields import SOURCE_FIELDS, SOURCES

OFF = {"cooldown": "0 (never reopens)", "repeat_interval": "0 (no reminders)"}
FOLDED = {"name", "description", "op", "baseline_multiplier", "percent"}
"""Fields not listed on their own line: in the heading, or part of the thresholds line
(``op``, and the single-level shorthands)."""


def number_text(value: float) -> str:
    """``1000000`` and ``1.5``, not ``1e+06`` or ``1000000.0``."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.15g}"


def threshold_unit(rule: Rule) -> str:
    """What a rule's threshold numbers count: ``x baseline``, ``% change``, ``% of
    samples`` (percent_where), or nothing for plain values."""
    if rule.threshold_type == "dynamic":
        return "x baseline"
    style = value_style(rule.threshold_type, rule.aggregate)
    return {CHANGE: "% change", SHARE: "% of samples"}.get(style, "")


def with_unit(number: str, unit: str) -> str:
    """``2 x baseline``, ``50% change``, ``2% of samples``, or the number alone."""
    if not unit:
        return number
    return f"{number}{unit}" if unit.startswith("%") else f"{number} {unit}"


def thresholds_text(rule: Rule) -> str:
    unit = threshold_unit(rule)
    parts = [f"{level} {rule.op} {number_text(rule.thresholds[level])}" for level in rule.levels]
    return ", ".join(parts) + (f" ({unit})" if unit else "")


def value_text(value: Any) -> str:
    """One field's value as written in YAML; flow style for mappings and lists."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number_text(value)
    if isinstance(value, dict | list | tuple):
        data = list(value) if isinstance(value, tuple) else value
        return yaml.safe_dump(data, default_flow_style=True, sort_keys=False, width=10**6).strip()
    return str(value)


def rule_fields(rule: Rule) -> list[tuple[str, str]]:
    """(field, text) for every field worth reading; empty ones are left out."""
    data = rule.to_json()
    data["thresholds"] = thresholds_text(rule)
    if rule.threshold_type == "static":
        del data["threshold_type"]
    if rule.threshold_type != "dynamic":
        del data["baseline_window"]
    fields = []
    for key, value in data.items():
        if key in FOLDED or value in (None, "", [], {}) or not _shown(rule, key, value):
            continue
        text = OFF[key] if key in OFF and value == "0s" else value_text(value)
        fields.append((key, text))
    return fields


def _shown(rule: Rule, key: str, value: Any) -> bool:
    """``source: ingest`` goes without saying, and so do the defaults of fields the
    rule's source does not read (a sql rule has no ``aggregate``)."""
    if key == "source":
        return value != "ingest"
    return key not in SOURCE_FIELDS or key in SOURCES[rule.source].takes


def rule_text(rule: Rule, origin: str) -> str:
    name = rule.name if rule.enabled else f"{rule.name} (disabled)"
    heading = f"{name}: {rule.description}" if rule.description else name
    lines = [heading, f"origin: {origin}"]
    lines += [f"  {key}: {text}" for key, text in rule_fields(rule)]
    return "\n".join(lines)
