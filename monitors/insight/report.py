"""The weekly noise report: once a week (``noise_report:``, by default Monday 09:00 UTC),
for each noisy rule of the last 7 days, what coaching proposes, checked by backtest.

It goes to the default alert channels (the places incidents of rules without
``channels`` go, where the team already looks), or to the chat places of the
destinations ``noise_report.channels`` names; not to admins one by one, whom Tocsin
cannot message on every platform. A scheduler job checks every few minutes whether the
latest report is due and not yet written. Writing it is one transaction: a ``reports``
row named after the week (``noise:2027-W03``) and the message's outbox rows. So a
restart neither sends it twice (the row exists) nor skips it (no row: it is written at
the next check, late rather than never); two replicas cannot both write it (the key is
unique). A week with no noisy rule is recorded and sends nothing. A week the service was
down from start to end gets no report of its own: the next one covers the 7 days
before it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from monitors.formatting import short_time
from monitors.incidents.announce import Announcer
from monitors.incidents.cards import IncidentCard
from monitors.insight.coach import NOISY_MIN, NOISY_SHARE, Coaching
from monitors.insight.stats import IncidentStats
from monitors.insight.words import coaching_text
from monitors.routing import Platform, split_target
from storage.db import Database
from storage.repositories import OutboxRepository, ReportRepository
from storage.repositories.outbox import outbox_row

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
DAYS = 7
EVENT = "report"
"""The outbox event of a report's messages."""
MAX_RULES = 10
"""Rules one report names at most (the noisiest), so the message stays readable."""
CHAT = frozenset({Platform.SLACK, Platform.DISCORD, Platform.CONSOLE})
"""Where a report goes: chat. A destination's email addresses and webhooks, which
speak of one incident a message, are left out."""


class NoiseReportConfig(BaseModel):
    """``noise_report:`` in the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    weekday: Weekday = "monday"
    hour: int = Field(default=9, ge=0, le=23)
    """The hour (UTC) of ``weekday`` from which the week's report is due."""
    channels: tuple[str, ...] = ()
    """Destinations it goes to; empty: the default alert channels."""


def due(config: NoiseReportConfig, now: float) -> tuple[str, float]:
    """The latest report due at ``now``: its key (the ISO week it is due in) and when it
    became due."""
    today = dt.datetime.fromtimestamp(now, dt.UTC)
    monday = (today - dt.timedelta(days=today.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    at = monday + dt.timedelta(days=WEEKDAYS.index(config.weekday), hours=config.hour)
    if at.timestamp() > now:
        at -= dt.timedelta(days=7)
    year, week, _ = at.isocalendar()
    return f"noise:{year}-W{week:02d}", at.timestamp()


class Coachable(Protocol):
    """What the report needs of the core (monitors.core.Core)."""

    db: Database
    announcer: Announcer
    clock: Callable[[], float]

    async def stats(self, days: float) -> IncidentStats: ...

    async def coach(self, name: str, days: float = ..., quick: bool = ...) -> Coaching: ...


@dataclass(frozen=True)
class Written:
    key: str
    sent: bool
    """False when no rule was noisy: recorded, nothing sent."""
    coached: list[Coaching]


def noisy_names(stats: IncidentStats) -> list[str]:
    """Rules worth coaching, noisiest first (the coach checks each again)."""
    return [
        r.rule
        for r in stats.rules
        if r.opened >= NOISY_MIN and r.self_resolved_share >= NOISY_SHARE
    ][:MAX_RULES]


def report_card(coached: Sequence[Coaching], texts: Sequence[str], due_at: float) -> IncidentCard:
    """The report as a neutral card: a field per rule, what to do in the footer."""
    count = len(coached)
    noun = "rule" if count == 1 else "rules"
    return IncidentCard.note(
        f"Noise report: {count} {noun} could be quieter",
        tuple((c.rule.name, text) for c, text in zip(coached, texts, strict=True)),
        footer=(
            f"The {DAYS} days to {short_time(due_at)}. /rule coach NAME shows a rule's "
            "change with Apply; /alerts stats shows the rest."
        ),
    )


class NoiseReport:
    def __init__(self, core: Coachable, config: NoiseReportConfig) -> None:
        self.core = core
        self.config = config

    async def run(self) -> Written | None:
        """Write the latest report due if it is not written yet; None when nothing was
        due (disabled, or written already)."""
        if not self.config.enabled:
            return None
        key, due_at = due(self.config, self.core.clock())
        async with self.core.db.read() as session:
            if await ReportRepository(session).get(key) is not None:
                return None
        stats = await self.core.stats(DAYS)
        coached = []
        for name in noisy_names(stats):
            coaching = await self.core.coach(name, DAYS, quick=True)
            if coaching.noisy:
                coached.append(coaching)
        return await self.write(key, due_at, coached)

    async def write(self, key: str, due_at: float, coached: list[Coaching]) -> Written | None:
        """Record the report ``key`` and queue its message (none when ``coached`` is
        empty), in one transaction; None if it was written already."""
        now = self.core.clock()
        texts = [coaching_text(c) for c in coached]
        targets = [
            target
            for target in self.core.announcer.routing.targets(self.config.channels)
            if split_target(target)[0] in CHAT
        ]
        summary: dict[str, Any] = {
            "rules": [
                {
                    "rule": c.rule.name,
                    "text": text,
                    "proposal": c.best.candidate.patch if c.best else None,
                }
                for c, text in zip(coached, texts, strict=True)
            ],
            "targets": list(targets) if coached else [],
        }
        async with self.core.db.transaction() as session:
            if not await ReportRepository(session).claim(key, now, summary):
                return None  # another process wrote it meanwhile
            if coached:
                card = report_card(coached, texts, due_at)
                payload = {"card": card.to_json(), "line": "", "incident": {}}
                await OutboxRepository(session).add_many(
                    [outbox_row(target, EVENT, payload, now) for target in targets]
                )
        if coached:
            self.core.announcer.queued()
        return Written(key, bool(coached), coached)
