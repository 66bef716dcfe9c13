"""The core, assembled: storage, rules, engine, the verbs people use, and timers.

Every surface (console, Discord, Slack, the REST API) receives one Core and calls its
verbs; nothing in here knows which surface is calling."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from monitors.announce import Announcer
from monitors.baselines import Baselines
from monitors.destinations.admin import DestinationAdmin, DestinationOptions
from monitors.engine import Engine, SeriesCache
from monitors.incident_actions import IncidentActions
from monitors.routing import Routing
from monitors.rule_admin import RuleAdmin
from monitors.rulebook import RuleBook
from monitors.rules import Rule
from monitors.scheduler import Scheduler
from monitors.silence_admin import SilenceAdmin
from monitors.sources.ingest import IngestSource
from monitors.timers import Timers
from monitors.window import WindowStore
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
    cache: SeriesCache
    announcer: Announcer
    baselines: Baselines
    engine: Engine
    incidents: IncidentActions
    rules: RuleAdmin
    silences: SilenceAdmin
    timers: Timers
    clock: Callable[[], float]
    destinations: DestinationAdmin

    @classmethod
    async def open(
        cls,
        database_url: str,
        file_rules: Sequence[Rule] = (),
        routing: Routing | None = None,
        clock: Callable[[], float] = time.time,
        destination_options: DestinationOptions | None = None,
    ) -> Core:
        """Migrate the database, load saved rules, destinations and series state, and
        wire it all up."""
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
        announcer = Announcer(routing)
        destinations = DestinationAdmin(db, announcer, rulebook, destination_options, clock)
        await destinations.load()
        baselines = Baselines(db)
        engine = Engine(db, {"ingest": IngestSource(store)}, announcer, cache, baselines, clock)
        core = cls(
            db=db,
            rulebook=rulebook,
            store=store,
            cache=cache,
            announcer=announcer,
            baselines=baselines,
            engine=engine,
            incidents=IncidentActions(db, announcer, cache, rulebook, clock),
            rules=RuleAdmin(db, rulebook, cache, announcer, clock),
            silences=SilenceAdmin(db, clock),
            timers=Timers(db, announcer, clock),
            clock=clock,
            destinations=destinations,
        )
        await core.rules.retire_inactive()  # disabled or removed in the file meanwhile
        return core

    def scheduler(self, timer_interval: float = 5.0) -> Scheduler:
        return Scheduler(
            self.engine, self.rulebook, self.timers, self.baselines, timer_interval=timer_interval
        )

    async def close(self) -> None:
        await self.baselines.flush()
        await self.db.close()
