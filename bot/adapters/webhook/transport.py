"""One POST to a webhook, connected only to addresses checked beforehand.

aiohttp asks its resolver where a host name leads; the resolver here answers with
the addresses the sender resolved and checked a moment before, and nothing else, so a
DNS answer that changes in between (rebinding) cannot send the request elsewhere. The
connection still names the host (Host header, TLS SNI and certificate check). An IP
address in the URL needs no resolving and is checked as it stands. Redirects are not
followed (one could point anywhere); the receiver's answer is read up to a few KiB."""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from monitors.destinations.network import IPAddress, url_host

MAX_READ = 4096
"""Bytes of the receiver's answer read (for the error reason and test replies)."""
EXCERPT = 500
MAX_RETRY_AFTER = 3600.0


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str
    """The first EXCERPT characters of the answer."""
    retry_after: float | None = None
    location: str = ""


class PinnedResolver(AbstractResolver):
    """Resolves the one host it was given to the addresses it was given."""

    def __init__(self, host: str, addresses: Sequence[IPAddress]) -> None:
        self.host = host
        self.addresses = list(addresses)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host != self.host:  # nothing else was checked
            raise OSError(f"{host} was not checked; refusing to connect")
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.addresses
        ]

    async def close(self) -> None:
        return None


def retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), at most an hour."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError):
        return None
    return min(max(when - now, 0.0), MAX_RETRY_AFTER)


async def _excerpt(response: aiohttp.ClientResponse) -> str:
    data = b""
    async for chunk in response.content.iter_chunked(1024):
        data += chunk
        if len(data) >= MAX_READ:
            break
    return data[:MAX_READ].decode("utf-8", "replace")[:EXCERPT]


async def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    addresses: Sequence[IPAddress],
    time_limit: float,
) -> HttpAnswer:
    """POST ``body`` to ``url`` over a connection to one of ``addresses``."""
    host, _port = url_host(url)
    connector = aiohttp.TCPConnector(
        resolver=PinnedResolver(host, addresses), use_dns_cache=False, force_close=True
    )
    async with (
        aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=time_limit), trust_env=False
        ) as session,
        session.post(url, data=body, headers=headers, allow_redirects=False) as response,
    ):
        return HttpAnswer(
            status=response.status,
            body=await _excerpt(response),
            retry_after=retry_after(response.headers.get("Retry-After"), time.time()),
            location=response.headers.get("Location", ""),
        )
