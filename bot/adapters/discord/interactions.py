"""What people do in Discord, run through the core, with every interaction answered.

A slash command's options are checked as typed text would be (commands.parser.build),
a click is decoded from its custom id (commands.actions.decode), and both run through
commands.dispatch.run with the member as Actor: the same handler, roles and refusals as
every other surface. Answers are ephemeral; a click that changed an incident redraws
its message in place.

Discord fails an interaction nobody answers within 3 seconds ("This interaction
failed"). Work not done ``DEFER_AFTER`` seconds after Discord created the interaction
is deferred and answered by a follow-up; a refusal, a bad id or an error in our own
code is answered too."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot.adapters.base import CHART_FILENAME
from bot.adapters.discord.identity import actor_of
from bot.adapters.discord.items import (
    card_view,
    choices_view,
    handled_here,
    is_group_menu,
    snooze_menu_id,
)
from bot.adapters.discord.modal import rule_modal, rule_of, submitted_values
from bot.adapters.discord.rendering import (
    allowed_mentions,
    card_embed,
    reply_message,
)
from commands.actions import Button, Choice, decode
from commands.dispatch import run
from commands.model import Reply
from commands.parser import CommandError, build
from commands.rule_form import FormErrors, RuleForm, rule_form, submit
from monitors.actors import Actor
from monitors.core import Core
from monitors.errors import ActionError
from monitors.incidents.machine import Action

log = logging.getLogger(__name__)

DEFER_AFTER = 2.0
"""Seconds after Discord created an interaction by which it is deferred if its work is
not done (Discord allows 3 for the first answer, then 15 minutes for follow-ups)."""
MIN_DEFER_WAIT = 0.1
"""The least time given to the work itself, whatever the clocks say."""
TROUBLE = "Something went wrong handling that; see Tocsin's log."
SELECT = discord.ComponentType.select.value


def time_to_defer(interaction: discord.Interaction[Any], now: float) -> float:
    """Seconds the work may take before the interaction is deferred: counted from when
    Discord created it (its id says when), so time spent queued behind a burst of
    other interactions counts too. Clocks differ: it is never more than DEFER_AFTER
    nor less than MIN_DEFER_WAIT."""
    age = now - interaction.created_at.timestamp()
    return min(DEFER_AFTER, max(MIN_DEFER_WAIT, DEFER_AFTER - age))


def _menu_choice(menu_id: str, chosen: Sequence[str]) -> Button:
    """The button a menu's chosen option stands for: a snooze of the card's incident on
    a card's snooze menu; any incident's action on a storm's menu (what it offers is
    what the message shows, and the command runs with the chooser's own rights)."""
    if len(chosen) != 1:
        raise CommandError("Pick one option.")
    button = decode(chosen[0])
    if not isinstance(button, Button):
        raise CommandError(f'"{chosen[0][:80]}" is not an option of this menu')
    if is_group_menu(menu_id):
        return button
    if button.action is not Action.SNOOZE or snooze_menu_id(button.incident_id) != menu_id:
        raise CommandError(f'"{chosen[0][:80]}" is not an option of this snooze menu')
    return button


def _shows_one_incident(interaction: discord.Interaction[Any]) -> bool:
    """Whether the clicked message is a card of one, which the click may redraw; a
    storm's message is redrawn by the outbox, from every incident it shows."""
    message = interaction.message
    return message is not None and len(message.embeds) <= 1


def _components(components: Sequence[Any]) -> Iterator[Any]:
    for component in components:
        yield component
        yield from _components(getattr(component, "children", ()))


def _on_its_message(interaction: discord.Interaction[Any], custom_id: str) -> bool:
    """Whether the clicked component is on the message as Discord sent it, which is
    what discord.py needs to hand the click to one of our DynamicItems."""
    if interaction.message is None:
        return False
    found = _components(interaction.message.components)
    return any(getattr(component, "custom_id", None) == custom_id for component in found)


@dataclass
class Interactions:
    core: Core
    admin_role_ids: tuple[str, ...] = ()

    def actor(self, interaction: discord.Interaction[Any]) -> Actor:
        return actor_of(interaction, self.admin_role_ids)

    # ------------------------------------------------------------ entry points

    async def command(
        self,
        interaction: discord.Interaction[Any],
        group: str,
        action: str,
        values: Sequence[str | None] = (),
    ) -> None:
        """A slash command with its options in the order of the command table."""
        try:
            command = build(group, action, [v for v in values if v is not None])
        except CommandError as exc:
            await self.answer(interaction, Reply(str(exc), ok=False, private=True), False)
            return
        reply, deferred = await self._in_time(
            interaction,
            lambda: run(self.core, command, self.actor(interaction)),
            lambda: interaction.response.defer(ephemeral=True, thinking=True),
        )
        if reply.form is not None and not deferred:
            await self._open_form(interaction, reply.form)
            return
        await self.answer(interaction, reply, deferred)

    async def click(
        self,
        interaction: discord.Interaction[Any],
        custom_id: str,
        chosen: Sequence[str] | None = None,
    ) -> None:
        """A button (``chosen`` None), or a menu (the chosen option ids): a card's
        snooze menu or a storm's menu of actions. A choice (Apply / Cancel) that went
        through replaces the reply it was on."""
        try:
            button = decode(custom_id) if chosen is None else _menu_choice(custom_id, chosen)
        except CommandError as exc:
            await self.answer(interaction, Reply(str(exc), ok=False, private=True), False)
            return
        reply, deferred = await self._in_time(
            interaction,
            lambda: run(self.core, button.command(), self.actor(interaction)),
            lambda: interaction.response.defer(),
        )
        if reply.ok and isinstance(button, Choice):
            await self._replace(interaction, reply, deferred)
        elif reply.ok and reply.cards and _shows_one_incident(interaction):
            await self._redraw(interaction, reply, deferred)
        elif reply.ok:  # the message shows the card already: a word to the chooser
            await self.answer(interaction, Reply(reply.text, private=True), deferred)
        else:
            await self.answer(interaction, reply, deferred)

    async def form_submitted(self, interaction: discord.Interaction[Any], rule: str) -> None:
        values = submitted_values(interaction.data or {})
        actor = self.actor(interaction)
        reply, deferred = await self._in_time(
            interaction,
            lambda: self._save_form(rule, values, actor),
            lambda: interaction.response.defer(ephemeral=True, thinking=True),
        )
        await self.answer(interaction, reply, deferred)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Answers what no command, item or form of ours handles, so that nothing a
        person clicks is left unanswered: a component whose id is not one of our
        buttons, or is no longer on the message (discord.py's items only answer what
        the message still shows: a click racing an edit), and modal submissions
        (handled here from their id alone)."""
        data: Mapping[str, Any] = interaction.data or {}
        custom_id = str(data.get("custom_id", ""))
        if interaction.type is discord.InteractionType.component:
            if not (handled_here(custom_id) and _on_its_message(interaction, custom_id)):
                chosen = data.get("values") if data.get("component_type") == SELECT else None
                await self.click(interaction, custom_id, chosen)
        elif interaction.type is discord.InteractionType.modal_submit:
            rule = rule_of(custom_id)
            if rule is None:
                reply = Reply(f'"{custom_id[:80]}" is not a Tocsin form.', ok=False, private=True)
                await self.answer(interaction, reply, False)
            else:
                await self.form_submitted(interaction, rule)

    # ------------------------------------------------------------ the work

    async def _save_form(self, rule: str, values: Mapping[str, str], actor: Actor) -> Reply:
        current = self.core.rulebook.get(rule)
        labels = {f.key: f.label for f in rule_form(current).fields} if current else {}
        try:
            saved = await submit(self.core, rule, values, actor)
        except FormErrors as exc:
            problems = "; ".join(f"{labels.get(k, k)}: {why}" for k, why in exc.errors.items())
            return Reply(f"Nothing was saved. {problems}", ok=False, private=True)
        except ActionError as exc:
            return Reply(f"{exc} Nothing was changed.", ok=False, private=True)
        now = "; ".join(f"{f.label}: {f.value}" for f in rule_form(saved).text_fields)
        return Reply(
            f"Saved {saved.name} ({now}). It applies from the next tick and survives restarts.",
            private=True,
        )

    async def _in_time(
        self,
        interaction: discord.Interaction[Any],
        work: Callable[[], Awaitable[Reply]],
        defer: Callable[[], Awaitable[Any]],
    ) -> tuple[Reply, bool]:
        """The work's reply, and whether the interaction had to be deferred first."""
        task = asyncio.ensure_future(self._safely(work))
        done, _ = await asyncio.wait({task}, timeout=time_to_defer(interaction, time.time()))
        if not done:
            await defer()
        return await task, not done

    @staticmethod
    async def _safely(work: Callable[[], Awaitable[Reply]]) -> Reply:
        try:
            return await work()
        except Exception:  # answered, so the person is not left with "interaction failed"
            log.exception("handling a Discord interaction failed")
            return Reply(TROUBLE, ok=False, private=True)

    # ------------------------------------------------------------ answers

    async def answer(
        self, interaction: discord.Interaction[Any], reply: Reply, deferred: bool = False
    ) -> None:
        """An ephemeral answer: the first response, or a follow-up once deferred."""
        message = reply_message(reply)
        view = card_view(reply.cards[0]) if len(reply.cards) == 1 else choices_view(reply.choices)
        options: dict[str, Any] = {
            "content": message["content"],
            "embeds": message["embeds"],
            "ephemeral": True,
            "allowed_mentions": allowed_mentions(False),
        }
        if view is not None:
            options["view"] = view
        if deferred:
            await interaction.followup.send(**options)
        else:
            await interaction.response.send_message(**options)

    async def _redraw(
        self, interaction: discord.Interaction[Any], reply: Reply, deferred: bool
    ) -> None:
        """Show the incident's new state on the message whose button was clicked."""
        card = reply.cards[0]
        shown = interaction.message.attachments if interaction.message else []
        charted = any(a.filename == CHART_FILENAME for a in shown)  # keep showing the chart
        options = {
            "embed": card_embed(card, chart=charted),
            "view": card_view(card),
            "allowed_mentions": allowed_mentions(False),
        }
        if deferred:
            await interaction.edit_original_response(**options)
        else:
            await interaction.response.edit_message(**options)

    async def _replace(
        self, interaction: discord.Interaction[Any], reply: Reply, deferred: bool
    ) -> None:
        """The reply a choice was on, replaced by what the choice did (no buttons)."""
        message = reply_message(reply)
        options = {
            "content": message["content"],
            "embeds": message["embeds"],
            "view": None,
            "allowed_mentions": allowed_mentions(False),
        }
        if deferred:
            await interaction.edit_original_response(**options)
        else:
            await interaction.response.edit_message(**options)

    async def _open_form(self, interaction: discord.Interaction[Any], form: RuleForm) -> None:
        modal = rule_modal(form)
        await interaction.response.send_modal(modal)
        modal.stop()  # its submission is handled from its id, by on_interaction
