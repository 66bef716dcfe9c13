"""A card's buttons and the commands they stand for: one vocabulary for every platform.

A button carries its action in its id (``tocsin:ack:42``, ``tocsin:snooze:42:1h``), so it
keeps working after a restart with nothing held in memory; clicking it runs the same
command as typing ``/alerts ack 42``. A reply's choices (Apply / Cancel of a proposed
rule change) carry the proposal's token the same way (``tocsin:apply:<token>``, which is
``/rule apply <token>``). ``decode`` refuses anything else with a sentence a person can
read."""

from __future__ import annotations

import re
from dataclasses import dataclass

from commands.model import Command
from commands.parser import TOKEN_PATTERN, CommandError, build
from monitors.incidents.machine import Action

PREFIX = "tocsin"
SNOOZE_CHOICES: tuple[str, ...] = ("15m", "1h", "4h", "1d")
"""The snooze lengths a card offers; ``/alerts snooze`` takes any."""

COMMAND_OF: dict[Action, str] = {
    Action.ACKNOWLEDGE: "ack",
    Action.SNOOZE: "snooze",
    Action.RESOLVE: "resolve",
}
"""Each button's ``/alerts`` command, which is also its code in the button id."""
_ACTION_OF = {code: action for action, code in COMMAND_OF.items()}
_BUTTON_ID = re.compile(rf"{PREFIX}:([a-z]+):([0-9]{{1,10}})(?::([0-9a-z]{{1,12}}))?")
CHOICE_LABELS: dict[str, str] = {"apply": "Apply", "cancel": "Cancel"}
"""A proposal's choices: each is a ``/rule`` command taking the token."""
_CHOICE_ID = re.compile(rf"{PREFIX}:({'|'.join(CHOICE_LABELS)}):({TOKEN_PATTERN})")

BUTTON_LABELS: dict[Action, str] = {
    Action.ACKNOWLEDGE: "Acknowledge",
    Action.SNOOZE: "Snooze",
    Action.RESOLVE: "Resolve",
}


@dataclass(frozen=True)
class Button:
    """One button of one incident's card; ``duration`` for snooze only."""

    action: Action
    incident_id: int
    duration: str | None = None

    @property
    def custom_id(self) -> str:
        """The id the platform sends back when the button is clicked."""
        suffix = f":{self.duration}" if self.duration else ""
        return f"{PREFIX}:{COMMAND_OF[self.action]}:{self.incident_id}{suffix}"

    @property
    def label(self) -> str:
        if self.duration:
            return f"{BUTTON_LABELS[self.action]} {self.duration}"
        return BUTTON_LABELS[self.action]

    def command(self) -> Command:
        """The command the button stands for, checked as if it had been typed."""
        args = [str(self.incident_id)] + ([self.duration] if self.duration else [])
        return build("alerts", COMMAND_OF[self.action], args)

    @property
    def typed(self) -> str:
        """The same, as a person would type it (the console shows these)."""
        return self.command().raw


@dataclass(frozen=True)
class Choice:
    """One of a reply's choices: Apply or Cancel a proposed rule change."""

    verb: str
    token: str

    @property
    def custom_id(self) -> str:
        return f"{PREFIX}:{self.verb}:{self.token}"

    @property
    def label(self) -> str:
        return CHOICE_LABELS[self.verb]

    @property
    def primary(self) -> bool:
        return self.verb == "apply"

    def command(self) -> Command:
        return build("rule", self.verb, [self.token])

    @property
    def typed(self) -> str:
        return self.command().raw


def proposal_choices(token: str) -> tuple[Choice, ...]:
    """Apply and Cancel for the proposal ``token``."""
    return tuple(Choice(verb, token) for verb in CHOICE_LABELS)


def card_buttons(incident_id: int, actions: tuple[Action, ...]) -> list[Button]:
    """The buttons for a card's ``actions``; snooze becomes one per ``SNOOZE_CHOICES``."""
    buttons = []
    for action in map(Action, actions):
        if action is Action.SNOOZE:
            buttons.extend(Button(action, incident_id, d) for d in SNOOZE_CHOICES)
        elif action in COMMAND_OF:
            buttons.append(Button(action, incident_id))
    return buttons


def decode(custom_id: str) -> Button | Choice:
    """The button or choice an id stands for, or CommandError saying why it is not one
    of ours."""
    chosen = _CHOICE_ID.fullmatch(custom_id.strip())
    if chosen is not None:
        return Choice(chosen[1], chosen[2])
    found = _BUTTON_ID.fullmatch(custom_id.strip())
    if found is None:
        raise CommandError(f'"{custom_id[:80]}" is not a Tocsin button')
    code, number, duration = found.groups()
    action = _ACTION_OF.get(code)
    if action is None:
        if code in CHOICE_LABELS:
            raise CommandError(f'"{custom_id[:80]}": {code} takes a proposal\'s token')
        known = ", ".join(_ACTION_OF)
        raise CommandError(f'"{code}" is not a button action; Tocsin\'s are {known}')
    incident_id = int(number)
    if incident_id == 0:  # whether a larger one is an incident is the core's to say
        raise CommandError(f"#{incident_id} is not an incident id")
    if (action is Action.SNOOZE) != (duration is not None):
        needs = "needs a duration, e.g. :1h" if duration is None else "takes no duration"
        raise CommandError(f'"{custom_id[:80]}": {code} {needs}')
    button = Button(action, incident_id, duration)
    button.command()  # the duration must read as one: CommandError if not
    return button
