"""Reading rule files (YAML; JSON is YAML too) into validated rules, with errors that name
the line, the rule, the field and the reason, so ``check-config`` can list them all at
once, in file order."""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from monitors.rules.schema import Rule, SourceFieldErrors

RULE_DOCS = "docs/rules.md"
FILE = "(file)"
"""The ``rule`` of an error about the file as a whole (unreadable, empty, not YAML)."""

KeyPath = tuple[str | int, ...]
BOUNDS = {"ge": "greater_than_equal", "gt": "greater_than", "le": "less_than_equal"}
BOUND_WORDS = {
    "greater_than_equal": "less than",
    "greater_than": "not greater than",
    "less_than_equal": "more than",
}
MAPPING_EXAMPLES = {
    "match": "{service: api}",
    "where": "{status: '5..'}",
    "thresholds": "{warning: 500}",
}


@dataclass(frozen=True)
class RuleFileError:
    rule: str  # the rule's name, or its position when it has none; FILE for the file
    field: str
    reason: str
    line: int | None = None
    path: KeyPath = dataclasses.field(default=(), compare=False, repr=False)
    """Where in the document the problem is (``("rules", 0, "op")``), to find its line."""

    def __str__(self) -> str:
        parts = [f"line {self.line}" if self.line else "", self.rule, self.field, self.reason]
        return ": ".join(part for part in parts if part and part not in (FILE, "-"))


class RuleFileInvalid(ValueError):
    def __init__(self, path: str, errors: list[RuleFileError]) -> None:
        self.path = path
        self.errors = errors
        lines = "\n".join(f"  {e}" for e in errors)
        count = f"{len(errors)} error" + ("" if len(errors) == 1 else "s")
        super().__init__(f"{path}: {count}\n{lines}")


@dataclass(frozen=True)
class YamlDocument:
    """A loaded file: its data, and the node tree that knows each key's line."""

    path: str
    data: Any
    root: yaml.Node

    def line_of(self, path: KeyPath) -> int:
        """The line of the key at ``path``, or of the nearest enclosing one that exists
        (a missing field: the rule's first line)."""
        node, line = self.root, self.root.start_mark.line + 1
        for part in path:
            if isinstance(node, yaml.MappingNode):
                # The last of duplicate keys wins in PyYAML: search from the end.
                found = next(
                    (
                        (key, value)
                        for key, value in reversed(node.value)
                        if isinstance(key, yaml.ScalarNode) and key.value == str(part)
                    ),
                    None,
                )
                if found is None:
                    return line
                line, node = found[0].start_mark.line + 1, found[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    return line
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line

    def invalid(self, errors: Iterable[RuleFileError]) -> RuleFileInvalid:
        """Every error with its line, in file order."""
        located = [replace(e, line=e.line or self.line_of(e.path)) for e in errors]
        return RuleFileInvalid(self.path, sorted(located, key=lambda e: e.line or 0))


def load_yaml(path: Path) -> YamlDocument:
    """Read and parse a YAML (or JSON) file; refuse a missing, unreadable or empty one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "cannot read it: " + (getattr(exc, "strerror", None) or str(exc))
        raise RuleFileInvalid(str(path), [RuleFileError(FILE, "-", reason)]) from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        if mark is not None:
            reason = f"{reason} (column {mark.column + 1})"
        line = mark.line + 1 if mark is not None else None
        raise RuleFileInvalid(str(path), [RuleFileError(FILE, "-", reason, line)]) from None
    finally:
        loader.dispose()
    if root is None:
        empty = "the file is empty; write 'rules: []' for a config without rules"
        raise RuleFileInvalid(str(path), [RuleFileError(FILE, "-", empty)])
    return YamlDocument(str(path), data, root)


def validation_errors(
    rule_label: str,
    exc: ValidationError,
    known_fields: Iterable[str] = Rule.model_fields,
    docs: str = RULE_DOCS,
) -> list[RuleFileError]:
    """One RuleFileError per pydantic error, with the field path in dotted form and the
    reason in words an admin can act on; ``known_fields`` feed "did you mean", ``docs``
    is where the fields are described."""
    errors = []
    known = list(known_fields)
    for item in exc.errors():
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, SourceFieldErrors):  # several fields of a source, each named
            errors.extend(
                RuleFileError(rule_label, field, reason, path=(field,))
                for field, reason in cause.problems
            )
            continue
        loc: KeyPath = tuple(item["loc"])
        parts = [str(part) for part in loc]
        if parts and parts[-1] == "[key]":  # a bad map key, e.g. thresholds: {warn: 1}
            field_name, reason, path = ".".join(parts[:-2]), _bad_key(parts[0], parts[-2]), loc[:-1]
        else:
            field_name, reason, path = ".".join(parts) or "(rule)", _reason(item, known, docs), loc
        if ": " in reason and field_name == "(rule)":  # model-level errors name their field
            field_name, reason = reason.split(": ", 1)
            path = (field_name,)
        errors.append(RuleFileError(rule_label, field_name, reason, path=path))
    return errors


def _reason(item: ErrorDetails, known_fields: list[str], docs: str) -> str:
    kind, field_name = item["type"], str(item["loc"][0]) if item["loc"] else ""
    given = item.get("input")
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(field_name, known_fields, n=1)
        hint = f"did you mean '{close[0]}'? " if close else "check the spelling; "
        return f"unknown field ({hint}see {docs})"
    if kind == "string_pattern_mismatch" and field_name == "name":
        return (
            f"{given!r}: use lower-case letters, digits, '.', '_' or '-' "
            "(up to 63, starting with a letter or digit)"
        )
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str((item.get("ctx") or {}).get("expected", "")))
        return f"{given!r} is not one of {', '.join(choices)}{_closest(str(given), choices)}"
    if kind == "int_from_float" or (kind == "int_type" and isinstance(given, float)):
        return f"{given!r} is not a whole number"
    if kind in ("float_parsing", "int_parsing", "float_type", "int_type"):
        return f"{given!r} is not a number" + (" (write it without quotes)" * _quoted(given))
    if kind == "bool_type":
        return f"{given!r} is not true or false (write true or false, without quotes)"
    if kind == "string_type":
        return f"{given!r} is not text; quote it"
    if kind == "dict_type":
        return f"expected a mapping, e.g. {MAPPING_EXAMPLES.get(field_name, '{key: value}')}"
    if kind in ("tuple_type", "list_type"):
        return f"expected a list, e.g. [{given}]" if isinstance(given, str) else "expected a list"
    bound = next((v for k, v in (item.get("ctx") or {}).items() if k in BOUNDS), None)
    if kind in BOUNDS.values() and bound is not None:
        return f"{given!r} is {BOUND_WORDS[kind]} {bound}"
    if kind == "missing":
        return "required"
    return item["msg"].removeprefix("Value error, ")


def _closest(given: str, choices: list[str]) -> str:
    """``; did you mean '>='?`` for ``=>`` (the same characters in another order), or
    for a near spelling (``p59``)."""
    close = [c for c in choices if sorted(c) == sorted(given)]
    close = close or difflib.get_close_matches(given, choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _quoted(given: Any) -> bool:
    """A number written as text (``"3"``): say how to fix it."""
    if not isinstance(given, str):
        return False
    try:
        float(given)
    except ValueError:
        return False
    return True


def _bad_key(field_name: str, key: str) -> str:
    if field_name == "thresholds":
        return f"'{key}' is not a level; use warning, error or critical"
    return f"'{key}' is not allowed as a key"


def parse_rules(items: Sequence[Any] | None) -> tuple[list[Rule], list[RuleFileError]]:
    """Validate every rule of a file's ``rules:`` list; returns the valid rules and every
    error (each with its ``path`` in the document, for its line)."""
    rules: list[Rule] = []
    errors: list[RuleFileError] = []
    seen: set[str] = set()
    for index, item in enumerate(items or []):
        at: KeyPath = ("rules", index)
        name = item.get("name") if isinstance(item, dict) else None
        label = f"rule '{name}'" if isinstance(name, str) and name else f"rules[{index}]"
        if not isinstance(item, dict):
            errors.append(RuleFileError(label, "(rule)", "expected a mapping of fields", path=at))
            continue
        if isinstance(name, str) and name:  # even an invalid rule claims its name
            if name in seen:
                duplicate = "another rule already has this name"
                errors.append(RuleFileError(label, "name", duplicate, path=(*at, "name")))
            seen.add(name)
        try:
            rules.append(Rule.model_validate(item))
        except ValidationError as exc:
            errors.extend(replace(e, path=(*at, *e.path)) for e in validation_errors(label, exc))
    return rules, errors
