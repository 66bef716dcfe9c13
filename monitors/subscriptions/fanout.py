"""The personal outbox rows of a transaction: for each incident event announced there,
a row to each subscriber the verdict (monitors.subscriptions.model) lets through.

Called by ``Journal.flush`` with the rows the rule announced: after silences and the
suppression verdict, so what they kept from the channels (no rows) never reaches anyone
either, and a snoozed incident's quiet edits only update the direct messages people
already have; before each destination's floor, quiet hours and cap, which are that
channel's choice, not the subscriber's. Rows go through the outbox as a channel's do: durable,
in order per incident and person, and a later event edits the person's message."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from monitors.subscriptions.model import DIRECT, Subscription, verdict
from storage.repositories import OutboxRepository, SubscriptionRepository
from storage.vocabulary import IncidentKind

NOT_FOR_PEOPLE = frozenset({IncidentKind.DELIVERY_FAILING})
"""Tocsin's own delivery trouble: it may be a person's own direct messages failing."""


def _subject(row: dict[str, Any]) -> tuple[str, str] | None:
    """(rule, severity) of the incident a row announces; None for rows no person gets
    (a notice, a test incident, Tocsin's delivery health)."""
    if row["incident_id"] is None:
        return None
    card = row["payload"].get("card") or {}
    facts = row["payload"].get("incident") or {}
    if card.get("test") or facts.get("kind") in NOT_FOR_PEOPLE:
        return None
    return str(card.get("rule") or facts.get("rule") or ""), str(card.get("severity", ""))


async def personal_rows(
    session: AsyncSession, rows: Sequence[dict[str, Any]], now: float
) -> list[dict[str, Any]]:
    """The rows to add to ``rows`` (see monitors.incidents.announce.Announcer.rows) for the
    people subscribed to their incidents."""
    events: dict[tuple[int, str, str], tuple[dict[str, Any], bool]] = {}
    for row in rows:
        if _subject(row) is None:
            continue
        key = (row["incident_id"], row["event"], row["payload"].get("line", ""))
        first, paged = events.get(key, (row, False))
        events[key] = (first, paged or bool(row["notify"]))
    if not events:
        return []
    rules = {_subject(row)[0] for row, _ in events.values()}  # type: ignore[index]
    found = await SubscriptionRepository(session).for_rules(rules)
    people = [Subscription.from_row(row) for row in found if row.email or row.platform in DIRECT]
    if not people:
        return []
    pairs = {
        (row["incident_id"], person.target)
        for row, _ in events.values()
        for person in people
        if person.covers(_subject(row)[0])  # type: ignore[index]
    }
    shown = await OutboxRepository(session).announced(pairs)
    added: list[dict[str, Any]] = []
    for row, paged in events.values():
        rule, severity = _subject(row)  # type: ignore[misc]
        done: set[str] = set()
        for person in people:
            place = person.target
            if place in done or not person.covers(rule):
                continue
            pair = (row["incident_id"], place)
            send = verdict(person, severity=severity, page=paged, following=pair in shown, now=now)
            if send is None:
                continue
            done.add(place)
            shown.add(pair)
            added.append(
                {
                    **row,
                    "channel": place,
                    "notify": send.notify,
                    "payload": copy.copy(row["payload"]),
                }
            )
    return added
