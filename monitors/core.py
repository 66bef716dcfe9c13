"""The core, assembled: storage, rules, engine, the verbs people use, and timers.

Every surface (console, Discord, Slack, the REST API) receives one Core and calls its
verbs; nothing in here knows which surface is calling."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitors.admin_notices import queue_notices
from monitors.anomaly.store import ModelStore
from monitors.backtest.compare import MAX_DAYS, BacktestReport, backtest
from monitors.backtest.history import SampleHistory
from monitors.destinations.admin import DestinationAdmin, DestinationOptions
from monitors.destinations.quiet import DestinationDigests
from monitors.engine import Engine, SeriesCache
from monitors.health.delivery import DeliveryHealth
from monitors.health.self_monitor import SelfMonitor
from monitors.incidents.actions import IncidentActions
from monitors.incidents.announce import Announcer
from monitors.incidents.deploys import DEFAULT_WINDOW as DEFAULT_DEPLOY_WINDOW
from monitors.incidents.deploys import DeployCorrelation
from monitors.incidents.event_intake import EventIntake
from monitors.incidents.timers import Timers
from monitors.insight.coach import Coaching, coach, rule_incidents
from monitors.insight.proposals import Proposals
from monitors.insight.report import NoiseReport, NoiseReportConfig
from monitors.insight.stats import IncidentStats, incident_stats
from monitors.retention import DEFAULT_RETENTION, Retention
from monitors.routing import Routing
from monitors.rules.admin import RuleAdmin
from monitors.rules.baselines import Baselines
from monitors.rules.rulebook import RuleBook
from monitors.rules.schema import Rule
from monitors.scheduler import Scheduler
from monitors.silence_admin import SilenceAdmin
from monitors.sources.env import Environment
from monitors.sources.events import DEFAULT_EVENT_TYPES, EventType
from monitors.sources.registry import build_sources, close_sources
from monitors.subscriptions.admin import SubscriptionAdmin
from monitors.windows.journal import WindowJournal
from monitors.windows.store import Sample, WindowStore
from storage.db import Database

MIN_STORE_WINDOW = 7200.0
MIN_JOURNAL_WINDOW = 60.0


def store_window(rulebook: RuleBook) -> float:
    """Seconds of samples the rules need: twice the longest window, for percent change
    against the previous window."""
    return max((2 * rule.window for rule in rulebook.all()), default=0.0)


@dataclass
class Core:
    db: Database
    rulebook: RuleBook
    store: WindowStore
    history: SampleHistory
    cache: SeriesCache
    announcer: Announcer
    baselines: Baselines
    anomalies: ModelStore
    engine: Engine
    incidents: IncidentActions
    events: EventIntake
    rules: RuleAdmin
    silences: SilenceAdmin
    timers: Timers
    health: SelfMonitor
    delivery_health: DeliveryHealth
    journal: WindowJournal
    clock: Callable[[], float]
    destinations: DestinationAdmin
    proposals: Proposals
    retention: Retention
    digests: DestinationDigests
    """Destinations' digests of what their quiet hours held (a scheduler job)."""
    subscriptions: SubscriptionAdmin
    admin_notices: list[str] = field(default_factory=list)
    """What admins should hear at start-up (saved rules the file has moved on from),
    platform-neutral text; the service logs each and posts it where admins see it."""
    _pushed_listeners: list[Callable[[set[str]], None]] = field(default_factory=list)

    @classmethod
    async def open(
        cls,
        database_url: str,
        file_rules: Sequence[Rule] = (),
        routing: Routing | None = None,
        clock: Callable[[], float] = time.time,
        environment: Environment | None = None,
        event_types: Mapping[str, EventType] = DEFAULT_EVENT_TYPES,
        behind_after: float = 60.0,
        destination_options: DestinationOptions | None = None,
        deploy_window: float = DEFAULT_DEPLOY_WINDOW,
        retention: float = DEFAULT_RETENTION,
    ) -> Core:
        """Migrate the database, load saved rules, destinations and series state, and
        wire it all up. ``environment`` holds the variables rules may name as
        ``${NAME}``; ``event_types`` what ``POST /v1/events`` accepts; ``behind_after``
        how late ticks may start before "Tocsin is behind" opens; ``deploy_window`` how
        soon after a deploy an incident says it followed one; ``retention`` how long
        resolved incidents and logs are kept."""
        db = Database(database_url)
        await db.migrate()
        rulebook = RuleBook(file_rules)
        await rulebook.load(db)
        environment = environment or Environment()
        for rule in rulebook.all():  # logged at start-up with the rule book's problems
            unset = environment.unset_in(rule.name, rule.url, rule.headers)
            if unset:
                rulebook.load_errors.append(unset)
        store = WindowStore(max_window=MIN_STORE_WINDOW)
        fit_store = lambda: store.keep_at_least(store_window(rulebook))  # noqa: E731
        fit_store()
        rulebook.on_change(fit_store)  # rules created while running get their window
        keep = lambda: max(store_window(rulebook), MIN_JOURNAL_WINDOW)  # noqa: E731
        journal = WindowJournal(db, store, keep, clock)
        await journal.restore()  # the window as it was before a restart
        cache = SeriesCache()
        await cache.load(db)
        announcer = Announcer(routing)
        destinations = DestinationAdmin(db, announcer, rulebook, destination_options, clock)
        await destinations.load()
        baselines = Baselines(db)
        anomalies = ModelStore(db)
        await anomalies.load()
        sources = build_sources(store, environment)
        deploys = DeployCorrelation(deploy_window)
        engine = Engine(
            db, sources, announcer, cache, baselines, clock, anomalies=anomalies, deploys=deploys
        )
        rules = RuleAdmin(db, rulebook, cache, announcer, baselines, clock, anomalies)
        core = cls(
            db=db,
            rulebook=rulebook,
            store=store,
            history=SampleHistory(db),
            cache=cache,
            announcer=announcer,
            baselines=baselines,
            anomalies=anomalies,
            engine=engine,
            incidents=IncidentActions(db, announcer, cache, rulebook, clock),
            events=EventIntake(db, announcer, event_types, clock, deploys),
            rules=rules,
            silences=SilenceAdmin(db, clock),
            timers=Timers(db, announcer, clock),
            health=SelfMonitor(db, announcer, behind_after, clock),
            delivery_health=DeliveryHealth(db, announcer, clock),
            journal=journal,
            clock=clock,
            destinations=destinations,
            proposals=Proposals(db, rules, clock),
            retention=Retention(db, retention, clock),
            digests=DestinationDigests(db, announcer, clock),
            subscriptions=SubscriptionAdmin(
                db, rules, clock, lambda: destinations.options.email_enabled
            ),
        )
        core.admin_notices = await core.rules.reconcile_file()
        await core.rules.retire_inactive()  # disabled or removed in the file meanwhile
        return core

    async def tell_admins(self, targets: Sequence[str]) -> int:
        """Queue ``admin_notices`` to the admins' places, ``targets`` (monitors.admin_notices:
        what a place was told within the last day is not repeated); returns how many
        messages were queued."""
        queued = await queue_notices(self.db, self.admin_notices, targets, self.clock())
        if queued:
            self.announcer.queued()
        return queued

    def scheduler(
        self,
        timer_interval: float = 5.0,
        evaluate_on_push: bool = True,
        noise_report: NoiseReportConfig | None = None,
    ) -> Scheduler:
        """The scheduler of this core's rules; with ``evaluate_on_push``, pushed samples
        are evaluated as they arrive (see ``ingest``); ``noise_report`` says when the
        weekly noise report goes out, and where."""
        scheduler = Scheduler(
            self.engine,
            self.rulebook,
            self.timers,
            self.baselines,
            self.journal,
            timer_interval=timer_interval,
            health=self.health,
            history=self.history,
            retention=self.retention,
            report=NoiseReport(self, noise_report or NoiseReportConfig()),
            digests=self.digests,
        )
        if evaluate_on_push:
            self._pushed_listeners.append(scheduler.evaluate_soon)
        return scheduler

    def ingest(self, samples: Sequence[Sample], now: float) -> int:
        """Pushed samples (POST /v1/samples): into the window store, into the history
        backtests read, and evaluated on arrival (see ``scheduler``); returns how many
        the store kept."""
        kept = self.store.add_many(samples, now=now)
        self.history.add_many(samples, now)
        if kept:
            metrics = {sample.metric for sample in samples}
            for listener in self._pushed_listeners:
                listener(metrics)
        return kept

    async def backtest(
        self, name: str, patch: dict[str, Any] | None = None, days: float = MAX_DAYS
    ) -> BacktestReport:
        """What rule ``name`` changed by ``patch`` (a JSON Merge Patch, validated as an
        update is; none: the rule as it is) would have opened over the last ``days`` of
        history, next to the rule as it is. Changes nothing."""
        current, proposed = self.rules.propose(name, patch or {})
        return await backtest(self.history, current, proposed, self.clock(), days)

    async def stats(self, days: float) -> IncidentStats:
        """Incident statistics over the last ``days`` (monitors.insight.stats)."""
        names = [rule.name for rule in self.rulebook.all()]
        return await incident_stats(self.db, names, self.clock(), days)

    async def coach(self, name: str, days: float = MAX_DAYS, quick: bool = False) -> Coaching:
        """How rule ``name`` could be quieter (monitors.insight.coach); ``quick`` stops
        at the statistics when it is not noisy."""
        rule = self.rules.get(name)
        return await coach(self.db, self.history, self.rules, rule, self.clock(), days, quick)

    async def opened_by(self, name: str, since: float) -> int:
        """Incidents rule ``name`` opened from its readings since ``since``."""
        return len(await rule_incidents(self.db, name, since, self.clock()))

    async def close(self) -> None:
        """Save what is kept in memory (the window, as one snapshot; baseline rollups,
        anomaly models, sample history), close the sources' connections, then close the
        database."""
        try:
            try:
                await self.journal.snapshot()
            finally:
                await self.baselines.flush()
                await self.anomalies.flush()
                await self.history.flush(self.clock(), everything=True)
                await close_sources(self.engine.sources)
        finally:
            await self.db.close()
