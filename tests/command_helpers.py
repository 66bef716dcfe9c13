"""Shared set-up for the command tests: a real Core on the test database, incidents opened
the way production opens them (pushed samples, then engine ticks), and a snapshot of every
table, to show that a refused command changed nothing."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from commands.dispatch import handle
from commands.model import Reply
from monitors.actors import ADMIN, Actor
from monitors.core import Core
from monitors.incidents.cards import IncidentCard
from monitors.mentions import plain
from monitors.rules.schema import Rule
from monitors.windows.store import Sample
from storage.db import Database
from storage.models import Base, IncidentRow
from storage.repositories import AuditRepository

SLOW_API = Rule(
    name="slow-api",
    description="API latency",
    metric="api.latency",
    aggregate="avg",
    window="1m",
    interval="1m",
    group_by=("route",),
    thresholds={"warning": 500, "critical": 2000},
    runbook="https://wiki.example/slow-api",
)
ERROR_RATE = Rule(
    name="error-rate", metric="api.errors", aggregate="count", thresholds={"error": 10}
)
RULES = (SLOW_API, ERROR_RATE)

ALICE = Actor(id="U1", name="alice", surface="console", roles=frozenset({ADMIN}))
BOB = Actor(id="U2", name="bob", surface="slack")
"""Bob is a team member without the admin role, on another surface."""


_template: Path | None = None


async def sqlite_url(directory: Path) -> str:
    """A migrated SQLite database in ``directory``, copied from one migrated per test run
    (migrating takes ten times longer than the tests that use it)."""
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="tocsin-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        database = Database(f"sqlite+aiosqlite:///{folder / 'template.db'}")
        await database.migrate()
        await database.close()
        assert not (folder / "template.db-wal").exists()
        _template = folder / "template.db"
    target = directory / "tocsin.db"
    shutil.copyfile(_template, target)
    return f"sqlite+aiosqlite:///{target}"


async def open_core(database_url: str, clock: Any) -> Core:
    return await Core.open(database_url, RULES, clock=clock)


async def push_and_tick(
    core: Core, clock: Any, latencies: dict[str, float], ticks: int = 2
) -> None:
    """Push one api.latency sample per route and evaluate, ``ticks`` times a minute apart
    (slow-api opens an incident on the second consecutive breach)."""
    for _ in range(ticks):
        samples = [Sample("api.latency", v, {"route": r}) for r, v in latencies.items()]
        core.store.add_many(samples, now=clock())
        await core.engine.tick(core.rulebook.enabled(), now=clock())
        clock.advance(60)


async def incidents(core: Core) -> list[IncidentRow]:
    """Every incident, oldest first, read afresh from the database."""
    return sorted(await core.incidents.list("all", limit=1000), key=lambda i: i.id)


async def incident_for(core: Core, route: str) -> IncidentRow:
    found = [i for i in await incidents(core) if i.labels.get("route") == route]
    assert len(found) == 1, f"expected one incident for {route}, found {found}"
    return found[0]


async def snapshot(core: Core) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table."""
    tables = {}
    async with core.db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            tables[table.name] = [tuple(row) for row in await session.execute(query)]
    return tables


def as_read(reply: Reply) -> Reply:
    """The reply with people's names where mention tokens stand (as the console and
    the API show it; Slack and Discord render the tokens as mentions)."""
    return replace(reply, text=plain(reply.text))


async def refused(core: Core, text: str, actor: Actor = ALICE) -> Reply:
    """Run a command that must be refused; check the reply is a private error and that no
    table changed, and return the reply (as read) for the caller to check what it says."""
    before = await snapshot(core)
    reply = as_read(await handle(core, text, actor))
    assert not reply.ok, f"{text!r} was accepted: {reply.text}"
    assert reply.private, "an error should be shown only to the person who typed it"
    assert not reply.cards and not reply.table
    assert await snapshot(core) == before, f"{text!r} was refused but changed the database"
    return reply


async def ok(core: Core, text: str, actor: Actor = ALICE) -> Reply:
    reply = as_read(await handle(core, text, actor))
    assert reply.ok, f"{text!r} was refused: {reply.text}"
    return reply


async def audit_log(core: Core) -> list[tuple[str, str, str]]:
    """(actor, action, target) of every audit row, oldest first."""
    async with core.db.transaction() as session:
        rows = await AuditRepository(session).recent(limit=1000)
    return [(row.actor, row.action, row.target) for row in reversed(rows)]


def table_ids(reply: Reply) -> list[str]:
    """The ID column of a reply's table, without the header."""
    return [row[0] for row in reply.table[1:]]


async def three_incidents(core: Core, clock: Any) -> dict[str, str]:
    """/checkout critical and open, /search warning and acknowledged by bob, /login
    warning and resolved by alice. Returns route -> incident id as typed (``"3"``)."""
    await push_and_tick(core, clock, {"/checkout": 2500, "/search": 900, "/login": 900})
    routes = ("/checkout", "/search", "/login")
    ids = {route: str((await incident_for(core, route)).id) for route in routes}
    await ok(core, f"/alerts ack {ids['/search']}", BOB)
    await ok(core, f"/alerts resolve {ids['/login']}")
    return ids


async def open_one(core: Core, clock: Any, route: str = "/checkout") -> str:
    """Open a warning incident on ``route``; returns its id as typed."""
    await push_and_tick(core, clock, {route: 900})
    return str((await incident_for(core, route)).id)


def fields(card: IncidentCard) -> dict[str, str]:
    """A card's fields as read (mention tokens as names)."""
    return {name: plain(value) for name, value in card.fields}


async def set_rule(core: Core, text: str, actor: Actor = ALICE) -> Reply:
    """``/rule set ...`` as an admin does it now: the preview, then Apply. Returns the
    answer to Apply (or the answer to /rule set when it offered nothing to apply)."""
    preview = await ok(core, text, actor)
    if not preview.choices:
        return preview
    (apply,) = [choice for choice in preview.choices if choice.verb == "apply"]
    return await ok(core, apply.typed, actor)
