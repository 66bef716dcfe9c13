"""Silences: label matchers with a start and an end, for maintenance. They suppress
notifications, never evaluation; what is still firing when one ends is announced
(see monitors.incidents.timers)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from monitors.actors import Actor
from monitors.durations import format_duration
from monitors.errors import ActionError, Invalid, NotFound
from monitors.rules.admin import require_admin
from monitors.rules.matchers import format_matchers, parse_matchers
from storage.db import Database
from storage.models import SilenceRow
from storage.repositories import AuditRepository, SilenceRepository

MAX_REASON = 500
"""Characters in a silence's reason: enough for a ticket link and a sentence; a pasted
log is refused, not cut short without a word."""
MAX_SILENCE = 30 * 86400.0
MIN_SILENCE = 60.0
"""Shorter would end before anyone saw it in force (``0.001`` seconds used to be kept)."""


class SilenceAdmin:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def add(
        self,
        matchers: str,
        seconds: float,
        reason: str,
        actor: Actor,
        starts_at: float | None = None,
    ) -> SilenceRow:
        require_admin(actor, "add silences")
        try:
            parsed = parse_matchers(matchers)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        if all(m.matches({}) for m in parsed):  # Alertmanager refuses these too
            raise Invalid(
                f"{format_matchers(parsed)} would silence every incident; add a matcher "
                "that needs a label value, e.g. rule=slow-api"
            )
        reason = reason.strip()
        if len(reason) > MAX_REASON:
            raise Invalid(
                f"A silence's reason is at most {MAX_REASON} characters; this one has "
                f"{len(reason):,}. Link to the details instead."
            )
        if not seconds <= MAX_SILENCE:
            raise Invalid(f"A silence lasts at most {format_duration(MAX_SILENCE)}.")
        if not seconds >= MIN_SILENCE:
            raise Invalid(f"A silence lasts at least {format_duration(MIN_SILENCE)}.")
        now = self.clock()
        start = now if starts_at is None else starts_at
        async with self.db.transaction() as session:
            row = await SilenceRepository(session).add(
                SilenceRow(
                    matchers=format_matchers(parsed),
                    starts_at=start,
                    ends_at=start + seconds,
                    reason=reason,
                    created_by=actor.label,
                    created_at=now,
                    ended_handled=False,
                )
            )
            AuditRepository(session).record(
                now,
                actor.label,
                "silence.add",
                f"silence {row.id}",
                {"matchers": row.matchers, "ends_at": row.ends_at, "reason": row.reason},
            )
            return row

    async def list(self) -> Sequence[SilenceRow]:
        async with self.db.read() as session:
            return await SilenceRepository(session).current_and_future(self.clock())

    async def remove(self, silence_id: int, actor: Actor) -> SilenceRow:
        require_admin(actor, "remove silences")
        now = self.clock()
        async with self.db.transaction() as session:
            row = await SilenceRepository(session).get(silence_id)
            if row is None:
                raise NotFound(f"There is no silence {silence_id}.")
            if row.removed_at is not None or row.ends_at <= now:
                raise ActionError(f"Silence {silence_id} has already ended.")
            row.removed_at, row.removed_by = now, actor.label
            AuditRepository(session).record(
                now, actor.label, "silence.remove", f"silence {row.id}", {"matchers": row.matchers}
            )
            return row
