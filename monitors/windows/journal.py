"""The window store across restarts: a journal of its changed buckets in the database.

The store (monitors.windows.store) lives in memory, so a restart used to empty it and every
ingest rule read "no data", or a partial window, until a whole window of samples had
come in again. Now, every ``flush`` (each second, from the scheduler, and once more
when the service stops) writes the buckets that changed since the last one, each
whole, as one row of ``window_journal``; at start-up ``restore`` replays the rows
still within the rules' reach, later contents of a bucket replacing earlier ones. A
``kill -9`` loses at most the last second's samples.

Why buckets, in a table: a bucket is already the store's bounded form of a second of
samples (raw pairs up to ``RAW_CAP``, then a histogram), so the journal never holds more
than the store does, however fast samples come; and a table works on PostgreSQL
deployments with no local disk anyone looks after, in the same transactions and
backups as the rest. Rows older than the rules need (twice the longest window, as the
store keeps) are deleted as the journal goes. docs/architecture.md has the figures.

The row format: ``TWJ1``, then zlib (level 1) of: a 4-byte little-endian header
length, a JSON header (bucket size, byte order, and per series its metric, labels, raw
buckets' indices and lengths, and histogram buckets' totals), then the arrays of 8-byte
numbers in header order (per series its raw pairs, then each histogram's bins).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import struct
import sys
import time
import zlib
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from monitors.windows.histogram import Histogram
from monitors.windows.store import BigBucket, SeriesChanges, WindowStore
from storage.db import Database
from storage.repositories import WindowJournalRepository

log = logging.getLogger(__name__)
MAGIC = b"TWJ1"
MAX_PENDING_BYTES = 64 * 2**20
"""Flushes kept in memory while the database refuses them; past this the oldest go."""
COMPRESSION = 1
"""zlib level: a flush shrinks 3-4x at about 1 ms per 170 KiB (benchmarks/restart.py)."""
FORGET_EVERY = 10.0
"""Seconds between deletions of rows too old to matter (a write even when idle)."""


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: replaying allocates hundreds of thousands of
    small objects next to a store of as many, and each full collection would walk them
    all (a 10-minute window took 14 s to replay with it, 3 s without)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def encode(changes: Sequence[SeriesChanges], bucket_seconds: float) -> bytes:
    series: list[Any] = []
    payload: list[bytes] = []
    for change in changes:
        big = []
        payload.append(change.raw_pairs.tobytes())
        for bucket in change.big:
            pos_off, pos, neg_off, neg, zeros = bucket.hist.parts()
            totals = [bucket.index, bucket.count, bucket.total, bucket.lo, bucket.hi]
            big.append([*totals, pos_off, len(pos), neg_off, len(neg), zeros])
            payload += (pos.tobytes(), neg.tobytes())
        series.append([change.metric, change.key, change.raw_indices, change.raw_lengths, big])
    header = orjson.dumps(
        {"bucket_seconds": bucket_seconds, "byteorder": sys.byteorder, "series": series}
    )
    body = b"".join((struct.pack("<I", len(header)), header, *payload))
    return MAGIC + zlib.compress(body, COMPRESSION)


def decode(data: bytes) -> tuple[float, list[SeriesChanges]]:
    """(bucket_seconds, changes) of one flush; ValueError if it is not one."""
    if data[:4] != MAGIC:
        raise ValueError("not a window journal flush")
    body = zlib.decompress(data[4:])
    (size,) = struct.unpack_from("<I", body)
    header = orjson.loads(body[4 : 4 + size])
    swap = header["byteorder"] != sys.byteorder
    view, at = memoryview(body), 4 + size

    def take(typecode: str, count: int) -> array[Any]:
        nonlocal at
        numbers = array(typecode)
        numbers.frombytes(view[at : at + 8 * count])
        at += 8 * count
        if swap:
            numbers.byteswap()
        return numbers

    changes = []
    for metric, key, raw_indices, raw_lengths, entries in header["series"]:
        pairs = take("d", sum(raw_lengths))
        big = []
        for index, count, total, lo, hi, pos_off, pos_len, neg_off, neg_len, zeros in entries:
            pos, neg = take("q", pos_len), take("q", neg_len)
            hist = Histogram.from_parts(pos_off, pos, neg_off, neg, zeros)
            big.append(BigBucket(index, count, total, lo, hi, hist))
        labels = tuple(map(tuple, key))
        changes.append(SeriesChanges(metric, labels, raw_indices, raw_lengths, pairs, big))
    return header["bucket_seconds"], changes


@dataclass
class JournalStats:
    flushes: int = 0
    bytes_written: int = 0
    dropped_flushes: int = 0
    last_flush_seconds: float = 0.0
    last_loop_seconds: float = 0.0
    """Of the last flush, the part on the event loop: taking the changes (encoding and
    writing them happen in a thread and in the database driver)."""
    restored_buckets: int = 0
    restore_seconds: float = 0.0


class WindowJournal:
    def __init__(
        self,
        db: Database,
        store: WindowStore,
        keep: Callable[[], float],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``keep``: seconds of buckets the rules need now (the journal keeps no more)."""
        self.db = db
        self.store = store
        self.keep = keep
        self.clock = clock
        self.stats = JournalStats()
        self._pending: list[tuple[float, bytes]] = []
        self._next_forget = 0.0
        store.journal_changes()

    async def restore(self) -> int:
        """Replay the journal into the (empty) store; returns the buckets put back."""
        started = time.perf_counter()
        now = self.clock()
        async with self.db.read() as session:
            flushes = await WindowJournalRepository(session).since(now - self.keep())
        with _no_gc():
            restored = self._replay(flushes, now)
        self.store.prune(now)
        self.stats.restored_buckets = restored
        self.stats.restore_seconds = time.perf_counter() - started
        return restored

    def _replay(self, flushes: Sequence[bytes], now: float) -> int:
        restored = 0
        for data in flushes:
            try:
                bucket_seconds, changes = decode(data)
            except (ValueError, KeyError, struct.error, zlib.error) as exc:
                log.warning("window journal: a flush could not be read, skipped: %s", exc)
                continue
            if bucket_seconds != self.store.bucket_seconds:
                log.warning("window journal: a flush of %gs buckets was skipped", bucket_seconds)
                continue
            for change in changes:
                restored += self.store.restore(change, now)
        return restored

    async def snapshot(self) -> int:
        """On stop: write the whole window the rules need as one row and delete the rows
        before it, so the next start replays one row instead of a flush a second.
        Returns the bytes written."""
        now = self.clock()
        self.store.take_changes()  # the snapshot holds them
        data = encode(self.store.contents(now - self.keep()), self.store.bucket_seconds)
        async with self.db.transaction() as session:
            journal = WindowJournalRepository(session)
            await journal.replace_all(now, data)
        self._pending.clear()
        self.stats.flushes += 1
        self.stats.bytes_written += len(data)
        return len(data)

    async def flush(self) -> int:
        """Write the buckets changed since the last flush and forget what is too old to
        matter; returns the bytes written. A flush the database refuses stays pending
        (up to MAX_PENDING_BYTES) for the next one, and the error propagates."""
        started = time.perf_counter()
        now = self.clock()
        changes = self.store.take_changes()  # copies: the store may change meanwhile
        self.stats.last_loop_seconds = time.perf_counter() - started
        if changes:  # compressing releases the GIL: off the event loop
            data = await asyncio.to_thread(encode, changes, self.store.bucket_seconds)
            self._pending.append((now, data))
            self._drop_overflow()
        forget = now >= self._next_forget
        if not self._pending and not forget:
            return 0
        async with self.db.transaction() as session:
            journal = WindowJournalRepository(session)
            await journal.append(self._pending)
            if forget:
                await journal.forget_before(now - self.keep())
        if forget:
            self._next_forget = now + FORGET_EVERY
        written = sum(len(data) for _, data in self._pending)
        self.stats.flushes += len(self._pending)
        self.stats.bytes_written += written
        self._pending.clear()
        self.stats.last_flush_seconds = time.perf_counter() - started
        return written

    def _drop_overflow(self) -> None:
        while len(self._pending) > 1 and sum(len(d) for _, d in self._pending) > MAX_PENDING_BYTES:
            self._pending.pop(0)
            self.stats.dropped_flushes += 1
            log.warning("window journal: the database has refused flushes; the oldest went")
