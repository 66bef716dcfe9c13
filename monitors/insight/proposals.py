"""Rule changes shown before they are saved (``/rule set`` with its backtest, a coaching
proposal), then applied or cancelled by an admin.

A proposal is a row of ``proposals``, named by a random token; its Apply and Cancel
buttons carry only that token (``tocsin:apply:<token>``), so a forged or edited id
cannot apply anything but what was shown, and Apply still works after a restart. Apply
saves through the same audited verbs as typing the change (``RuleAdmin.set_threshold``
or ``update``), once, and only while the rule is still what the backtest replayed: a
rule changed meanwhile (by anyone, anywhere) makes the proposal stale. Proposals expire
after ``EXPIRES_AFTER``."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from monitors.actors import Actor
from monitors.durations import format_duration
from monitors.errors import Invalid, NotFound
from monitors.formatting import short_time
from monitors.rules.admin import RuleAdmin, require_admin
from monitors.rules.rulebook import file_version
from monitors.rules.schema import Rule
from storage.db import Database
from storage.models import ProposalRow
from storage.repositories import ProposalRepository
from storage.vocabulary import Decision

EXPIRES_AFTER = 3600.0
TOKEN_BYTES = 16
"""128 random bits: a token cannot be guessed."""


@dataclass(frozen=True)
class Change:
    """What a proposal saves: one level's threshold (as ``/rule set`` does), or a JSON
    Merge Patch (as ``PATCH /v1/rules/{name}`` does)."""

    level: str | None = None
    value: float | None = None
    patch: dict[str, Any] | None = None

    def as_patch(self) -> dict[str, Any]:
        if self.patch is not None:
            return self.patch
        return {"thresholds": {self.level: self.value}}

    def to_json(self) -> dict[str, Any]:
        if self.patch is not None:
            return {"patch": self.patch}
        return {"level": self.level, "value": self.value}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        if "patch" in data:
            return cls(patch=dict(data["patch"]))
        return cls(level=str(data["level"]), value=float(data["value"]))


@dataclass(frozen=True)
class Applied:
    """What Apply saved: the rule as it is now, and for a threshold its level and the
    value it had."""

    rule: Rule
    change: Change
    old: float | None = None


class Proposals:
    def __init__(
        self, db: Database, rules: RuleAdmin, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.rules = rules
        self.clock = clock
        self._deciding = asyncio.Lock()

    async def propose(self, rule: Rule, change: Change, actor: Actor, summary: str = "") -> str:
        """Keep ``change`` of ``rule`` (as it is now) for Apply; returns its token."""
        require_admin(actor, "propose rule changes")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self.clock()
        async with self.db.transaction() as session:
            ProposalRepository(session).add(
                token=token,
                rule=rule.name,
                change=change.to_json(),
                rule_version=file_version(rule),
                summary=summary,
                created_at=now,
                created_by=actor.label,
                expires_at=now + EXPIRES_AFTER,
            )
        return token

    async def apply(self, token: str, actor: Actor) -> Applied:
        """Save the proposed change (audited, as typing it would), once."""
        require_admin(actor, "apply rule changes")
        async with self._deciding:
            row = await self._open(token)
            change = Change.from_json(row.change)
            current = self.rules.get(row.rule)
            if file_version(current) != row.rule_version:
                raise Invalid(
                    f"{row.rule} has changed since this was proposed, so the backtest shown "
                    f"no longer describes it; nothing was changed. Propose it again "
                    f"(/rule show {row.rule} says what it is now)."
                )
            old = None
            if change.patch is None:
                assert change.level is not None and change.value is not None
                rule, _, old = await self.rules.set_threshold(
                    row.rule, change.value, change.level, actor
                )
            else:
                rule = await self.rules.update(row.rule, change.patch, actor)
            await self._decide(token, Decision.APPLIED, actor)
        return Applied(rule, change, old)

    async def cancel(self, token: str, actor: Actor) -> str:
        """Drop the proposal; returns the rule's name. Nothing about the rule changes."""
        require_admin(actor, "cancel rule changes")
        async with self._deciding:
            row = await self._open(token)
            await self._decide(token, Decision.CANCELLED, actor)
        return row.rule

    async def _open(self, token: str) -> ProposalRow:
        """The undecided, unexpired proposal ``token``, or a refusal saying why not."""
        async with self.db.read() as session:
            row = await ProposalRepository(session).get(token)
        if row is None:
            raise NotFound(
                "There is no such proposal (it may have expired and been cleared); "
                "propose the change again."
            )
        if row.decided_at is not None:
            raise Invalid(
                f"This change to {row.rule} was already {row.decision} by {row.decided_by} "
                f"at {short_time(row.decided_at)}."
            )
        if row.expires_at <= self.clock():
            raise Invalid(
                f"This proposal expired at {short_time(row.expires_at)} (proposals last "
                f"{format_duration(EXPIRES_AFTER)}); nothing was changed. Propose it again "
                "for a fresh backtest."
            )
        return row

    async def _decide(self, token: str, decision: Decision, actor: Actor) -> None:
        async with self.db.transaction() as session:
            await ProposalRepository(session).decide(token, decision, actor.label, self.clock())
