"""Webhook and email deliveries: the time one takes through the real adapters, to a
real receiver on loopback (the tests' aiohttp webhook receiver, which checks each
signature, and aiosmtpd), one at a time and many at once.

    .venv/bin/python benchmarks/destinations.py [--count 500] [--concurrent 50]

A webhook delivery includes resolving the URL's host (``localhost``, through the
system resolver), checking every address, signing the body, a fresh connection pinned
to the checked address, and reading the answer. An email delivery includes composing
both parts and one SMTP session. Prints median and p99 per delivery, and deliveries per
second, and checks that every one arrived (and every signature verified)."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from receivers import hook_receiver, smtp_server

from bot.adapters.base import Delivery
from bot.adapters.email import EmailAdapter
from bot.adapters.webhook import WebhookAdapter
from bot.settings import EmailConfig
from monitors.destinations.network import AddressPolicy
from monitors.incidents.cards import IncidentCard
from monitors.routing import Destination

SECRET = "benchmark-secret"


def delivery(target: str, place: str, incident: int) -> Delivery:
    card = IncidentCard(
        incident_id=incident,
        title=f"#{incident} CRITICAL slow-api (route=/api/{incident})",
        status="open",
        severity="critical",
        color="#E01E5A",
        fields=(("Status", "open"), ("Value", "2,350 (threshold > 2,000, 18% over)")),
        runbook="https://runbooks.example/slow-api",
        rule="slow-api",
        series=f"route=/api/{incident}",
        since=time.time(),
    )
    facts = {
        "metric": "http.request.duration_ms",
        "value": 2350.0,
        "threshold": 2000.0,
        "labels": {"route": f"/api/{incident}"},
        "opened_at": time.time(),
        "triggered_at": time.time(),
    }
    return Delivery(target, place, "opened", card, "Opened", True, None, incident=facts)


async def measure(
    send: Callable[[Delivery], Awaitable[str]], deliveries: list[Delivery], concurrent: int
) -> tuple[list[float], float]:
    gate = asyncio.Semaphore(concurrent)
    times: list[float] = []

    async def one(item: Delivery) -> None:
        async with gate:
            started = time.perf_counter()
            await send(item)
            times.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(item) for item in deliveries))
    return times, time.perf_counter() - started


def row(kind: str, at_once: int, times: list[float], wall: float) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"| {kind} | {at_once} | {len(times)} | {statistics.median(ordered) * 1000:.1f} ms "
        f"| {p99 * 1000:.1f} ms | {len(times) / wall:,.0f}/s |"
    )


async def main(count: int, concurrent: int) -> None:
    print("| destination | at once | deliveries | median | p99 | throughput |")
    print("|---|---|---|---|---|---|")
    async with hook_receiver(SECRET) as receiver:
        url = f"http://localhost:{receiver.port}/hook"
        hook = Destination.model_validate({"webhook": {"url": url, "secret": SECRET}})
        policy = AddressPolicy(
            (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
        )
        adapter = WebhookAdapter({"ops-hook": hook}.get, policy)
        for at_once in (1, concurrent):
            items = [delivery("webhook:ops-hook", "ops-hook", n + 1) for n in range(count)]
            times, wall = await measure(adapter.deliver, items, at_once)
            print(row("webhook", at_once, times, wall))
        received = len(receiver.received)
        verified = sum(hook.signature_ok for hook in receiver.received)
    async with smtp_server() as mailbox:
        config = EmailConfig.model_validate(
            {
                "host": "127.0.0.1",
                "port": mailbox.port,
                "from": "tocsin@example.com",
                "starttls": False,
            }
        )
        mail = Destination.model_validate({"email": ["oncall@example.com"]})
        sender = EmailAdapter(config, {"oncall-mail": mail}.get)
        for at_once in (1, concurrent):
            items = [delivery("email:oncall-mail", "oncall-mail", n + 1) for n in range(count)]
            times, wall = await measure(sender.deliver, items, at_once)
            print(row("email", at_once, times, wall))
        mails = len(mailbox.mails)
    print(
        f"\nwebhooks received {received}/{2 * count}, signatures verified {verified}; "
        f"mails received {mails}/{2 * count}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--concurrent", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.count, args.concurrent))
