"""Retention: what is older than ``retention`` goes, a batch (one short transaction) at a
time with a pause between, and what must stay stays (unresolved incidents, messages
still to deliver, recent history). Counted, not timed: benchmarks/retention.py says how
long a batch holds the database."""

from __future__ import annotations

from sqlalchemy import func, select

from monitors.incidents.lifecycle import new_incident
from monitors.retention import Retention
from storage.db import Database
from storage.models import (
    EventRow,
    IncidentEventRow,
    IncidentRow,
    MessageGroupRow,
    MessageRow,
    OutboxRow,
)
from storage.repositories import (
    EventRepository,
    IncidentRepository,
    MessageRepository,
    OutboxRepository,
)
from storage.repositories.outbox import PARKED
from storage.vocabulary import IncidentStatus

DAY = 86400.0
NOW = 1_800_000_000.0
KEEP = 90 * DAY
OLD = NOW - KEEP - DAY
RECENT = NOW - DAY


async def incidents(db: Database, count: int, at: float, resolved: bool, tag: str) -> list[int]:
    """``count`` incidents opened at ``at``, resolved then if ``resolved``, each with two
    timeline lines, a delivered outbox row and a message in a group of its own."""
    rows = [
        {
            **new_incident(
                rule="slow-api",
                series_key=f"{tag}-{n}",
                labels={"route": f"/{n}"},
                severity="warning",
                summary="slow",
                now=at,
                rule_snapshot={},
            ),
            **(
                {"status": IncidentStatus.RESOLVED, "resolved_at": at, "resolved_by": "auto"}
                if resolved
                else {}
            ),
        }
        for n in range(count)
    ]
    async with db.transaction() as session:
        repo = IncidentRepository(session)
        ids = list((await repo.create_many(rows)).values())
        await repo.add_events(
            [
                {"incident_id": i, "at": at, "kind": kind, "actor": "tocsin", "detail": kind}
                for i in ids
                for kind in ("opened", "resolved")
            ]
        )
        await OutboxRepository(session).add_many(
            [
                {
                    "created_at": at,
                    "incident_id": i,
                    "event": "opened",
                    "channel": "console",
                    "notify": True,
                    "payload": {},
                    "attempts": 1,
                    "available_at": at,
                    "delivered_at": at,
                }
                for i in ids
            ]
        )
        messages = MessageRepository(session)
        for i in ids:
            group = await messages.add_group("console", "slow-api", "incidents", at, [i], f"m{i}")
            await messages.place(i, "console", f"m{i}", group.id, at)
    return ids


async def log_rows(db: Database, at: float, delivered: bool, parked: bool = False) -> None:
    async with db.transaction() as session:
        await OutboxRepository(session).add_many(
            [
                {
                    "created_at": at,
                    "incident_id": None,
                    "event": "report",
                    "channel": "console",
                    "notify": True,
                    "payload": {},
                    "attempts": 1,
                    "available_at": PARKED if parked else at,
                    "delivered_at": at if delivered else None,
                }
            ]
        )


async def count(db: Database, table, *where) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(table).where(*where)))


async def test_old_history_goes_in_batches_and_what_matters_stays(db):
    old = await incidents(db, 1234, OLD, resolved=True, tag="old")
    recent = await incidents(db, 20, RECENT, resolved=True, tag="recent")
    live = await incidents(db, 3, OLD, resolved=False, tag="live")  # old, still open
    async with db.transaction() as session:
        events = EventRepository(session)
        for at in [OLD] * 600 + [RECENT] * 5:
            await events.add(
                received_at=at, type="deploy", severity=None, labels={}, message="",
                context={}, action="recorded", incident_id=None,
            )  # fmt: skip
    await log_rows(db, OLD, delivered=True)
    await log_rows(db, OLD, delivered=False, parked=True)  # given up on: a log line now
    await log_rows(db, OLD, delivered=False)  # still to deliver: kept whatever its age

    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    pruned = await Retention(db, KEEP, lambda: NOW, batch=500, pause=0.25, sleep=pause).prune()
    assert pruned.incidents == 1234
    assert pruned.incident_rows == 1234 * 4  # two timeline lines, an outbox row, a message
    # the delivery log of the incidents still open goes too (their messages stay)
    assert (pruned.outbox, pruned.events, pruned.message_groups) == (2 + 3, 600, 1234)
    # incidents 500 + 500 + 234; outbox 5; groups 500 + 500 + 234; events 500 + 100;
    # proposals and reports 1: eleven transactions, a pause after each full one
    assert pruned.batches == 3 + 1 + 3 + 2 + 1
    assert pauses == [0.25] * 5
    assert len(pruned.batch_seconds) == pruned.batches

    kept = set(recent) | set(live)
    async with db.read() as session:
        left = set((await session.scalars(select(IncidentRow.id))).all())
    assert left == kept and not left & set(old)
    assert await count(db, IncidentEventRow) == 2 * len(kept)
    assert await count(db, MessageRow) == len(kept)
    assert await count(db, MessageGroupRow) == len(kept)
    assert await count(db, EventRow) == 5
    assert await count(db, OutboxRow, OutboxRow.incident_id.is_(None)) == 1  # the pending one
    assert await count(db, OutboxRow) == len(recent) + 1

    again = await Retention(db, KEEP, lambda: NOW, sleep=pause).prune()
    assert (again.incidents, again.outbox, again.events, again.batches) == (0, 0, 0, 5)


async def test_the_service_runs_retention_as_a_job_of_its_own(core):
    scheduler = core.scheduler()
    scheduler.start()
    try:
        job = scheduler._scheduler.get_job("retention")
        assert job is not None and job.trigger.interval.total_seconds() == 3600
    finally:
        await scheduler.stop()
