"""What Tocsin does with Slack's requests: slash commands, button clicks and menu
choices on incident messages, and the rule editor's submissions. Each becomes the same
neutral command a typed one is (commands/), run for the Slack user Slack vouches for.

Slack wants an answer within 3 seconds. The bolt app runs each listener to its end
before answering (``process_before_response``: no polling for the acknowledgement), so
whatever may come after the acknowledgement runs as a task of its own: commands answer
in the acknowledgement when they finish within ``budget`` (nearly always: they take
milliseconds), else Slack hears "working on it" at once and the reply follows through
the response URL; a click is acknowledged at once and its word to the person follows."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.people import SlackPeople
from bot.adapters.slack.render import form_values, form_view, reply_blocks
from commands.actions import Choice, decode
from commands.dispatch import handle, run
from commands.model import Reply
from commands.parser import CommandError
from commands.rule_form import FormErrors, submit
from monitors.core import Core
from monitors.errors import ActionError

log = logging.getLogger(__name__)
Ack = Callable[..., Awaitable[None]]
Respond = Callable[..., Awaitable[Any]]
BUDGET = 2.0
WORKING = "Working on it…"


HELP_COMMAND = "/tocsin"
"""``/tocsin alerts list`` runs ``/alerts list``; ``/tocsin`` alone is ``/help``."""


def command_line(command: str, text: str) -> str:
    """The line Tocsin's parser reads for a Slack slash command and its text."""
    if command == HELP_COMMAND:
        return text.strip() or "help"
    return f"{command} {text}"


class SlackHandlers:
    def __init__(
        self, core: Core, people: SlackPeople, client: AsyncWebClient, budget: float = BUDGET
    ) -> None:
        self.core = core
        self.people = people
        self.client = client
        self.budget = budget
        self._after_ack: set[asyncio.Task[None]] = set()

    def later(self, work: Awaitable[None]) -> None:
        """Run ``work`` after the acknowledgement; its failure is logged, not lost."""
        task = asyncio.ensure_future(work)
        self._after_ack.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._after_ack.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Slack follow-up failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Let follow-ups in flight finish (at shutdown)."""
        if self._after_ack:
            await asyncio.wait(set(self._after_ack), timeout=5)

    async def command(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        """``/alerts ack 42``: the reply is ephemeral; ``/rule edit`` opens the editor."""
        actor = await self.people.actor(body["user_id"], body.get("user_name"))
        text = command_line(body.get("command", ""), body.get("text", ""))
        work = asyncio.ensure_future(handle(self.core, text, actor))
        try:
            reply = await asyncio.wait_for(asyncio.shield(work), self.budget)
        except TimeoutError:
            await ack(response_type="ephemeral", text=WORKING)
            self.later(self._respond_when_done(work, respond))
            return
        if reply.form is not None and reply.ok and body.get("trigger_id"):
            metadata = json.dumps({"rule": reply.form.rule, "channel": body.get("channel_id")})
            try:
                await self.client.views_open(
                    trigger_id=body["trigger_id"], view=form_view(reply.form, metadata)
                )
            except SlackApiError as exc:  # e.g. the trigger expired: say so, and what else works
                log.warning("views.open failed: %s", exc.response.data)
                failed = f"Slack did not open the editor ({_error(exc)}). {reply.text}"
                reply = Reply(failed, ok=False, private=True)
            else:
                await ack()
                return
        await ack(response_type="ephemeral", **reply_blocks(reply))

    @staticmethod
    async def _respond_when_done(work: asyncio.Future[Reply], respond: Respond) -> None:
        reply = await work
        await respond(response_type="ephemeral", replace_original=False, **reply_blocks(reply))

    async def action(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        """A button or the snooze menu on an incident message, or a reply's choice
        (Apply / Cancel): acknowledged at once."""
        await ack()
        self.later(self._act(body, action, respond))

    async def _act(self, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        """Run the button's command. An incident's message is edited through the
        outbox, and the person gets an ephemeral word on what happened; a choice that
        went through replaces the message it was on (its buttons are spent)."""
        user = body.get("user") or {}
        actor = await self.people.actor(
            user.get("id", ""), user.get("username") or user.get("name")
        )
        chosen = (action.get("selected_option") or {}).get("value") or action.get("value") or ""
        clicked = None
        try:
            clicked = decode(chosen)
            reply = await run(self.core, clicked.command(), actor)
        except CommandError as exc:
            reply = Reply(f"{exc}; nothing was changed.", ok=False, private=True)
        if isinstance(clicked, Choice) and reply.ok and body.get("response_url"):
            await respond(response_type="ephemeral", replace_original=True, **reply_blocks(reply))
            return
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id"
        )
        if channel:
            await self.client.chat_postEphemeral(
                channel=channel, user=actor.id, **reply_blocks(_without_cards(reply))
            )

    async def form_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The rule editor's Save: field errors show in the modal and nothing is saved;
        otherwise the modal closes and the editor hears what changed."""
        user = body.get("user") or {}
        actor = await self.people.actor(
            user.get("id", ""), user.get("username") or user.get("name")
        )
        metadata = json.loads(view.get("private_metadata") or "{}")
        rule_name = str(metadata.get("rule", ""))
        try:
            before = self.core.rules.get(rule_name)
            rule = await submit(self.core, rule_name, form_values(view), actor)
        except FormErrors as exc:
            await ack(response_action="errors", errors=exc.errors)
            return
        except ActionError as exc:  # gone meanwhile, or not an admin
            await ack(response_action="errors", errors={"thresholds": str(exc)})
            return
        await ack()
        said = "nothing changed" if rule == before else "saved; it applies from the next tick"
        channel = metadata.get("channel")
        if channel:
            self.later(
                self.client.chat_postEphemeral(
                    channel=channel, user=actor.id, text=f"{rule.name}: {said}."
                )
            )


def _error(exc: SlackApiError) -> str:
    data = exc.response.data
    return str(data.get("error", "an error")) if isinstance(data, dict) else "an error"


def _without_cards(reply: Reply) -> Reply:
    """The message shows the card already: the word after a click is text only."""
    return Reply(reply.text, reply.ok, reply.private)
