"""Which rule fields each source takes, in one table, and the checks that follow from it.

``monitors.rules.schema.Rule`` holds every field; this module says which of them a rule of a
given ``source`` may set, which it must set, which ``metric`` names the source knows,
and what a rule reads in words (for incident cards and ``/rule list``). It imports
nothing from the sources themselves, so the schema does not pull in their libraries."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import ArgumentError

from monitors.sources.env import display_url, reference_problem

SQL_PARAMETERS = ("window_start", "window_end")
"""What a SQL query may bind: the window ``(window_start, window_end]`` as UTC times."""
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_TIMEOUT = 10.0
"""Seconds a remote read may take when the rule sets no ``timeout`` (capped by its
``interval``: a read must finish before the next tick)."""

INGEST_DEFAULTS: dict[str, Any] = {
    "match": {},
    "aggregate": "avg",
    "where": {},
    "min_samples": 1,
}
"""Fields with a default that only some sources use: set to anything else, they count
as given (a rule read back from the API carries every default)."""
SOURCE_FIELDS = (
    "metric",
    *INGEST_DEFAULTS,
    "url",
    "query",
    "key",
    "path",
    "method",
    "headers",
    "timeout",
    "body_match",
)
"""Fields that belong to some sources and not others; every other field is common."""
OPTIONAL_UNSET = ("url", "query", "key", "path", "method", "headers", "timeout", "body_match")
"""Source fields that are absent (None or empty) unless given: left out of a rule's JSON
when unset, so a rule of one source does not list every other source's fields."""


@dataclass(frozen=True)
class SourceSpec:
    """The fields a source's rules take. ``metrics`` maps each metric name the source
    knows to the extra fields it needs (empty: any metric name, as for ingest; None:
    the rule has no metric, its query says what is read)."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    metrics: Mapping[str, tuple[str, ...]] | None = field(default_factory=dict)
    url_schemes: tuple[str, ...] = ()
    changes: bool = False
    """Whether the source can read the previous window (``threshold_type: percent_change``)."""
    example: Mapping[str, str] = field(default_factory=dict)

    @property
    def takes(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


SOURCES: dict[str, SourceSpec] = {
    spec.name: spec
    for spec in (
        SourceSpec(
            "ingest",
            required=("metric",),
            optional=("match", "aggregate", "where", "min_samples"),
            changes=True,
            example={"metric": "http.request.duration_ms"},
        ),
        SourceSpec(
            "sql",
            required=("url", "query"),
            optional=("min_samples", "timeout"),
            metrics=None,
            url_schemes=("postgresql", "postgres", "sqlite", "mysql", "mariadb"),
            changes=True,
            example={
                "url": "postgresql+asyncpg://reader@db.internal:5432/analytics",
                "query": "SELECT avg(duration_ms) AS value FROM request_logs "
                "WHERE ts >= :window_start AND ts < :window_end",
            },
        ),
        SourceSpec(
            "prometheus",
            required=("url", "query"),
            optional=("headers", "timeout"),
            metrics=None,
            url_schemes=("http", "https"),
            example={"url": "http://127.0.0.1:9090", "query": "sum by (queue) (queue_length)"},
        ),
        SourceSpec(
            "http",
            required=("url", "metric"),
            optional=("method", "headers", "timeout", "body_match"),
            metrics={"latency_ms": (), "status": (), "up": (), "cert_days_left": ()},
            url_schemes=("http", "https"),
            example={"url": "https://api.example/health", "metric": "status"},
        ),
        SourceSpec(
            "redis",
            required=("url", "metric"),
            optional=("key", "timeout"),
            metrics={
                "memory_used_ratio": (),
                "clients": (),
                "ops_per_sec": (),
                "latency_ms": (),
                "list_length": ("key",),
                "list_growth": ("key",),
            },
            url_schemes=("redis", "rediss", "unix"),
            example={"url": "redis://127.0.0.1:6379/0", "metric": "list_length", "key": "celery"},
        ),
        SourceSpec(
            "system",
            required=("metric",),
            optional=("path",),
            metrics={
                "cpu_percent": (),
                "memory_percent": (),
                "load1": (),
                "load5": (),
                "load15": (),
                "disk_used_percent": ("path",),
                "disk_free_gb": ("path",),
            },
            example={"metric": "disk_used_percent", "path": "/"},
        ),
    )
}
FIELD_EXAMPLES = {
    "key": "key: celery",
    "path": "path: /",
    "metric": "metric: http.request.duration_ms",
}


def is_set(name: str, value: Any) -> bool:
    """Whether a source field was given: not None or empty, and not its default."""
    if name in INGEST_DEFAULTS:
        return value != INGEST_DEFAULTS[name]
    return value not in (None, "", {}, ())


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def source_problem(source: str) -> str | None:
    """Why ``source`` is not a source name, or None."""
    if source in SOURCES:
        return None
    names = list(SOURCES)
    return f"'{source}' is not a source{did_you_mean(source, names)}; use one of {', '.join(names)}"


Problem = tuple[str, str]
"""(field, reason): one thing wrong with a rule."""


def check(rule: Any) -> list[Problem]:
    """Everything wrong with ``rule``'s source fields (a ``Rule``, read by attribute)."""
    spec = SOURCES[rule.source]
    problems: list[Problem] = []
    for name in SOURCE_FIELDS:
        value = getattr(rule, name)
        if is_set(name, value) and name not in spec.takes:
            problems.append((name, _not_taken(spec, name)))
    for name in spec.required:
        if not is_set(name, getattr(rule, name)):
            problems.append((name, _required(spec, name)))
    if spec.metrics and rule.metric:
        problems += _metric_problems(spec, rule)
    takes = spec.takes  # the contents of fields the source does not take were refused above
    if rule.url and "url" in takes:
        problems += [("url", reason) for reason in _url_problems(spec, rule.url)]
    for header, value in (rule.headers or {}).items() if "headers" in takes else ():
        reason = reference_problem(value)
        if reason:
            problems.append((f"headers.{header}", reason))
    if rule.query and "query" in takes:
        problems += _query_problems(spec, rule.query)
    if rule.body_match and "body_match" in takes:
        try:
            re.compile(rule.body_match)
        except re.error as exc:
            problems.append(("body_match", f"not a valid regular expression ({exc})"))
    if rule.method and "method" in takes and rule.method not in HTTP_METHODS:
        problems.append(("method", f"'{rule.method}': use one of {', '.join(HTTP_METHODS)}"))
    if rule.threshold_type == "percent_change" and not spec.changes:
        problems.append(
            (
                "threshold_type",
                f"percent_change needs the previous window, which the {spec.name} source "
                f"does not read; use ingest or sql, or compute the change in the query",
            )
        )
    if rule.timeout is not None and rule.timeout > rule.interval:
        problems.append(
            ("timeout", "must not be longer than the interval: a read must end before the next")
        )
    return problems


def _not_taken(spec: SourceSpec, name: str) -> str:
    takes = ", ".join(spec.takes)
    if name == "metric" and spec.metrics is None:
        return f"not used by {spec.name} rules: the query says what is read; remove it"
    if name in ("aggregate", "where", "match") and spec.name != "ingest":
        return (
            f"not used by {spec.name} rules (only pushed samples are aggregated by Tocsin); "
            f"{spec.name} rules take {takes}"
        )
    return f"not used by source '{spec.name}'; {spec.name} rules take {takes}"


def _a(word: str) -> str:
    """``a sql``, ``an http``: the article as the word is spoken."""
    spoken_vowel = word[:1] in "aeio" or word in ("http", "sql")
    return f"{'an' if spoken_vowel else 'a'} {word}"


def _required(spec: SourceSpec, name: str) -> str:
    if name == "metric" and spec.name == "ingest":
        return "required"
    if name == "metric" and spec.metrics:
        return f"required: one of {', '.join(spec.metrics)}"
    example = spec.example.get(name)
    return f"required for source '{spec.name}'" + (f", e.g. {name}: {example}" if example else "")


def _metric_problems(spec: SourceSpec, rule: Any) -> list[Problem]:
    assert spec.metrics
    needs = spec.metrics.get(rule.metric)
    if needs is None:
        names = list(spec.metrics)
        return [
            (
                "metric",
                f"'{rule.metric}' is not {_a(spec.name)} metric{did_you_mean(rule.metric, names)}; "
                f"use one of {', '.join(names)}",
            )
        ]
    problems = []
    for name in needs:
        if not is_set(name, getattr(rule, name)):
            problems.append(
                (name, f"required for metric {rule.metric}, e.g. {FIELD_EXAMPLES[name]}")
            )
    for name in ("key", "path"):
        if name in spec.optional and name not in needs and is_set(name, getattr(rule, name)):
            users = [metric for metric, fields in spec.metrics.items() if name in fields]
            problems.append((name, f"only read by {' and '.join(users)}; remove it"))
    return problems


def _url_problems(spec: SourceSpec, url: str) -> list[str]:
    reason = reference_problem(url)
    if reason:
        return [reason]
    scheme, sep, _ = url.partition("://")
    if "${" in scheme:  # the scheme itself comes from the environment: known at run time
        return []
    base = scheme.split("+", 1)[0].lower()
    if not sep or base not in spec.url_schemes:
        schemes = [f"{s}://" for s in spec.url_schemes]
        starts = ", ".join(schemes[:-1]) + f" or {schemes[-1]}" if len(schemes) > 1 else schemes[0]
        return [f"'{display_url(url)}' is not {_a(spec.name)} URL; it starts with {starts}"]
    return []


def _query_problems(spec: SourceSpec, query: str) -> list[Problem]:
    if not query.strip():
        return [("query", "must not be empty")]
    if spec.name != "sql":
        return []
    try:
        bound = set(text(query).compile().params)
    except ArgumentError as exc:
        return [("query", f"cannot be read: {exc}")]
    unknown = sorted(bound - set(SQL_PARAMETERS))
    if unknown:
        names = ", ".join(f":{name}" for name in unknown)
        return [
            (
                "query",
                f"{names}: Tocsin binds only :window_start and :window_end "
                f"(write '::' for a PostgreSQL cast, e.g. ts::date)",
            )
        ]
    return []


def uses_window(query: str) -> bool:
    """Whether a SQL query reads ``:window_start``: rules of other windows cannot share it."""
    return "window_start" in text(query).compile().params


def endpoint(rule: Any) -> str:
    """What a rule reads from, as people should see it: the source's name and its URL
    (password masked), e.g. ``sql postgresql://reader:***@db/analytics``."""
    if rule.url:
        return f"{rule.source} {display_url(rule.url)}"
    return rule.source


def reads(spec: Mapping[str, Any]) -> str:
    """What a rule reads, in words, from its JSON (a rule or an incident's snapshot):
    ``p95 of http.request.duration_ms``, ``the SQL query on postgresql://db/analytics``,
    ``PromQL sum by (queue) (celery_queue_length)``, ``list_length of celery``."""
    source = spec.get("source") or "ingest"
    metric = spec.get("metric")
    if source == "ingest":
        return f"{spec.get('aggregate', 'avg')} of {metric}"
    if source == "sql":
        return f"the SQL query on {display_url(spec.get('url') or '')}"
    if source == "prometheus":
        query = " ".join(str(spec.get("query") or "").split())
        return f"PromQL {query[:120]}"
    if source == "http":
        return f"{metric} of {spec.get('method') or 'GET'} {display_url(spec.get('url') or '')}"
    if source == "redis":
        target = f" {spec.get('key')}" if spec.get("key") else ""
        return f"{metric}{target} on {display_url(spec.get('url') or '')}"
    where = f" of {spec.get('path')}" if spec.get("path") else ""
    return f"{metric}{where} ({source})"


def reads_over_window(spec: Mapping[str, Any]) -> str:
    """``reads`` plus the window, for the sources that read one (``p95 of latency over
    5m``); the others read an instant (a probe, a gauge, a PromQL instant query)."""
    source = spec.get("source") or "ingest"
    windowed = source == "ingest" or (source == "sql" and uses_window(spec.get("query") or ""))
    return f"{reads(spec)} over {spec.get('window', '')}" if windowed else reads(spec)


def labels_follow_group_by(spec: Mapping[str, Any]) -> bool:
    """Whether a rule's series carry exactly its ``group_by`` labels. A Prometheus rule
    without ``group_by`` takes whatever labels its query's result has."""
    return bool(spec.get("group_by")) or spec.get("source") != "prometheus"
