"""People's own subscriptions (``/notify me``), keyed by platform and user id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SubscriptionRow

EVERY_RULE = "*"
"""The ``rule`` of a subscription to every rule (rule names never hold a ``*``)."""


class SubscriptionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def save(self, platform: str, user_id: str, rule: str, at: float, **values: Any) -> bool:
        """Create or replace the person's subscription to ``rule``; True if it existed."""
        row = await self.session.get(SubscriptionRow, (platform, user_id, rule))
        if row is None:
            self.session.add(
                SubscriptionRow(
                    platform=platform,
                    user_id=user_id,
                    rule=rule,
                    created_at=at,
                    updated_at=at,
                    **values,
                )
            )
            return False
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = at
        return True

    async def of(self, platform: str, user_id: str) -> Sequence[SubscriptionRow]:
        """One person's subscriptions, every rule first, then by rule name."""
        query = select(SubscriptionRow).where(
            SubscriptionRow.platform == platform, SubscriptionRow.user_id == user_id
        )
        rows = (await self.session.scalars(query)).all()
        return sorted(rows, key=lambda row: (row.rule != EVERY_RULE, row.rule))

    async def remove(
        self, platform: str, user_id: str, rule: str | None = None
    ) -> Sequence[SubscriptionRow]:
        """Remove the person's subscription to ``rule``, or all of them; returns what
        was removed."""
        gone = [row for row in await self.of(platform, user_id) if rule in (None, row.rule)]
        if gone:
            query = delete(SubscriptionRow).where(
                SubscriptionRow.platform == platform, SubscriptionRow.user_id == user_id
            )
            if rule is not None:
                query = query.where(SubscriptionRow.rule == rule)
            await self.session.execute(query)
        return gone

    async def for_rules(self, rules: Iterable[str]) -> Sequence[SubscriptionRow]:
        """The subscriptions to any of ``rules``, and to every rule."""
        wanted = sorted({*rules, EVERY_RULE})
        query = select(SubscriptionRow).where(SubscriptionRow.rule.in_(wanted))
        return (await self.session.scalars(query)).all()
