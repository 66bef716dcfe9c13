"""Discord interaction handling: time from INTERACTION_CREATE leaving the fake Discord's
gateway to the interaction callback arriving back at it, for bursts of interactions sent
at once (half button clicks that acknowledge an incident, half slash commands: /alerts
list and /alerts show), against ``python run.py`` on SQLite in a process of its own, as
it runs in production; p50, p99, max and the error count. Target: p99 under 50 ms at 200
at once (Discord allows 3 s for the first answer).

Run: ``.venv/bin/python benchmarks/commands_discord.py [--concurrent 200] [--rounds 3]``
(about 30 s); ``--database-url postgresql+asyncpg://...`` runs it on a scratch database
of that server, dropped afterwards. ``measure_discord`` is what benchmarks/commands.py
calls.

An error is an interaction with no callback within 10 s, a callback that is not the
expected answer (an UPDATE_MESSAGE for a click, an ephemeral message for a command), or
a clicked incident left unacknowledged. A deferral (work past 2 s) is counted apart."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the fake Discord lives with the tests

from discord_harness import PROCESS_CONFIG, ServiceProcess, card_message, eventually
from discord_payloads import ALICE, BOB, Interactions
from engine import scratch_database
from fake_discord import FakeDiscord
from sqlalchemy import func, select

from bot.adapters.discord.interactions import TROUBLE
from storage.db import Database
from storage.models import IncidentRow

MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
ANSWER_WITHIN = 10.0
TARGET_P99_MS = 50.0
SEQUENTIAL = 20


@dataclass(frozen=True)
class Burst:
    """The figures of ``interactions`` sent in rounds of ``concurrent`` at once."""

    concurrent: int
    interactions: int
    errors: int
    deferred: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    def line(self) -> str:
        return (
            f"  {self.concurrent:>4} at once   p50 {self.p50_ms:7.1f} ms   "
            f"p99 {self.p99_ms:7.1f} ms   max {self.max_ms:7.1f} ms   "
            f"errors {self.errors}/{self.interactions}   deferred {self.deferred}"
        )


@dataclass(frozen=True)
class Figures:
    bursts: tuple[Burst, ...]
    database: str

    @property
    def target(self) -> Burst:
        return self.bursts[-1]

    def lines(self) -> list[str]:
        met = self.target.p99_ms < TARGET_P99_MS and not self.target.errors
        return [
            "Discord interactions, INTERACTION_CREATE sent -> callback received "
            f"(run.py on {self.database}; half button clicks, half slash commands)",
            *(burst.line() for burst in self.bursts),
            f"  target: p99 under {TARGET_P99_MS:.0f} ms at {self.target.concurrent} at once, "
            f"no errors   {'MET' if met else 'NOT MET'}",
        ]


def plan(level: int, rounds: int) -> list[tuple[int, int]]:
    """(clicks, commands) of each send: one at a time, alternating, for level 1; else
    ``rounds`` bursts of half clicks, half commands."""
    if level == 1:
        return [(n % 2, 1 - n % 2) for n in range(SEQUENTIAL)]
    return [(level // 2, level - level // 2)] * rounds


def percentile(sorted_values: list[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, round(share * (len(sorted_values) - 1)))]


async def open_incidents(port: int, fake: FakeDiscord, count: int) -> list[int]:
    """``count`` incidents, one per route of the config's rule, posted to the channel."""
    samples = [
        {"metric": "latency", "value": 900, "labels": {"route": f"/bench/{n}"}}
        for n in range(count)
    ]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:

        async def push() -> bool:
            response = await http.post("/v1/samples", json={"samples": samples})
            assert response.status_code == 202, response.text
            return all(card_message(fake, n) for n in range(1, count + 1))

        until = time.monotonic() + 60
        while not await push():
            assert time.monotonic() < until, "the incidents were never all posted"
            await asyncio.sleep(0.5)
        # Evaluate hourly from now on: the figures are of interactions, not of ticks
        # over hundreds of series each second competing with them.
        response = await http.patch("/v1/rules/fast-api", json={"interval": "1h"})
        assert response.status_code == 200, response.text
    return list(range(1, count + 1))


def payloads_for(people: Interactions, clicks: list[int], commands: int) -> list[dict[str, Any]]:
    payloads = []
    for incident in clicks:
        message = card_message(people.fake, incident)
        assert message is not None
        payloads.append(people.click(BOB, message, f"tocsin:ack:{incident}"))
    for n in range(commands):
        if n % 2:
            payloads.append(people.slash(ALICE, "alerts", "list"))
        else:
            shown = str(clicks[n % len(clicks)]) if clicks else "1"
            payloads.append(people.slash(BOB, "alerts", "show", id=shown))
    return payloads


def verdict(payload: dict[str, Any], body: dict[str, Any]) -> str:
    """``ok``, ``deferred`` or ``error``."""
    if body["type"] in (DEFERRED_MESSAGE, DEFERRED_UPDATE):
        return "deferred"
    expected = UPDATE_MESSAGE if payload["type"] == 3 else MESSAGE
    content = (body.get("data") or {}).get("content") or ""
    return "ok" if body["type"] == expected and TROUBLE not in content else "error"


async def burst(fake: FakeDiscord, payloads: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """Send every payload at once; each one's verdict and latency (s)."""
    sent = []
    for payload in payloads:
        future = fake.expect_callback(payload)
        sent.append((time.monotonic(), future, payload))
        await fake.dispatch("INTERACTION_CREATE", payload)
    calls = await asyncio.gather(
        *(asyncio.wait_for(future, ANSWER_WITHIN) for _, future, _ in sent),
        return_exceptions=True,
    )
    results = []
    for (at, _, payload), call in zip(sent, calls, strict=True):
        if isinstance(call, BaseException):
            results.append(("error", ANSWER_WITHIN))
        else:
            results.append((verdict(payload, call.body), call.at - at))
    return results


async def unacknowledged(database_url: str, clicked: list[int]) -> int:
    db = Database(database_url)
    try:
        async with db.read() as session:
            query = select(func.count()).where(
                IncidentRow.id.in_(clicked), IncidentRow.status != "acknowledged"
            )
            return int(await session.scalar(query) or 0)
    finally:
        await db.close()


def summary(concurrent: int, results: list[tuple[str, float]], errors: int) -> Burst:
    in_ms = sorted(latency * 1000 for verdict_, latency in results if verdict_ != "error")
    in_ms = in_ms or [0.0]
    return Burst(
        concurrent=concurrent,
        interactions=len(results),
        errors=errors + sum(1 for v, _ in results if v == "error"),
        deferred=sum(1 for v, _ in results if v == "deferred"),
        p50_ms=statistics.median(in_ms),
        p99_ms=percentile(in_ms, 0.99),
        max_ms=in_ms[-1],
    )


async def measure_discord(
    concurrent: int = 200, rounds: int = 3, server_url: str | None = None
) -> Figures:
    """Run the benchmark and return its figures (nothing is printed): one interaction at
    a time, then bursts of 10, 50 and ``concurrent`` at once; on SQLite, or on a scratch
    database of the PostgreSQL server at ``server_url``."""
    levels = sorted({1, 10, 50, concurrent})
    fake = await FakeDiscord().start()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            async with scratch_database(server_url) as url:
                bursts = await run_bursts(fake, Path(scratch), url, levels, rounds)
    finally:
        await fake.close()
    return Figures(tuple(bursts), "PostgreSQL" if server_url else "SQLite")


async def run_bursts(
    fake: FakeDiscord, scratch: Path, url: str, levels: list[int], rounds: int
) -> list[Burst]:
    """Start run.py on ``url``, open the incidents the clicks need, send each level's
    bursts; the figures of each level."""
    clicks_needed = sum(clicks for level in levels for clicks, _ in plan(level, rounds))
    config = PROCESS_CONFIG + "    max_per_hour: 0  # every incident its own message to click on\n"
    service = await ServiceProcess.start(fake, scratch, config, database_url=url)
    try:
        port = await service.port()
        await fake.wait_connected(30)
        await eventually(lambda: fake.commands, 30, "the commands to be synced")
        incidents = iter(await open_incidents(port, fake, clicks_needed))
        people = Interactions(fake)
        bursts, clicked = [], []
        for level in levels:
            results: list[tuple[str, float]] = []
            for clicks, commands in plan(level, rounds):
                mine = [next(incidents) for _ in range(clicks)]
                clicked += mine
                results += await burst(fake, payloads_for(people, mine, commands))
            missed = await unacknowledged(service.database_url, clicked)
            bursts.append(summary(level, results, missed))
        assert await service.terminate() == 0, "".join(service.lines[-40:])
    finally:
        await service.kill()
    return bursts


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    args = parser.parse_args()
    figures = asyncio.run(measure_discord(args.concurrent, args.rounds, args.database_url))
    print("\n".join(figures.lines()))
