"""Sending incident mail through the configured SMTP server (aiosmtplib): one mail per
outbox row to an ``email:NAME`` target, to the addresses of destination NAME.

The first mail's Message-ID is the reference the dispatcher keeps, so later mails
about the incident join its thread. SMTP answers decide retries: 4xx and lost
connections are retried, 5xx (a refused sender, recipient or login) are permanent,
with the server's reply as the reason."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import aiosmtplib

from bot.adapters.base import Delivery, DeliveryError
from bot.adapters.email.compose import incident_mail
from bot.settings import EmailConfig
from monitors.destinations.admin import TestAnswer
from monitors.routing import Destination, Platform, split_target
from monitors.subscriptions.model import PersonalPlatform

log = logging.getLogger(__name__)

Lookup = Callable[[str], Destination | None]


def smtp_error(exc: Exception) -> DeliveryError:
    """A DeliveryError saying what the server answered, permanent for 5xx."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        replies = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        permanent = all(r.code >= 500 for r in exc.recipients)
        return DeliveryError(f"SMTP refused every recipient: {replies}", permanent=permanent)
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 400:
        what = "login" if isinstance(exc, aiosmtplib.SMTPAuthenticationError) else "mail"
        return DeliveryError(
            f"SMTP refused the {what}: {exc.code} {exc.message}", permanent=exc.code >= 500
        )
    if isinstance(exc, aiosmtplib.SMTPNotSupported):  # e.g. no STARTTLS: a config matter
        return DeliveryError(f"SMTP server: {exc}; check email: in the config", permanent=True)
    return DeliveryError(f"SMTP server unreachable: {type(exc).__name__}: {exc}")


class EmailAdapter:
    """Delivers ``email:NAME`` targets, and people's own ``email-dm:ADDRESS`` (``/notify
    me email=...``)."""

    platform = Platform.EMAIL.value
    max_group = 1

    def __init__(
        self,
        config: EmailConfig,
        destinations: Lookup,
        username: str | None = None,
        password: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.destinations = destinations
        self.username = username
        self.password = password
        self.clock = clock

    def _recipients(self, name: str) -> tuple[str, ...]:
        destination = self.destinations(name)
        if destination is None or not destination.email:
            raise DeliveryError(
                f"email:{name}: no destination named '{name}' sends email any more",
                permanent=True,
            )
        return destination.email

    async def _send(self, delivery: Delivery) -> tuple[str, str]:
        """Send; returns the mail's Message-ID and the server's reply."""
        personal = split_target(delivery.target)[0] == PersonalPlatform.EMAIL_DM
        recipients = (delivery.place,) if personal else self._recipients(delivery.place)
        message = incident_mail(
            delivery, delivery.place, self.config.from_, recipients, self.clock()
        )
        try:
            refused, reply = await aiosmtplib.send(
                message,
                sender=self.config.sender_address,
                recipients=list(recipients),
                hostname=self.config.host,
                port=self.config.port,
                username=self.username,
                password=self.password,
                use_tls=self.config.tls,
                start_tls=self.config.starttls,
                timeout=self.config.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise smtp_error(exc) from None
        if refused:  # some took it; the others will not take a resend either
            log.warning(
                "email:%s: the server refused %s",
                delivery.place,
                "; ".join(f"{to}: {r.code} {r.message}" for to, r in refused.items()),
            )
        return str(message["Message-ID"]), reply

    async def deliver(self, delivery: Delivery) -> str:
        """Send the mail; returns the thread's Message-ID (the first mail's)."""
        message_id, _reply = await self._send(delivery)
        return delivery.message_ref or message_id

    async def send_test(self, delivery: Delivery) -> TestAnswer:
        try:
            _message_id, reply = await self._send(delivery)
        except DeliveryError as exc:
            return TestAnswer(delivery.target, False, str(exc))
        return TestAnswer(delivery.target, True, f"SMTP {reply}".strip(), body=reply)
