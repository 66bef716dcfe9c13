"""``python run.py demo``: a latency regression played against a demo rule, fast.

Normal traffic, then a regression: the incident opens on the 2nd breaching tick (not the
1st), escalates from warning to critical, waits for ``/alerts ack 1`` (typed by you, or
done for you when no one is at a terminal), then the service recovers and the incident
resolves itself after 3 normal ticks. About a minute."""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path

from rich.text import Text

from bot.service import Service, serve
from bot.settings import Settings
from monitors.actors import SYSTEM
from monitors.rules.schema import Rule
from monitors.windows.store import Sample

DEMO_RULE = Rule.model_validate(
    {
        "name": "demo-latency",
        "description": "p95 latency of the demo checkout service",
        "metric": "http.request.duration_ms",
        "match": {"service": "checkout"},
        "aggregate": "p95",
        "window": "3s",
        "interval": "1s",
        "min_samples": 5,
        "op": ">",
        "thresholds": {"warning": 300, "critical": 900},
        "breaches_to_open": 2,
        "normals_to_resolve": 3,
        "runbook": "https://runbooks.example/checkout-latency",
    }
)
RATE = 40  # samples per second
ACK_WAIT = 60.0


def demo_settings(base: Settings) -> Settings:
    folder = Path(tempfile.mkdtemp(prefix="tocsin-demo-"))
    return base.model_copy(
        update={
            "rules": [DEMO_RULE],
            "database_url": f"sqlite+aiosqlite:///{folder / 'demo.db'}",
            "http_port": 0,
            "timer_interval": 1.0,
            "slack_bot_token": None,  # the demo plays in the terminal only
            "discord_token": None,
        }
    )


class Traffic:
    """Pushes demo request latencies into the window store, like a service would."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.median = 120.0

    async def run(self) -> None:
        rng = random.Random(7)
        while True:
            now = self.service.core.clock()
            samples = [
                Sample(
                    "http.request.duration_ms",
                    rng.gauss(self.median, self.median * 0.15),
                    {"service": "checkout", "route": "/pay"},
                    now,
                )
                for _ in range(RATE // 10)
            ]
            self.service.core.store.add_many(samples, now=now)
            await asyncio.sleep(0.1)


async def _first_incident(service: Service) -> int:
    for _ in range(150):  # 30 s at most
        found = await service.core.incidents.list(status="all", limit=1)
        if found:
            return found[0].id
        await asyncio.sleep(0.2)
    raise RuntimeError("the demo regression opened no incident; see the log")


async def _status(service: Service, incident_id: int) -> str:
    incident, _ = await service.core.incidents.show(incident_id)
    return incident.status


async def play(service: Service, interactive: bool) -> None:
    say = lambda text: service.console.console.print(Text(f"» {text}", style="bold cyan"))  # noqa: E731
    traffic = Traffic(service)
    pusher = asyncio.ensure_future(traffic.run())
    try:
        say("Normal traffic: p95 about 150 ms, the warning threshold is 300 ms.")
        await asyncio.sleep(4)
        say(
            "Regression starts now: p95 about 650 ms. Watch: one breaching tick is not "
            "enough, the incident opens on the second."
        )
        traffic.median = 500.0
        incident_id = await _first_incident(service)
        await asyncio.sleep(3)
        say("It gets worse: p95 about 1.3 s, over the critical threshold.")
        traffic.median = 1000.0
        await asyncio.sleep(3)
        if interactive:
            say(f"Type /alerts ack {incident_id} to acknowledge it.")
            for _ in range(int(ACK_WAIT / 0.5)):
                if await _status(service, incident_id) != "open":
                    break
                await asyncio.sleep(0.5)
        if await _status(service, incident_id) == "open":
            say(f"Acknowledging for you: /alerts ack {incident_id}")
            service.console.show(await service.handle(f"/alerts ack {incident_id}", SYSTEM))
        say(
            "The fix is deployed: latency is back to normal. It resolves itself after 3 "
            "normal ticks, acknowledged or not."
        )
        traffic.median = 120.0
        for _ in range(120):  # bounded: resolves within ~10 s
            if await _status(service, incident_id) == "resolved":
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(0.5)
        service.console.show(await service.handle(f"/alerts show {incident_id}", SYSTEM))
        say("Demo over. `python run.py` runs the real thing with config/tocsin.yaml.")
    finally:
        pusher.cancel()
        service.stop_event.set()


async def run_demo(base: Settings, interactive: bool) -> int:
    settings = demo_settings(base)
    return await serve(
        settings, interactive=interactive, before_wait=lambda service: play(service, interactive)
    )
