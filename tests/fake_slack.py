"""A fake of Slack for tests, at the protocol level: the Web API that slack_sdk (and so
bolt) calls, on a loopback port chosen at run time, recording every call; and requests
signed exactly as Slack signs them, sent to Tocsin's ``/slack/events``.

Like bolt-python's own tests (tests/mock_web_api_server): nothing of Tocsin is replaced;
the real service talks to this through ``TOCSIN_SLACK_API_URL``."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from aiohttp import web

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
SIGNING_SECRET = "test-signing-secret"
TEAM = "T0TEAM"
BOT_USER = "U0TOCSIN"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    received_at: float = field(default_factory=time.time)


@dataclass
class Fault:
    """Answer ``method`` with ``status`` (and Slack's ``error``) ``times`` times."""

    method: str
    status: int = 200
    error: str = ""
    retry_after: float | None = None
    times: int = 1
    lose_answer: bool = False
    """Do the work, then drop the connection: the caller never hears it succeeded."""


@dataclass
class Hold:
    """Keep the next call of ``method`` waiting, before Slack does anything
    (``after_effect`` False: as if the request never arrived) or after it did the work
    (True: the answer never comes), until ``release``. ``held`` is set once a call
    waits; a call whose caller has gone away by then does nothing more."""

    method: str
    after_effect: bool
    held: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class FakeSlack:
    """Slack's Web API, as far as Tocsin uses it."""

    token: str = BOT_TOKEN
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)
    """What was posted to response URLs."""
    user_groups: dict[str, list[str]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    unknown_channels: set[str] = field(default_factory=set)
    url: str = ""
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    """What the app answered to Socket Mode envelopes."""
    holds: list[Hold] = field(default_factory=list)
    clock: Callable[[], float] = time.time
    """Slack's own time, which message ids (ts) are made of: the service's clock in the
    harness, so a lookup "since the row was queued" sees what an attempt posted."""
    outage: Callable[[], bool] | None = None
    """While this answers True, every Web API call gets a 500 (Slack is down)."""
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    """files_upload_v2's uploads by file id: name, length, and ``content`` once sent."""
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _last_ts: float = 0.0

    # ------------------------------------------------------------ what tests read

    def called(self, method: str) -> list[dict[str, Any]]:
        return [call.args for call in self.calls if call.method == method]

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Top-level messages (not thread replies), oldest first."""
        return [
            m
            for ch, messages in self.messages.items()
            if channel is None or ch == channel
            for m in messages
            if not m.get("thread_ts")
        ]

    def replies(self, ts: str) -> list[dict[str, Any]]:
        return [m for ms in self.messages.values() for m in ms if m.get("thread_ts") == ts]

    def files_in_thread(self, ts: str) -> list[dict[str, Any]]:
        """Files shared in the thread of message ``ts``, each with its ``content``."""
        return [
            {**file, "content": self.uploads[file["id"]]["content"]}
            for message in self.replies(ts)
            for file in message.get("files") or []
        ]

    def fail(self, method: str, **fault: Any) -> None:
        self.faults.append(Fault(method, **fault))

    def hold(self, method: str, after_effect: bool = False) -> Hold:
        """Hold the next call of ``method`` (see Hold) until ``release``."""
        hold = Hold(method, after_effect)
        self.holds.append(hold)
        return hold

    def release(self) -> None:
        for hold in self.holds:
            hold.released.set()
        self.holds.clear()

    def _hold_for(self, method: str) -> Hold | None:
        hold = next((h for h in self.holds if h.method == method and not h.held.is_set()), None)
        if hold is not None:
            hold.held.set()
        return hold

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.url}/response/{name}"

    # ------------------------------------------------------------ the server

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        app.router.add_get("/_posts", self._posts)
        app.router.add_get("/_calls", self._calls)
        return app

    async def _posts(self, request: web.Request) -> web.Response:
        """The top-level messages, for a benchmark running the fake in another process."""
        return web.json_response(self.posts(request.query.get("channel")))

    async def _calls(self, request: web.Request) -> web.Response:
        """Calls of one method with the time each arrived, for benchmarks."""
        method = request.query.get("method", "")
        calls = [
            {"args": c.args, "received_at": c.received_at}
            for c in self.calls
            if not method or c.method == method
        ]
        return web.json_response(calls)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: hello, then envelopes the test sends; acks are recorded."""
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1})
        async for message in socket:
            if message.type == web.WSMsgType.TEXT:
                self.socket_acks.append(json.loads(message.data))
        return socket

    @property
    def socket_connected(self) -> bool:
        return any(not socket.closed for socket in self._sockets)

    async def envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Send the app a Socket Mode envelope; returns its id."""
        envelope_id = f"env-{len(self.socket_acks)}-{time.time()}"
        socket = next(s for s in self._sockets if not s.closed)
        await socket.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "accepts_response_payload": True,
                "payload": payload,
            }
        )
        return envelope_id

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.read()
            if request.content_type == "application/json":
                args.update(json.loads(raw or b"{}"))
            elif raw:
                form = await request.post()
                args.update({k: v for k, v in form.items()})
        for key in ("attachments", "blocks", "metadata", "view"):  # form-encoded JSON
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        return args

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args = await self._args(request)
        self.calls.append(Call(method, args))
        allowed = APP_TOKEN if method == "apps.connections.open" else self.token
        if request.headers.get("Authorization") != f"Bearer {allowed}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if self.outage is not None and self.outage():
            return web.Response(status=500, text="Slack is down")
        fault = next((f for f in self.faults if f.method == method and f.times > 0), None)
        if fault is not None:
            fault.times -= 1
            if not fault.lose_answer:
                return self._failure(fault)
        answer = getattr(self, "_" + method.replace(".", "_"), None)
        if answer is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        hold = self._hold_for(method)
        if hold is not None and not hold.after_effect:
            await hold.released.wait()
            if request.transport is None or request.transport.is_closing():
                return web.Response(status=503, text="the caller went away first")  # unread
        body = answer(args)
        if hold is not None and hold.after_effect:
            await hold.released.wait()  # the work is done; the answer waits
        if fault is not None and fault.lose_answer:
            assert request.transport is not None
            request.transport.close()  # the work is done; the answer is lost on the way
            await asyncio.sleep(0.1)
        return web.json_response(body)

    @staticmethod
    def _failure(fault: Fault) -> web.Response:
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after else None
        if fault.status == 429:
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers=headers
            )
        if fault.status >= 500:
            return web.Response(status=fault.status, text="upstream trouble")
        return web.json_response({"ok": False, "error": fault.error or "fatal_error"})

    async def _response(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL files.getUploadURLExternal gave: the file's bytes, posted."""
        file_id = request.match_info["file_id"]
        content = await request.read()
        self.calls.append(Call("upload", {"file_id": file_id, "length": len(content)}))
        upload = self.uploads.get(file_id)
        if upload is None:
            return web.Response(status=404, text="no such upload")
        upload["content"] = content
        return web.Response(text=f"OK - {len(content)}")

    def _next_ts(self) -> str:
        """Slack's message ids are the time of posting, unique per channel."""
        self._last_ts = max(self._last_ts + 0.000001, self.clock())
        return f"{self._last_ts:.6f}"

    # ------------------------------------------------------------ Web API methods

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://tocsin-test.slack.com/",
            "team": "Tocsin Test",
            "team_id": TEAM,
            "user": "tocsin",
            "user_id": BOT_USER,
            "bot_id": "B0TOCSIN",
        }

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args["channel"]
        if channel in self.unknown_channels:
            return {"ok": False, "error": "channel_not_found"}
        message = {**args, "ts": self._next_ts(), "user": BOT_USER, "received_at": time.time()}
        if message.get("thread_ts") is None:
            message.pop("thread_ts", None)
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        for message in self.messages.get(args["channel"], []):
            if message["ts"] == args["ts"]:
                message.update({k: v for k, v in args.items() if k not in ("channel", "ts")})
                message["edits"] = message.get("edits", 0) + 1
                return {"ok": True, "channel": args["channel"], "ts": args["ts"]}
        return {"ok": False, "error": "message_not_found"}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "view": {**args["view"], "id": "V0EDITOR"}}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        oldest = float(args.get("oldest") or 0)
        found = [m for m in self.posts(args["channel"]) if float(m["ts"]) >= oldest]
        return {"ok": True, "messages": list(reversed(found)), "has_more": False}

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.url.replace("http://", "ws://") + "/socket"}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        thread = [m for m in self.messages.get(args["channel"], []) if m["ts"] == args["ts"]]
        return {"ok": True, "messages": thread + self.replies(args["ts"]), "has_more": False}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """A direct message conversation with one user: ``D`` and the user's id."""
        user = str(args.get("users", ""))
        if not user.startswith("U") or "," in user:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": "D" + user[1:]}}

    def _files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{len(self.uploads) + 1:08d}"
        self.uploads[file_id] = {
            "name": args["filename"],
            "length": int(args["length"]),
            "content": None,
        }
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        """Share uploaded files in a channel (a thread with ``thread_ts``): one message
        carrying them, as Slack shows a file share."""
        listed = json.loads(args["files"]) if isinstance(args.get("files"), str) else []
        files = []
        for item in listed:
            upload = self.uploads.get(item.get("id", ""))
            if upload is None or upload["content"] is None:
                return {"ok": False, "error": "file_not_found"}
            if len(upload["content"]) != upload["length"]:
                return {"ok": False, "error": "file_upload_size_mismatch"}
            files.append(
                {
                    "id": item["id"],
                    "name": upload["name"],
                    "title": item.get("title") or upload["name"],
                    "size": upload["length"],
                    "mimetype": "image/png" if upload["name"].endswith(".png") else "",
                }
            )
        channel = args.get("channel_id")
        if channel:
            if channel in self.unknown_channels:
                return {"ok": False, "error": "channel_not_found"}
            message = {
                "ts": self._next_ts(),
                "user": BOT_USER,
                "text": args.get("initial_comment") or "",
                "files": files,
                "received_at": time.time(),
            }
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
            self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in files]}

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = args.get("usergroup", "")
        if group not in self.user_groups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": self.user_groups[group]}


@asynccontextmanager
async def running_fake_slack(fake: FakeSlack | None = None) -> AsyncIterator[FakeSlack]:
    """The fake on 127.0.0.1, port chosen by the system; ``fake.url`` says where."""
    fake = fake or FakeSlack()
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield fake
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------- signed requests


def sign(body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Slack's request signature headers for ``body`` (v0, HMAC-SHA256)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@dataclass
class SlackUser:
    id: str
    name: str


ADMIN = SlackUser("U0ADMIN", "alice")
MEMBER = SlackUser("U0MEMBER", "bob")


@dataclass
class SlackClient:
    """Sends Tocsin what Slack would, signed: slash commands, clicks, modal submissions."""

    events_url: str
    fake: FakeSlack
    http: httpx.AsyncClient
    channel: str = "C0ALERTS"
    _triggers: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def send(self, body: str, *, headers: dict[str, str] | None = None) -> httpx.Response:
        signed = headers if headers is not None else sign(body)
        return await self.http.post(
            self.events_url,
            content=body,
            headers={**signed, "Content-Type": "application/x-www-form-urlencoded"},
        )

    def command_body(self, command: str, text: str, user: SlackUser = ADMIN) -> str:
        return urlencode(
            {
                "token": "unused",
                "team_id": TEAM,
                "channel_id": self.channel,
                "channel_name": "alerts",
                "user_id": user.id,
                "user_name": user.name,
                "command": command,
                "text": text,
                "api_app_id": "A0TOCSIN",
                "response_url": self.fake.response_url(),
                "trigger_id": f"trigger-{next(self._triggers)}",
            }
        )

    async def command(self, command: str, text: str, user: SlackUser = ADMIN) -> httpx.Response:
        return await self.send(self.command_body(command, text, user))

    def interaction_body(self, payload: dict[str, Any]) -> str:
        return urlencode({"payload": json.dumps(payload)})

    def click_payload(
        self, message: dict[str, Any], action_id: str, user: SlackUser = ADMIN
    ) -> dict[str, Any]:
        """A ``block_actions`` payload for a button or menu option in ``message``, as
        posted by Tocsin (found by its action id, or a menu option's value)."""
        action = _find_action(message, action_id)
        return {
            "type": "block_actions",
            "team": {"id": TEAM},
            "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM},
            "api_app_id": "A0TOCSIN",
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": message.get("channel", self.channel),
            },
            "trigger_id": f"trigger-{next(self._triggers)}",
            "channel": {"id": message.get("channel", self.channel), "name": "alerts"},
            "message": message,
            "response_url": self.fake.response_url("click"),
            "actions": [action],
        }

    async def click(
        self, message: dict[str, Any], action_id: str, user: SlackUser = ADMIN
    ) -> httpx.Response:
        return await self.send(self.interaction_body(self.click_payload(message, action_id, user)))

    async def submit(
        self, view: dict[str, Any], values: dict[str, str], user: SlackUser = ADMIN
    ) -> httpx.Response:
        """Submit a modal that Tocsin opened, with ``values`` typed into its fields."""
        state: dict[str, Any] = {}
        for block in view["blocks"]:
            element = block["element"]
            key = block["block_id"]
            if element["type"] == "checkboxes":
                chosen = element["options"] if values.get(key, "yes") == "yes" else []
                state[key] = {key: {"type": "checkboxes", "selected_options": chosen}}
            else:
                value = values.get(key, element.get("initial_value", ""))
                state[key] = {key: {"type": "plain_text_input", "value": value}}
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM},
            "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM},
            "api_app_id": "A0TOCSIN",
            "view": {**view, "id": "V0EDITOR", "state": {"values": state}},
        }
        return await self.send(self.interaction_body(payload))


def _elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The interactive elements of a block: an actions block's, a section's accessory."""
    if block.get("type") == "actions":
        return list(block.get("elements", []))
    return [block["accessory"]] if "accessory" in block else []


def _find_action(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    blocks = [b for a in message.get("attachments") or [] for b in a.get("blocks", [])]
    for block in blocks + list(message.get("blocks") or []):
        for element in _elements(block):
            if element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id"), "action_ts": "1.0"}
            for option in element.get("options", []):
                if option["value"] == action_id:
                    return {
                        "type": element["type"],
                        "action_id": element["action_id"],
                        "block_id": block.get("block_id"),
                        "selected_option": option,
                        "action_ts": "1.0",
                    }
    raise AssertionError(f"no button or option {action_id!r} on the message")


async def _serve_forever() -> None:
    """``python tests/fake_slack.py``: serve the fake on a free loopback port and print
    its URL (benchmarks run it in a process of its own)."""
    async with running_fake_slack() as fake:
        print(fake.url, flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve_forever())
