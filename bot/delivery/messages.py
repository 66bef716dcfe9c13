"""Which platform message an update goes to: storm grouping and the hourly cap.

Every incident message is a group, most of one incident. An incident that opens on a
target within ``STORM_WAIT`` of a message posted there joins that message (edited in
place: one message for a storm, one line per incident, each with its own buttons)
instead of posting its own; nobody waits for a group to fill, so the first incident of
a storm is posted at once. A critical incident never joins: it gets its own message and
its own ping. Past a cap, an incident is not posted; one "N more not posted" message per
cap, target and hour says so, edited as N grows. There are two caps, one mechanism: a
rule's ``max_per_hour`` (its new messages on a target) and a destination's (the new
messages of every rule on each of its targets; monitors.destinations.caps). Both hold
back critical incidents too: a cap is the volume a channel's owner asked for, and a
real outage is exactly when criticals come by the dozen (each its own message, never
joining a storm); the notice pages, so the trace is never silent.

Incidents that join a message together (a storm claimed in one batch) are shown
by one edit, not one each: platforms limit edits (Slack about 50 a minute).

A post or a join is decided once, in the dispatcher's transaction before anything is
sent, and recorded there (the incident's message row, its group's members); a crash or
a failure before the platform's answer is recorded then carries out the same decision
again: a post is posted again (the adapter first looks for the one whose answer was
lost, by its metadata or nonce), a join edits the storm's message again. Deciding
afresh could show one incident in two messages: its lost post, and a storm it joined
on the retry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from monitors.destinations.caps import KEY as DESTINATION_LIMIT
from monitors.incidents.cards import IncidentCard, incident_card
from storage.models import IncidentRow, MessageGroupRow, OutboxRow
from storage.repositories import IncidentRepository, MessageRepository
from storage.repositories.messages import CAPPED, DESTINATION_CAPPED, INCIDENTS

POSTING = ""
"""The message reference of an incident whose post was decided and not yet answered."""
STORM_WAIT = 30.0
"""Seconds after a message is posted on a target during which new incidents join it."""
CAP_WINDOW = 3600.0
DEFAULT_MAX_PER_HOUR = 10


class Route(StrEnum):
    POST = "post"
    """A new message of its own (a group of one, others may join within the wait)."""
    JOIN = "join"
    """Into a message posted moments ago on the target: edit it to show one more."""
    EDIT = "edit"
    """The incident's message exists: edit it in place."""
    CAPPED = "capped"
    """Past a cap: not posted; the cap's "N more not posted" message says so."""
    DROP = "drop"
    """An update of an incident that was never posted on the target: nothing to edit."""


@dataclass(frozen=True)
class Cap:
    """A limit on new messages an hour on a target: a rule's, or a destination's."""

    kind: str
    """``CAPPED`` (a rule's) or ``DESTINATION_CAPPED``: the kind of its notice's group."""
    owner: str
    """The rule, or the destination."""
    limit: int

    @property
    def rule(self) -> str | None:
        """Whose messages count: the rule's, or (None) every rule's."""
        return self.owner if self.kind == CAPPED else None


def caps_of(row: OutboxRow, rule: str) -> list[Cap]:
    """The caps on ``row`` (from its payload, written when it was queued): the rule's,
    then its destination's; a cap of 0 is none."""
    limits = row.payload.get("limits", {})
    found = [Cap(CAPPED, rule, int(limits.get("max_per_hour", DEFAULT_MAX_PER_HOUR)))]
    destination = limits.get(DESTINATION_LIMIT)
    if destination:
        found.append(Cap(DESTINATION_CAPPED, destination["name"], int(destination["max_per_hour"])))
    return [cap for cap in found if cap.limit > 0]


@dataclass(frozen=True)
class Plan:
    route: Route
    ref: str | None = None
    """The message to edit; None to post one."""
    group: MessageGroupRow | None = None
    cards: tuple[IncidentCard, ...] = ()
    """For a message several incidents share, every one of them as it stands now (the
    delivered row's own card replaces its incident's); empty for a message of one."""
    cap: Cap | None = None
    """For ``CAPPED``: the cap it is past."""
    chart: bool = False
    """The message carries its incident's chart (bot.delivery.charts)."""


class MessagePlanner:
    """Plans and records messages, in the caller's transaction."""

    def __init__(self, session: AsyncSession, now: float) -> None:
        self.messages = MessageRepository(session)
        self.incidents = IncidentRepository(session)
        self.now = now

    async def plan(self, row: OutboxRow, max_group: int) -> Plan:
        """What to do with ``row``; a post or a join is recorded as decided (see the
        module's docstring), in the caller's transaction."""
        assert row.incident_id is not None
        message = await self.messages.of(row.incident_id, row.channel)
        group = (
            await self.messages.group(message.group_id) if message and message.group_id else None
        )
        if message is not None and message.message_ref == POSTING:  # decided, never answered
            return Plan(Route.POST, None, group)
        if message is not None and (group is None or group.kind == INCIDENTS):
            members = group.members if group else [row.incident_id]
            ref = group.message_ref if group and group.message_ref else message.message_ref
            shared = await self._shared(members)
            charted = message.chart_at is not None and not shared
            return Plan(Route.EDIT, ref, group, shared, chart=charted)
        if message is not None and not row.notify:  # capped, and this is no page
            return Plan(Route.DROP)
        incident = (await self.incidents.get_many([row.incident_id]))[row.incident_id]
        if max_group > 1 and incident.severity != "critical":
            since = self.now - STORM_WAIT
            joinable = await self.messages.joinable(row.channel, since, max_group)
            if joinable is not None and row.incident_id not in joinable.members:
                members = [*joinable.members, row.incident_id]
                joinable.members = members
                assert joinable.message_ref is not None
                await self.messages.place(
                    row.incident_id, row.channel, joinable.message_ref, joinable.id, self.now
                )
                return Plan(Route.JOIN, joinable.message_ref, joinable, await self._shared(members))
        cap = None if incident.test else await self._over_cap(row, incident)
        if cap is not None:
            since = self.now - CAP_WINDOW
            notice = await self.messages.capped_since(row.channel, cap.kind, cap.owner, since)
            return Plan(Route.CAPPED, notice.message_ref if notice else None, notice, cap=cap)
        group = await self.messages.add_group(
            row.channel, incident.rule, INCIDENTS, self.now, [row.incident_id], None
        )
        await self.messages.place(row.incident_id, row.channel, POSTING, group.id, self.now)
        return Plan(Route.POST, None, group)

    async def take_along(
        self, plan: Plan, rows: Sequence[OutboxRow], max_group: int
    ) -> tuple[Plan, list[OutboxRow]]:
        """Of ``rows`` (waiting for the same target), those that would join ``plan``'s
        message too, and the plan showing them all: one edit for a storm's batch. Their
        joining is recorded as decided, as ``plan`` records a join."""
        if plan.route is not Route.JOIN or plan.group is None or not rows:
            return plan, []
        members = list(plan.group.members)
        target = rows[0].channel
        ids = [r.incident_id for r in rows if r.incident_id is not None]
        placed = await self.messages.placed(ids, target)
        found = await self.incidents.get_many([i for i in ids if i not in placed])
        taken = [
            row
            for row in rows
            if row.incident_id in found
            and row.incident_id not in members
            and found[row.incident_id].severity != "critical"
        ][: max(max_group - len(members), 0)]
        if not taken:
            return plan, []
        group, ref = plan.group, plan.ref
        assert ref is not None
        group.members = [*group.members, *(row.incident_id for row in taken)]
        for row in taken:
            assert row.incident_id is not None
            await self.messages.place(row.incident_id, row.channel, ref, group.id, self.now)
        return replace(plan, cards=await self._shared(group.members)), taken

    async def _over_cap(self, row: OutboxRow, incident: IncidentRow) -> Cap | None:
        """The first cap the target is at: the rule's, then its destination's."""
        since = self.now - CAP_WINDOW
        for cap in caps_of(row, incident.rule):
            if await self.messages.posts_since(row.channel, cap.rule, since) >= cap.limit:
                return cap
        return None

    async def _shared(self, members: Sequence[int]) -> tuple[IncidentCard, ...]:
        """The cards of a shared message's incidents; none for a message of one."""
        if len(members) < 2:
            return ()
        found = await self.incidents.get_many(list(members))
        return tuple(incident_card(found[m], self.now) for m in members if m in found)

    async def record(self, row: OutboxRow, plan: Plan, ref: str, rule: str) -> None:
        """The platform accepted the message ``ref``: remember what it shows."""
        assert row.incident_id is not None
        group = await self.messages.group(plan.group.id) if plan.group else None
        if plan.route is Route.POST and group is None:  # its group was not recorded
            group = await self.messages.add_group(
                row.channel, rule, INCIDENTS, self.now, [row.incident_id], ref
            )
        elif plan.route is Route.CAPPED and group is None:
            cap = plan.cap or Cap(CAPPED, rule, 0)
            group = await self.messages.add_group(
                row.channel, cap.owner, cap.kind, self.now, [row.incident_id], ref
            )
        elif group is not None:
            if row.incident_id not in group.members:
                group.members = [*group.members, row.incident_id]
            group.message_ref = ref
        await self.messages.place(
            row.incident_id, row.channel, ref, group.id if group else None, self.now
        )


def capped_card(cap: Cap, held_back: int) -> IncidentCard:
    """The "N more not posted" message of a cap on a target."""
    more = "1 more incident" if held_back == 1 else f"{held_back} more incidents"
    if cap.kind == CAPPED:
        why = f"{cap.owner} may post {cap.limit} messages an hour here (max_per_hour)"
    else:
        why = (
            f"{cap.owner} takes {cap.limit} new messages an hour, all rules together "
            "(its max_per_hour)"
        )
    return IncidentCard.note(
        f"{cap.owner}: {more} not posted this hour",
        (("Why", why), ("Where to look", "/alerts list")),
        rule=cap.owner if cap.kind == CAPPED else "",
    )
