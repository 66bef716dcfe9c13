"""Tocsin's neutral cards, replies and forms as Slack Block Kit.

An incident is one message: an attachment whose colour bar shows the severity (green once
resolved) holding the blocks: title, fields, since when, runbook, and the buttons the
incident's state still allows. Slack's limits are kept here: 50 blocks, 3,000 characters
per text, 10 fields per section, 2,000 characters per field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from commands.actions import SNOOZE_CHOICES, Button, card_buttons
from commands.model import Reply
from commands.rule_form import RuleForm
from monitors.incidents.cards import RESOLVED_COLOR, SEVERITY_COLORS, IncidentCard
from monitors.incidents.machine import Action
from monitors.mentions import render
from monitors.routing import Platform

MAX_TEXT = 3000
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_BLOCKS = 50
FORM_CALLBACK = "tocsin:rule-edit"
"""The ``callback_id`` of the rule editor modal."""
ENABLED_OPTION = "enabled"

Block = dict[str, Any]


def escape(text: str) -> str:
    """Slack's mrkdwn escapes: only these three (api.slack.com, formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> str:
    """Neutral text for Slack: escaped, with mention tokens of Slack users as mentions."""
    return render(text, Platform.SLACK, lambda user_id: f"<@{user_id}>", escape)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_TEXT)}}


def _since(card: IncidentCard) -> str:
    """``Since <!date^..^{date_short_pretty} {time}|...>``: each reader's own time zone."""
    if card.since is None:
        return ""
    ts = int(card.since)
    return f"Since <!date^{ts}^{{date_short_pretty}} {{time}}|{ts}>"


def fallback_text(card: IncidentCard) -> str:
    """The notification text (push, unfurl, screen readers): title and value."""
    value = dict(card.fields).get("Value") or dict(card.fields).get("Problem", "")
    return mrkdwn(f"{card.title}: {value}" if value else card.title)


def _button_element(label: str, custom_id: str, primary: bool) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": custom_id,
        "value": custom_id,
    }
    if primary:
        element["style"] = "primary"
    return element


def _button(button: Button) -> Block:
    return _button_element(button.label, button.custom_id, button.action is Action.ACKNOWLEDGE)


def _snooze_menu(incident_id: int) -> Block:
    options = [
        {"text": {"type": "plain_text", "text": f"Snooze {d}"}, "value": b.custom_id}
        for d in SNOOZE_CHOICES
        for b in [Button(Action.SNOOZE, incident_id, d)]
    ]
    return {
        "type": "static_select",
        "placeholder": {"type": "plain_text", "text": "Snooze…"},
        "action_id": f"tocsin:snooze:{incident_id}",
        "options": options,
    }


def action_elements(card: IncidentCard) -> list[Block]:
    """Acknowledge, a Snooze menu (15m, 1h, 4h, 1d) and Resolve, as the state allows."""
    elements: list[Block] = []
    for action in card.actions:
        if action is Action.SNOOZE:
            elements.append(_snooze_menu(card.incident_id))
        else:
            (button,) = card_buttons(card.incident_id, (action,))
            elements.append(_button(button))
    return elements


def card_blocks(card: IncidentCard) -> list[Block]:
    blocks: list[Block] = [_section(f"*{mrkdwn(card.title)}*")]
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{escape(name)}*\n{mrkdwn(value)}", MAX_FIELD)}
        for name, value in card.fields
    ]
    for start in range(0, len(fields), MAX_FIELDS):
        blocks.append({"type": "section", "fields": fields[start : start + MAX_FIELDS]})
    context = [part for part in (_since(card), mrkdwn(card.footer)) if part]
    if card.runbook:
        context.append(f"<{card.runbook}|Runbook>")
    if context:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in context]}
        )
    elements = action_elements(card)
    if elements:
        blocks.append(
            {"type": "actions", "block_id": f"tocsin:{card.incident_id}", "elements": elements}
        )
    return blocks[:MAX_BLOCKS]


def incident_message(card: IncidentCard) -> dict[str, Any]:
    """``text`` and ``attachments`` for chat.postMessage / chat.update."""
    return {
        "text": fallback_text(card),
        "attachments": [{"color": card.color, "blocks": card_blocks(card)}],
    }


MAX_GROUP = MAX_BLOCKS - 2
"""Incidents a storm message shows at most: a block each, and a heading."""
MENU_SNOOZES = ("1h", "4h", "1d")
"""A line's menu holds five options at most: Acknowledge, three snoozes, Resolve."""


def _line_menu(card: IncidentCard) -> Block | None:
    options = [
        {"text": {"type": "plain_text", "text": button.label}, "value": button.custom_id}
        for button in card_buttons(card.incident_id, card.actions)
        if button.duration is None or button.duration in MENU_SNOOZES
    ]
    if not options:
        return None
    return {"type": "overflow", "action_id": f"tocsin:menu:{card.incident_id}", "options": options}


def _group_line(card: IncidentCard) -> Block:
    fields = dict(card.fields)
    detail = fields.get("Value") or fields.get("Problem", "")
    text = f"*{mrkdwn(card.title)}*\n{mrkdwn(detail)} · {mrkdwn(fields.get('Status', card.status))}"
    block = _section(text)
    menu = _line_menu(card)
    if menu is not None:
        block["accessory"] = menu
    return block


def group_color(cards: Sequence[IncidentCard]) -> str:
    """The most severe colour among the incidents still firing; green when none is."""
    firing = [c for c in cards if c.color != RESOLVED_COLOR]
    rank = {color: i for i, color in enumerate(SEVERITY_COLORS.values())}
    return max((c.color for c in firing), key=lambda c: rank.get(c, 0), default=RESOLVED_COLOR)


def group_message(cards: Sequence[IncidentCard]) -> dict[str, Any]:
    """Several incidents that opened together, in one message: a line each, with its own
    menu of actions, edited in place as each changes."""
    firing = sum(card.color != RESOLVED_COLOR for card in cards)
    heading = f"*{len(cards)} incidents opened together* ({firing} still firing)"
    blocks = [_section(heading), *(_group_line(card) for card in cards[:MAX_GROUP])]
    titles = ", ".join(card.title for card in cards)
    return {
        "text": _cut(mrkdwn(f"{len(cards)} incidents: {titles}"), MAX_TEXT),
        "attachments": [{"color": group_color(cards), "blocks": blocks}],
    }


CHOICES_BLOCK = "tocsin:choices"


def reply_blocks(reply: Reply) -> dict[str, Any]:
    """A command's reply for an ephemeral message: its text, its table as a code block,
    its choices as buttons (Apply / Cancel), and its cards (with their buttons)."""
    blocks: list[Block] = []
    if reply.text:
        text = mrkdwn(reply.text)
        blocks.append(_section(text if reply.ok else f":warning: {text}"))
    if reply.table:
        blocks.append(_section(f"```{_cut(table_text(reply.table), MAX_TEXT - 6)}```"))
    if reply.choices:
        elements = [_button_element(c.label, c.custom_id, c.primary) for c in reply.choices]
        blocks.append({"type": "actions", "block_id": CHOICES_BLOCK, "elements": elements})
    attachments = [{"color": c.color, "blocks": card_blocks(c)} for c in reply.cards]
    plain = mrkdwn(reply.text) or "Tocsin"
    return {
        "text": _cut(plain, MAX_TEXT),
        "blocks": blocks[:MAX_BLOCKS],
        "attachments": attachments,
    }


def table_text(table: tuple[tuple[str, ...], ...]) -> str:
    """A reply's table as aligned columns (Slack has no table block)."""
    rows = [[mrkdwn(cell) for cell in row] for row in table]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def form_view(form: RuleForm, metadata: str) -> dict[str, Any]:
    """The rule editor as a modal; ``metadata`` comes back with the submission."""
    blocks: list[Block] = []
    for field in form.fields:
        if field.switch:
            option = {"text": {"type": "plain_text", "text": "Enabled"}, "value": ENABLED_OPTION}
            element: Block = {"type": "checkboxes", "action_id": field.key, "options": [option]}
            if field.value == "yes":
                element["initial_options"] = [option]
            blocks.append(
                {
                    "type": "input",
                    "block_id": field.key,
                    "optional": True,
                    "label": {"type": "plain_text", "text": field.label},
                    "element": element,
                }
            )
            continue
        blocks.append(
            {
                "type": "input",
                "block_id": field.key,
                "label": {"type": "plain_text", "text": field.label},
                "element": {
                    "type": "plain_text_input",
                    "action_id": field.key,
                    "initial_value": field.value,
                    "max_length": field.max_length,
                    "placeholder": {"type": "plain_text", "text": field.hint or " "},
                },
            }
        )
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": form.title},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def form_values(view: dict[str, Any]) -> dict[str, str]:
    """The submitted values of the rule editor, as text per field key."""
    values: dict[str, str] = {}
    for block_id, actions in view.get("state", {}).get("values", {}).items():
        for state in actions.values():
            if state.get("type") == "checkboxes":
                chosen = {o.get("value") for o in state.get("selected_options") or []}
                values[block_id] = "yes" if ENABLED_OPTION in chosen else "no"
            else:
                values[block_id] = state.get("value") or ""
    return values
