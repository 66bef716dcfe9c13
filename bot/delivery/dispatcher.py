"""Delivering the outbox: claim rows, hand each to the adapter of its target's platform,
record the platform message so later events edit it, and retry failures with backoff.

At least once: a row is marked delivered only after the platform accepted it, so a crash
in between delivers it again (adapters look for what a lost answer left behind where the
platform allows). Rows of one incident and target go out in order: if one fails, the
later ones wait. Targets are served concurrently, each by one worker at a time, so a
slow or dead destination never holds back the others.

Claims belong to this process (``owner``) and last ``LEASE`` seconds, renewed by a
heartbeat while the process lives: after a crash, a restarted (or another) process takes
the rows over within seconds, and two live processes never deliver the same row."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.base import ChartAttacher, ChatAdapter, Delivery, DeliveryError, MessageLinks
from bot.delivery.charts import CHART_ATTEMPTS, ChartStep
from bot.delivery.messages import MessagePlanner, Plan, Route, capped_card
from monitors.incidents.cards import IncidentCard
from monitors.routing import Platform, split_target
from monitors.subscriptions.model import delivered_by, is_personal
from storage.db import Database
from storage.models import OutboxRow
from storage.repositories import IncidentRepository, MessageRepository, OutboxRepository
from storage.repositories.outbox import PARKED
from storage.vocabulary import EventKind

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
MAX_ATTEMPTS = 50
LEASE = 10.0
"""Seconds a claim lasts without a heartbeat: a dead process's rows wait this long."""
HEARTBEAT = LEASE / 4
LINK_WAIT = 3.0
"""Seconds an incident's first mail waits for its chat message to be posted, to link it."""


def backoff(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter: anywhere from 0 up to 1, 2, 4 ... seconds,
    capped, so retries from many rows do not arrive in step."""
    return min(MAX_BACKOFF, 2.0 ** max(attempts - 1, 0)) * rng()


class HealthObserver(Protocol):
    """Told how each delivery went (monitors.health.delivery.DeliveryHealth)."""

    async def failed(self, target: str, error: str, permanent: bool) -> None: ...

    async def delivered(self, target: str) -> None: ...


@dataclass
class DeliveryCounts:
    """What this dispatcher did, by platform (for /metrics)."""

    delivered: dict[str, int] = field(default_factory=dict)
    retried: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    charts: dict[str, int] = field(default_factory=dict)
    """Chart rows by outcome: ``attached``, ``none`` (nothing to draw or to attach it
    to any more), ``failed`` (a try that failed; the row is retried a few times)."""

    @staticmethod
    def add(counter: dict[str, int], platform: str) -> None:
        counter[platform] = counter.get(platform, 0) + 1


def process_owner() -> str:
    """A name for this dispatcher, unique across hosts, processes and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:100]


class Dispatcher:
    def __init__(
        self,
        db: Database,
        adapters: Sequence[ChatAdapter],
        clock: Callable[[], float] = time.time,
        poll_interval: float = 0.2,
        batch: int = 100,
        owner: str | None = None,
        health: HealthObserver | None = None,
        lease: float = LEASE,
        charts: ChartStep | None = None,
    ) -> None:
        self.db = db
        self.adapters = {adapter.platform: adapter for adapter in adapters}
        self.clock = clock
        self.poll_interval = poll_interval
        self.batch = batch
        self.owner = owner or process_owner()
        self.health = health
        self.lease = lease
        self.charts = charts
        """Attaches charts to messages after they are posted; None: no charts."""
        self.counts = DeliveryCounts()
        self._workers: dict[str, asyncio.Task[int]] = {}
        self._guards: dict[str, asyncio.Lock] = {}
        """Per target: a message is changed by one step at a time (the target's worker,
        or a chart being attached apart from it)."""
        self._troubled: set[str] = set()
        """Targets with a failed delivery since their last success: the next success
        makes their backing-off rows due at once (``OutboxRepository.hurry``)."""
        self._charting: set[asyncio.Task[list[OutboxRow]]] = set()
        """Charts being drawn and attached, apart from their target's worker (see
        ``_start_chart``)."""
        self._wake = asyncio.Event()
        self._stopping = False

    @property
    def delivered(self) -> int:
        return sum(self.counts.delivered.values())

    @property
    def failed(self) -> int:
        return sum(self.counts.retried.values()) + sum(self.counts.failed.values())

    def wake(self) -> None:
        """Deliver now rather than at the next poll (called after a change is queued)."""
        self._wake.set()

    def adapter_for(self, target: str) -> ChatAdapter | None:
        return self.adapters.get(delivered_by(split_target(target)[0]))  # slack-dm: slack

    async def run(self) -> None:
        """Deliver until stopped: claim what is due, start a worker per target that has
        none, and come back when woken, when a worker finishes, or at the next poll."""
        beat = asyncio.ensure_future(self._heartbeat())
        if self.charts is not None:
            self.charts.warm()
        try:
            while not self._stopping:
                try:
                    await self._claim_and_start()
                except Exception:  # a database hiccup must not end delivery for good
                    log.exception("dispatcher pass failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                self._wake.clear()
        finally:
            beat.cancel()
            busy = (*self._workers.values(), *self._charting)
            await asyncio.gather(beat, *busy, return_exceptions=True)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run_once(self) -> int:
        """Deliver everything due now, waiting for it; returns how many rows went out.
        A claim takes one row per incident and target (see OutboxRepository.claim), so
        claim again while rows go out, until nothing more is due."""
        total = 0
        while True:
            await self._claim_and_start()
            if not self._workers and not self._charting:
                return total
            busy = (*self._workers.values(), *self._charting)
            done = await asyncio.gather(*busy, return_exceptions=True)
            total += sum(n for n in done if isinstance(n, int))

    async def _claim_and_start(self) -> None:
        now = self.clock()
        async with self.db.transaction() as session:
            rows = await OutboxRepository(session).claim(
                now, self.batch, self.lease, self.owner, skip_targets=list(self._workers)
            )
        by_target: dict[str, list[OutboxRow]] = {}
        for row in rows:
            by_target.setdefault(row.channel, []).append(row)
        for target, queue in by_target.items():
            worker = asyncio.ensure_future(self._serve(target, queue))
            self._workers[target] = worker
            worker.add_done_callback(lambda _, target=target: self._finished(target))

    def _finished(self, target: str) -> None:
        self._workers.pop(target, None)
        self._wake.set()  # its target may have more waiting

    async def _serve(self, target: str, rows: list[OutboxRow]) -> int:
        """Deliver one target's claimed rows in order; a failure holds back the rows of
        the same incident behind it."""
        blocked: set[int | None] = set()
        delivered = 0
        waiting = list(rows)
        while waiting:
            row = waiting.pop(0)
            if row.incident_id in blocked:
                await self._release(row.id)
                continue
            done = await self._deliver(row, waiting)
            if done:
                delivered += len(done)
                waiting = [r for r in waiting if r not in done]
            else:
                blocked.add(row.incident_id)
        return delivered

    async def _heartbeat(self) -> None:
        """Keep this process's claims alive while it lives."""
        while True:
            await asyncio.sleep(HEARTBEAT)
            if not self._workers and not self._charting:
                continue
            try:
                async with self.db.transaction() as session:
                    await OutboxRepository(session).renew(self.owner, self.clock() + self.lease)
            except Exception:  # the next beat tries again; a lapse costs a duplicate at most
                log.exception("renewing outbox claims failed")

    def _guard(self, target: str) -> asyncio.Lock:
        return self._guards.setdefault(target, asyncio.Lock())

    async def _deliver(self, row: OutboxRow, waiting: Sequence[OutboxRow] = ()) -> list[OutboxRow]:
        """Deliver ``row``, and any of ``waiting`` that join the same message with it;
        returns the rows delivered (none when it failed)."""
        if row.event == EventKind.CHART:
            return self._start_chart(
                row, self.adapter_for(row.channel), split_target(row.channel)[0]
            )
        async with self._guard(row.channel):
            return await self._deliver_update(row, waiting)

    async def _deliver_update(
        self, row: OutboxRow, waiting: Sequence[OutboxRow]
    ) -> list[OutboxRow]:
        adapter = self.adapter_for(row.channel)
        platform = split_target(row.channel)[0]
        card = IncidentCard.from_json(row.payload["card"])
        taken: list[OutboxRow] = []
        try:
            if adapter is None:
                raise DeliveryError(f"{row.channel}: that platform is not configured")
            plan, taken = await self._plan(row, waiting, adapter.max_group)
            delivery = self._delivery(row, card, plan)
            if delivery is not None and adapter.platform == Platform.EMAIL and row.incident_id:
                links, posting = await self._links(row.incident_id)
                if not links and posting and self.clock() - row.created_at < LINK_WAIT:
                    await self._release(row.id)  # the chat message is moments away
                    return []
                delivery = replace(delivery, links=links)
            ref = await adapter.deliver(delivery) if delivery is not None else None
        except Exception as exc:  # recorded on the row and retried, never swallowed
            for failed in (row, *taken):
                await self._failed(failed, platform, exc)
            return []
        done = [row, *taken]
        async with self.db.transaction() as session:
            planner = MessagePlanner(session, self.clock())
            for each in done:
                stored = await OutboxRepository(session).get(each.id)
                if stored is not None:
                    stored.delivered_at, stored.last_error = self.clock(), None
                    stored.claimed_by = None
                if ref is not None and each.incident_id is not None:
                    rule = IncidentCard.from_json(each.payload["card"]).rule
                    await planner.record(each, plan, ref, rule)
            if ref is not None and plan.route is Route.POST and row.incident_id is not None:
                await self._queue_chart(session, row, adapter)
            if row.attempts > 1 or row.channel in self._troubled:
                # the place answers again: what waited for it goes now, not after its backoff
                self._troubled.discard(row.channel)
                hurried = await OutboxRepository(session).hurry(row.channel, self.clock())
                if hurried:
                    self._wake.set()
        for _ in done:
            self.counts.add(self.counts.delivered, platform)
        if self.health is not None:
            await self._observe(self.health.delivered(row.channel))
        return done

    async def _queue_chart(self, session: AsyncSession, row: OutboxRow, adapter: object) -> None:
        """After a post is recorded, in the same transaction: the row that attaches the
        incident's chart to it, when it gets one (bot.delivery.charts)."""
        if self.charts is None or row.incident_id is None:
            return
        if is_personal(split_target(row.channel)[0]):
            return  # the channel's message has the chart; one drawing per person would queue
        found = await IncidentRepository(session).get_many([row.incident_id])
        incident = found.get(row.incident_id)
        if incident is not None and self.charts.wanted(adapter, incident):
            await OutboxRepository(session).add_many([self.charts.row(row, self.clock())])

    def _start_chart(
        self, row: OutboxRow, adapter: ChatAdapter | None, platform: str
    ) -> list[OutboxRow]:
        """Draw and attach a chart in a task of its own, so the target's worker goes on
        at once: the next incident's message never waits for a chart. The row stays
        claimed (and its lease renewed) until the task records it, so the incident's
        later rows still wait for it, in order."""
        task = asyncio.ensure_future(self._attach_chart(row, adapter, platform))
        self._charting.add(task)

        def finished(done: asyncio.Task[list[OutboxRow]]) -> None:
            self._charting.discard(done)
            self._wake.set()  # the incident's next row on the target may be waiting

        task.add_done_callback(finished)
        return [row]

    async def _attach_chart(
        self, row: OutboxRow, adapter: ChatAdapter | None, platform: str
    ) -> list[OutboxRow]:
        """Deliver a chart row: draw the chart and attach it to the incident's message.
        Nothing to attach (charts off, no history) delivers the row as it is."""
        attached = False
        try:
            if self.charts is not None and isinstance(adapter, ChartAttacher):
                guard = self._guard(row.channel)
                attached = await self.charts.attach(adapter, row, self.clock, guard)
        except Exception as exc:  # retried a few times, then given up; never swallowed
            self.counts.add(self.counts.charts, "failed")
            await self._failed(row, platform, exc, max_attempts=CHART_ATTEMPTS, observe=False)
            return []
        async with self.db.transaction() as session:
            stored = await OutboxRepository(session).get(row.id)
            if stored is not None:
                stored.delivered_at, stored.last_error = self.clock(), None
                stored.claimed_by = None
            if attached:
                await ChartStep.attached(session, row, self.clock())
        self.counts.add(self.counts.charts, "attached" if attached else "none")
        return [row]

    async def _plan(
        self, row: OutboxRow, waiting: Sequence[OutboxRow], max_group: int
    ) -> tuple[Plan, list[OutboxRow]]:
        """Which message the row goes to, and which of ``waiting`` join it in the same
        edit; a row of no incident (a notice, a report) is a message of its own, posted
        and never edited."""
        if row.incident_id is None:
            return Plan(Route.POST), []
        async with self.db.transaction() as session:
            planner = MessagePlanner(session, self.clock())
            plan = await planner.plan(row, max_group)
            return await planner.take_along(plan, waiting, max_group)

    async def _links(self, incident_id: int) -> tuple[tuple[tuple[str, str], ...], bool]:
        """Addresses of the incident's chat messages, and whether one is still being
        posted (queued to a platform with links, not yet answered)."""
        async with self.db.read() as session:
            messages = await MessageRepository(session).of_incident(incident_id)
            rows = await OutboxRepository(session).for_incident(incident_id)
        links = []
        shown = set()
        for message in messages:
            linker = self._linker(message.channel)
            if linker is None or not message.message_ref:
                continue
            shown.add(message.channel)
            address = await linker.link(message.message_ref)
            if address:
                links.append((linker.label, address))
        posting = any(
            r.delivered_at is None and r.channel not in shown and self._linker(r.channel)
            for r in rows
        )
        return tuple(links), posting

    def _linker(self, target: str) -> MessageLinks | None:
        """The adapter of a channel whose messages have an address the team can open;
        None for others, and for a person's direct messages, which only they can read."""
        adapter = self.adapters.get(split_target(target)[0])
        return adapter if isinstance(adapter, MessageLinks) else None

    def _delivery(self, row: OutboxRow, card: IncidentCard, plan: Plan) -> Delivery | None:
        """What the adapter is asked to do for ``row`` under ``plan``; None: nothing."""
        base = Delivery(
            target=row.channel,
            place=split_target(row.channel)[1],
            event=row.event,
            card=card,
            line=row.payload.get("line", ""),
            notify=row.notify,
            message_ref=plan.ref,
            chart=plan.chart,
            attempt=row.attempts,
            queued_at=row.created_at,
            row_id=row.id,
            incident=row.payload.get("incident") or {},
        )
        if plan.route is Route.DROP:
            return None
        if plan.route is Route.CAPPED:
            assert plan.cap is not None
            held = len({*(plan.group.members if plan.group else []), row.incident_id})
            notice = capped_card(plan.cap, held)
            return replace(base, card=notice, line="", notify=plan.ref is None)
        if not plan.cards:
            return base  # a message of one incident: as the row says it
        group = tuple(card if c.incident_id == row.incident_id else c for c in plan.cards)
        if plan.route is Route.JOIN or row.event == EventKind.OPENED:
            # a join (or a join retried, now an edit): the edit shows it, and the storm's
            # first message paged
            return replace(base, group=group, line="", notify=False)
        line = f"#{row.incident_id}: {base.line}" if base.line else ""
        return replace(base, group=group, line=line)

    async def _failed(
        self,
        row: OutboxRow,
        platform: str,
        exc: Exception,
        max_attempts: int = MAX_ATTEMPTS,
        observe: bool = True,
    ) -> None:
        retry_after = exc.retry_after if isinstance(exc, DeliveryError) else None
        permanent = isinstance(exc, DeliveryError) and exc.permanent
        wait = retry_after if retry_after is not None else backoff(row.attempts)
        error = f"{type(exc).__name__}: {exc}"[:1000]
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
            stored.last_error, stored.claimed_by = error, None
            given_up = permanent or stored.attempts >= max_attempts
            stored.available_at = PARKED if given_up else self.clock() + wait
        self.counts.add(self.counts.failed if given_up else self.counts.retried, platform)
        self._troubled.add(row.channel)
        if is_personal(platform):  # someone's closed DMs are theirs, not the team's incident
            log.warning("direct messages to %s cannot be delivered: %s", row.channel, error)
            return
        if self.health is not None and observe:
            await self._observe(self.health.failed(row.channel, str(exc), permanent))

    @staticmethod
    async def _observe(report: Awaitable[None]) -> None:
        """Tell the health observer; its trouble must not undo a delivery's record."""
        try:
            await report
        except Exception:
            log.exception("recording delivery health failed")

    async def _release(self, row_id: int) -> None:
        """Put back a row claimed behind a failed one, to go out after it."""
        async with self.db.transaction() as session:
            stored = await OutboxRepository(session).get(row_id)
            if stored is not None:
                stored.available_at = self.clock() + 1.0
                stored.attempts = max(stored.attempts - 1, 0)
                stored.claimed_by = None
