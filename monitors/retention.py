"""Retention: what is older than ``retention`` (config, default 90 days) is deleted by a
scheduler job, a batch at a time.

Pruned: incidents resolved before the cutoff with their timelines, messages and outbox
rows; the rest of the delivery log (outbox rows delivered or given up on before it);
message groups no message uses any more; pushed events; decided or expired rule
proposals and old reports. Kept whatever their age: unresolved incidents, outbox rows
still to deliver, rules, silences, the audit log.

Each batch is one short transaction of at most ``batch`` rows (500 incidents with their
timelines, or 500 log rows), and the job sleeps ``pause`` between batches, so a tick
waits for one batch at most (SQLite has one writer) and never for the whole prune."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from storage.db import Database
from storage.repositories.retention import RetentionRepository

DEFAULT_RETENTION = 90 * 86400.0
BATCH = 500
PAUSE = 0.05
"""Seconds between batches: room for ticks and commands to write."""


@dataclass
class Pruned:
    """What one prune deleted; ``batches`` counts transactions."""

    incidents: int = 0
    incident_rows: int = 0
    """Timeline lines, messages and outbox rows of the incidents pruned."""
    outbox: int = 0
    events: int = 0
    message_groups: int = 0
    other: int = 0
    """Proposals and reports."""
    batches: int = 0
    batch_seconds: list[float] = field(default_factory=list)
    """How long each batch's transaction took: the longest a tick could have waited."""


class Retention:
    def __init__(
        self,
        db: Database,
        keep: float = DEFAULT_RETENTION,
        clock: Callable[[], float] = time.time,
        batch: int = BATCH,
        pause: float = PAUSE,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.db = db
        self.keep = keep
        self.clock = clock
        self.batch = batch
        self.pause = pause
        self.sleep = sleep

    async def prune(self) -> Pruned:
        """Delete everything older than the retention period, batch by batch."""
        cutoff = self.clock() - self.keep
        pruned = Pruned()

        async def incidents(repo: RetentionRepository) -> int:
            count, others = await repo.prune_incidents(cutoff, self.batch)
            pruned.incidents += count
            pruned.incident_rows += others
            return count

        async def small(repo: RetentionRepository) -> int:  # proposals, reports: few
            pruned.other += await repo.prune_proposals(cutoff) + await repo.prune_reports(cutoff)
            return 0

        batch = self.batch
        await self._in_batches(incidents, pruned)
        pruned.outbox = await self._in_batches(lambda r: r.prune_outbox(cutoff, batch), pruned)
        pruned.message_groups = await self._in_batches(
            lambda r: r.prune_message_groups(cutoff, batch), pruned
        )
        pruned.events = await self._in_batches(lambda r: r.prune_events(cutoff, batch), pruned)
        await self._in_batches(small, pruned)
        return pruned

    async def _in_batches(
        self, step: Callable[[RetentionRepository], Awaitable[int]], pruned: Pruned
    ) -> int:
        """Run ``step`` a transaction at a time until it deletes less than a batch;
        returns how many rows it deleted."""
        total = 0
        while True:
            started = time.perf_counter()
            async with self.db.transaction() as session:
                count = await step(RetentionRepository(session))
            total += count
            pruned.batches += 1
            pruned.batch_seconds.append(time.perf_counter() - started)
            if count < self.batch:
                return total
            await self.sleep(self.pause)
