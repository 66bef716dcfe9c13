"""A fake Discord on a loopback port (port 0): the REST API and the gateway, enough of
both for the real discord.py client to log in, connect, sync its commands, post and edit
messages, open threads and answer interactions, unmodified, through
``TOCSIN_DISCORD_API_URL`` and ``TOCSIN_DISCORD_GATEWAY_URL``.

Every REST call is recorded (``calls``), messages and threads are kept as Discord keeps
them, and any route can be made to answer 429 or 5xx on demand (``fail``). Interactions
are dispatched over the gateway as Discord does (``interact``), built from what the bot
itself posted and synced (see tests/discord_payloads.py), and the test waits for the
interaction callback to arrive."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

API = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
BOT_ID = "900000000000000001"
GUILD_ID = "234567890123456789"
CHANNEL_ID = "123456789012345678"
ADMIN_ROLE_ID = "345678901234567890"
BOT_USER = {
    "id": BOT_ID,
    "username": "tocsin",
    "discriminator": "0",
    "global_name": "Tocsin",
    "avatar": None,
    "bot": True,
    "flags": 0,
}
HEARTBEAT_MS = 41_250


@dataclass
class Call:
    """One REST request as the fake received it; ``path`` is without the API prefix."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    """Files of a multipart request: form field (``files[0]``) -> (filename, content)."""


@dataclass
class Failure:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    retry_after: float
    after_effect: bool
    """Do what was asked, then answer with the failure: a lost answer."""


def iso(at: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(at or time.time()))


def as_json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON as Discord sends it: discord.py parses a body only when the content type is
    exactly ``application/json`` (no charset)."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def error_body(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def embed_length(embed: dict[str, Any]) -> int:
    """Characters of an embed as Discord counts them toward a message's 6,000."""
    fields = embed.get("fields") or []
    return (
        len(embed.get("title") or "")
        + len(embed.get("description") or "")
        + sum(len(f.get("name") or "") + len(f.get("value") or "") for f in fields)
        + len((embed.get("footer") or {}).get("text") or "")
        + len((embed.get("author") or {}).get("name") or "")
    )


def form_problems(body: dict[str, Any]) -> list[str]:
    """What Discord refuses in a message body (400, Invalid Form Body): the limits on
    content, embeds and components that a message must stay within."""
    problems = []
    if len(body.get("content") or "") > 2000:
        problems.append("content: must be 2000 or fewer in length")
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        problems.append("embeds: must be 10 or fewer in length")
    if sum(embed_length(e) for e in embeds) > 6000:
        problems.append("embeds: embed size exceeds maximum size of 6000")
    for embed in embeds:
        if len(embed.get("title") or "") > 256 or len(embed.get("fields") or []) > 25:
            problems.append("embeds: title over 256 or more than 25 fields")
        if any(len(f.get("value") or "") > 1024 for f in embed.get("fields") or []):
            problems.append("embeds: a field value over 1024")
    rows = body.get("components") or []
    if len(rows) > 5:
        problems.append("components: must be 5 or fewer in length")
    for row in rows:
        for component in row.get("components") or []:
            if len(component.get("custom_id") or "") > 100:
                problems.append("components: custom_id over 100")
            if component.get("type") == 3:
                options = component.get("options") or []
                if not 1 <= len(options) <= 25:
                    problems.append("components: a select needs 1 to 25 options")
                if len(component.get("placeholder") or "") > 150:
                    problems.append("components: placeholder over 150")
                for option in options:
                    if len(option["label"]) > 100 or len(option["value"]) > 100:
                        problems.append("components: option label or value over 100")
                    if len(option.get("description") or "") > 100:
                        problems.append("components: option description over 100")
    return problems


def invalid_form(problems: list[str]) -> web.Response:
    return as_json({**error_body(50035, "Invalid Form Body"), "errors": problems}, status=400)


@dataclass
class FakeDiscord:
    guilds: tuple[str, ...] = (GUILD_ID,)
    channels: tuple[str, ...] = (CHANNEL_ID,)
    token: str = "fake-bot-token"
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: dict[str, dict[str, Any]] = field(default_factory=dict)
    direct: dict[str, str] = field(default_factory=dict)
    """A user id -> the id of the bot's direct message channel with them."""
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Synced application commands by scope: ``global`` or a guild id."""
    identifies: list[dict[str, Any]] = field(default_factory=list)
    refused: list[list[str]] = field(default_factory=list)
    """The problems of each message body refused as Discord refuses an invalid one."""
    port: int = 0
    uploads: dict[str, bytes] = field(default_factory=dict)
    """Attachment id -> the file's content."""
    _failures: list[Failure] = field(default_factory=list)
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _callbacks: dict[str, asyncio.Future[Call]] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)
    """Interaction token -> the channel the interaction came from (for follow-ups)."""
    _interaction_ids: dict[str, str] = field(default_factory=dict)
    """Interaction token -> interaction id."""
    _interaction_messages: dict[str, str] = field(default_factory=dict)
    """Interaction id -> the message its component is on."""
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def wait_connected(self, within: float = 15.0) -> None:
        """Until a client has identified and been sent READY and its guilds."""
        await asyncio.wait_for(self._ready.wait(), within)

    def disconnected(self) -> None:
        """Forget the last connection: ``wait_connected`` waits for the next one."""
        self._ready = asyncio.Event()

    # ------------------------------------------------------------ what was received

    def calls_to(self, method: str, pattern: str) -> list[Call]:
        regex = re.compile(pattern)
        return [c for c in self.calls if c.method == method and regex.fullmatch(c.path)]

    def channel_messages(self, channel_id: str = CHANNEL_ID) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if m["channel_id"] == channel_id]

    def thread_lines(self, message_id: str) -> list[str]:
        """The text posted in the thread started on ``message_id``, in order."""
        return [m["content"] for m in self.messages.values() if m["channel_id"] == message_id]

    # ------------------------------------------------------------ failures on demand

    def fail(
        self,
        method: str,
        path: str,
        status: int = 429,
        times: int = 1,
        retry_after: float = 0.05,
        after_effect: bool = False,
    ) -> None:
        """Answer the next ``times`` calls matching ``method`` and the ``path`` regex with
        ``status`` (429 with Discord's body and headers; others with an error body)."""
        self._failures.append(
            Failure(method, re.compile(path), status, times, retry_after, after_effect)
        )

    def _failure_for(self, method: str, path: str) -> Failure | None:
        for failure in self._failures:
            if failure.times > 0 and failure.method == method and failure.path.fullmatch(path):
                failure.times -= 1
                return failure
        return None

    @staticmethod
    def _failure_response(failure: Failure) -> web.Response:
        if failure.status == 429:
            body = {"message": "You are being rate limited.", "retry_after": failure.retry_after}
            body["global"] = False
            headers = {
                "Retry-After": str(failure.retry_after),
                "X-RateLimit-Scope": "user",
                "Via": "1.1 google",  # discord.py treats a 429 without it as a Cloudflare ban
            }
            return as_json(body, status=429, headers=headers)
        return as_json(error_body(0, "Internal Server Error"), status=failure.status)

    # ------------------------------------------------------------ REST

    async def _rest(self, request: web.Request) -> web.Response:
        """Record the call, check the token, fail on demand, then answer by route."""
        path = request.path.removeprefix(API)
        files: dict[str, tuple[str, bytes]] = {}
        if request.content_type == "multipart/form-data":  # files, and the JSON beside them
            body, files = await _multipart(request)
        else:
            body = await request.json() if request.body_exists else None
        call = Call(request.method, path, dict(request.query), body, time.monotonic(), files)
        self.calls.append(call)
        token_in_path = path.startswith(("/interactions/", "/webhooks/"))
        if not token_in_path and request.headers.get("Authorization") != f"Bot {self.token}":
            return as_json(error_body(0, "401: Unauthorized"), status=401)
        failure = self._failure_for(request.method, path)
        if failure is not None and not failure.after_effect:
            return self._failure_response(failure)
        response = await self._answer(call)
        return self._failure_response(failure) if failure is not None else response

    async def _answer(self, call: Call) -> web.Response:
        for method, pattern, handler in self._routes():
            found = re.fullmatch(pattern, call.path)
            if found and method == call.method:
                return await handler(call, *found.groups())
        return as_json(error_body(0, f"404: Not Found {call.path}"), status=404)

    def _routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"/users/@me", self._me),
            ("POST", r"/users/@me/channels", self._open_direct),
            ("GET", r"/oauth2/applications/@me", self._application),
            ("GET", r"/gateway(?:/bot)?", self._gateway_info),
            ("PUT", r"/applications/(\d+)/commands", self._sync_global),
            ("PUT", r"/applications/(\d+)/guilds/(\d+)/commands", self._sync_guild),
            ("GET", r"/channels/(\d+)", self._get_channel),
            ("POST", r"/channels/(\d+)/messages", self._create_message),
            ("PATCH", r"/channels/(\d+)/messages/(\d+)", self._edit_message),
            ("POST", r"/channels/(\d+)/messages/(\d+)/threads", self._start_thread),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback),
            ("POST", r"/webhooks/(\d+)/([^/]+)", self._follow_up),
            ("PATCH", r"/webhooks/(\d+)/([^/]+)/messages/@original", self._edit_original),
        ]

    async def _me(self, call: Call) -> web.Response:
        return as_json(BOT_USER)

    async def _open_direct(self, call: Call) -> web.Response:
        """A direct message channel with one user, the same one every time."""
        user = str(call.body.get("recipient_id", ""))
        if not user.isdigit():
            return as_json(error_body(50035, "Invalid Form Body"), status=400)
        channel_id = self.direct.setdefault(user, self.snowflake())
        recipient = {"id": user, "username": f"user{user[-4:]}", "discriminator": "0"}
        return as_json(
            {"id": channel_id, "type": 1, "last_message_id": None, "recipients": [recipient]}
        )

    def direct_messages(self, user_id: str) -> list[dict[str, Any]]:
        """What the bot sent the user in direct messages, oldest first."""
        channel_id = self.direct.get(user_id)
        return [m for m in self.messages.values() if channel_id and m["channel_id"] == channel_id]

    async def _application(self, call: Call) -> web.Response:
        return as_json(
            {
                "id": BOT_ID,
                "name": "Tocsin",
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": {**BOT_USER, "id": "900000000000000002", "bot": False},
                "verify_key": "0" * 64,
                "flags": 0,
                "interactions_endpoint_url": None,
            }
        )

    async def _gateway_info(self, call: Call) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return as_json({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    def _synced(self, scope: str, body: list[dict[str, Any]]) -> web.Response:
        saved = [
            {
                "id": self.snowflake(),
                "application_id": BOT_ID,
                "version": self.snowflake(),
                "type": 1,
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "nsfw": False,
                **({"guild_id": scope} if scope != "global" else {}),
                **command,
            }
            for command in body
        ]
        self.commands[scope] = saved
        return as_json(saved)

    async def _sync_global(self, call: Call, app_id: str) -> web.Response:
        return self._synced("global", call.body)

    async def _sync_guild(self, call: Call, app_id: str, guild_id: str) -> web.Response:
        if guild_id not in self.guilds:
            return as_json(error_body(50001, "Missing Access"), status=403)
        return self._synced(guild_id, call.body)

    def _channel_object(self, channel_id: str) -> dict[str, Any]:
        return {
            "id": channel_id,
            "type": 0,
            "guild_id": self.guilds[0],
            "name": f"alerts-{channel_id[-4:]}",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }

    async def _get_channel(self, call: Call, channel_id: str) -> web.Response:
        if channel_id in self.threads:
            return as_json(self.threads[channel_id])
        if channel_id not in self.channels:
            return as_json(error_body(10003, "Unknown Channel"), status=404)
        return as_json(self._channel_object(channel_id))

    def _known_place(self, channel_id: str) -> bool:
        return (
            channel_id in self.channels
            or channel_id in self.threads
            or channel_id in self.direct.values()
        )

    async def _create_message(self, call: Call, channel_id: str) -> web.Response:
        if not self._known_place(channel_id):
            return as_json(error_body(10003, "Unknown Channel"), status=404)
        body = call.body
        if problems := form_problems(body):
            self.refused.append(problems)
            return invalid_form(problems)
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            for message in self.messages.values():
                if message["channel_id"] == channel_id and message.get("nonce") == nonce:
                    return as_json(message)  # Discord returns the first one
        message = self.message_object(channel_id, body)
        self.messages[message["id"]] = message
        return as_json(message)

    def message_object(self, channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.snowflake(),
            "channel_id": channel_id,
            "guild_id": self.guilds[0]
            if self.guilds and channel_id not in self.direct.values()
            else None,
            "author": BOT_USER,
            "content": body.get("content") or "",
            "timestamp": iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": body.get("flags") or 0,
            "nonce": body.get("nonce"),
            "allowed_mentions": body.get("allowed_mentions"),
        }

    def _apply_edit(
        self, message: dict[str, Any], body: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> None:
        for key in ("content", "embeds", "components", "flags", "allowed_mentions"):
            if key in body:
                message[key] = (
                    body[key] if body[key] is not None else ([] if key != "content" else "")
                )
        if "attachments" in body:  # the attachments to keep (by id) and the new ones
            message["attachments"] = self._attachments(message, body["attachments"], files)
        message["edited_timestamp"] = iso()

    def _attachments(
        self,
        message: dict[str, Any],
        listed: list[dict[str, Any]],
        files: dict[str, tuple[str, bytes]],
    ) -> list[dict[str, Any]]:
        """As Discord reads an edit's ``attachments``: an existing attachment's id keeps
        it, a new file is listed by its index among the request's ``files[n]``; the
        others are removed."""
        kept = {str(a["id"]): a for a in message.get("attachments") or []}
        out = []
        for item in listed or []:
            key = str(item.get("id"))
            if key in kept:
                out.append(kept[key])
            elif f"files[{key}]" in files:
                filename, content = files[f"files[{key}]"]
                attachment_id = self.snowflake()
                self.uploads[attachment_id] = content
                out.append(
                    {
                        "id": attachment_id,
                        "filename": item.get("filename") or filename,
                        "size": len(content),
                        "url": f"http://127.0.0.1:{self.port}/attachments/{attachment_id}",
                        "proxy_url": f"http://127.0.0.1:{self.port}/attachments/{attachment_id}",
                        "content_type": "image/png" if filename.endswith(".png") else None,
                    }
                )
        return out

    def attachment_bytes(self, message: dict[str, Any]) -> list[bytes]:
        """The content of each file the message carries now."""
        return [self.uploads[a["id"]] for a in message.get("attachments") or []]

    async def _edit_message(self, call: Call, channel_id: str, message_id: str) -> web.Response:
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            return as_json(error_body(10008, "Unknown Message"), status=404)
        if problems := form_problems({**message, **call.body}):
            self.refused.append(problems)
            return invalid_form(problems)
        self._apply_edit(message, call.body, call.files)
        return as_json(message)

    async def _start_thread(self, call: Call, channel_id: str, message_id: str) -> web.Response:
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            return as_json(error_body(10008, "Unknown Message"), status=404)
        if message_id in self.threads:
            text = "A thread has already been created for this message"
            return as_json(error_body(160004, text), status=400)
        thread = {  # a thread started on a message takes the message's id
            "id": message_id,
            "type": 11,
            "guild_id": self.guilds[0],
            "parent_id": channel_id,
            "owner_id": BOT_ID,
            "name": call.body["name"],
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": call.body.get("auto_archive_duration", 1440),
                "archive_timestamp": iso(),
                "locked": False,
            },
        }
        self.threads[message_id] = thread
        return as_json(thread, status=201)

    # ------------------------------------------------------------ interactions

    async def _callback(self, call: Call, interaction_id: str, token: str) -> web.Response:
        future = self._callbacks.get(interaction_id)
        if future is None:
            return as_json(error_body(10062, "Unknown interaction"), status=404)
        if future.done():
            text = "Interaction has already been acknowledged."
            return as_json(error_body(40060, text), status=400)
        future.set_result(call)
        kind, data = call.body["type"], call.body.get("data") or {}
        if kind == 7:  # UPDATE_MESSAGE: the message the component is on
            message_id = self._interaction_messages.get(interaction_id)
            if message_id in self.messages:
                self._apply_edit(self.messages[message_id], data, call.files)
        interaction = {
            "id": interaction_id,
            "type": 3,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool((data.get("flags") or 0) & 64),
        }
        return as_json({"interaction": interaction})

    async def _follow_up(self, call: Call, app_id: str, token: str) -> web.Response:
        if token not in self._tokens:
            return as_json(error_body(10015, "Unknown Webhook"), status=404)
        message = self.message_object(self._tokens[token], call.body)
        return as_json(message)

    async def _edit_original(self, call: Call, app_id: str, token: str) -> web.Response:
        if token not in self._tokens:
            return as_json(error_body(10015, "Unknown Webhook"), status=404)
        message = self.message_object(self._tokens[token], call.body)
        return as_json(message)

    def follow_ups(self, interaction_id: str) -> list[Call]:
        token = next(t for t, i in self._interaction_ids.items() if i == interaction_id)
        return [c for c in self.calls if c.path.startswith("/webhooks/") and token in c.path]

    async def interact(self, payload: dict[str, Any], within: float = 10.0) -> Call:
        """Dispatch INTERACTION_CREATE and wait for its callback (the first response)."""
        future = self.expect_callback(payload)
        await self.dispatch("INTERACTION_CREATE", payload)
        return await asyncio.wait_for(future, within)

    def expect_callback(self, payload: dict[str, Any]) -> asyncio.Future[Call]:
        interaction_id, token = payload["id"], payload["token"]
        future: asyncio.Future[Call] = asyncio.get_running_loop().create_future()
        self._callbacks[interaction_id] = future
        self._tokens[token] = payload.get("channel_id", CHANNEL_ID)
        self._interaction_ids[token] = interaction_id
        if "message" in payload:
            self._interaction_messages[interaction_id] = payload["message"]["id"]
        return future

    # ------------------------------------------------------------ gateway

    def snowflake(self, at: float | None = None) -> str:
        """A new id, made at ``at`` (now by default), as Discord's ids tell their time."""
        made = time.time() if at is None else at
        return str(((int(made * 1000) - DISCORD_EPOCH_MS) << 22) + next(self._ids))

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        if not self._sockets:
            raise AssertionError("no client is connected to the fake gateway")
        frame = {"op": 0, "t": event, "s": next(self._sequence), "d": data}
        await self._sockets[-1].send_str(json.dumps(frame))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        try:
            await socket.send_json({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_MS}})
            async for frame in socket:
                if frame.type != WSMsgType.TEXT:
                    break
                await self._gateway_op(socket, json.loads(frame.data))
        finally:
            self._sockets.remove(socket)
        return socket

    async def _gateway_op(self, socket: web.WebSocketResponse, message: dict[str, Any]) -> None:
        op, data = message.get("op"), message.get("d")
        if op == 1:  # heartbeat
            await socket.send_json({"op": 11})
        elif op == 2:  # identify
            self.identifies.append(data)
            if data.get("token") != self.token:
                await socket.close(code=4004, message=b"Authentication failed.")
                return
            await self._send_ready(socket)
        elif op == 6:  # resume
            await socket.send_json({"op": 0, "t": "RESUMED", "s": next(self._sequence), "d": {}})

    async def _send_ready(self, socket: web.WebSocketResponse) -> None:
        ready = {
            "v": 10,
            "user": BOT_USER,
            "guilds": [{"id": g, "unavailable": True} for g in self.guilds],
            "session_id": f"session-{self.snowflake()}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": BOT_ID, "flags": 0},
            "private_channels": [],
        }
        frames = [("READY", ready)] + [("GUILD_CREATE", self.guild_object(g)) for g in self.guilds]
        for event, data in frames:
            frame = {"op": 0, "t": event, "s": next(self._sequence), "d": data}
            await socket.send_str(json.dumps(frame))
        self._ready.set()

    def guild_object(self, guild_id: str) -> dict[str, Any]:
        everyone = {"id": guild_id, "name": "@everyone", "permissions": "1024", "position": 0}
        admins = {"id": ADMIN_ROLE_ID, "name": "on-call admins", "permissions": "0", "position": 1}
        roles = [
            {
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
                "flags": 0,
                **role,
            }
            for role in (everyone, admins)
        ]
        return {
            "id": guild_id,
            "name": "Ops",
            "icon": None,
            "owner_id": "900000000000000002",
            "roles": roles,
            "emojis": [],
            "stickers": [],
            "features": [],
            "channels": [self._channel_object(c) for c in self.channels],
            "threads": [],
            "members": [],
            "voice_states": [],
            "presences": [],
            "member_count": 3,
            "large": False,
            "unavailable": False,
            "joined_at": iso(),
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "system_channel_flags": 0,
            "nsfw_level": 0,
        }


async def _multipart(request: web.Request) -> tuple[Any, dict[str, tuple[str, bytes]]]:
    """A multipart body as discord.py sends one: ``payload_json`` and ``files[n]``."""
    body: Any = None
    files: dict[str, tuple[str, bytes]] = {}
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "payload_json":
            body = json.loads(await part.text())
        elif part.name:
            files[part.name] = (part.filename or "", bytes(await part.read()))
    return body, files
