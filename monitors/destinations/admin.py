"""Destinations through the API and chat: list them (secrets redacted), save new ones
(secrets encrypted, surviving restarts), delete saved ones, and send a test message.

The config file's destinations are read-only here; saved ones join them in the routing
the announcer uses, so rules created afterwards can name them."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from monitors.actors import Actor
from monitors.destinations.network import (
    AddressPolicy,
    AddressRefused,
    Lookup,
    Unresolvable,
    checked_addresses,
    system_lookup,
)
from monitors.destinations.secrets import SecretBox, SecretUnreadable
from monitors.errors import ActionError, Invalid, NotFound
from monitors.incidents.announce import Announcer
from monitors.incidents.cards import TEST_COLOR, IncidentCard
from monitors.routing import CONSOLE_DESTINATION, CONSOLE_TARGET, Destination
from monitors.rules.admin import require_admin
from monitors.rules.rulebook import RuleBook
from monitors.rules.rulefile import validation_errors
from monitors.rules.schema import NAME_PATTERN
from storage.db import Database
from storage.repositories import AuditRepository, DestinationRepository

TEST_EVENT = "test"
"""The event of a test message (no incident, no outbox row)."""
FILE, API = "file", "api"


@dataclass(frozen=True)
class DestinationOptions:
    """What the service settings say about destinations."""

    secret_key: str | None = None
    policy: AddressPolicy = field(default_factory=AddressPolicy)
    email_enabled: bool = False
    """Whether an ``email:`` server is configured (email destinations need one)."""
    lookup: Lookup = system_lookup


@dataclass(frozen=True)
class DestinationEntry:
    """A destination as listed: where it came from, and for a saved one that can no
    longer be read (its secret does not decrypt), why."""

    name: str
    destination: Destination | None
    origin: str
    created_by: str = ""
    created_at: float | None = None
    problem: str = ""


@dataclass(frozen=True)
class TestAnswer:
    """What one place answered a test message: ``summary`` in a line (``HTTP 200``,
    ``250 2.0.0 Ok: queued``), with the status code and an excerpt of the body."""

    target: str
    ok: bool
    summary: str
    status: int | None = None
    body: str = ""


class TestSender(Protocol):
    """Sends a test message to one target (the service's adapters do)."""

    async def send_test(self, target: str, card: IncidentCard, line: str) -> TestAnswer: ...


def sample_card(name: str, actor: Actor) -> IncidentCard:
    """The card of a test message: no incident behind it."""
    return IncidentCard(
        incident_id=0,
        title=f"[TEST] Tocsin test message to {name}",
        status="open",
        severity="warning",
        color=TEST_COLOR,
        fields=(("Destination", name), ("Sent by", actor.mention)),
        test=True,
        footer="A test message: there is no incident and nothing to do.",
        rule="tocsin-test",
    )


def _exists_already(name: str) -> ActionError:
    return ActionError(f"A destination named '{name}' exists already.")


def _field_problems(label: str, exc: ValidationError) -> str:
    problems = validation_errors(label, exc, Destination.model_fields)
    return "; ".join(f"{problem.field}: {problem.reason}" for problem in problems)


class DestinationAdmin:
    def __init__(
        self,
        db: Database,
        announcer: Announcer,
        rulebook: RuleBook,
        options: DestinationOptions | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.announcer = announcer
        self.rulebook = rulebook
        self.options = options or DestinationOptions()
        self.clock = clock
        self.box = SecretBox(self.options.secret_key)
        self._file: dict[str, Destination] = dict(announcer.routing.destinations)
        self._saved: dict[str, DestinationEntry] = {}
        self._lock = asyncio.Lock()
        self.load_errors: list[str] = []
        self.sender: TestSender | None = None
        """Set by the running service; without it test messages cannot be sent."""

    # ------------------------------------------------------------------ reading

    async def load(self) -> None:
        """Read the saved destinations and add them to the routing."""
        async with self.db.read() as session:
            rows = await DestinationRepository(session).all()
        for row in rows:
            if row.name in self._file:
                self.load_errors.append(
                    f"saved destination '{row.name}' is ignored: the config file now defines "
                    "a destination of that name, which is used instead"
                )
                continue
            entry = self._entry(row.name, row.spec, row.sealed, row.created_by, row.created_at)
            if entry.problem:
                self.load_errors.append(
                    f"saved destination '{row.name}' cannot be used: {entry.problem}; "
                    f"DELETE /v1/destinations/{row.name} and create it again"
                )
            self._saved[row.name] = entry
        self._publish()

    def _entry(
        self, name: str, spec: dict[str, Any], sealed: str | None, by: str, at: float
    ) -> DestinationEntry:
        try:
            secret = self.box.open(sealed) if sealed else {}
            full = dict(spec)
            if secret:
                full["webhook"] = {**(spec.get("webhook") or {}), **secret}
            destination = Destination.model_validate(full)
        except SecretUnreadable as exc:
            return DestinationEntry(name, None, API, by, at, str(exc))
        except ValidationError as exc:
            return DestinationEntry(name, None, API, by, at, _field_problems(name, exc))
        return DestinationEntry(name, destination, API, by, at)

    def _publish(self) -> None:
        saved = {n: e.destination for n, e in self._saved.items() if e.destination is not None}
        routing = self.announcer.routing
        self.announcer.routing = replace(routing, destinations={**self._file, **saved})

    def all(self) -> list[DestinationEntry]:
        entries = [DestinationEntry(n, d, FILE) for n, d in self._file.items()]
        return sorted([*entries, *self._saved.values()], key=lambda entry: entry.name)

    def get(self, name: str) -> DestinationEntry:
        if name in self._file:
            return DestinationEntry(name, self._file[name], FILE)
        if name in self._saved:
            return self._saved[name]
        known = ", ".join(entry.name for entry in self.all()) or "none yet"
        raise NotFound(f"There is no destination named '{name}'. Destinations: {known}.")

    def configured(self, name: str) -> Destination | None:
        """The destination adapters deliver ``email:NAME`` / ``webhook:NAME`` to."""
        return self.announcer.routing.destinations.get(name)

    # ------------------------------------------------------------------ changing

    async def create(self, body: Mapping[str, Any], actor: Actor) -> DestinationEntry:
        """``{"name": "ops-hook", "webhook": {...}, "min_severity": "critical"}``."""
        require_admin(actor, "create destinations")
        name = body.get("name")
        spec = {key: value for key, value in body.items() if key not in ("name", "origin")}
        if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
            raise Invalid(
                f"name: {name!r} is not a destination name; use lower-case letters, digits, "
                "'.', '_' or '-' (up to 63), e.g. ops-hook"
            )
        try:
            destination = Destination.model_validate(spec)
        except ValidationError as exc:
            raise Invalid(f"Invalid destination '{name}': {_field_problems(name, exc)}") from None
        await self._check(name, destination)
        async with self._lock:
            if name == CONSOLE_DESTINATION or name in self._file or name in self._saved:
                raise _exists_already(name)
            return await self._save(name, destination, actor)

    async def _check(self, name: str, destination: Destination) -> None:
        if destination.email and not self.options.email_enabled:
            raise Invalid(
                f"Destination '{name}' sends email, but Tocsin has no SMTP server; add an "
                "email: section (host, port, from) to the config file and restart"
            )
        if destination.webhook is not None:
            if not self.box.available:
                self.box.seal({})  # raises SecretsUnavailable, which says what to set
            try:
                await checked_addresses(
                    destination.webhook.url, self.options.policy, self.options.lookup
                )
            except AddressRefused as exc:
                raise Invalid(f"Destination '{name}': webhook.url: {exc}") from None
            except Unresolvable:
                pass  # checked again at every delivery; a test message shows it

    async def _save(self, name: str, destination: Destination, actor: Actor) -> DestinationEntry:
        now = self.clock()
        spec = destination.model_dump(mode="json", exclude_defaults=True, exclude={"webhook"})
        sealed = None
        if destination.webhook is not None:
            spec["webhook"] = {"url": destination.webhook.url}
            sealed = self.box.seal(destination.webhook.sealed_parts())
        try:
            async with self.db.transaction() as session:
                DestinationRepository(session).add(name, spec, sealed, now, actor.label)
                AuditRepository(session).record(
                    now, actor.label, "destination.create", name, redacted(destination)
                )
        except IntegrityError:  # another replica saved the name first
            raise _exists_already(name) from None
        entry = DestinationEntry(name, destination, API, actor.label, now)
        self._saved[name] = entry
        self._publish()
        return entry

    async def delete(self, name: str, actor: Actor) -> DestinationEntry:
        require_admin(actor, "delete destinations")
        entry = self.get(name)
        if entry.origin == FILE:
            raise ActionError(
                f"Destination '{name}' is defined in the config file; remove it there "
                "(the API deletes only the destinations it saved)"
            )
        users = [
            rule.name
            for rule in self.rulebook.all()
            if name in rule.channels or name in rule.escalate_to
        ]
        if users:
            raise ActionError(
                f"Rules {', '.join(users)} send to '{name}'; take it out of their channels "
                "and escalate_to first"
            )
        async with self._lock:
            now = self.clock()
            async with self.db.transaction() as session:
                await DestinationRepository(session).delete(name)
                detail = redacted(entry.destination) if entry.destination else {}
                AuditRepository(session).record(
                    now, actor.label, "destination.delete", name, detail
                )
            self._saved.pop(name, None)
            self._publish()
        return entry

    # ------------------------------------------------------------------ testing

    async def test(self, name: str, actor: Actor) -> list[TestAnswer]:
        """Send a test message to every place of ``name`` and say what each answered."""
        require_admin(actor, "send test messages")
        if name == CONSOLE_DESTINATION:
            targets: tuple[str, ...] = (CONSOLE_TARGET,)
        else:
            entry = self.get(name)
            if entry.destination is None:
                raise ActionError(f"Destination '{name}' cannot be used: {entry.problem}")
            targets = entry.destination.targets(name)
        if self.sender is None:
            raise ActionError("Test messages are sent by the running service; start it first")
        card = sample_card(name, actor)
        line = f"Test message sent by {actor.mention}"
        answers = [await self.sender.send_test(target, card, line) for target in targets]
        async with self.db.transaction() as session:
            AuditRepository(session).record(
                self.clock(),
                actor.label,
                "destination.test",
                name,
                {
                    "answers": [
                        {"target": a.target, "ok": a.ok, "summary": a.summary} for a in answers
                    ]
                },
            )
        return answers


def redacted(destination: Destination) -> dict[str, Any]:
    """A destination as the API and the audit log show it: no secret, no header value."""
    shown = destination.model_dump(mode="json", exclude_defaults=True, exclude={"webhook"})
    if destination.webhook is not None:
        shown["webhook"] = destination.webhook.redacted()
    return shown
