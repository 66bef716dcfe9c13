"""The window across a restart: the store's changed buckets are journalled in the
database and replayed at start-up, so rules read the window they had, not "no data"."""

from __future__ import annotations

import random

import pytest
from engine_helpers import incidents, open_core, tick
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from monitors.windows.journal import decode, encode
from monitors.windows.store import RAW_CAP, Sample, WindowStore
from storage.models import WindowJournalRow
from storage.repositories import WindowJournalRepository

NOW = 1_800_000_000.0
AGGREGATES = ("count", "sum", "avg", "min", "max", "p50", "p90", "p95", "p99", "percent_where")


def busy_store(rng: random.Random) -> WindowStore:
    """Five minutes of samples: negative, zero and positive values, a hot series whose
    buckets pass RAW_CAP (histograms) and quiet ones that stay raw, and late samples."""
    store = WindowStore()
    store.journal_changes()
    for second in range(300):
        now = NOW - 300 + second
        for route, rate in (("/hot", RAW_CAP * 2), ("/a", 3), ("/b", 1)):
            for _ in range(rate):
                value = rng.choice([0.0, -rng.lognormvariate(2, 1), rng.lognormvariate(4, 1)])
                status = rng.choice(["200", "503"])
                store.add("http", value, {"route": route, "status": status}, now, now)
        store.add("http", 1.0, {"route": "/a", "status": "200"}, now - 100, now)  # late
    return store


def answers(store: WindowStore) -> dict[str, object]:
    return {
        aggregate: store.query(
            "http",
            aggregate=aggregate,
            window=300,
            now=NOW,
            group_by=("route",),
            where={"status": "5.."},
        )
        for aggregate in AGGREGATES
    }


def test_a_replayed_journal_answers_exactly_as_the_store_did():
    rng = random.Random(3)
    store = busy_store(rng)
    flushes = [encode(store.take_changes(), store.bucket_seconds)]
    store.add("http", 5.0, {"route": "/b", "status": "200"}, NOW - 10, NOW)  # changes again
    flushes.append(encode(store.take_changes(), store.bucket_seconds))
    assert store.take_changes() == []  # taken: nothing changed since
    again = WindowStore()
    for data in flushes:
        bucket_seconds, changes = decode(data)
        assert bucket_seconds == 1.0
        for change in changes:
            again.restore(change, NOW)
    assert answers(again) == answers(store)
    assert again.stats()["buckets"] == store.stats()["buckets"]


def test_restore_leaves_out_buckets_older_than_the_store_keeps():
    store = WindowStore(max_window=60)
    store.journal_changes()
    store.add("m", 1.0, {}, NOW - 30, NOW)
    flush = encode(store.take_changes(), 1.0)
    later = WindowStore(max_window=60)
    for change in decode(flush)[1]:
        assert later.restore(change, NOW + 40) == 0
    assert later.stats()["series"] == 0 and later.stats()["buckets"] == 0


def test_a_store_without_the_journal_keeps_no_record_of_changes():
    store = WindowStore()
    store.add("m", 1.0, {}, NOW, NOW)
    assert store.take_changes() == []


async def test_a_restart_keeps_the_window(database_url, clock):
    """The first tick after a restart used to read only what came after it: a rule over
    30 s that had seen 900 ms read 100 ms from the one sample since, and resolved."""
    core = await open_core(database_url, clock)
    await tick(core, clock, 900)
    await tick(core, clock, 900)
    assert [i.status for i in await incidents(core)] == ["open"]
    before = core.store.query("latency", aggregate="avg", window=30, now=clock())
    await core.close()
    core = await open_core(database_url, clock)
    try:
        assert core.store.query("latency", aggregate="avg", window=30, now=clock()) == before
        for _ in range(2):
            await tick(core, clock, 100, advance=5)  # the window still holds the 900s
        assert [i.status for i in await incidents(core)] == ["open"]
    finally:
        await core.close()


async def test_a_kill_loses_only_what_came_after_the_last_flush(database_url, clock):
    core = await open_core(database_url, clock)
    now = clock()
    core.store.add_many([Sample("latency", 900, {}, now - k) for k in range(5)], now=now)
    await core.journal.flush()  # the scheduler does this every second
    core.store.add_many([Sample("latency", 5000, {}, now)], now=now)  # not flushed yet
    await core.db.close()  # killed: no clean stop, no final flush
    core = await open_core(database_url, clock)
    try:
        assert core.store.query("latency", aggregate="max", window=30, now=now) == {(): (900.0, 5)}
    finally:
        await core.close()


async def test_the_journal_keeps_no_more_than_the_rules_need(database_url, clock):
    core = await open_core(database_url, clock)  # one rule over 30 s: keeps 60 s
    try:
        for _ in range(30):
            now = clock.advance(10)
            core.store.add_many([Sample("latency", 100, {}, now)], now=now)
            await core.journal.flush()
        async with core.db.read() as session:
            times = (await session.scalars(select(WindowJournalRow.written_at))).all()
            flushes, size = await WindowJournalRepository(session).size()
        assert min(times) >= clock() - 60 - 10  # deleted every 10 s
        assert flushes == len(times) <= 8 and size > 0
    finally:
        await core.close()


async def test_a_flush_the_database_refuses_is_written_by_the_next(database_url, clock):
    core = await open_core(database_url, clock)
    try:
        now = clock()
        core.store.add_many([Sample("latency", 700, {}, now - 1)], now=now)
        async with core.db.transaction() as session:  # the table is not there for a moment
            await session.execute(text("ALTER TABLE window_journal RENAME TO journal_away"))
        with pytest.raises(DBAPIError):
            await core.journal.flush()
        async with core.db.transaction() as session:
            await session.execute(text("ALTER TABLE journal_away RENAME TO window_journal"))
        core.store.add_many([Sample("latency", 800, {}, now)], now=now)
        await core.journal.flush()
        assert core.journal.stats.flushes == 2  # the refused one, then the new one
    finally:
        await core.db.close()
    core = await open_core(database_url, clock)
    try:
        assert core.store.query("latency", aggregate="sum", window=30, now=now) == {(): (1500.0, 2)}
    finally:
        await core.close()


async def test_a_clean_stop_leaves_one_snapshot_that_restores_the_window(database_url, clock):
    core = await open_core(database_url, clock)
    for _ in range(5):
        now = clock.advance(1)
        core.store.add_many([Sample("latency", 100 * k, {}, now - k) for k in range(3)], now=now)
        await core.journal.flush()
    before = core.store.query("latency", aggregate="p95", window=30, now=clock())
    await core.close()
    db_core = await open_core(database_url, clock)
    try:
        async with db_core.db.read() as session:
            assert (await WindowJournalRepository(session).size())[0] == 1
        assert db_core.store.query("latency", aggregate="p95", window=30, now=clock()) == before
    finally:
        await db_core.close()
