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
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitors.backtest.history import SampleHistory
from monitors.destinations.quiet import DestinationDigests
from monitors.engine import Engine
from monitors.health.self_monitor import Lag, SelfMonitor
from monitors.incidents.timers import Timers
from monitors.insight.report import NoiseReport
from monitors.retention import Retention
from monitors.rules.baselines import Baselines
from monitors.rules.rulebook import RuleBook
from monitors.rules.schema import Rule
from monitors.windows.journal import WindowJournal

log = logging.getLogger(__name__)
SHARD_SIZE = 1000
"""Rules per job at most (see benchmarks/engine.py: about 50 ms of a tick per 1,000)."""
EARLY_DELAY = 0.02
"""Seconds that pushes are gathered before the rules they touch are evaluated."""
EARLY_GAP = 1.0
"""Seconds at least between two evaluations of a rule on arrival of its samples."""
RETENTION_INTERVAL = 3600.0
"""Seconds between prunes of what is older than the retention period; the first runs
RETENTION_DELAY after start, out of the way of start-up."""
RETENTION_DELAY = 60.0
REPORT_CHECK = 300.0
DIGEST_CHECK = 30.0
"""Seconds between checks whether a destination's digest is due."""
"""Seconds between checks whether the weekly noise report is due (and not written)."""


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
        journal: WindowJournal | None = None,
        timer_interval: float = 5.0,
        baseline_flush_interval: float = 300.0,
        health: SelfMonitor | None = None,
        journal_interval: float = 1.0,
        history: SampleHistory | None = None,
        retention: Retention | None = None,
        report: NoiseReport | None = None,
        digests: DestinationDigests | None = None,
    ) -> None:
        self.engine = engine
        self.rulebook = rulebook
        self.timers = timers
        self.baselines = baselines
        self.health = health
        self.lag = Lag()
        """How late the rule jobs start: checked every ``timer_interval`` by ``health``."""
        self.journal = journal
        self.journal_interval = journal_interval
        self.timer_interval = timer_interval
        self.baseline_flush_interval = baseline_flush_interval
        self.history = history
        """Written every flush interval too: the hours of samples that are over."""
        self.retention = retention
        self.report = report
        self.digests = digests
        self._scheduler = AsyncIOScheduler()
        self._in_flight: set[asyncio.Task[object]] = set()
        self._stopping = False
        self._pushed: set[str] = set()
        self._early: asyncio.Task[None] | None = None
        self._early_at: dict[str, float] = {}
        self._by_metric: dict[str, list[Rule]] = {}
        self._index()
        rulebook.on_change(self._index)

    def start(self) -> None:
        self._plan()
        self._add("timers", self.timer_interval, self.timers.run)
        self._add("baselines", self.baseline_flush_interval, self.baselines.flush)
        if self.health is not None:
            self._add("health", self.timer_interval, self._check_health)
        if self.journal is not None:  # a kill -9 loses at most this much of the window
            self._add("window-journal", self.journal_interval, self.journal.flush)
        self._add("anomaly-models", self.baseline_flush_interval, self.engine.anomalies.flush)
        if self.history is not None:
            history, clock = self.history, self.engine.clock
            flush_history = lambda: history.flush(clock())  # noqa: E731
            self._add("sample-history", self.baseline_flush_interval, flush_history)
        if self.retention is not None:  # batches of its own: it never holds a tick back
            prune = self.retention.prune
            self._add("retention", RETENTION_INTERVAL, prune, delay=RETENTION_DELAY)
        if self.report is not None:
            self._add("noise-report", REPORT_CHECK, self.report.run, delay=RETENTION_DELAY)
        if self.digests is not None:  # a digest falls due on the minute: out within one
            self._add("digests", DIGEST_CHECK, self.digests.run)
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
                self.lag.removed(job.id)
        for job_id, (interval, shard, shards) in wanted.items():
            if self._scheduler.get_job(job_id) is None:
                work = self._tick_factory(job_id, interval, shard, shards)
                delay = interval * shard / shards
                self._add(job_id, interval, work, delay=delay)
                self.lag.planned(job_id, delay)

    def _index(self) -> None:
        """Pushed metric name -> the enabled rules that read it."""
        index: dict[str, list[Rule]] = {}
        for rule in self.rulebook.enabled():
            if rule.source == "ingest":
                index.setdefault(rule.metric, []).append(rule)
        self._by_metric = index

    def evaluate_soon(self, metrics: Iterable[str]) -> None:
        """Samples of ``metrics`` were pushed: evaluate the rules that read them now
        rather than at their next tick, so a regression counts as soon as it shows (the
        machine keeps counted readings an interval apart: monitors.incidents.machine.spacing_for).
        Pushes within EARLY_DELAY are gathered; a rule is evaluated so at most once
        per EARLY_GAP."""
        if self._stopping:
            return
        self._pushed.update(name for name in metrics if name in self._by_metric)
        if self._pushed and self._early is None:
            self._early = asyncio.ensure_future(self._evaluate_pushed(EARLY_DELAY))

    async def _evaluate_pushed(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._stopping:
            return
        metrics, self._pushed, self._early = self._pushed, set(), None
        now = self.engine.clock()
        due, later = [], set()
        for name in metrics:
            for rule in self._by_metric.get(name, ()):
                if now - self._early_at.get(rule.name, -EARLY_GAP) >= EARLY_GAP:
                    due.append(rule)
                else:
                    later.add(name)
        for rule in due:
            self._early_at[rule.name] = now
        if later:  # evaluated a moment ago: once more when the gap is over
            self._pushed.update(later)
            self._early = asyncio.ensure_future(self._evaluate_pushed(EARLY_GAP))
        if due:
            await self._guarded("pushed", lambda: self.engine.tick(due))()

    async def settle(self) -> None:
        """Wait until the pushed samples gathered so far are evaluated (tests)."""
        while self._early is not None:
            await self._early

    def planned(self) -> dict[str, datetime]:
        """Rule jobs by id (``rules@INTERVAL#SHARD/SHARDS``) and when each runs next."""
        return {
            job.id: job.next_run_time
            for job in self._scheduler.get_jobs()
            if job.id.startswith("rules@")
        }

    def _tick_factory(
        self, job_id: str, interval: float, shard: int, shards: int
    ) -> Callable[[], Awaitable[object]]:
        async def tick() -> object:
            self.lag.started(job_id, interval)
            rules = [
                r
                for r in self.rulebook.enabled()
                if r.interval == interval and shard_of(r.name, shards) == shard
            ]
            return await self.engine.tick(rules) if rules else None

        return tick

    async def _check_health(self) -> None:
        assert self.health is not None
        await self.health.check(self.lag.seconds())

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
        if self._early is not None and self._early not in self._in_flight:
            self._early.cancel()  # gathering pushes; nothing started
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        await self.baselines.flush()
        await self.engine.anomalies.flush()
