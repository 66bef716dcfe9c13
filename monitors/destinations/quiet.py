"""Quiet hours and digests of a destination (``quiet_hours``, ``digest``).

While a destination is quiet, a non-critical incident that would open there (a first
message on one of its places) is held instead, in the same transaction as the change
(monitors.digests.hold), and listed by the destination's digest. Critical incidents go
out at once, and so does an escalation to critical of one held. Updates to an incident
the place already shows go out as usual. An update of a held incident that was never
shown is not sent while quiet (the digest will say how it stands); once the quiet is
over, a page about it (a reminder, an escalation) is its first message there, and a
quiet edit (acknowledged, resolved) is dropped: there is no message to edit, and the
digest lists it with its status.

The digest (``DestinationDigests.run``, a scheduler job) goes to the places where
something was held: at ``digest`` (``daily HH:MM`` in the quiet hours' time zone, or
``hourly``), or without one at the end of the quiet hours; never during them (a digest
time inside the quiet hours is refused by the config)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from monitors.digests import DigestSchedule, hold, write_digest
from monitors.routing import Destination, Routing
from storage.db import Database
from storage.repositories import HeldRepository, OutboxRepository

if TYPE_CHECKING:
    from monitors.incidents.announce import Announcer

PREFIX = "destination:"
ORPHANS = DigestSchedule("hourly")
"""For what a destination held before it was removed, or lost its quiet hours: listed
at the next hour rather than never."""


def holder(name: str) -> str:
    """``destination:payments-team``: the holder of what a destination holds."""
    return f"{PREFIX}{name}"


def _policy(routing: Routing, row: dict[str, Any]) -> list[tuple[str, Destination]] | None:
    """The destinations with quiet hours or a digest that lead the row to its place, or
    None when another leads there too (that one is awake and lets it through) or none."""
    facts = row["payload"].get("incident") or {}
    leading = routing.leading(facts.get("destinations") or (), row["channel"])
    if not leading or not all(d.has_quiet for _, d in leading):
        return None
    return leading


async def hold_while_quiet(
    session: AsyncSession, routing: Routing, rows: list[dict[str, Any]], now: float
) -> list[dict[str, Any]]:
    """``rows`` (see monitors.incidents.announce.Announcer.rows) without those held for a quiet
    destination's digest (see the module's docstring); the held are recorded."""
    if not any(d.has_quiet for d in routing.destinations.values()):
        return rows
    moment = datetime.fromtimestamp(now, UTC)
    policies = {
        index: policy
        for index, row in enumerate(rows)
        if row.get("incident_id") is not None and (policy := _policy(routing, row)) is not None
    }
    if not policies:
        return rows
    pairs = {(rows[i]["incident_id"], rows[i]["channel"]) for i in policies}
    shown = await OutboxRepository(session).announced(pairs)
    was_held = await HeldRepository(session).ever_held(pairs)
    kept, holding = [], {}
    for index, row in enumerate(rows):
        policy = policies.get(index)
        pair = (row["incident_id"], row["channel"])
        if policy is None or pair in shown:
            kept.append(row)
            continue
        facts = row["payload"].get("incident") or {}
        urgent = facts.get("severity") == "critical" or bool(facts.get("test"))
        quiet = all(destination.holds(moment) for _, destination in policy)
        if urgent or (not quiet and (row["notify"] or pair not in was_held)):
            shown.add(pair)  # its first message there: what follows goes as usual
            kept.append(row)
        elif quiet:
            holding.setdefault(holder(policy[0][0]), set()).add(pair)
    for name, held in holding.items():
        await hold(session, name, held, now)
    return kept


class DestinationDigests:
    """Writes each destination's digest when it is due (see the module's docstring)."""

    def __init__(
        self, db: Database, announcer: Announcer, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.announcer = announcer
        self.clock = clock

    async def run(self) -> int:
        """Write the digests due; returns how many were written."""
        now = self.clock()
        moment = datetime.fromtimestamp(now, UTC)
        destinations = self.announcer.routing.destinations
        async with self.db.read() as session:
            waiting = await HeldRepository(session).holders_waiting()
        written = 0
        for name in sorted(h.removeprefix(PREFIX) for h in waiting if h.startswith(PREFIX)):
            destination = destinations.get(name)
            schedule = destination.digest_schedule() if destination else None
            quiet = destination.quiet_hours if destination is not None else None
            if quiet is not None and quiet.contains(moment):
                continue  # the digest waits for the end of the quiet
            heading = f"Digest for {name}"
            if schedule is None:
                schedule = ORPHANS
            if await write_digest(self.db, holder(name), schedule, now, heading) is not None:
                written += 1
        if written:
            self.announcer.queued()
        return written
