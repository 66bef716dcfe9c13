"""Hold, then digest: news held back from a place while whoever owns it is quiet, and
listed later in one message, so nothing held is ever lost or silently dropped.

The *holder* is whoever asked for the quiet, as a string: a destination
(``destination:payments-team``, see monitors.destinations.quiet) or, later, a person's
subscription. The interface is three verbs:

* ``hold(session, holder, pairs, now)``: in the transaction of the change that would
  have been announced, so what is held is exactly as durable as the change (a restart
  loses nothing);
* ``DigestSchedule``: when a holder's digest is due (``daily 09:00`` in a time zone, or
  ``hourly``), and the key of each period;
* ``write_digest(db, holder, schedule, now, heading)``: once per period, in one
  transaction, claim the period's key in ``reports`` (unique: two processes, or a
  restart, cannot both write it), mark what is listed, and queue the digest's outbox
  rows: one message per place where something was held, listing each incident's rule,
  series, severity, when it opened and how it stands now (still open, acknowledged,
  resolved). Nothing held: nothing posted, nothing recorded."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from monitors.incidents.cards import IncidentCard, incident_title
from monitors.quiet_hours import parse_clock, parse_timezone
from storage.db import Database
from storage.models import IncidentRow
from storage.repositories import (
    HeldRepository,
    IncidentRepository,
    OutboxRepository,
    ReportRepository,
)
from storage.repositories.outbox import outbox_row
from storage.vocabulary import IncidentStatus

EVENT = "digest"
"""The outbox event of a digest's messages (a message of its own, never edited)."""
MAX_LISTED = 20
"""Incidents one digest message names; the rest are counted, and /alerts list has them."""
_DIGEST = re.compile(r"^\s*(hourly|daily\s+(\S+))\s*$")


def parse_digest(text: object) -> str:
    """``"daily 09:00"`` or ``"hourly"``, normalised; anything else is refused with an
    example."""
    found = _DIGEST.match(text) if isinstance(text, str) else None
    if not found:
        raise ValueError(f"{text!r} is not a digest; use hourly or daily HH:MM, e.g. daily 09:00")
    if found.group(2) is None:
        return "hourly"
    return f"daily {parse_clock(found.group(2)).strftime('%H:%M')}"


@dataclass(frozen=True)
class DigestSchedule:
    """When a digest is due: every hour on the hour, or daily at ``at``, in ``zone``."""

    every: Literal["hourly", "daily"]
    at: time | None = None
    zone: str = "UTC"

    @classmethod
    def parse(cls, text: str, zone: str = "UTC") -> DigestSchedule:
        normal = parse_digest(text)
        parse_timezone(zone)
        if normal == "hourly":
            return cls("hourly", None, zone)
        return cls("daily", parse_clock(normal.split()[1]), zone)

    @classmethod
    def daily(cls, at: str, zone: str = "UTC") -> DigestSchedule:
        return cls("daily", parse_clock(at), zone)

    def latest(self, now: float) -> tuple[str, float]:
        """The latest period due at ``now``: its name (local time and offset, unique
        across daylight-saving changes) and when it fell due."""
        zone = parse_timezone(self.zone)
        local = datetime.fromtimestamp(now, zone)
        if self.every == "hourly":
            due = local.replace(minute=0, second=0, microsecond=0)
        else:
            assert self.at is not None
            due = datetime.combine(local.date(), self.at, tzinfo=zone)
            if due.timestamp() > now:
                due = datetime.combine(local.date() - timedelta(days=1), self.at, tzinfo=zone)
        return due.strftime("%Y-%m-%dT%H:%M%z"), due.timestamp()

    def describe(self) -> str:
        if self.every == "hourly":
            return "hourly"
        assert self.at is not None
        return f"daily {self.at.strftime('%H:%M')} {self.zone}"


async def hold(
    session: AsyncSession, holder: str, pairs: Iterable[tuple[int, str]], now: float
) -> int:
    """Hold each (incident, target) for ``holder``'s next digest, in the caller's
    transaction; returns how many were newly held (one already waiting is not held twice)."""
    return await HeldRepository(session).hold(holder, pairs, now)


@dataclass(frozen=True)
class Digest:
    key: str
    """The ``reports`` key claimed for the period."""
    listed: dict[str, list[int]]
    """Per target, the incidents its message lists."""


def digest_key(holder: str, period: str) -> str:
    """``digest:<16 hex of the holder>:<period>``: fits ``reports.key`` whatever the
    holder's name; the summary names the holder in full."""
    return f"digest:{hashlib.sha256(holder.encode()).hexdigest()[:16]}:{period}"


async def write_digest(
    db: Database, holder: str, schedule: DigestSchedule, now: float, heading: str
) -> Digest | None:
    """The latest digest due for ``holder`` if it is not written yet and something was
    held before it fell due; None otherwise (nothing held, or written already). Callers
    tell the dispatcher (``Announcer.queued``) when it returns a digest."""
    period, due_at = schedule.latest(now)
    key = digest_key(holder, period)
    async with db.transaction() as session:
        held = list(await HeldRepository(session).waiting(holder, due_at))
        if not held:
            return None
        reports = ReportRepository(session)
        if await reports.get(key) is not None:
            return None  # this period's digest went out; what is left waits for the next
        incidents = await IncidentRepository(session).get_many(
            sorted({row.incident_id for row in held})
        )
        listed: dict[str, list[int]] = {}
        for row in held:
            ids = listed.setdefault(row.target, [])
            if row.incident_id in incidents and row.incident_id not in ids:
                ids.append(row.incident_id)
        summary: dict[str, Any] = {"holder": holder, "period": period, "listed": listed}
        if not await reports.claim(key, now, summary):
            return None  # another process wrote it meanwhile
        await HeldRepository(session).release([row.id for row in held], key)
        rows = []
        for target, ids in listed.items():
            if not ids:
                continue  # its incidents were deleted (retention): nothing to say
            card = digest_card(heading, [incidents[i] for i in ids], schedule.zone, due_at)
            payload = {"card": card.to_json(), "line": "", "incident": {}}
            rows.append(outbox_row(target, EVENT, payload, now))
        await OutboxRepository(session).add_many(rows)
    return Digest(key, listed)


def _local(ts: float, zone: str) -> str:
    moment = datetime.fromtimestamp(ts, UTC).astimezone(parse_timezone(zone))
    return f"{moment.strftime('%Y-%m-%d %H:%M')} {zone}"


def standing(incident: IncidentRow, zone: str) -> str:
    """``opened 2026-11-29 23:04 Europe/Paris, still open`` (or acknowledged, resolved)."""
    opened = f"opened {_local(incident.opened_at, zone)}"
    if incident.status == IncidentStatus.RESOLVED:
        when = f" {_local(incident.resolved_at, zone)}" if incident.resolved_at else ""
        return f"{opened}, resolved{when}"
    if incident.status == IncidentStatus.ACKNOWLEDGED:
        return f"{opened}, acknowledged, still open"
    return f"{opened}, still open"


def digest_card(
    heading: str, incidents: Sequence[IncidentRow], zone: str, due_at: float
) -> IncidentCard:
    """The digest as a neutral card: a field per incident (``#12 WARNING slow-api
    (route=/a)``: how it stands), the rest counted, and where to see everything."""
    count = len(incidents)
    noun = "incident" if count == 1 else "incidents"
    fields = [(incident_title(i), standing(i, zone)) for i in incidents[:MAX_LISTED]]
    if count > MAX_LISTED:
        fields.append(("And more", f"{count - MAX_LISTED} more held: see /alerts list"))
    return IncidentCard.note(
        f"{heading}: {count} {noun} held",
        tuple(fields),
        footer=f"Held until {_local(due_at, zone)}. Every incident: /alerts list",
    )
