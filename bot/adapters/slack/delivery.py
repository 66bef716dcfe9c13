"""Posting and editing incident messages through Slack's Web API.

One message per incident and channel: the first delivery posts it (with metadata naming
the incident), later ones edit it in place (chat.update) and add their line to its
thread; a page (escalation, reminder) also broadcasts the thread line to the channel.
A retried post first looks for the message its lost answer may have left (by that
metadata), so a timeout never leaves two. Errors become DeliveryErrors: 429 with Slack's
Retry-After, and errors no retry can fix (an unknown channel, a revoked token) marked
permanent with Slack's reason."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.base import ChartAttachment, Delivery, DeliveryError
from bot.adapters.slack.render import escape, group_message, incident_message, mrkdwn
from monitors.admin_notices import TITLE as NOTICE_TITLE
from monitors.routing import split_target
from monitors.subscriptions.model import PersonalPlatform
from storage.vocabulary import EventKind

log = logging.getLogger(__name__)

METADATA_TYPE = "tocsin_incident"
LINE_TYPE = "tocsin_update"
NOTICE_TYPE = "tocsin_notice"
LOOK_BACK = 60.0
"""Seconds before a row was queued from which a retried post looks for its message."""
PERMANENT = frozenset(
    {
        "account_inactive",
        "channel_not_found",
        "ekm_access_denied",
        "invalid_attachments",
        "invalid_auth",
        "invalid_blocks",
        "is_archived",
        "missing_scope",
        "msg_too_long",
        "no_permission",
        "not_authed",
        "not_in_channel",
        "restricted_action",
        "team_access_not_granted",
        "token_expired",
        "token_revoked",
        "user_not_found",
        "user_not_visible",
        "user_disabled",
        "cannot_dm_bot",
    }
)
"""Slack errors that the same request can never get past."""


def message_ref(channel: str, ts: str) -> str:
    return f"{channel}:{ts}"


def split_ref(ref: str) -> tuple[str, str]:
    channel, _, ts = ref.partition(":")
    return channel, ts


def delivery_error(exc: SlackApiError) -> DeliveryError:
    response = exc.response
    data = response.data if isinstance(response.data, dict) else {}
    error = str(data.get("error") or f"HTTP {response.status_code}")
    if response.status_code == 429 or error == "ratelimited":
        wait = float(response.headers.get("Retry-After", response.headers.get("retry-after", 1)))
        return DeliveryError(f"Slack rate limit: retry after {wait:g}s", retry_after=wait)
    detail = f" ({', '.join(data['response_metadata']['messages'])})" if _details(data) else ""
    return DeliveryError(f"Slack: {error}{detail}", permanent=error in PERMANENT)


def _details(data: dict[str, Any]) -> bool:
    return bool(data.get("response_metadata", {}).get("messages"))


class SlackPoster:
    """Delivers outbox rows to Slack channels."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._workspace: str | None = None

    async def link(self, ref: str) -> str | None:
        """The message's permalink, from the workspace's address (asked once)."""
        if self._workspace is None:
            try:
                self._workspace = str((await self.client.auth_test()).get("url") or "")
            except (SlackApiError, aiohttp.ClientError, TimeoutError):
                return None  # no link this time; the mail still goes
        if not self._workspace:
            return None
        channel, ts = split_ref(ref)
        return f"{self._workspace.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"

    async def deliver(self, delivery: Delivery) -> str:
        try:
            if delivery.event == EventKind.NOTICE:
                return await self._notice(delivery)
            if delivery.message_ref is None:
                return await self._post(delivery)
            return await self._edit(delivery, delivery.message_ref)
        except SlackApiError as exc:
            raise delivery_error(exc) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"Slack unreachable: {type(exc).__name__}: {exc}") from None

    async def attach_chart(self, chart: ChartAttachment) -> None:
        """The chart as a file in the message's thread (files_upload_v2: an upload URL,
        the upload, then sharing it), once: a retry first looks in the thread for the
        file an earlier attempt shared, by its name. ``chat.update`` never touches the
        thread, so later edits keep it."""
        channel, ts = split_ref(chart.message_ref)
        try:
            if chart.attempt > 1 and await self._chart_shared(channel, ts, chart.filename):
                return
            await self.client.files_upload_v2(
                channel=channel,
                thread_ts=ts,
                content=chart.png,
                filename=chart.filename,
                title=f"#{chart.card.incident_id} chart",
                alt_txt=f"Chart of {chart.card.title}",
            )
        except SlackApiError as exc:
            raise delivery_error(exc) from None
        except (SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"Slack upload failed: {type(exc).__name__}: {exc}") from None

    async def _chart_shared(self, channel: str, ts: str, filename: str) -> bool:
        try:
            replies = await self.client.conversations_replies(channel=channel, ts=ts, limit=200)
        except SlackApiError as exc:  # e.g. missing channels:history: upload, as before
            log.warning("cannot look for an earlier chart in %s: %s", channel, _error(exc))
            return False
        return any(
            file.get("name") == filename
            for message in replies.get("messages") or []
            for file in message.get("files") or []
        )

    async def _post(self, delivery: Delivery) -> str:
        if split_target(delivery.target)[0] == PersonalPlatform.SLACK_DM:
            # a person's own copy (/notify me): the same message, in their direct
            # messages with Tocsin; edits and thread lines then go to that conversation
            delivery = replace(delivery, place=await self._direct_channel(delivery.place))
        ref = await self._already_posted(delivery) if delivery.attempt > 1 else None
        if ref is None:
            response = await self.client.chat_postMessage(
                channel=delivery.place,
                metadata={"event_type": METADATA_TYPE, "event_payload": _findable(delivery)},
                unfurl_links=False,
                unfurl_media=False,
                **message_of(delivery),
            )
            ref = message_ref(str(response["channel"]), str(response["ts"]))
        if delivery.event != EventKind.OPENED and delivery.line:  # why it is posted here
            await self._thread_line(ref, delivery, broadcast=False)
        return ref

    async def _edit(self, delivery: Delivery, ref: str) -> str:
        channel, ts = split_ref(ref)
        try:
            await self.client.chat_update(channel=channel, ts=ts, **message_of(delivery))
        except SlackApiError as exc:
            if _error(exc) != "message_not_found":
                raise
            log.warning(
                "the Slack message of #%s was deleted; posting it again", delivery.card.incident_id
            )
            return await self._post(delivery)
        if delivery.line:
            await self._thread_line(ref, delivery, broadcast=delivery.notify)
        return ref

    async def _thread_line(self, ref: str, delivery: Delivery, broadcast: bool) -> None:
        """The update's line in the message's thread, once: a retry first looks for the
        line an earlier attempt posted (by the outbox row named in its metadata)."""
        channel, ts = split_ref(ref)
        if delivery.attempt > 1 and await self._line_posted(channel, ts, delivery.row_id):
            return
        await self.client.chat_postMessage(
            channel=channel,
            thread_ts=ts,
            text=mrkdwn(delivery.line),
            reply_broadcast=broadcast,
            metadata={"event_type": LINE_TYPE, "event_payload": {"row": delivery.row_id}},
        )

    async def _line_posted(self, channel: str, ts: str, row_id: int) -> bool:
        try:
            replies = await self.client.conversations_replies(
                channel=channel, ts=ts, include_all_metadata=True, limit=200
            )
        except SlackApiError as exc:  # e.g. missing channels:history: post, as before
            log.warning("cannot look for an earlier thread line in %s: %s", channel, _error(exc))
            return False
        return any(
            (m.get("metadata") or {}).get("event_type") == LINE_TYPE
            and (m.get("metadata") or {}).get("event_payload", {}).get("row") == row_id
            for m in replies.get("messages") or []
        )

    async def _already_posted(self, delivery: Delivery) -> str | None:
        """The message an earlier attempt posted for this incident, if its answer was
        lost: found by its metadata in the channel's recent history. A message of no
        incident (a cap's "N more not posted") is found by its outbox row instead."""
        since = delivery.queued_at - LOOK_BACK
        incident = delivery.card.incident_id
        if incident > 0:
            return await self._find(delivery.place, since, METADATA_TYPE, "incident", incident)
        return await self._find(delivery.place, since, METADATA_TYPE, "row", delivery.row_id)

    async def _find(
        self, channel: str, since: float, event_type: str, key: str, value: int
    ) -> str | None:
        """A message posted to ``channel`` since ``since`` whose metadata is
        ``event_type`` with ``key`` = ``value``."""
        try:
            history = await self.client.conversations_history(
                channel=channel,
                oldest=str(max(since, 0)),
                include_all_metadata=True,
                limit=200,
            )
        except SlackApiError as exc:  # e.g. missing channels:history: post, as before
            log.warning("cannot look for an earlier post in %s: %s", channel, _error(exc))
            return None
        for message in history.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == event_type and payload.get(key) == value:
                return message_ref(channel, str(message["ts"]))
        return None

    async def _notice(self, delivery: Delivery) -> str:
        """A notice for an admin, as a direct message to ``delivery.place`` (a user id),
        once: a retry first looks in the conversation for the outbox row named in the
        metadata of what an earlier attempt posted."""
        channel = await self._direct_channel(delivery.place)
        if delivery.attempt > 1:
            since = delivery.queued_at - LOOK_BACK
            found = await self._find(channel, since, NOTICE_TYPE, "row", delivery.row_id)
            if found is not None:
                return found
        response = await self.client.chat_postMessage(
            channel=channel,
            text=f"*{escape(NOTICE_TITLE)}:* {mrkdwn(delivery.line)}",
            metadata={"event_type": NOTICE_TYPE, "event_payload": {"row": delivery.row_id}},
            unfurl_links=False,
            unfurl_media=False,
        )
        return message_ref(str(response["channel"]), str(response["ts"]))

    async def _direct_channel(self, user: str) -> str:
        """The direct message conversation between Tocsin and ``user`` (a user id);
        conversations.open returns the same one every time."""
        opened = await self.client.conversations_open(users=user)
        return str(opened["channel"]["id"])


def _findable(delivery: Delivery) -> dict[str, int]:
    """What a retry looks for (see ``_already_posted``): the incident, else the row."""
    incident = delivery.card.incident_id
    return {"incident": incident} if incident > 0 else {"incident": 0, "row": delivery.row_id}


def message_of(delivery: Delivery) -> dict[str, Any]:
    """The message for the delivery: its incident's, or its storm's."""
    return group_message(delivery.group) if delivery.group else incident_message(delivery.card)


def _error(exc: SlackApiError) -> str:
    data = exc.response.data
    return str(data.get("error", "")) if isinstance(data, dict) else ""
