"""Who is acting in Slack: the user id Slack vouches for (the request is signed), their
handle as the display name, and the admin role from the config's ``slack.admins`` user
ids or membership of a ``slack.admin_groups`` user group. Never from a name."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from monitors.actors import ADMIN, Actor, person_name
from monitors.routing import Platform

log = logging.getLogger(__name__)
GROUPS_TTL = 300.0
"""Seconds a user group's members are cached: a change in Slack applies within this."""


class SlackPeople:
    def __init__(
        self,
        client: AsyncWebClient,
        admins: Sequence[str] = (),
        admin_groups: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.admins = frozenset(admins)
        self.admin_groups = tuple(admin_groups)
        self.clock = clock
        self._members: frozenset[str] = frozenset()
        self._members_read_at: float | None = None

    async def actor(self, user_id: str, handle: str | None) -> Actor:
        admin = user_id in self.admins or user_id in await self._group_members()
        return Actor(
            id=user_id,
            name=person_name(handle or user_id, Platform.SLACK),
            surface=Platform.SLACK,
            roles=frozenset({ADMIN}) if admin else frozenset(),
            admin_hint=(
                f"Admins are the Slack users listed under slack.admins in Tocsin's config "
                f"(yours is {user_id}), or members of its slack.admin_groups."
            ),
        )

    async def _group_members(self) -> frozenset[str]:
        if not self.admin_groups:
            return frozenset()
        now = self.clock()
        if self._members_read_at is not None and now - self._members_read_at < GROUPS_TTL:
            return self._members
        members: set[str] = set()
        for group in self.admin_groups:
            try:
                response = await self.client.usergroups_users_list(usergroup=group)
            except SlackApiError as exc:  # the listed admins still work; say why groups don't
                log.warning("cannot read Slack user group %s: %s", group, exc.response.data)
                return self._members
            members.update(response.get("users") or [])
        self._members, self._members_read_at = frozenset(members), now
        return self._members
