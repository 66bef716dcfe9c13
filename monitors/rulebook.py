"""The effective rule set: the rule file, overridden by rules saved through chat or the
API (which survive restarts), minus rules deleted there."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from monitors.rules import Rule
from storage.db import Database
from storage.repositories import RuleRepository


@dataclass(frozen=True)
class RuleOrigin:
    source: str  # "file" or "saved"
    updated_by: str = ""
    updated_at: float | None = None


class RuleBook:
    def __init__(self, file_rules: Sequence[Rule] = ()) -> None:
        self._file = {rule.name: rule for rule in file_rules}
        self._rules: dict[str, Rule] = dict(self._file)
        self._origins: dict[str, RuleOrigin] = {name: RuleOrigin("file") for name in self._file}
        self._listeners: list[Callable[[], None]] = []
        self.load_errors: list[str] = []
        self.unloadable: set[str] = set()
        """Saved rules that no longer validate: not evaluated, but not removed either."""

    async def load(self, db: Database) -> None:
        """Apply saved overrides and deletions on top of the file's rules."""
        async with db.transaction() as session:
            rows = await RuleRepository(session).all()
        for row in rows:
            if row.deleted:
                self._rules.pop(row.name, None)
                self._origins.pop(row.name, None)
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
            self._origins[row.name] = RuleOrigin("saved", row.updated_by, row.updated_at)
        self._changed()

    def all(self) -> list[Rule]:
        return sorted(self._rules.values(), key=lambda rule: rule.name)

    def enabled(self) -> list[Rule]:
        return [rule for rule in self.all() if rule.enabled]

    def get(self, name: str) -> Rule | None:
        return self._rules.get(name)

    def origin(self, name: str) -> RuleOrigin | None:
        return self._origins.get(name)

    def put(self, rule: Rule, by: str, at: float) -> None:
        """Record a rule already saved in the database."""
        self._rules[rule.name] = rule
        self._origins[rule.name] = RuleOrigin("saved", by, at)
        self._changed()

    def remove(self, name: str) -> None:
        self._rules.pop(name, None)
        self._origins.pop(name, None)
        self._changed()

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()
