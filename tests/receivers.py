"""Real receivers on loopback, port 0, for email and webhook destinations: an SMTP
server (aiosmtpd) that keeps what it accepts, and an HTTP server that takes webhooks
and checks their signature with its own HMAC code, as a receiver in production would.
Both can be told to answer badly (refuse a recipient, answer 500 or 429)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

# ---------------------------------------------------------------- webhooks


@dataclass(frozen=True)
class Hook:
    """One request the receiver took."""

    body: bytes
    headers: dict[str, str]
    signature_ok: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    """The receiver's own check: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


@dataclass
class HookReceiver:
    secret: str
    port: int = 0
    received: list[Hook] = field(default_factory=list)
    answers: list[Callable[[], web.StreamResponse]] = field(default_factory=list)
    """Answers to give, in order, before going back to 200."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self, status: int, text: str = "", times: int = 1, **headers: str) -> None:
        for _ in range(times):
            self.answers.append(lambda: web.Response(status=status, text=text, headers=headers))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        header = request.headers.get("X-Tocsin-Signature", "")
        self.received.append(
            Hook(body, dict(request.headers), signature_matches(self.secret, body, header))
        )
        if self.answers:
            return self.answers.pop(0)()
        return web.json_response({"ok": True, "seen": len(self.received)})


@asynccontextmanager
async def hook_receiver(secret: str = "s3cret") -> AsyncIterator[HookReceiver]:
    receiver = HookReceiver(secret)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.port = runner.addresses[0][1]
    try:
        yield receiver
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------- email


@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    def part(self, content_type: str) -> str:
        found = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        assert found is not None and found.get_content_type() == content_type, content_type
        return str(found.get_content())


@dataclass
class Mailbox:
    """An SMTP server's handler (aiosmtpd): keeps accepted mail, refuses on request."""

    host: str = "127.0.0.1"
    port: int = 0
    mails: list[Mail] = field(default_factory=list)
    refuse_recipients: dict[str, str] = field(default_factory=dict)
    """Address -> the SMTP reply refusing it, e.g. ``550 5.1.1 no such user``."""
    data_replies: list[str] = field(default_factory=list)
    """Replies to DATA to give, in order, before accepting again."""
    logins: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse_recipients:
            return self.refuse_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        raw = envelope.original_content or b""
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(Mail(str(envelope.mail_from), list(envelope.rcpt_tos), message))
        return f"250 2.0.0 Ok: queued as M{len(self.mails)}"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self.logins.get(data.login.decode()) == data.password.decode()
        )
        return AuthResult(success=ok, handled=False)


@asynccontextmanager
async def smtp_server(logins: dict[str, str] | None = None) -> AsyncIterator[Mailbox]:
    """aiosmtpd on 127.0.0.1, port 0, on the test's own event loop. With ``logins``,
    AUTH is offered (over plain text: this is loopback) and required."""
    mailbox = Mailbox(logins=dict(logins or {}))
    auth = bool(logins)

    def protocol() -> SMTP:
        return SMTP(
            mailbox,
            hostname="tocsin-test-smtp",
            auth_required=auth,
            auth_require_tls=False,
            authenticator=mailbox.authenticate if auth else None,
        )

    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
    mailbox.port = server.sockets[0].getsockname()[1]
    try:
        yield mailbox
    finally:
        server.close()
        await server.wait_closed()
