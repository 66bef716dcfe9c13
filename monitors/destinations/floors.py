"""The severity floor (``min_severity``) of a destination: an incident below it is not
sent there, until it escalates past it; from then on the place keeps getting the
incident's updates (a de-escalation, the resolution), so its message never goes stale."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from monitors.routing import Routing
from storage.repositories import OutboxRepository


def admitted(routing: Routing, row: dict[str, Any]) -> bool:
    facts = row["payload"].get("incident") or {}
    names = facts.get("destinations") or ()
    return routing.admits(names, row["channel"], str(facts.get("severity", "")))


async def hold_below_floor(
    session: AsyncSession, routing: Routing, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``rows`` (see monitors.incidents.announce.Announcer.rows) without those to places whose
    floor the incident is below and which have not shown the incident yet."""
    below = {index for index, row in enumerate(rows) if not admitted(routing, row)}
    if not below:
        return rows
    pairs = {(rows[index]["incident_id"], rows[index]["channel"]) for index in below}
    shown = await OutboxRepository(session).announced(pairs)
    kept = []
    for index, row in enumerate(rows):
        pair = (row["incident_id"], row["channel"])
        if index in below and pair not in shown:
            continue
        shown.add(pair)
        kept.append(row)
    return kept
