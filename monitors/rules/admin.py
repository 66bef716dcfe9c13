"""Changing rules from chat or the API. Admins only; every change is validated as a whole
rule, saved (overriding the file's rule across restarts) and audited in one transaction.

A change that brings a rule back to the file's values drops its override rather than
saving a copy, so the rule follows the file again; ``reset`` does that on request, and
``reconcile_file`` reports, at start-up, overrides the file has moved on from (see
monitors.rules.rulebook)."""

from __future__ import annotations

import difflib
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from monitors.actors import SYSTEM, SYSTEM_NAME, Actor
from monitors.anomaly.store import ModelStore
from monitors.engine import SeriesCache
from monitors.errors import ActionError, Invalid, NotFound, PermissionDenied
from monitors.formatting import short_time
from monitors.health.sources import is_source_health
from monitors.incidents import lifecycle
from monitors.incidents.announce import Announcer, Journal
from monitors.rules.baselines import Baselines
from monitors.rules.rulebook import RuleBook, Saved, file_version
from monitors.rules.rulefile import RuleFileError, validation_errors
from monitors.rules.schema import LEVELS, Rule, series_identity
from monitors.sources.fields import labels_follow_group_by
from storage.db import Database
from storage.models import IncidentRow
from storage.repositories import (
    AnomalyModelRepository,
    AuditRepository,
    IncidentRepository,
    RuleRepository,
    SeriesRepository,
)
from storage.vocabulary import RULE_KINDS, EventKind, IncidentKind


def require_admin(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        raise PermissionDenied(
            f"Only admins can {what}; ask an admin, or have one grant {actor.name} the admin role."
        )


def exists_already(name: str) -> ActionError:
    return ActionError(
        f"A rule named '{name}' exists already; change it instead "
        f"(PATCH /v1/rules/{name}, /rule set or /rule edit)."
    )


class RuleInvalid(Invalid):
    """A rule that does not validate; ``problems`` says which field and why, one each,
    so a form can show each beside its field."""

    def __init__(self, label: str, problems: list[RuleFileError]) -> None:
        self.problems = problems
        details = "; ".join(f"{p.field}: {p.reason}" for p in problems)
        super().__init__(f"Invalid {label}: {details}")


def validate_rule(spec: dict[str, Any]) -> Rule:
    try:
        return Rule.model_validate(spec)
    except ValidationError as exc:
        label = f"rule '{spec.get('name')}'" if spec.get("name") else "rule"
        raise RuleInvalid(label, validation_errors(label, exc)) from None


class RuleAdmin:
    def __init__(
        self,
        db: Database,
        rulebook: RuleBook,
        cache: SeriesCache,
        announcer: Announcer,
        baselines: Baselines,
        clock: Callable[[], float] = time.time,
        anomalies: ModelStore | None = None,
    ) -> None:
        self.db = db
        self.rulebook = rulebook
        self.cache = cache
        self.announcer = announcer
        self.baselines = baselines
        self.clock = clock
        self.anomalies = anomalies or ModelStore(None)

    def get(self, name: str) -> Rule:
        rule = self.rulebook.get(name)
        if rule is None:
            names = [r.name for r in self.rulebook.all()]
            close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]}?" if close else ""
            known = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            raise NotFound(f"There is no rule named '{name}'.{hint} Rules: {known or 'none yet'}.")
        return rule

    async def set_threshold(
        self, name: str, value: float, level: str | None, actor: Actor
    ) -> tuple[Rule, str, float | None]:
        """Set one level's threshold; returns (new rule, level, old value). Without a
        level the rule's lowest level is meant (the one that pages first)."""
        require_admin(actor, "change rule thresholds")
        rule, new, level, old = self.propose_threshold(name, value, level)
        if new is None:  # saving would pin the rule over the config file's for nothing
            return rule, level, old
        saved = await self._save(new, actor, "rule.set", {"level": level, "old": old, "new": value})
        return saved, level, old

    def propose_threshold(
        self, name: str, value: float, level: str | None
    ) -> tuple[Rule, Rule | None, str, float | None]:
        """What ``set_threshold`` would save, checked as it checks it, saving nothing:
        (the rule, the rule changed or None when the level already says ``value``, the
        level, its old value)."""
        if not math.isfinite(value):
            raise Invalid(f"{value!r} is not a usable threshold; give a finite number.")
        rule = self.get(name)
        if level is not None and level not in LEVELS:
            raise Invalid(f"'{level}' is not a level; use one of {', '.join(LEVELS)}.")
        level = level or rule.levels[0]
        old = rule.thresholds.get(level)
        if old == value:
            return rule, None, level, old
        spec = rule.to_json()
        spec["thresholds"] = {**spec["thresholds"], level: value}
        try:
            checked = validate_rule(spec)
        except Invalid as exc:
            current = ", ".join(f"{lv} {rule.op} {rule.thresholds[lv]:g}" for lv in rule.levels)
            raise Invalid(f"{exc}; {rule.name} has {current}") from None
        return rule, checked, level, old

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

    def _check_destinations(self, rule: Rule, before: Rule | None = None) -> None:
        """Refuse destination names the config does not define; names the rule had
        already (a destination since removed from the config) do not block an edit."""
        had = set(before.channels + before.escalate_to) if before else set()
        routing = self.announcer.routing
        for field in ("channels", "escalate_to"):
            unknown = [n for n in routing.unknown(getattr(rule, field)) if n not in had]
            if unknown:
                known = ", ".join(routing.names())
                label = f"rule '{rule.name}'"
                reason = f"'{unknown[0]}' is not a destination; the config defines: {known}"
                raise RuleInvalid(label, [RuleFileError(label, field, reason)])

    async def create(self, spec: dict[str, Any], actor: Actor) -> Rule:
        """A new rule; one whose name is taken is refused before its fields are read."""
        require_admin(actor, "create rules")
        if isinstance(spec.get("name"), str) and self.rulebook.get(spec["name"]) is not None:
            raise exists_already(spec["name"])
        rule = validate_rule(spec)
        self._check_destinations(rule)
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
        self._check_destinations(new, rule)
        if new == rule:  # saving would pin the rule over the config file's for nothing
            return rule
        verb = _retiring(rule, new)
        return await self._save(
            new, actor, "rule.update", {"patch": patch}, retire=verb is not None, verb=verb or ""
        )

    def propose(self, name: str, patch: dict[str, Any]) -> tuple[Rule, Rule]:
        """The rule as it is and as ``patch`` would make it, validated as ``update``
        validates it (same refusals), without saving anything."""
        rule = self.get(name)
        if "name" in patch and patch["name"] != name:
            raise Invalid("A rule cannot be renamed; create a new one and delete this one.")
        return rule, validate_rule(merge_patch(rule.to_json(), patch))

    async def reset(self, name: str, actor: Actor) -> tuple[Rule, bool]:
        """Return a rule to the config file's values: drop its saved override, or undo
        its deletion. Returns the file's rule and whether anything changed."""
        require_admin(actor, "reset rules")
        file_rule = self.rulebook.file_rule(name)
        if file_rule is None:
            self.get(name)  # NotFound, with suggestions, when there is no such rule at all
            raise Invalid(
                f"{name} is not in the config file, so there is no file version to return "
                f"to; delete it through the API (DELETE /v1/rules/{name}) if it should go."
            )
        if self.rulebook.saved(name) is None and name not in self.rulebook.unloadable:
            return file_rule, False
        current = self.rulebook.get(name)
        verb = _retiring(current, file_rule) if current is not None else None
        now = self.clock()
        async with self.cache.lock:
            async with self.db.transaction() as session:
                await RuleRepository(session).drop(name)
                detail: dict[str, Any] = {"was": current.to_json() if current else "deleted"}
                if verb is not None:
                    detail["resolved"] = await self._retire(session, file_rule, actor, verb, now)
                AuditRepository(session).record(now, actor.label, "rule.reset", name, detail)
            if verb is not None:
                self._forget(name)
        self.rulebook.follow_file(name)
        self.baselines.forget(name)
        return file_rule, True

    async def reconcile_file(self) -> list[str]:
        """At start-up: drop the overrides the file has caught up with (it now says the
        same), and describe each saved rule whose file rule changed or went since it
        was saved, for the log and for admins. Returns one paragraph per rule."""
        notices, caught_up = [], []
        for name in self.rulebook.saved_names():
            saved, rule = self.rulebook.saved(name), self.rulebook.get(name)
            if saved and not saved.deleted and rule == self.rulebook.file_rule(name):
                caught_up.append(name)
                notices.append(
                    f"Rule {name}: the config file now says what the saved override said, "
                    "so the override was dropped and the rule follows the file again."
                )
            elif notice := self._file_moved_on(name):
                notices.append(notice)
        if caught_up:
            now = self.clock()
            async with self.db.transaction() as session:
                for name in caught_up:
                    await RuleRepository(session).drop(name)
                    AuditRepository(session).record(
                        now, SYSTEM_NAME, "rule.follow_file", name, {"why": "file caught up"}
                    )
            for name in caught_up:
                self.rulebook.follow_file(name)
        return notices

    def _file_moved_on(self, name: str) -> str:
        """Why the saved version of ``name`` needs an admin's eye; "" if it does not."""
        saved, file_rule = self.rulebook.saved(name), self.rulebook.file_rule(name)
        if saved is None:
            return ""
        who = f"{saved.updated_by} ({short_time(saved.updated_at)})"
        if file_rule is None:
            if saved.file_version is None or saved.deleted:  # created here; or gone anyway
                return ""
            return (
                f"Rule {name}: removed from the config file, but the version {who} saved "
                f"still runs; delete it through the API (DELETE /v1/rules/{name}) if it "
                "should stop."
            )
        if saved.file_version == file_version(file_rule):
            return ""
        reset = f"/rule reset {name}"
        if saved.deleted:
            return (
                f"Rule {name}: deleted by {who}, and the config file's rule has changed "
                f"since; it stays deleted. {reset} brings back the file's."
            )
        origin = self.rulebook.origin(name)
        fields = ", ".join(change.field for change in origin.differs) if origin else ""
        since = (
            "changed since it was saved"
            if saved.file_version
            else "may have changed: the override was saved before Tocsin recorded file versions"
        )
        return (
            f"Rule {name}: the saved override by {who} still applies, but the config "
            f"file's rule {since}. It differs from the file in: {fields}. "
            f"/rule show {name} compares them; {reset} takes the file's."
        )

    async def delete(self, name: str, actor: Actor) -> Rule:
        """Delete a rule; one the file has stays deleted (a tombstone) until reset."""
        require_admin(actor, "delete rules")
        rule = self.get(name)
        now = self.clock()
        file_rule = self.rulebook.file_rule(name)
        version = file_version(file_rule) if file_rule is not None else None
        async with self.cache.lock:
            async with self.db.transaction() as session:
                rules = RuleRepository(session)
                if file_rule is None:  # nothing would bring it back: no tombstone needed
                    await rules.drop(name)
                else:
                    await rules.save(name, rule.to_json(), now, actor.label, version, deleted=True)
                resolved = await self._retire(session, rule, actor, "deleted", now)
                AuditRepository(session).record(
                    now,
                    actor.label,
                    "rule.delete",
                    name,
                    {"spec": rule.to_json(), "resolved": resolved},
                )
            self._forget(name)
        if file_rule is None:
            self.rulebook.follow_file(name)
        else:
            self.rulebook.remove(name, Saved(actor.label, now, version, deleted=True))
        self.baselines.forget(name)
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
        file_rule = self.rulebook.file_rule(rule.name)
        version = file_version(file_rule) if file_rule is not None else None
        follows_file = rule == file_rule  # back to the file's values: keep no override
        async with self.cache.lock:  # also serialises concurrent creates of one name
            if must_be_new and self.rulebook.get(rule.name) is not None:  # created meanwhile
                raise exists_already(rule.name)
            async with self.db.transaction() as session:
                rules = RuleRepository(session)
                if follows_file:
                    await rules.drop(rule.name)
                    detail = {**detail, "follows_file": True}
                else:
                    await rules.save(rule.name, rule.to_json(), now, actor.label, version)
                if retire:
                    resolved = await self._retire(session, rule, actor, verb, now)
                    detail = {**detail, "resolved": resolved}
                AuditRepository(session).record(now, actor.label, action, rule.name, detail)
            if retire:
                self._forget(rule.name)
        if follows_file:
            self.rulebook.follow_file(rule.name)
        else:
            self.rulebook.put(rule, Saved(actor.label, now, version))
        self.baselines.forget(rule.name)  # a new baseline_window applies from the next tick
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
                    i for i in await IncidentRepository(session).unresolved() if _rule_owned(i)
                ]
                why = self._stale_rules(unresolved)
                stale = [incident for incident in unresolved if incident.rule in why]
                journal = await Journal.open(session, self.announcer, now)
                for incident in stale:
                    verb = why[incident.rule]
                    _resolve_retired(journal, incident, verb, "in the rule file", SYSTEM)
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
        names = {key[0] for key in self.cache.states if not is_source_health(key[0])}
        names |= {i.rule for i in unresolved}
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
            if i.rule == rule.name and i.kind == IncidentKind.METRIC
        ):
            return True
        if not labels_follow_group_by(rule.to_json()):  # labels come from the query's result
            return False
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
            _resolve_retired(journal, incident, verb, f"by {actor.mention}", actor)
            resolved.append(incident.id)
        await journal.flush()
        await SeriesRepository(session).delete_rule(rule.name)
        await AnomalyModelRepository(session).delete_rule(rule.name)
        return resolved

    def _forget(self, name: str) -> None:
        """After the commit that deleted a rule's series: forget them in memory too."""
        self.cache.forget_rule(name)
        self.anomalies.forget_rule(name)


def _rule_owned(incident: IncidentRow) -> bool:
    """Incidents that live and die with a rule: not tests, not pushed events, not an
    endpoint's health or Tocsin's own."""
    if incident.test or incident.kind not in RULE_KINDS:
        return False
    return not is_source_health(incident.rule)


def _retiring(old: Rule, new: Rule) -> str | None:
    """Why a change from ``old`` to ``new`` must resolve the rule's incidents (they
    could never auto-resolve): ``disabled``, or ``changed`` what it reads; else None."""
    if old.enabled and not new.enabled:
        return "disabled"
    if new.enabled and series_identity(old.to_json()) != series_identity(new.to_json()):
        return "changed"
    return None


def _resolve_retired(
    journal: Journal, incident: IncidentRow, verb: str, how: str, actor: Actor
) -> None:
    """Resolve an incident whose rule is no longer evaluated, saying why:
    "Resolved: rule slow-api was disabled by alice" / "... removed in the rule file"."""
    lifecycle.resolve(incident, actor, journal.now, f"rule {verb}")
    line = f"Resolved: rule {incident.rule} was {verb} {how}"
    journal.record(incident, EventKind.RESOLVED, actor.label, line, notify=False)


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
