"""Platform messages: which message shows an incident on a target, and the groups that
several incidents (or a rule's held-back incidents) share."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import MessageGroupRow, MessageRow

INCIDENTS, CAPPED, DESTINATION_CAPPED = "incidents", "capped", "dest_capped"
"""Group kinds: a message of incidents; the "N more not posted" message of a rule's
cap (``rule`` is the rule) or of a destination's (``rule`` is the destination)."""


class MessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of(self, incident_id: int, target: str) -> MessageRow | None:
        return await self.session.get(MessageRow, (incident_id, target))

    async def of_incident(self, incident_id: int) -> Sequence[MessageRow]:
        """The incident's messages on every target."""
        query = select(MessageRow).where(MessageRow.incident_id == incident_id)
        return (await self.session.scalars(query)).all()

    async def placed(self, incident_ids: Sequence[int], target: str) -> set[int]:
        """Which of ``incident_ids`` already have a message on ``target``."""
        query = select(MessageRow.incident_id).where(
            MessageRow.channel == target, MessageRow.incident_id.in_(incident_ids)
        )
        return set(await self.session.scalars(query))

    async def group(self, group_id: int) -> MessageGroupRow | None:
        return await self.session.get(MessageGroupRow, group_id, with_for_update=True)

    async def peek_group(self, group_id: int) -> MessageGroupRow | None:
        """The group, read without locking it (for a read transaction)."""
        return await self.session.get(MessageGroupRow, group_id)

    async def joinable(self, target: str, since: float, room: int) -> MessageGroupRow | None:
        """The newest posted group of incidents on ``target`` opened since ``since``
        with fewer than ``room`` members."""
        query = (
            select(MessageGroupRow)
            .where(
                MessageGroupRow.target == target,
                MessageGroupRow.kind == INCIDENTS,
                MessageGroupRow.opened_at >= since,
                MessageGroupRow.message_ref.is_not(None),
            )
            .order_by(MessageGroupRow.id.desc())
            .limit(1)
            .with_for_update()
        )
        group = (await self.session.scalars(query)).first()
        return group if group is not None and len(group.members) < room else None

    async def posts_since(self, target: str, rule: str | None, since: float) -> int:
        """New messages of ``rule`` (None: of every rule) on ``target`` since ``since``
        (a group counts once)."""
        query = select(func.count()).where(
            MessageGroupRow.target == target,
            MessageGroupRow.kind == INCIDENTS,
            MessageGroupRow.opened_at >= since,
        )
        if rule is not None:
            query = query.where(MessageGroupRow.rule == rule)
        return int(await self.session.scalar(query) or 0)

    async def capped_since(
        self, target: str, kind: str, owner: str, since: float
    ) -> MessageGroupRow | None:
        """The latest "N more not posted" message of a cap (``kind`` of ``owner``)."""
        query = (
            select(MessageGroupRow)
            .where(
                MessageGroupRow.target == target,
                MessageGroupRow.rule == owner,
                MessageGroupRow.kind == kind,
                MessageGroupRow.opened_at >= since,
            )
            .order_by(MessageGroupRow.id.desc())
            .limit(1)
            .with_for_update()
        )
        return (await self.session.scalars(query)).first()

    async def add_group(
        self, target: str, rule: str, kind: str, at: float, members: Sequence[int], ref: str | None
    ) -> MessageGroupRow:
        group = MessageGroupRow(
            target=target,
            rule=rule,
            kind=kind,
            opened_at=at,
            members=list(members),
            message_ref=ref,
        )
        self.session.add(group)
        await self.session.flush()
        return group

    async def place(
        self, incident_id: int, target: str, ref: str, group_id: int | None, at: float
    ) -> None:
        """Record that ``ref`` (in ``group_id``) shows the incident on ``target``."""
        row = await self.session.get(MessageRow, (incident_id, target))
        if row is None:
            self.session.add(
                MessageRow(
                    incident_id=incident_id,
                    channel=target,
                    message_ref=ref,
                    updated_at=at,
                    group_id=group_id,
                )
            )
        else:
            row.message_ref, row.group_id, row.updated_at = ref, group_id, at
