"""Changing rules from chat or the API. Admins only; every change is validated as a whole
rule, saved (overriding the file's rule across restarts) and audited in one transaction."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from monitors.actors import SYSTEM_NAME, Actor
from monitors.announce import Announcer, Journal
from monitors.anomaly.store import ModelStore
from monitors.engine import SeriesCache
from monitors.errors import ActionError, Invalid, NotFound, PermissionDenied
from monitors.resolution import mark_resolved
from monitors.rulebook import RuleBook
from monitors.rulefile import validation_errors
from monitors.rules import LEVELS, Rule, series_identity
from storage.db import Database
from storage.models import IncidentRow
from storage.repositories import (
    AnomalyModelRepository,
    AuditRepository,
    IncidentRepository,
    RuleRepository,
    SeriesRepository,
)


def require_admin(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        raise PermissionDenied(
            f"Only admins can {what}; ask an admin, or have one grant {actor.name} the admin role."
        )


def validate_rule(spec: dict[str, Any]) -> Rule:
    try:
        return Rule.model_validate(spec)
    except ValidationError as exc:
        label = f"rule '{spec.get('name')}'" if spec.get("name") else "rule"
        details = "; ".join(f"{e.field}: {e.reason}" for e in validation_errors(label, exc))
        raise Invalid(f"Invalid {label}: {details}") from None


class RuleAdmin:
    def __init__(
        self,
        db: Database,
        rulebook: RuleBook,
        cache: SeriesCache,
        announcer: Announcer,
        clock: Callable[[], float] = time.time,
        anomalies: ModelStore | None = None,
    ) -> None:
        self.db = db
        self.rulebook = rulebook
        self.cache = cache
        self.announcer = announcer
        self.clock = clock
        self.anomalies = anomalies or ModelStore(None)

    def get(self, name: str) -> Rule:
        rule = self.rulebook.get(name)
        if rule is None:
            known = ", ".join(r.name for r in self.rulebook.all()[:20]) or "none yet"
            raise NotFound(f"There is no rule named '{name}'. Rules: {known}.")
        return rule

    async def set_threshold(
        self, name: str, value: float, level: str | None, actor: Actor
    ) -> tuple[Rule, str, float | None]:
        """Set one level's threshold; returns (new rule, level, old value). Without a
        level the rule's lowest level is meant (the one that pages first)."""
        require_admin(actor, "change rule thresholds")
        if not math.isfinite(value):
            raise Invalid(f"{value!r} is not a usable threshold; give a finite number.")
        rule = self.get(name)
        if level is not None and level not in LEVELS:
            raise Invalid(f"'{level}' is not a level; use one of {', '.join(LEVELS)}.")
        level = level or rule.levels[0]
        old = rule.thresholds.get(level)
        if old == value:  # saving would pin the rule over the config file's for nothing
            return rule, level, old
        spec = rule.to_json()
        spec["thresholds"] = {**spec["thresholds"], level: value}
        try:
            checked = validate_rule(spec)
        except Invalid as exc:
            current = ", ".join(f"{lv} {rule.op} {rule.thresholds[lv]:g}" for lv in rule.levels)
            raise Invalid(f"{exc}; {rule.name} has {current}") from None
        new = await self._save(
            checked, actor, "rule.set", {"level": level, "old": old, "new": value}
        )
        return new, level, old

    async def set_enabled(self, name: str, enabled: bool, actor: Actor) -> tuple[Rule, bool]:
        """Returns the rule and whether anything changed."""
        require_admin(actor, "enable or disable rules")
        rule = self.get(name)
        if rule.enabled == enabled:
            return rule, False
        new = validate_rule({**rule.to_json(), "enabled": enabled})
        action = "rule.enable" if enabled else "rule.disable"
        verb = "enabled" if enabled else "disabled"
        return await self._save(new, actor, action, {}, retire=not enabled, verb=verb), True

    async def create(self, spec: dict[str, Any], actor: Actor) -> Rule:
        require_admin(actor, "create rules")
        rule = validate_rule(spec)
        return await self._save(
            rule, actor, "rule.create", {"spec": rule.to_json()}, must_be_new=True
        )

    async def update(self, name: str, patch: dict[str, Any], actor: Actor) -> Rule:
        """Change the fields in ``patch`` (a JSON Merge Patch, RFC 7396): maps such as
        ``thresholds`` merge, and ``null`` removes a level or restores a default. A change
        of what the rule reads (``SERIES_IDENTITY``) resolves its incidents and starts
        its series afresh, as disabling does: the old series would never resolve."""
        require_admin(actor, "change rules")
        rule, new = self.propose(name, patch)
        if new == rule:  # saving would pin the rule over the config file's for nothing
            return rule
        disabled = rule.enabled and not new.enabled
        regrouped = series_identity(rule.to_json()) != series_identity(new.to_json())
        return await self._save(
            new,
            actor,
            "rule.update",
            {"patch": patch},
            retire=disabled or (new.enabled and regrouped),
            verb="disabled" if disabled else "changed",
        )

    def propose(self, name: str, patch: dict[str, Any]) -> tuple[Rule, Rule]:
        """The rule as it is and as ``patch`` would make it, validated as ``update``
        validates it (same refusals), without saving anything."""
        rule = self.get(name)
        if "name" in patch and patch["name"] != name:
            raise Invalid("A rule cannot be renamed; create a new one and delete this one.")
        return rule, validate_rule(merge_patch(rule.to_json(), patch))

    async def delete(self, name: str, actor: Actor) -> Rule:
        require_admin(actor, "delete rules")
        rule = self.get(name)
        now = self.clock()
        async with self.cache.lock:
            async with self.db.transaction() as session:
                await RuleRepository(session).delete(name, rule.to_json(), now, actor.label)
                resolved = await self._retire(session, rule, actor, "deleted", now)
                AuditRepository(session).record(
                    now,
                    actor.label,
                    "rule.delete",
                    name,
                    {"spec": rule.to_json(), "resolved": resolved},
                )
            self._forget(name)
        self.rulebook.remove(name)
        return rule

    async def _save(
        self,
        rule: Rule,
        actor: Actor,
        action: str,
        detail: dict[str, Any],
        retire: bool = False,
        verb: str = "",
        must_be_new: bool = False,
    ) -> Rule:
        now = self.clock()
        async with self.cache.lock:  # also serialises concurrent creates of one name
            if must_be_new and self.rulebook.get(rule.name) is not None:
                raise ActionError(f"A rule named '{rule.name}' exists already; change it instead.")
            async with self.db.transaction() as session:
                await RuleRepository(session).save(rule.name, rule.to_json(), now, actor.label)
                if retire:
                    resolved = await self._retire(session, rule, actor, verb, now)
                    detail = {**detail, "resolved": resolved}
                AuditRepository(session).record(now, actor.label, action, rule.name, detail)
            if retire:
                self._forget(rule.name)
        self.rulebook.put(rule, actor.label, now)
        return rule

    async def retire_inactive(self) -> int:
        """At start-up: rules disabled in, removed from, or reading other series in the
        rule file since the last run cannot auto-resolve their incidents, any more than
        rules disabled here. Resolve those (test incidents aside) and forget the rules'
        series; returns how many incidents were resolved."""
        now = self.clock()
        async with self.cache.lock:
            async with self.db.transaction() as session:
                unresolved = [
                    i for i in await IncidentRepository(session).unresolved() if not i.test
                ]
                why = self._stale_rules(unresolved)
                stale = [incident for incident in unresolved if incident.rule in why]
                journal = await Journal.open(session, self.announcer, now)
                for incident in stale:
                    verb = why[incident.rule]
                    _resolve_retired(journal, incident, verb, "in the rule file", SYSTEM_NAME)
                await journal.flush()
                for name in sorted(why):
                    await SeriesRepository(session).delete_rule(name)
                    await AnomalyModelRepository(session).delete_rule(name)
            for name in why:
                self._forget(name)
        return len(stale)

    def _stale_rules(self, unresolved: Sequence[IncidentRow]) -> dict[str, str]:
        """Rule name -> why its series are stale: ``removed``, ``disabled`` or ``changed``.
        A saved rule that no longer validates was none of these: its incidents wait for
        the admin to fix it."""
        names = {key[0] for key in self.cache.states} | {i.rule for i in unresolved}
        why = {}
        for name in names - self.rulebook.unloadable:
            rule = self.rulebook.get(name)
            if rule is None:
                why[name] = "removed"
            elif not rule.enabled:
                why[name] = "disabled"
            elif self._reads_other_series(rule, unresolved):
                why[name] = "changed"
        return why

    def _reads_other_series(self, rule: Rule, unresolved: Sequence[IncidentRow]) -> bool:
        """Whether the rule's incidents were opened under another series identity, or
        its known series are grouped by other labels."""
        identity = series_identity(rule.to_json())
        if any(
            series_identity(i.rule_snapshot or {}) != identity
            for i in unresolved
            if i.rule == rule.name and i.kind == "metric"
        ):
            return True
        grouped = set(rule.group_by)
        return any(
            set(self.cache.labels.get(key, {})) != grouped  # a series' labels: its group_by
            for key in self.cache.series_of(rule.name)
        )

    async def _retire(
        self, session: AsyncSession, rule: Rule, actor: Actor, verb: str, now: float
    ) -> list[int]:
        """A rule that stops being evaluated can no longer auto-resolve its incidents:
        resolve them now, saying why, and forget its series. Returns their ids."""
        journal = await Journal.open(session, self.announcer, now)
        resolved = []
        for incident in await IncidentRepository(session).unresolved_for_rule(rule.name):
            _resolve_retired(journal, incident, verb, f"by {actor.name}", actor.name, actor.label)
            resolved.append(incident.id)
        await journal.flush()
        await SeriesRepository(session).delete_rule(rule.name)
        await AnomalyModelRepository(session).delete_rule(rule.name)
        return resolved

    def _forget(self, name: str) -> None:
        """After the commit that deleted a rule's series: forget them in memory too."""
        self.cache.forget_rule(name)
        self.anomalies.forget_rule(name)


def _resolve_retired(
    journal: Journal,
    incident: IncidentRow,
    verb: str,
    how: str,
    by: str,
    recorded_as: str | None = None,
) -> None:
    """Resolve an incident whose rule is no longer evaluated, saying why:
    "Resolved: rule slow-api was disabled by alice" / "... removed in the rule file"."""
    mark_resolved(incident, by, journal.now, f"rule {verb}")
    line = f"Resolved: rule {incident.rule} was {verb} {how}"
    journal.record(incident, "resolved", recorded_as or by, line, notify=False)


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396: ``{"thresholds": {"warning": 600}}`` changes one level and keeps the
    others; ``{"thresholds": {"error": null}}`` removes one; ``{"runbook": null}``
    restores the default."""
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_patch(merged[key], value)
        else:
            merged[key] = value
    return merged
