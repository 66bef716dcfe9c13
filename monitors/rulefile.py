"""Reading rule files (YAML; JSON is YAML too) into validated rules, with errors that name
the rule, the field and the reason, so ``check-config`` can list them all at once."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from monitors.rules import Rule, SourceFieldErrors


@dataclass(frozen=True)
class RuleFileError:
    rule: str  # the rule's name, or its position when it has none
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.field}: {self.reason}"


class RuleFileInvalid(ValueError):
    def __init__(self, path: str, errors: list[RuleFileError]) -> None:
        self.path = path
        self.errors = errors
        lines = "\n".join(f"  {e}" for e in errors)
        super().__init__(f"{path}: {len(errors)} error(s)\n{lines}")


def validation_errors(
    rule_label: str, exc: ValidationError, known_fields: Iterable[str] = Rule.model_fields
) -> list[RuleFileError]:
    """One RuleFileError per pydantic error, with the field path in dotted form and the
    reason in words an admin can act on; ``known_fields`` feed "did you mean"."""
    errors = []
    for item in exc.errors():
        loc = [str(part) for part in item["loc"]]
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, SourceFieldErrors):  # several fields, each named
            errors.extend(RuleFileError(rule_label, f, reason) for f, reason in cause.problems)
            continue
        if loc and loc[-1] == "[key]":  # a bad map key, e.g. thresholds: {warn: 1}
            field, reason = ".".join(loc[:-2]), _bad_key(loc[0], loc[-2])
        else:
            field, reason = ".".join(loc) or "(rule)", _reason(item, list(known_fields))
        if ": " in reason and field == "(rule)":  # model-level errors name their field
            field, reason = reason.split(": ", 1)
        errors.append(RuleFileError(rule_label, field, reason))
    return errors


def _reason(item: ErrorDetails, known_fields: list[str]) -> str:
    kind, field = item["type"], str(item["loc"][0]) if item["loc"] else ""
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(field, known_fields, n=1)
        hint = f"did you mean '{close[0]}'? " if close else "check the spelling; "
        return f"unknown field ({hint}see docs/rules.md)"
    if kind == "string_pattern_mismatch" and field == "name":
        return (
            f"{item['input']!r}: use lower-case letters, digits, '.', '_' or '-' "
            "(up to 63, starting with a letter or digit)"
        )
    if kind in ("float_parsing", "int_parsing", "float_type", "int_type"):
        return f"{item['input']!r} is not a number"
    if kind in ("tuple_type", "list_type"):
        return f"expected a list, e.g. [{item['input']}]"
    if kind == "missing":
        return "required"
    return item["msg"].removeprefix("Value error, ")


def _bad_key(field: str, key: str) -> str:
    if field == "thresholds":
        return f"'{key}' is not a level; use warning, error or critical"
    return f"'{key}' is not allowed as a key"


def parse_rules(document: Any, source: str = "rules") -> list[Rule]:
    """Validate every rule in ``document`` (the loaded file); raise with all errors."""
    if document is None:
        return []
    if not isinstance(document, dict) or not isinstance(document.get("rules", []), list):
        raise RuleFileInvalid(
            source, [RuleFileError("(file)", "rules", "expected a mapping with a 'rules:' list")]
        )
    rules: list[Rule] = []
    errors: list[RuleFileError] = []
    seen: set[str] = set()
    for index, item in enumerate(document.get("rules") or []):
        name = item.get("name") if isinstance(item, dict) else None
        label = f"rule '{name}'" if isinstance(name, str) and name else f"rules[{index}]"
        if not isinstance(item, dict):
            errors.append(RuleFileError(label, "(rule)", "expected a mapping of fields"))
            continue
        if isinstance(name, str) and name:  # even an invalid rule claims its name
            if name in seen:
                errors.append(RuleFileError(label, "name", "another rule already has this name"))
            seen.add(name)
        try:
            rule = Rule.model_validate(item)
        except ValidationError as exc:
            errors.extend(validation_errors(label, exc))
            continue
        rules.append(rule)
    if errors:
        raise RuleFileInvalid(source, errors)
    return rules


def load_rule_file(path: str | Path) -> list[Rule]:
    """Read and validate a YAML or JSON rule file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise RuleFileInvalid(str(path), [RuleFileError("(file)", "-", reason)]) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "-"
        reason = getattr(exc, "problem", None) or str(exc)
        raise RuleFileInvalid(str(path), [RuleFileError("(file)", where, reason)]) from None
    return parse_rules(document, str(path))
