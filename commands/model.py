"""Platform-neutral commands and replies. Adapters turn chat events into a Command and
render a Reply; nothing here knows which chat it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from monitors.actors import Actor
from monitors.incidents.cards import IncidentCard

if TYPE_CHECKING:
    from commands.actions import Choice
    from commands.rule_form import RuleForm

__all__ = ["Actor", "Command", "IncidentCard", "Reply"]


@dataclass(frozen=True)
class Command:
    """A parsed slash command: ``/alerts ack 42`` is group ``alerts``, action ``ack``,
    args ``("42",)``."""

    group: str
    action: str
    args: tuple[str, ...] = ()
    raw: str = ""


@dataclass(frozen=True)
class Reply:
    """A command's answer. ``ok`` is False for refusals and bad input; ``private`` asks the
    platform to show it only to the caller (ephemeral). ``form`` asks platforms that have
    forms to open it (the rule editor); ``text`` says what to do where there are none.
    ``choices`` are buttons under the text (Apply / Cancel of a proposed change); where
    there are no buttons, each is shown as the command to type. Text may name people
    with mention tokens (monitors.mentions)."""

    text: str
    ok: bool = True
    private: bool = False
    cards: tuple[IncidentCard, ...] = ()
    table: tuple[tuple[str, ...], ...] = field(default=())
    form: RuleForm | None = None
    choices: tuple[Choice, ...] = ()
