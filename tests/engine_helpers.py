"""Shared by the engine tests: one rule over pushed latencies, ticks at explicit
times, and reads of what a user would see (incidents, outbox, timeline)."""

from __future__ import annotations

from sqlalchemy import select

from monitors.actors import ADMIN, Actor
from monitors.core import Core
from monitors.routing import Destination, Routing
from monitors.rules.schema import Rule
from monitors.sources.base import RuleReading
from monitors.windows.store import Sample
from storage.models import IncidentRow, OutboxRow

ALICE = Actor("alice", "alice", "console", frozenset({ADMIN}))
RULE = {
    "name": "slow-api",
    "metric": "latency",
    "aggregate": "avg",
    "window": "30s",
    "interval": "10s",
    "thresholds": {"warning": 500, "critical": 2000},
    "repeat_interval": "1h",
}


ROUTING = Routing({"sre-leads": Destination(slack="C0SRE")})
"""Where the engine tests' rules may post besides the console."""


async def open_core(url: str, clock, **overrides) -> Core:
    rules = [Rule.model_validate({**RULE, **overrides})]
    return await Core.open(url, rules, ROUTING, clock=clock)


async def tick(core: Core, clock, value: float | None, advance: float = 10) -> None:
    """Advance ``advance`` s, push a few samples of ``value`` (none if None), evaluate."""
    now = clock.advance(advance)
    if value is not None:
        core.store.add_many([Sample("latency", value, {}, now - k) for k in range(3)], now=now)
    await core.engine.tick(core.rulebook.enabled(), now=now)


async def incidents(core: Core) -> list[IncidentRow]:
    async with core.db.transaction() as session:
        return list((await session.scalars(select(IncidentRow).order_by(IncidentRow.id))).all())


async def outbox(core: Core) -> list[tuple[str, bool]]:
    async with core.db.transaction() as session:
        rows = await session.scalars(select(OutboxRow).order_by(OutboxRow.id))
        return [(row.event, row.notify) for row in rows]


async def timeline(core: Core, incident_id: int) -> list[str]:
    _, events = await core.incidents.show(incident_id)
    return [e.kind for e in events]


class FailingSource:
    """An ingest source whose every fetch fails, as a database or network outage would."""

    name = "ingest"

    async def fetch(self, rules, now):
        return {rule.name: RuleReading(error="connection refused") for rule in rules}
