"""Telling admins in chat what needs their eye at start-up (``Core.admin_notices``:
saved rule overrides whose file rule changed or went), where they read it: the places
the service names (a Slack DM to each admin, the Discord alert channel mentioning the
admin roles).

Each notice is an outbox row per place (``EventKind.NOTICE``, no incident), so it is
delivered with the retries and crash safety of every other message. A notice that is
still true at the next start is queued again to a place only when that place was last
sent the same words more than ``REPEAT_AFTER`` ago: restarting does not flood admins,
and a problem left alone is repeated once a day at most, at a start."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitors.incidents.cards import IncidentCard
from storage.db import Database
from storage.repositories import OutboxRepository
from storage.repositories.outbox import outbox_row
from storage.vocabulary import EventKind

REPEAT_AFTER = 86400.0
TITLE = "Tocsin, for admins"


def notice_card(text: str) -> IncidentCard:
    """A notice as a card, for surfaces that show only cards (the console)."""
    return IncidentCard.note(TITLE, (("Notice", text),))


def notice_rows(notices: Sequence[str], targets: Sequence[str], now: float) -> list[dict[str, Any]]:
    return [
        outbox_row(
            target,
            EventKind.NOTICE,
            {"notice": text, "card": notice_card(text).to_json(), "line": text},
            now,
        )
        for text in notices
        for target in targets
    ]


async def queue_notices(
    db: Database, notices: Sequence[str], targets: Sequence[str], now: float
) -> int:
    """Queue each notice to each target, but for those the target was given in the
    last ``REPEAT_AFTER`` seconds; returns how many were queued."""
    if not notices or not targets:
        return 0
    async with db.transaction() as session:
        outbox = OutboxRepository(session)
        recent = await outbox.notices_since(now - REPEAT_AFTER)
        rows = [
            row
            for row in notice_rows(notices, targets, now)
            if (row["channel"], row["payload"]["notice"]) not in recent
        ]
        await outbox.add_many(rows)
    return len(rows)
