"""The effective rule set: the rule file, overridden by rules saved through chat or the
API (which survive restarts), minus rules deleted there.

Rules as code: the file (kept in git) is the source of truth, and a saved rule is an
*override* of the file's rule of the same name, recorded with the version of the file's
rule it was saved against (``file_version``). An override that comes back to the file's
values is dropped, so the rule follows the file again; ``RuleAdmin.reset`` drops one on
request; and at start-up an override whose file rule has changed since is reported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from monitors.rules.schema import Rule
from storage.db import Database
from storage.repositories import RuleRepository

FILE = "file"
OVERRIDE = "override"
SAVED = "saved"
"""Where a rule's values come from: the config file as written; a saved override of the
file's rule; or saved only (created through the API, or no longer in the file)."""


def file_version(rule: Rule) -> str:
    """A stable fingerprint of a file rule's values (SHA-256 of its canonical JSON)."""
    text = json.dumps(rule.to_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class FieldChange:
    """One field where a saved rule differs from the file's: ``thresholds.warning``,
    file 800, saved 1000 (None where one side does not set it)."""

    field: str
    file: Any
    saved: Any


def differences(file_rule: Rule, rule: Rule) -> tuple[FieldChange, ...]:
    """The fields of ``rule`` that differ from ``file_rule``, maps key by key."""
    ours, theirs = file_rule.to_json(), rule.to_json()
    changes = []
    for name in ours:
        before, after = ours[name], theirs.get(name)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            keys = [*before, *(key for key in after if key not in before)]
            changes.extend(
                FieldChange(f"{name}.{key}", before.get(key), after.get(key))
                for key in keys
                if before.get(key) != after.get(key)
            )
        else:
            changes.append(FieldChange(name, before, after))
    return tuple(changes)


@dataclass(frozen=True)
class Saved:
    """What the database holds for a rule name: an override or saved rule, or a
    deletion (a tombstone), and the version of the file's rule it was saved against
    (None: there was no file rule, or it was saved before versions were recorded)."""

    updated_by: str
    updated_at: float
    file_version: str | None
    deleted: bool = False


@dataclass(frozen=True)
class RuleOrigin:
    source: str  # FILE, OVERRIDE or SAVED
    updated_by: str = ""
    updated_at: float | None = None
    differs: tuple[FieldChange, ...] = ()
    """For an override: the fields that differ from the file's rule now."""
    file_changed: bool = False
    """For an override: the file's rule is no longer the one it was saved against."""


class RuleBook:
    def __init__(self, file_rules: Sequence[Rule] = ()) -> None:
        self._file = {rule.name: rule for rule in file_rules}
        self._rules: dict[str, Rule] = dict(self._file)
        self._saved: dict[str, Saved] = {}
        self._listeners: list[Callable[[], None]] = []
        self.load_errors: list[str] = []
        self.unloadable: set[str] = set()
        """Saved rules that no longer validate: not evaluated, but not removed either."""

    async def load(self, db: Database) -> None:
        """Apply saved overrides and deletions on top of the file's rules."""
        async with db.transaction() as session:
            rows = await RuleRepository(session).all()
        for row in rows:
            saved = Saved(row.updated_by, row.updated_at, row.file_version, row.deleted)
            if row.deleted:
                self._rules.pop(row.name, None)
                self._saved[row.name] = saved
                continue
            try:
                rule = Rule.model_validate(row.spec)
            except ValidationError as exc:  # a saved rule no longer valid: keep the file's
                self.load_errors.append(
                    f"saved rule '{row.name}' ignored: it no longer validates, so it is not "
                    f"evaluated and its incidents stay as they are; POST /v1/rules a "
                    f"corrected rule of that name to replace it. {exc}"
                )
                self.unloadable.add(row.name)
                continue
            self._rules[row.name] = rule
            self._saved[row.name] = saved
        self._changed()

    def all(self) -> list[Rule]:
        return sorted(self._rules.values(), key=lambda rule: rule.name)

    def enabled(self) -> list[Rule]:
        return [rule for rule in self.all() if rule.enabled]

    def get(self, name: str) -> Rule | None:
        return self._rules.get(name)

    def file_rule(self, name: str) -> Rule | None:
        """The config file's rule of that name, whatever overrides it."""
        return self._file.get(name)

    def saved(self, name: str) -> Saved | None:
        """What the database holds for ``name`` (an override, saved rule or deletion)."""
        return self._saved.get(name)

    def saved_names(self) -> list[str]:
        return sorted(self._saved)

    def origin(self, name: str) -> RuleOrigin | None:
        rule, saved, file_rule = self._rules.get(name), self._saved.get(name), self._file.get(name)
        if rule is None:
            return None
        if saved is None:
            return RuleOrigin(FILE)
        if file_rule is None:
            return RuleOrigin(SAVED, saved.updated_by, saved.updated_at)
        return RuleOrigin(
            OVERRIDE,
            saved.updated_by,
            saved.updated_at,
            differences(file_rule, rule),
            saved.file_version != file_version(file_rule),
        )

    def put(self, rule: Rule, saved: Saved) -> None:
        """Record a rule already saved in the database."""
        self._rules[rule.name] = rule
        self._saved[rule.name] = saved
        self.unloadable.discard(rule.name)  # what the database holds validates again
        self._changed()

    def follow_file(self, name: str) -> Rule | None:
        """The database no longer holds anything for ``name``: the file's rule (if any)
        applies again. Returns it."""
        self._saved.pop(name, None)
        self.unloadable.discard(name)
        file_rule = self._file.get(name)
        if file_rule is None:
            self._rules.pop(name, None)
        else:
            self._rules[name] = file_rule
        self._changed()
        return file_rule

    def remove(self, name: str, saved: Saved) -> None:
        """Record a deletion already saved in the database (a tombstone)."""
        self._rules.pop(name, None)
        self._saved[name] = saved
        self._changed()

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()
