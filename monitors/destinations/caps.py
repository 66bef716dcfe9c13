"""A destination's own cap (``max_per_hour``): new messages an hour to each of its
places, whatever rule they come from. Written on each outbox row when it is queued
(beside the rule's cap), so the dispatcher's planner (bot.delivery.messages) applies
both with one mechanism: past either, the incident is not posted and one "N more not
posted" message per cap, place and hour says so, edited as N grows."""

from __future__ import annotations

from typing import Any

from monitors.routing import Routing

KEY = "destination"
"""Where a row's ``payload.limits`` carries the destination cap: ``{name, max_per_hour}``."""


def with_destination_caps(routing: Routing, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` (see monitors.incidents.announce.Announcer.rows), each to a capped place carrying
    its destination's cap. Rows share their payload, so a capped row gets its own copy."""
    if not any(d.max_per_hour for d in routing.destinations.values()):
        return rows
    for row in rows:
        if row.get("incident_id") is None:
            continue
        facts = row["payload"].get("incident") or {}
        found = routing.cap(facts.get("destinations") or (), row["channel"])
        if found is None:
            continue
        name, limit = found
        limits = {**row["payload"].get("limits", {}), KEY: {"name": name, "max_per_hour": limit}}
        row["payload"] = {**row["payload"], "limits": limits}
    return rows
