"""The core, assembled: storage, rules, engine, the verbs people use, and timers.

Every surface (console, Discord, Slack, the REST API) receives one Core and calls its
verbs; nothing in here knows which surface is calling."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from monitors.announce import Announcer
from monitors.anomaly.store import ModelStore
from monitors.backtest.compare import MAX_DAYS, BacktestReport, backtest
from monitors.backtest.history import SampleHistory
from monitors.baselines import Baselines
from monitors.engine import Engine, SeriesCache
from monitors.incident_actions import IncidentActions
from monitors.rule_admin import RuleAdmin
from monitors.rulebook import RuleBook
from monitors.rules import Rule
from monitors.scheduler import Scheduler
from monitors.silence_admin import SilenceAdmin
from monitors.sources.ingest import IngestSource
from monitors.timers import Timers
from monitors.window import Sample, WindowStore
from storage.db import Database

MIN_STORE_WINDOW = 7200.0


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
    rules: RuleAdmin
    silences: SilenceAdmin
    timers: Timers
    clock: Callable[[], float]

    @classmethod
    async def open(
        cls,
        database_url: str,
        file_rules: Sequence[Rule] = (),
        default_channels: Sequence[str] = ("alerts",),
        clock: Callable[[], float] = time.time,
    ) -> Core:
        """Migrate the database, load saved rules and series state, and wire it all up."""
        db = Database(database_url)
        await db.migrate()
        rulebook = RuleBook(file_rules)
        await rulebook.load(db)
        store = WindowStore(max_window=MIN_STORE_WINDOW)
        fit_store = lambda: store.keep_at_least(store_window(rulebook))  # noqa: E731
        fit_store()
        rulebook.on_change(fit_store)  # rules created while running get their window
        cache = SeriesCache()
        await cache.load(db)
        announcer = Announcer(default_channels)
        baselines = Baselines(db)
        anomalies = ModelStore(db)
        await anomalies.load()
        engine = Engine(
            db,
            {"ingest": IngestSource(store)},
            announcer,
            cache,
            baselines,
            clock,
            anomalies=anomalies,
        )
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
            rules=RuleAdmin(db, rulebook, cache, announcer, clock, anomalies),
            silences=SilenceAdmin(db, clock),
            timers=Timers(db, announcer, clock),
            clock=clock,
        )
        await core.rules.retire_inactive()  # disabled or removed in the file meanwhile
        return core

    def scheduler(self, timer_interval: float = 5.0) -> Scheduler:
        return Scheduler(
            self.engine,
            self.rulebook,
            self.timers,
            self.baselines,
            timer_interval=timer_interval,
            history=self.history,
        )

    def ingest(self, samples: Sequence[Sample], now: float) -> int:
        """Pushed samples into the window store, and into the history backtests read;
        returns how many the store kept."""
        kept = self.store.add_many(samples, now=now)
        self.history.add_many(samples, now)
        return kept

    async def backtest(
        self, name: str, patch: dict[str, Any] | None = None, days: float = MAX_DAYS
    ) -> BacktestReport:
        """What rule ``name`` changed by ``patch`` (a JSON Merge Patch, validated as an
        update is; none: the rule as it is) would have opened over the last ``days`` of
        history, next to the rule as it is. Changes nothing."""
        current, proposed = self.rules.propose(name, patch or {})
        return await backtest(self.history, current, proposed, self.clock(), days)

    async def close(self) -> None:
        await self.baselines.flush()
        await self.anomalies.flush()
        await self.history.flush(self.clock(), everything=True)
        await self.db.close()
