"""The HTTP probe source: request a URL each tick, as a user would, and read it.

Metrics (the rule's ``metric``):

* ``up``: 1 when the URL answered below 400 within the timeout (and its body contains
  ``body_match``, when the rule names one), else 0: a dead endpoint is the reading
  this metric exists for, not a source error.
* ``latency_ms``: time to the whole answer; ``status``: the HTTP status code. A probe
  that got no answer has neither, so for these it is a source error.
* ``cert_days_left``: days until the TLS certificate of an ``https://`` URL expires,
  read from the handshake whether or not the certificate is trusted (an expired or
  self-signed one still has a date); negative once expired.

Rules probing the same URL the same way share one request per tick."""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from cryptography import x509

from monitors.rules.schema import Rule
from monitors.sources.base import RuleReading, SeriesValue, SourceError
from monitors.sources.env import Environment, MissingVariable, display_url

MAX_BODY = 1024 * 1024
"""Bytes of the body read for ``body_match``; the rest is not downloaded."""
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class _Probe:
    url: str  # as written
    method: str
    headers: tuple[tuple[str, str], ...]  # as written
    body_match: str | None


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    latency_ms: float
    body_matched: bool


class HttpProbeSource:
    name = "http"

    def __init__(self, environment: Environment | None = None) -> None:
        self.environment = environment or Environment()
        self._client: httpx.AsyncClient | None = None
        self.queries = 0

    async def fetch(self, rules: Sequence[Rule], now: float) -> dict[str, RuleReading]:
        readings: dict[str, RuleReading] = {}
        probes: dict[_Probe, tuple[str, dict[str, str], float]] = {}
        certs: dict[str, float] = {}  # expanded URL -> timeout
        asks: dict[str, _Probe | str] = {}
        for rule in rules:
            assert rule.url is not None  # the schema requires it
            try:
                url, headers = self.environment.expand_request(rule.url, rule.headers)
            except MissingVariable as exc:
                readings[rule.name] = RuleReading(error=str(exc))
                continue
            if rule.metric == "cert_days_left":
                certs[url] = max(certs.get(url, 0.0), rule.read_timeout)
                asks[rule.name] = url
                continue
            probe = _Probe(
                rule.url, rule.method or "GET", tuple(sorted(rule.headers.items())), rule.body_match
            )
            longest = probes[probe][2] if probe in probes else 0.0
            probes[probe] = (url, headers, max(longest, rule.read_timeout))
            asks[rule.name] = probe
        probe_keys, cert_urls = list(probes), list(certs)
        outcomes = await asyncio.gather(
            *(self._probe(p, *probes[p]) for p in probe_keys),
            *(self._cert_expiry(u, certs[u]) for u in cert_urls),
            return_exceptions=True,
        )
        answers: dict[_Probe | str, object] = dict(
            zip([*probe_keys, *cert_urls], outcomes, strict=True)
        )
        for rule in rules:
            if rule.name in asks:
                readings[rule.name] = _reading(rule, answers[asks[rule.name]], now)
        return readings

    async def _probe(
        self, probe: _Probe, url: str, headers: dict[str, str], limit: float
    ) -> _Answer:
        client = self._http()
        where = display_url(probe.url)
        self.queries += 1
        started = time.perf_counter()
        try:
            async with asyncio.timeout(limit):
                request = client.build_request(probe.method, url, headers=headers)
                response = await client.send(request, stream=True)
                try:
                    body = await _read_some(response, MAX_BODY if probe.body_match else 0)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise SourceError(f"{where} did not answer within {limit:g}s") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"cannot reach {where}: {_reason(exc)}") from None
        latency_ms = (time.perf_counter() - started) * 1000.0
        matched = True
        if probe.body_match is not None:
            text = body.decode(response.encoding or "utf-8", errors="replace")
            matched = re.search(probe.body_match, text) is not None
        return _Answer(response.status_code, latency_ms, matched)

    async def _cert_expiry(self, url: str, limit: float) -> float:
        """The certificate's notAfter as epoch seconds, from a TLS handshake."""
        parts = urlsplit(url)
        where = display_url(url)
        if parts.scheme != "https" or not parts.hostname:
            raise SourceError(f"cert_days_left needs an https:// URL, not {where}")
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # read the date of any certificate, trusted or not
        self.queries += 1
        try:
            async with asyncio.timeout(limit):
                _, writer = await asyncio.open_connection(
                    parts.hostname, parts.port or 443, ssl=context, server_hostname=parts.hostname
                )
        except TimeoutError:
            raise SourceError(f"TLS handshake with {where} took over {limit:g}s") from None
        except (OSError, ssl.SSLError) as exc:
            raise SourceError(f"cannot reach {where}: {exc}") from None
        try:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        finally:
            writer.close()
        if not der:
            raise SourceError(f"{where} sent no certificate")
        return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=True)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def _read_some(response: httpx.Response, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body (the answer is complete when nothing is wanted)."""
    if limit == 0:
        return b""
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def _reason(exc: httpx.HTTPError) -> str:
    """httpx's message, else its cause's (a refused connection says little itself)."""
    cause = exc.__cause__ or exc.__context__
    return str(exc) or (str(cause) if cause else "") or type(exc).__name__


def _reading(rule: Rule, answer: object, now: float) -> RuleReading:
    if rule.metric == "up":  # failing to answer is what "up" measures
        up = isinstance(answer, _Answer) and answer.status < 400 and answer.body_matched
        return RuleReading([SeriesValue((), 1.0 if up else 0.0, 1)])
    if isinstance(answer, SourceError):
        return RuleReading(error=str(answer))
    if isinstance(answer, BaseException):
        return RuleReading(error=f"probe failed: {type(answer).__name__}: {answer}")
    if rule.metric == "cert_days_left":
        assert isinstance(answer, float)
        return RuleReading([SeriesValue((), (answer - now) / DAY, 1)])
    assert isinstance(answer, _Answer)
    value = answer.latency_ms if rule.metric == "latency_ms" else float(answer.status)
    return RuleReading([SeriesValue((), value, 1)])
