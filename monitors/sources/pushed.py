"""What services push to ``POST /v1/samples``, checked and turned into samples.

Three kinds of item, all or nothing (one bad item refuses the body, every problem named):

* a sample: ``{"metric", "value", "labels", "ts"}``;
* a request event: ``{"kind": "request", "route", "method", "status", "duration_ms"}``,
  stored as one ``http.request.duration_ms`` sample labelled ``route``, ``method``,
  ``status`` and ``outcome`` (``ok``, ``client_error``, ``error``, ``timeout``), so the
  same rules read latency percentiles, error and timeout rates and request rates;
* a job event: ``{"kind": "job", "queue", "job_type", "status", "duration_s", "wait_s"}``,
  stored as a ``job.duration_s`` sample (and ``job.wait_s`` when given) labelled
  ``queue``, ``job_type`` and ``status``: job duration, failure rate, completions.

Request and job events also take ``labels`` (e.g. ``service``) and ``ts``."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from monitors.timestamps import parse_timestamp
from monitors.windows.store import Sample

MAX_NAME = 200
MAX_LABELS = 32
MAX_FUTURE = 86400.0
"""A timestamp further ahead than this is a unit mistake (milliseconds), not clock skew."""
MAX_REPORTED = 50
_FIELDS = frozenset({"metric", "value", "labels", "ts"})


class IngestError(ValueError):
    """The body was refused; ``errors`` names each problem (``samples[3].value: ...``)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _is_number(v: Any) -> bool:
    if not isinstance(v, int | float) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int beyond float range (json.loads keeps 10**400 exact)
        return False


def _parse_ts(raw: Any, now: float) -> float | str:
    """Epoch seconds, or the reason ``raw`` is not an acceptable timestamp."""
    try:
        ts = parse_timestamp(raw)
    except ValueError as exc:
        return str(exc)
    if ts > now + MAX_FUTURE:
        return "is more than a day in the future; send epoch seconds, not milliseconds"
    return ts


def check_labels(field: str, labels: Any, errors: list[str]) -> dict[str, str]:
    """``labels`` if it is an object of short strings; else each problem is added to
    ``errors`` under ``field`` (``samples[3].labels``)."""
    if not isinstance(labels, dict):
        errors.append(f"{field}: must be an object of string values")
        return {}
    if len(labels) > MAX_LABELS:
        errors.append(f"{field}: at most {MAX_LABELS} labels, got {len(labels)}")
    for k, v in labels.items():
        if not k or len(k) > MAX_NAME:
            errors.append(f"{field}: name {k[:40]!r} must be 1 to {MAX_NAME} characters")
        if not isinstance(v, str):
            errors.append(f"{field}.{k[:40]}: must be a string")
        elif len(v) > MAX_NAME:
            errors.append(f"{field}.{k[:40]}: must be at most {MAX_NAME} characters")
    return labels


def _check_ts(where: str, item: dict[str, Any], now: float, errors: list[str]) -> float | None:
    if item.get("ts") is None:
        return None
    parsed = _parse_ts(item["ts"], now)
    if isinstance(parsed, str):
        errors.append(f"{where}.ts: {parsed}")
        return None
    return parsed


def _check_text(where: str, item: dict[str, Any], name: str, errors: list[str]) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        errors.append(f"{where}.{name}: must be a non-empty string")
        return ""
    if len(value) > MAX_NAME:
        errors.append(f"{where}.{name}: must be at most {MAX_NAME} characters")
    return value


def _check_duration(where: str, item: dict[str, Any], name: str, errors: list[str]) -> float:
    value = item.get(name)
    if not _is_number(value) or value < 0:
        errors.append(f"{where}.{name}: must be a finite number, 0 or more")
        return 0.0
    return float(value)


def _unknown(where: str, item: dict[str, Any], fields: frozenset[str], errors: list[str]) -> None:
    errors.extend(f"{where}: unknown field {k!r}" for k in item if k not in fields)


def _check_sample(where: str, item: dict[str, Any], now: float, errors: list[str]) -> list[Sample]:
    before = len(errors)
    _unknown(where, item, _FIELDS, errors)
    metric = item.get("metric")
    if not isinstance(metric, str) or not metric:
        errors.append(f"{where}.metric: must be a non-empty string")
    elif len(metric) > MAX_NAME:
        errors.append(f"{where}.metric: must be at most {MAX_NAME} characters")
    value = item.get("value")
    if not _is_number(value):
        errors.append(f"{where}.value: must be a finite number")
    labels = check_labels(f"{where}.labels", item.get("labels", {}), errors)
    ts = _check_ts(where, item, now, errors)
    if len(errors) > before:
        return []
    return [Sample(metric, float(value), labels, ts)]  # type: ignore[arg-type]


REQUEST_METRIC = "http.request.duration_ms"
JOB_METRIC = "job.duration_s"
JOB_WAIT_METRIC = "job.wait_s"
_REQUEST_FIELDS = frozenset({"kind", "route", "method", "status", "duration_ms", "labels", "ts"})
_JOB_FIELDS = frozenset(
    {"kind", "queue", "job_type", "status", "duration_s", "wait_s", "labels", "ts"}
)
TIMEOUT_STATUSES = frozenset({408, 504})
"""Answers that mean the request ran out of time (``status: "timeout"`` is the client's
own timeout, when no answer came)."""


def outcome(status: int | str) -> str:
    """``ok``, ``client_error``, ``error`` or ``timeout``: what a request's status means."""
    if status == "timeout" or status in TIMEOUT_STATUSES:
        return "timeout"
    assert isinstance(status, int)
    if status >= 500:
        return "error"
    return "client_error" if status >= 400 else "ok"


def _check_request(where: str, item: dict[str, Any], now: float, errors: list[str]) -> list[Sample]:
    before = len(errors)
    _unknown(where, item, _REQUEST_FIELDS, errors)
    route = _check_text(where, item, "route", errors)
    method = item.get("method", "GET")
    if not isinstance(method, str) or not method or len(method) > 16:
        errors.append(f"{where}.method: must be an HTTP method such as GET")
    status = item.get("status")
    valid = isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599
    if not valid and status != "timeout":
        errors.append(f'{where}.status: must be an HTTP status (100 to 599) or "timeout"')
    duration = _check_duration(where, item, "duration_ms", errors)
    labels = check_labels(f"{where}.labels", item.get("labels", {}), errors)
    ts = _check_ts(where, item, now, errors)
    if len(errors) > before:
        return []
    derived = {
        **labels,
        "route": route,
        "method": method.upper(),
        "status": str(status),
        "outcome": outcome(status),  # type: ignore[arg-type]
    }
    return [Sample(REQUEST_METRIC, duration, derived, ts)]


def _check_job(where: str, item: dict[str, Any], now: float, errors: list[str]) -> list[Sample]:
    before = len(errors)
    _unknown(where, item, _JOB_FIELDS, errors)
    queue = _check_text(where, item, "queue", errors)
    job_type = _check_text(where, item, "job_type", errors)
    status = _check_text(where, item, "status", errors)
    duration = _check_duration(where, item, "duration_s", errors)
    wait = _check_duration(where, item, "wait_s", errors) if "wait_s" in item else None
    labels = check_labels(f"{where}.labels", item.get("labels", {}), errors)
    ts = _check_ts(where, item, now, errors)
    if len(errors) > before:
        return []
    derived = {**labels, "queue": queue, "job_type": job_type, "status": status.lower()}
    samples = [Sample(JOB_METRIC, duration, derived, ts)]
    if wait is not None:
        samples.append(Sample(JOB_WAIT_METRIC, wait, dict(derived), ts))
    return samples


_KINDS = {"request": _check_request, "job": _check_job}


def _check_item(i: int, item: Any, now: float, errors: list[str]) -> list[Sample]:
    where = f"samples[{i}]"
    if not isinstance(item, dict):
        errors.append(f"{where}: must be an object")
        return []
    kind = item.get("kind")
    if kind is None:
        return _check_sample(where, item, now, errors)
    check = _KINDS.get(kind) if isinstance(kind, str) else None
    if check is None:
        errors.append(f"{where}.kind: must be request or job (or left out for a sample)")
        return []
    return check(where, item, now, errors)


def parse_samples(body: bytes, now: float, max_items: int = 10_000) -> list[Sample]:
    """Validate an ingest body; raise :class:`IngestError` (and keep nothing) if any item is bad."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        refused = IngestError([f"body: not valid JSON ({exc})"])
        named = _name_non_finite(body, now, max_items)
        raise (named or refused) from None
    return _parse_doc(doc, now, max_items)


def _name_non_finite(body: bytes, now: float, max_items: int) -> IngestError | None:
    """``NaN``, ``Infinity`` and ``1e400`` are not JSON, but Python's ``json.dumps`` and
    JavaScript clients send them: name the items that hold them, as for any bad value,
    rather than "not valid JSON" at some column. Never accepts what orjson refused."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    try:
        _parse_doc(doc, now, max_items)
    except IngestError as exc:
        return exc
    return None


def _parse_doc(doc: Any, now: float, max_items: int) -> list[Sample]:
    if not isinstance(doc, dict):
        raise IngestError(['body: must be a JSON object like {"samples": [...]}'])
    items = doc.get("samples")
    if not isinstance(items, list):
        raise IngestError(['samples: required, a list of {"metric", "value", "labels", "ts"}'])
    if len(items) > max_items:
        raise IngestError([f"samples: {len(items)} items, at most {max_items} per request"])
    errors: list[str] = []
    samples = [s for i, item in enumerate(items) for s in _check_item(i, item, now, errors)]
    if errors:
        if len(errors) > MAX_REPORTED:
            errors = [*errors[:MAX_REPORTED], f"... and {len(errors) - MAX_REPORTED} more"]
        raise IngestError(errors)
    return samples
