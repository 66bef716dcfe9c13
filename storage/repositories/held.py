"""News held back for a digest (see monitors.digests): held, looked up, and released
into the digest that lists it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import HeldRow
from storage.repositories.outbox import chunks


class HeldRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def hold(self, holder: str, pairs: Iterable[tuple[int, str]], at: float) -> int:
        """Hold each (incident, target) for ``holder``'s next digest, unless it already
        waits there; returns how many were added."""
        wanted = set(pairs)
        if not wanted:
            return 0
        waiting = await self.waiting_pairs(holder, wanted)
        added = [
            HeldRow(holder=holder, target=target, incident_id=incident, held_at=at, digest=None)
            for incident, target in sorted(wanted - waiting)
        ]
        self.session.add_all(added)
        await self.session.flush()
        return len(added)

    async def waiting_pairs(
        self, holder: str, pairs: Iterable[tuple[int, str]]
    ) -> set[tuple[int, str]]:
        """Which of the (incident, target) pairs wait in ``holder``'s next digest."""
        found: set[tuple[int, str]] = set()
        for chunk in chunks(list(pairs)):
            query = select(HeldRow.incident_id, HeldRow.target).where(
                HeldRow.holder == holder,
                HeldRow.digest.is_(None),
                tuple_(HeldRow.incident_id, HeldRow.target).in_(chunk),
            )
            found.update((int(i), str(t)) for i, t in (await self.session.execute(query)).all())
        return found

    async def ever_held(self, pairs: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        """Which of the (incident, target) pairs were held at some time, by anyone."""
        found: set[tuple[int, str]] = set()
        for chunk in chunks(list(pairs)):
            query = (
                select(HeldRow.incident_id, HeldRow.target)
                .where(tuple_(HeldRow.incident_id, HeldRow.target).in_(chunk))
                .distinct()
            )
            found.update((int(i), str(t)) for i, t in (await self.session.execute(query)).all())
        return found

    async def waiting(self, holder: str, before: float) -> Sequence[HeldRow]:
        """What ``holder`` held before ``before`` that no digest listed yet, oldest first."""
        query = (
            select(HeldRow)
            .where(HeldRow.holder == holder, HeldRow.digest.is_(None), HeldRow.held_at < before)
            .order_by(HeldRow.held_at, HeldRow.id)
            .with_for_update()
        )
        return (await self.session.scalars(query)).all()

    async def release(self, ids: Sequence[int], digest: str) -> None:
        """Mark the rows ``ids`` as listed by ``digest``."""
        if ids:
            query = update(HeldRow).where(HeldRow.id.in_(list(ids))).values(digest=digest)
            await self.session.execute(query)

    async def holders_waiting(self) -> list[str]:
        """Holders with anything waiting for a digest."""
        query = select(HeldRow.holder).where(HeldRow.digest.is_(None)).distinct()
        return list((await self.session.scalars(query)).all())
