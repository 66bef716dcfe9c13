"""The alert rule schema: what a rule file (YAML or JSON) and the rules API accept.

Durations are written as text (``15m``) and held as seconds. Thresholds map a level
(``warning``, ``error``, ``critical``) to a number whose meaning depends on
``threshold_type``: an absolute value (``static``), a multiple of the baseline
(``dynamic``), a percentage change against the previous window (``percent_change``), or
a multiple of the normal band the series' own anomaly model has learned (``anomaly``).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from monitors.durations import format_duration, parse_duration
from monitors.rules.checks import MAX_CHECK_LENGTH, MAX_CHECKS
from monitors.sources import fields as source_fields

LEVELS: tuple[str, ...] = ("warning", "error", "critical")
Level = Literal["warning", "error", "critical"]
Op = Literal[">", "<", ">=", "<=", "<>"]
ANOMALY_OPS = (">", "<", "<>")
"""For anomaly rules the op says which side of the normal band alerts: above (``>``),
below (``<``) or either (``<>``, their default)."""
Aggregate = Literal[
    "count", "rate", "sum", "avg", "min", "max", "p50", "p90", "p95", "p99", "percent_where"
]
ThresholdType = Literal["static", "dynamic", "percent_change", "anomaly"]
DataPolicy = Literal["keep", "ok", "alerting"]

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


MIN_DURATION = 1.0
MAX_DURATION = 365 * 86400.0
"""Rule durations are whole seconds' worth at least (``interval: 1s`` is the fastest tick)
and at most a year: longer ones are mistakes, and the scheduler cannot plan them."""


def _to_seconds(value: Any, zero_allowed: bool = False) -> float:
    try:
        seconds = parse_duration(value, zero_allowed)
    except ValueError as exc:  # surfaces as a pydantic error naming the field
        raise ValueError(str(exc)) from None
    if seconds == 0:  # only where zero_allowed: parse_duration refused it otherwise
        return 0.0
    if seconds < MIN_DURATION:
        raise ValueError(f"{value!r} is shorter than {format_duration(MIN_DURATION)}")
    if seconds > MAX_DURATION:
        raise ValueError(f"{value!r} is longer than {format_duration(MAX_DURATION)}")
    return seconds


def _duration_text(seconds: float) -> str:
    """Exact text for a rule duration, so that a saved rule reads back the same:
    ``format_duration`` rounds to whole seconds (1.5 would come back as 2s)."""
    return format_duration(seconds) if seconds == int(seconds) else f"{seconds!r}s"


def _no_bool(value: Any) -> Any:
    """JSON/YAML ``true`` is not the number 1, nor is YAML's ``.nan`` a usable limit:
    refuse them where a number is meant."""
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return value


Duration = Annotated[
    float,
    BeforeValidator(_to_seconds),
    PlainSerializer(_duration_text, return_type=str, when_used="json"),
]
OffDuration = Annotated[
    float,
    BeforeValidator(lambda value: _to_seconds(value, zero_allowed=True)),
    PlainSerializer(_duration_text, return_type=str, when_used="json"),
]
"""A duration where ``0`` turns the feature off (``cooldown: 0`` never reopens,
``repeat_interval: 0`` sends no reminders)."""
Number = Annotated[float, BeforeValidator(_no_bool)]
Count = Annotated[int, BeforeValidator(_no_bool)]


def _list_as_tuple(value: Any) -> Any:
    """JSON and YAML write lists; the rule holds tuples (it is frozen, and hashable)."""
    return tuple(value) if isinstance(value, list) else value


Names = Annotated[tuple[str, ...], BeforeValidator(_list_as_tuple)]


SERIES_IDENTITY = ("source", "metric", "match", "where", "group_by", "url", "query", "key", "path")
"""The fields that decide which series a rule has: change one and the old series (and
their incidents) no longer correspond to anything the rule reads."""


def series_identity(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The SERIES_IDENTITY fields of a rule as JSON (``Rule.to_json()`` or a snapshot);
    ``group_by`` in any order names the same series."""
    identity = {field: spec.get(field) for field in SERIES_IDENTITY}
    identity["group_by"] = sorted(identity["group_by"] or ())
    return identity


def level_rank(level: str | None) -> int:
    """0 for no level, then 1..3 from warning to critical."""
    return LEVELS.index(level) + 1 if level in LEVELS else 0


def compare(value: float, op: str, threshold: float) -> bool:
    if op == ">":
        return value > threshold
    if op == "<":
        return value < threshold
    if op == ">=":
        return value >= threshold
    return value <= threshold


class SourceFieldErrors(ValueError):
    """Several things wrong with a rule's source fields, each naming its field, so that
    check-config lists them all at once."""

    def __init__(self, problems: list[source_fields.Problem]) -> None:
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in problems))
        self.problems = problems


class Rule(BaseModel):
    """One alert rule. Unknown fields are refused so that a typo is an error, not a no-op,
    and values are strict (pydantic's strict mode) wherever a rule comes from: ``"3"`` is
    not a number and ``"off"`` is not false, in the API as in the file. In a YAML file
    YAML's own types apply first, so an unquoted ``3`` is a number and ``off`` a boolean.

    ``source`` says where values come from; each source takes its own fields (``url``,
    ``query``, ``key``, ``path``, ...), listed in ``monitors.sources.fields.SOURCES``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    source: str = "ingest"
    metric: str | None = Field(default=None, min_length=1, max_length=200)
    match: dict[str, str] = Field(default_factory=dict)
    aggregate: Aggregate = "avg"
    where: dict[str, str] = Field(default_factory=dict)
    """For ``percent_where``: label -> regular expression (full match) picking the samples
    counted, e.g. ``{status: "5.."}`` for the percentage of server errors."""
    window: Duration = 300.0
    group_by: Names = ()
    min_samples: Count = Field(default=1, ge=1)
    interval: Duration = 60.0
    op: Op = ">"
    thresholds: dict[Level, Number] = Field(default_factory=dict)
    threshold_type: ThresholdType = "static"
    baseline_multiplier: Number | None = Field(default=None, gt=0)
    baseline_window: Duration = 7 * 86400.0
    percent: Number | None = None
    sensitivity: Number | None = Field(default=None, ge=0.1, le=10)
    """For ``anomaly`` (default 1): how narrow the normal band is; 2 alerts on smaller
    departures from what the series usually does, 0.5 only on larger ones."""
    breaches_to_open: Count = Field(default=2, ge=1, le=1000)
    normals_to_resolve: Count = Field(default=3, ge=1, le=1000)
    cooldown: OffDuration = 3600.0
    no_data: DataPolicy = "keep"
    on_error: DataPolicy = "keep"
    source_errors_to_alert: Count = Field(default=3, ge=1)
    repeat_interval: OffDuration = 4 * 3600.0
    escalate_after: Duration | None = None
    escalate_to: Names = ()
    channels: Names = ()
    max_per_hour: Count = Field(default=10, ge=0, le=10_000)
    """New messages a destination gets for this rule in an hour at most (a grouped
    message counts once; edits and resolutions never); past it, one message says how
    many more were held back. 0: no cap."""
    runbook: str = ""
    checks: Names = Field(default=(), max_length=MAX_CHECKS)
    """What to check first, shown on the card with the runbook; when empty, the list
    for what the rule reads (monitors/rules/checks.yaml)."""
    enabled: bool = True
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    """sql, prometheus, http, redis: where to read; ``${NAME}`` names an environment variable."""
    query: str | None = Field(default=None, max_length=20_000)
    """sql: a read-only query binding ``:window_start``/``:window_end``; prometheus: PromQL."""
    key: str | None = Field(default=None, min_length=1, max_length=500)
    """redis: the list whose length is read (a Celery queue)."""
    path: str | None = Field(default=None, min_length=1, max_length=500)
    """system: the mount whose disk use is read."""
    method: str | None = None
    """http: the request method (GET)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """http, prometheus: request headers; values may name ``${NAME}`` (a bearer token)."""
    timeout: Duration | None = None
    """sql, prometheus, http, redis: longest a read may take (10s, at most the interval)."""
    body_match: str | None = None
    """http: a regular expression the body must contain for the probe to count as up."""

    @field_validator("checks")
    @classmethod
    def _short_checks(cls, checks: tuple[str, ...]) -> tuple[str, ...]:
        for check in checks:
            if not check.strip() or len(check) > MAX_CHECK_LENGTH:
                raise ValueError(
                    f"each check is 1 to {MAX_CHECK_LENGTH} characters, e.g. "
                    "'Did a deploy just go out?'"
                )
        return tuple(check.strip() for check in checks)

    @field_validator("method")
    @classmethod
    def _upper_method(cls, method: str | None) -> str | None:
        return method.upper() if method else method

    @field_validator("source")
    @classmethod
    def _known_source(cls, source: str) -> str:
        problem = source_fields.source_problem(source)
        if problem:
            raise ValueError(problem)
        return source

    @field_validator("where", "match")
    @classmethod
    def _patterns_compile(cls, patterns: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if info.field_name != "where":
            return patterns
        for key, pattern in patterns.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{key}: {pattern!r} is not a valid regular expression") from exc
        return patterns

    @model_validator(mode="before")
    @classmethod
    def _shorthand_thresholds(cls, data: Any) -> Any:
        """``baseline_multiplier`` / ``percent`` alone stand for a single warning level;
        an anomaly rule alerts at the band's edge on either side unless told otherwise."""
        if not isinstance(data, dict):
            return data
        kind = data.get("threshold_type", "static")
        if kind == "anomaly":
            data = {"op": "<>", **data}
            if not data.get("thresholds"):
                data["thresholds"] = {"warning": 1}
            return data
        if data.get("thresholds"):
            return data
        shorthand = {"dynamic": "baseline_multiplier", "percent_change": "percent"}.get(kind)
        if shorthand and data.get(shorthand) is not None:
            return {**data, "thresholds": {"warning": data[shorthand]}}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if not self.thresholds:
            raise ValueError("thresholds: give at least one level, e.g. thresholds: {warning: 500}")
        ordered = [self.thresholds[lv] for lv in LEVELS if lv in self.thresholds]
        self._anomaly_consistent(ordered)
        rising = self.op in (">", ">=") or self.threshold_type == "anomaly"
        pairs = list(itertools.pairwise(ordered))
        if any((b < a) if rising else (b > a) for a, b in pairs):
            direction = "increase" if rising else "decrease"
            raise ValueError(
                f"thresholds: with op '{self.op}' they must {direction} from warning to critical"
            )
        if self.aggregate == "percent_where" and not self.where:
            raise ValueError("where: percent_where needs a condition, e.g. where: {status: '5..'}")
        if self.escalate_after is not None and not self.escalate_to:
            raise ValueError("escalate_to: escalate_after needs a channel to escalate to")
        problems = source_fields.check(self)
        if problems:
            raise SourceFieldErrors(problems)
        return self

    def _anomaly_consistent(self, ordered: list[float]) -> None:
        if self.threshold_type != "anomaly":
            if self.op == "<>":
                raise ValueError("op: '<>' (either side of the normal band) is for anomaly rules")
            if self.sensitivity is not None:
                raise ValueError("sensitivity: only anomaly rules have one")
            return
        if self.op not in ANOMALY_OPS:
            raise ValueError(
                f"op: anomaly rules take '>' (above the normal band), '<' (below) or '<>' "
                f"(either), not '{self.op}'"
            )
        if any(limit < 1 for limit in ordered):
            raise ValueError(
                "thresholds: anomaly levels are multiples of the normal band, 1 or more "
                "(1 is its edge); to alert closer in, raise sensitivity"
            )

    @property
    def read_timeout(self) -> float:
        """Seconds a remote read of this rule may take: ``timeout``, else 10s, never more
        than the interval."""
        if self.timeout is not None:
            return self.timeout
        return min(source_fields.DEFAULT_TIMEOUT, self.interval)

    def reads(self) -> str:
        """What the rule reads, in words: ``p95 of latency``, ``PromQL up``, ..."""
        return source_fields.reads(self.to_json())

    @property
    def levels(self) -> list[str]:
        """Levels this rule defines, from the lowest to the highest."""
        return [lv for lv in LEVELS if lv in self.thresholds]

    def to_json(self) -> dict[str, Any]:
        """The rule as the API and the database hold it; source fields the rule does not
        set are left out (an ingest rule has no ``url: null``)."""
        data = self.model_dump(mode="json")
        if not data["checks"]:  # the default: the list for what the rule reads
            del data["checks"]
        for name in source_fields.OPTIONAL_UNSET:
            if not source_fields.is_set(name, data[name]):
                del data[name]
        return data
