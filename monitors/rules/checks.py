"""The first things to check when an incident opens: a rule's own ``checks``, else the
entry of ``checks.yaml`` (a table, kept as data) for what the rule reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

MAX_CHECKS = 10
MAX_CHECK_LENGTH = 300
WHEN_KEYS = ("source", "metric", "aggregate", "op", "threshold_type", "where")


class ChecksEntry(BaseModel):
    """One row of ``checks.yaml``: a rule type, what such a rule reads, its checks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    when: dict[str, str | list[str]]
    checks: tuple[str, ...] = Field(min_length=1, max_length=MAX_CHECKS)

    def matches(self, spec: Mapping[str, Any]) -> bool:
        """Whether a rule (``Rule.to_json()`` or an incident's snapshot) is of this type.
        ``source`` defaults to ingest and ``op`` to ``>``, as in a rule."""
        for key, wanted in self.when.items():
            allowed = [wanted] if isinstance(wanted, str) else wanted
            if key == "where":
                if not any(label in (spec.get("where") or {}) for label in allowed):
                    return False
                continue
            value = spec.get(key) or {"source": "ingest", "op": ">"}.get(key)
            if value not in allowed:
                return False
        return True


@cache
def table() -> tuple[ChecksEntry, ...]:
    """``checks.yaml``, read once."""
    text = resources.files("monitors.rules").joinpath("checks.yaml").read_text(encoding="utf-8")
    entries = TypeAdapter(tuple[ChecksEntry, ...]).validate_python(yaml.safe_load(text))
    for entry in entries:
        unknown = set(entry.when) - set(WHEN_KEYS)
        if unknown:
            raise ValueError(f"checks.yaml, type {entry.type}: unknown key {sorted(unknown)}")
    return entries


def entry_for(spec: Mapping[str, Any]) -> ChecksEntry | None:
    return next((entry for entry in table() if entry.matches(spec)), None)


def checks_for(spec: Mapping[str, Any]) -> Sequence[str]:
    """What to check first for an incident of the rule ``spec`` (its own ``checks``, or
    its type's); empty when neither says."""
    own = spec.get("checks")
    if own:
        return tuple(own)
    entry = entry_for(spec)
    return entry.checks if entry is not None else ()
