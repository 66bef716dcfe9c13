"""Ticking rules at their intervals with APScheduler.

Rules sharing an interval are evaluated together, so a source answers one batched
query per tick instead of one per rule; past SHARD_SIZE rules they are split into
shards ticking at staggered offsets within the interval, so no tick grows past a
second. Jobs never overlap themselves
(max_instances=1, coalesced), and ``stop`` waits for the ticks in flight, so SIGTERM
finishes the current tick and leaves nothing half-written."""

from __future__ import annotations

import asyncio
import logging
import math
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitors.backtest.history import SampleHistory
from monitors.baselines import Baselines
from monitors.engine import Engine
from monitors.rulebook import RuleBook
from monitors.timers import Timers

log = logging.getLogger(__name__)
SHARD_SIZE = 1000
"""Rules per job at most (see benchmarks/engine.py: about 50 ms of a tick per 1,000)."""


def shard_of(name: str, shards: int) -> int:
    """A rule's shard: stable across restarts and as other rules come and go."""
    return zlib.crc32(name.encode()) % shards


class Scheduler:
    def __init__(
        self,
        engine: Engine,
        rulebook: RuleBook,
        timers: Timers,
        baselines: Baselines,
        timer_interval: float = 5.0,
        baseline_flush_interval: float = 300.0,
        history: SampleHistory | None = None,
    ) -> None:
        self.engine = engine
        self.rulebook = rulebook
        self.timers = timers
        self.baselines = baselines
        self.timer_interval = timer_interval
        self.baseline_flush_interval = baseline_flush_interval
        self.history = history
        """Written every flush interval too: the hours of samples that are over."""
        self._scheduler = AsyncIOScheduler()
        self._in_flight: set[asyncio.Task[object]] = set()
        self._stopping = False

    def start(self) -> None:
        self._plan()
        self._add("timers", self.timer_interval, self.timers.run)
        self._add("baselines", self.baseline_flush_interval, self.baselines.flush)
        self._add("anomaly-models", self.baseline_flush_interval, self.engine.anomalies.flush)
        if self.history is not None:
            history, clock = self.history, self.engine.clock
            flush_history = lambda: history.flush(clock())  # noqa: E731
            self._add("sample-history", self.baseline_flush_interval, flush_history)
        self.rulebook.on_change(self._plan)
        self._scheduler.start()

    def _plan(self) -> None:
        """(Re)create the rule jobs: per distinct interval, one job per shard of at most
        SHARD_SIZE rules, started at staggered offsets so that 10,000 rules on one
        interval do not all fall due in the same second. Existing jobs keep their timing."""
        if self._stopping:
            return
        counts = Counter(rule.interval for rule in self.rulebook.enabled())
        wanted = {}
        for interval, count in counts.items():
            shards = max(1, min(int(interval), math.ceil(count / SHARD_SIZE)))
            for shard in range(shards):
                wanted[f"rules@{interval}#{shard}/{shards}"] = (interval, shard, shards)
        for job in self._scheduler.get_jobs():
            if job.id.startswith("rules@") and job.id not in wanted:
                job.remove()
        for job_id, (interval, shard, shards) in wanted.items():
            if self._scheduler.get_job(job_id) is None:
                work = self._tick_factory(interval, shard, shards)
                self._add(job_id, interval, work, delay=interval * shard / shards)

    def planned(self) -> dict[str, datetime]:
        """Rule jobs by id (``rules@INTERVAL#SHARD/SHARDS``) and when each runs next."""
        return {
            job.id: job.next_run_time
            for job in self._scheduler.get_jobs()
            if job.id.startswith("rules@")
        }

    def _tick_factory(
        self, interval: float, shard: int, shards: int
    ) -> Callable[[], Awaitable[object]]:
        async def tick() -> object:
            rules = [
                r
                for r in self.rulebook.enabled()
                if r.interval == interval and shard_of(r.name, shards) == shard
            ]
            return await self.engine.tick(rules) if rules else None

        return tick

    def _add(
        self,
        job_id: str,
        seconds: float,
        work: Callable[[], Awaitable[object]],
        delay: float = 0.0,
    ) -> None:
        start = datetime.now(UTC) + timedelta(seconds=delay)
        self._scheduler.add_job(
            self._guarded(job_id, work),
            "interval",
            seconds=seconds,
            id=job_id,
            name=job_id,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(seconds)),
            start_date=start,
        )

    def _guarded(
        self, job_id: str, work: Callable[[], Awaitable[object]]
    ) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if self._stopping:
                return
            task = asyncio.current_task()
            if task is not None:
                self._in_flight.add(task)  # type: ignore[arg-type]
            try:
                await work()
            except Exception:  # keep ticking; the failure is logged and counted
                log.exception("job %s failed", job_id)
                self.engine.stats.errors += 1
            finally:
                if task is not None:
                    self._in_flight.discard(task)  # type: ignore[arg-type]

        return run

    async def stop(self) -> None:
        """Stop scheduling, let the ticks already running finish, then shut down.

        The order matters: APScheduler's asyncio executor cancels running jobs on
        shutdown, so the scheduler is paused first and shut down only once nothing is
        in flight."""
        self._stopping = True
        if self._scheduler.running:
            self._scheduler.pause()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        await self.baselines.flush()
        await self.engine.anomalies.flush()
