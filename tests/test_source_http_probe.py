"""The HTTP probe source against aiohttp servers on 127.0.0.1 (port 0), including one
serving TLS with a self-signed certificate made here."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from tls_helpers import certificate

from monitors.rules.schema import Rule
from monitors.sources.base import RuleReading
from monitors.sources.http_probe import HttpProbeSource

DAY = 86400.0


@dataclass
class Site:
    url: str
    hits: list[str] = field(default_factory=list)


def make_app(site: Site) -> web.Application:
    async def ok(request: web.Request) -> web.Response:
        site.hits.append(request.path)
        return web.Response(text='{"status": "healthy"}')

    async def broken(request: web.Request) -> web.Response:
        site.hits.append(request.path)
        return web.Response(status=503, text="maintenance")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/health", ok)
    app.router.add_get("/broken", broken)
    app.router.add_get("/slow", slow)
    return app


async def serve(
    context: ssl.SSLContext | None = None,
) -> tuple[web.AppRunner, Site]:
    site = Site("")
    runner = web.AppRunner(make_app(site))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    scheme = "https" if context else "http"
    site.url = f"{scheme}://127.0.0.1:{runner.addresses[0][1]}"
    return runner, site


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    runner, served = await serve()
    yield served
    await runner.cleanup()


@pytest.fixture
async def source() -> AsyncIterator[HttpProbeSource]:
    probe = HttpProbeSource()
    yield probe
    await probe.close()


def rule(url: str, metric: str, **fields: Any) -> Rule:
    spec = {
        "name": f"probe-{metric}",
        "source": "http",
        "url": url,
        "metric": metric,
        "interval": "10s",
        "thresholds": {"warning": 1},
        "op": "<" if metric in ("up", "cert_days_left") else ">",
        **fields,
    }
    return Rule.model_validate(spec)


async def read(source: HttpProbeSource, *rules: Rule) -> dict[str, RuleReading]:
    return await source.fetch(rules, time.time())


def value(reading: RuleReading) -> float | None:
    assert reading.error is None, reading.error
    (series,) = reading.series
    return series.value


async def test_one_request_answers_latency_status_and_up(site, source):
    url = f"{site.url}/health"
    rules = [rule(url, "latency_ms"), rule(url, "status"), rule(url, "up")]
    readings = await read(source, *rules)
    assert 0 < value(readings["probe-latency_ms"]) < 5000
    assert value(readings["probe-status"]) == 200
    assert value(readings["probe-up"]) == 1
    assert site.hits == ["/health"]


async def test_an_error_status_is_read_and_means_down(site, source):
    url = f"{site.url}/broken"
    readings = await read(source, rule(url, "status"), rule(url, "up"))
    assert value(readings["probe-status"]) == 503
    assert value(readings["probe-up"]) == 0


async def test_body_match_decides_up(site, source):
    healthy = rule(f"{site.url}/health", "up", body_match='"status": "healthy"', name="a")
    wrong = rule(f"{site.url}/health", "up", body_match="degraded", name="b")
    readings = await read(source, healthy, wrong)
    assert (value(readings["a"]), value(readings["b"])) == (1, 0)


async def test_a_dead_endpoint_is_down_and_has_no_latency(source):
    url = "http://127.0.0.1:1/health"
    readings = await read(source, rule(url, "up"), rule(url, "latency_ms"))
    assert value(readings["probe-up"]) == 0
    assert (readings["probe-latency_ms"].error or "").startswith(
        "cannot reach http://127.0.0.1:1/health: "
    )


async def test_a_slow_endpoint_times_out(site, source):
    url = f"{site.url}/slow"
    readings = await read(source, rule(url, "up", timeout="1s"), rule(url, "status", timeout="1s"))
    assert value(readings["probe-up"]) == 0
    assert readings["probe-status"].error == f"{url} did not answer within 1s"


# ------------------------------------------------------------------ TLS


@pytest.mark.parametrize("days", [10, -3])
async def test_cert_days_left_reads_the_certificate_whatever_its_trust(tmp_path, source, days):
    now = dt.datetime.now(dt.UTC)
    runner, site = await serve(certificate(tmp_path, now + dt.timedelta(days=days)))
    try:
        expiring = rule(f"{site.url}/health", "cert_days_left", thresholds={"warning": 14})
        left = value((await read(source, expiring))["probe-cert_days_left"])
        assert left is not None and abs(left - days) < 0.01
        # the same self-signed server fails a normal, verified probe
        (down,) = (await read(source, rule(f"{site.url}/health", "up"))).values()
        assert value(down) == 0
    finally:
        await runner.cleanup()


async def test_cert_days_left_needs_https(site, source):
    (reading,) = (await read(source, rule(f"{site.url}/health", "cert_days_left"))).values()
    assert reading.error == f"cert_days_left needs an https:// URL, not {site.url}/health"
