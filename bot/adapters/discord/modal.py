"""``/rule edit NAME`` as a Discord modal: the rule form's text fields, laid out.

The modal's custom id names the rule (``tocsin:rule-edit:slow-api``) and each field's
custom id is the form's key, so a submission is read from the interaction alone: one
that arrives after a restart is saved like any other. What the fields mean, and which
field an error belongs to, is commands.rule_form's business."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import discord

from commands.actions import PREFIX
from commands.rule_form import RuleForm

FORM_PREFIX = f"{PREFIX}:rule-edit:"
MAX_FIELDS = 5
MAX_TITLE = 45
MAX_LABEL = 45
MAX_DESCRIPTION = 100
TEXT_INPUT = 4


def form_id(rule: str) -> str:
    return f"{FORM_PREFIX}{rule}"


def rule_of(custom_id: str) -> str | None:
    """The rule a submitted form edits; None if the id is not a rule form's."""
    return custom_id.removeprefix(FORM_PREFIX) if custom_id.startswith(FORM_PREFIX) else None


def rule_modal(form: RuleForm) -> discord.ui.Modal:
    """A modal holding the form's text fields, filled with the rule's current values.
    Its submission is handled by the client from the custom id (see interactions)."""
    modal = discord.ui.Modal(title=form.title[:MAX_TITLE], custom_id=form_id(form.rule))
    for field in form.text_fields[:MAX_FIELDS]:
        text = discord.ui.TextInput(
            custom_id=field.key,
            default=field.value,
            placeholder=f"e.g. {field.hint}"[:MAX_DESCRIPTION] if field.hint else None,
            max_length=field.max_length,
            required=True,
        )
        modal.add_item(discord.ui.Label(text=field.label[:MAX_LABEL], component=text))
    return modal


def _text_inputs(components: Any) -> Iterator[Mapping[str, Any]]:
    """Text inputs at any depth: in action rows (older clients) or labels."""
    for component in components or ():
        if component.get("type") == TEXT_INPUT:
            yield component
        yield from _text_inputs(component.get("components"))
        if isinstance(component.get("component"), dict):
            yield from _text_inputs([component["component"]])


def submitted_values(data: Mapping[str, Any]) -> dict[str, str]:
    """Field key -> text, from a MODAL_SUBMIT interaction's data."""
    return {c["custom_id"]: str(c.get("value") or "") for c in _text_inputs(data.get("components"))}
