"""Request and job events pushed to /v1/samples become samples the catalogue's rules read."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from monitors.sources.pushed import IngestError, parse_samples
from monitors.windows.store import Sample

NOW = 1_800_000_000.0


def parse(*items: Any) -> list[Sample]:
    return parse_samples(orjson.dumps({"samples": list(items)}), NOW)


def request(**fields: Any) -> dict[str, Any]:
    return {"kind": "request", "route": "/a", "method": "get", "status": 200, "duration_ms": 12,
            **fields}  # fmt: skip


def job(**fields: Any) -> dict[str, Any]:
    return {"kind": "job", "queue": "images", "job_type": "resize", "status": "SUCCESS",
            "duration_s": 4.5, **fields}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, "ok"), (302, "ok"), (404, "client_error"), (408, "timeout"), (500, "error"),
     (504, "timeout"), ("timeout", "timeout")],
)  # fmt: skip
def test_a_request_is_a_latency_sample_labelled_with_its_outcome(status, outcome):
    (sample,) = parse(request(status=status, labels={"service": "api"}, ts=NOW - 1))
    assert sample == Sample(
        "http.request.duration_ms",
        12.0,
        {"service": "api", "route": "/a", "method": "GET", "status": str(status),
         "outcome": outcome},
        NOW - 1,
    )  # fmt: skip


def test_a_job_is_a_duration_sample_and_a_wait_sample():
    duration, wait = parse(job(wait_s=2))
    labels = {"queue": "images", "job_type": "resize", "status": "success"}
    assert duration == Sample("job.duration_s", 4.5, labels, None)
    assert wait == Sample("job.wait_s", 2.0, labels, None)
    assert len(parse(job())) == 1  # no wait_s, no wait sample


@pytest.mark.parametrize(
    ("item", "error"),
    [
        (request(kind="requests"), "samples[0].kind: must be request or job"),
        (request(route=""), "samples[0].route: must be a non-empty string"),
        (
            request(status=700),
            'samples[0].status: must be an HTTP status (100 to 599) or "timeout"',
        ),
        (request(status=True), "samples[0].status: must be an HTTP status"),
        (request(duration_ms=-1), "samples[0].duration_ms: must be a finite number, 0 or more"),
        (request(value=3), "samples[0]: unknown field 'value'"),
        (job(queue=None), "samples[0].queue: must be a non-empty string"),
        (job(wait_s="soon"), "samples[0].wait_s: must be a finite number, 0 or more"),
        (job(labels={"a": 1}), "samples[0].labels.a: must be a string"),
    ],
)
def test_a_bad_event_refuses_the_body_naming_the_field(item, error):
    with pytest.raises(IngestError) as refused:
        parse({"metric": "m", "value": 1}, item)
    (only,) = refused.value.errors  # the good sample beside it is not blamed
    assert only.replace("samples[1]", "samples[0]").startswith(error), only


async def test_events_and_samples_in_one_body_over_http(api):
    response = await api.push(request(), job(wait_s=1), {"metric": "m", "value": 1})
    assert response.status_code == 202
    assert response.json() == {"accepted": 4, "dropped": 0}
