"""Delivering the outbox: claim rows, hand them to the adapter for their channel, record
the platform message so later events edit it, and retry failures with backoff.

At least once: a row is marked delivered only after the platform accepted it, so a crash
in between delivers it again (posts carry the incident id, and edits are idempotent).
Rows of one incident and channel go out in order: if one fails, the later ones wait."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence

from bot.adapters.base import ChatAdapter, Delivery, DeliveryError
from monitors.cards import IncidentCard
from monitors.routing import split_target
from storage.db import Database
from storage.models import OutboxRow
from storage.repositories import OutboxRepository
from storage.repositories.outbox import PARKED

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
MAX_ATTEMPTS = 50


def backoff(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter: up to 1, 2, 4 ... seconds, capped."""
    return min(MAX_BACKOFF, 2.0 ** max(attempts - 1, 0)) * (0.5 + rng() / 2)


class Dispatcher:
    def __init__(
        self,
        db: Database,
        adapters: Sequence[ChatAdapter],
        clock: Callable[[], float] = time.time,
        poll_interval: float = 0.2,
        batch: int = 100,
    ) -> None:
        self.db = db
        self.adapters = {adapter.platform: adapter for adapter in adapters}
        self.clock = clock
        self.poll_interval = poll_interval
        self.batch = batch
        self.delivered = 0
        self.failed = 0
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Deliver now rather than at the next poll (called after a change is queued)."""
        self._wake.set()

    def adapter_for(self, target: str) -> ChatAdapter | None:
        return self.adapters.get(split_target(target)[0])

    async def run(self) -> None:
        while not self._stopping:
            try:
                sent = await self.run_once()
            except Exception:
                log.exception("dispatcher pass failed")
                sent = 0
            if sent < self.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                self._wake.clear()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run_once(self) -> int:
        """Deliver what is due; returns how many rows were delivered. A claim takes one
        row per incident and channel (see OutboxRepository.claim), so claim again while
        rows go out, until nothing more is due."""
        total = 0
        while sent := await self._pass():
            total += sent
        return total

    async def _pass(self) -> int:
        now = self.clock()
        async with self.db.transaction() as session:
            rows = await OutboxRepository(session).claim(now, self.batch)
        blocked: set[tuple[int | None, str]] = set()
        delivered = 0
        for row in rows:
            stream = (row.incident_id, row.channel)
            if stream in blocked:
                await self._release(row.id, self.clock())
                continue
            if await self._deliver(row):
                delivered += 1
            else:
                blocked.add(stream)
        return delivered

    async def _deliver(self, row: OutboxRow) -> bool:
        adapter = self.adapter_for(row.channel)
        async with self.db.read() as session:
            ref = (
                await OutboxRepository(session).message_ref(row.incident_id, row.channel)
                if row.incident_id is not None
                else None
            )
        try:
            if adapter is None:
                raise DeliveryError(f"{row.channel}: that platform is not configured")
            delivery = Delivery(
                target=row.channel,
                place=split_target(row.channel)[1],
                event=row.event,
                card=IncidentCard.from_json(row.payload["card"]),
                line=row.payload.get("line", ""),
                notify=row.notify,
                message_ref=ref,
                attempt=row.attempts,
                queued_at=row.created_at,
                incident=row.payload.get("incident") or {},
            )
            new_ref = await adapter.deliver(delivery)
        except Exception as exc:  # recorded on the row and retried, never swallowed
            await self._failed(row, exc)
            return False
        now = self.clock()
        async with self.db.transaction() as session:
            outbox = OutboxRepository(session)
            stored = await outbox.get(row.id)
            if stored is not None:
                stored.delivered_at, stored.last_error = now, None
            if row.incident_id is not None and new_ref and new_ref != ref:
                await outbox.save_message_ref(row.incident_id, row.channel, new_ref, now)
        self.delivered += 1
        return True

    async def _failed(self, row: OutboxRow, exc: Exception) -> None:
        self.failed += 1
        retry_after = exc.retry_after if isinstance(exc, DeliveryError) else None
        permanent = isinstance(exc, DeliveryError) and exc.permanent
        wait = retry_after if retry_after is not None else backoff(row.attempts)
        log.warning(
            "delivery of outbox row %s to %s failed (attempt %s): %s",
            row.id,
            row.channel,
            row.attempts,
            exc,
        )
        async with self.db.transaction() as session:
            stored = await OutboxRepository(session).get(row.id)
            if stored is None:
                return
            stored.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            if permanent or stored.attempts >= MAX_ATTEMPTS:
                stored.available_at = PARKED  # visible in /metrics and the database
            else:
                stored.available_at = self.clock() + wait

    async def _release(self, row_id: int, now: float) -> None:
        """Put back a row claimed behind a failed one, to go out after it."""
        async with self.db.transaction() as session:
            stored = await OutboxRepository(session).get(row_id)
            if stored is not None:
                stored.available_at = now + 1.0
                stored.attempts = max(stored.attempts - 1, 0)
