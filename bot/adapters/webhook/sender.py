"""Delivering ``webhook:NAME`` targets: a signed JSON POST per outbox row to the URL of
destination NAME, after checking where its host leads (monitors.destinations.network).

The receiver's answer decides what happens next: 2xx delivered; 429 waits for its
Retry-After; 5xx, 408 and network errors are retried with backoff; a redirect or any
other 4xx is permanent (the same request cannot succeed), and so is an address that
may not be reached: the row is parked with the reason, never retried in silence."""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp
import orjson

from bot.adapters.base import Delivery, DeliveryError
from bot.adapters.webhook.payload import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    delivery_id,
    sign,
    webhook_payload,
)
from bot.adapters.webhook.transport import HttpAnswer, post
from monitors.destinations.admin import TestAnswer
from monitors.destinations.network import (
    AddressPolicy,
    AddressRefused,
    Lookup,
    Unresolvable,
    checked_addresses,
    system_lookup,
)
from monitors.routing import Destination, Platform

USER_AGENT = "Tocsin-Webhook/1"
TIMEOUT = 10.0
RETRYABLE = frozenset({408, 425, 429})

Destinations = Callable[[str], Destination | None]


def answer_error(name: str, answer: HttpAnswer) -> DeliveryError | None:
    """None for a 2xx answer; otherwise the DeliveryError it calls for."""
    status = answer.status
    if 200 <= status < 300:
        return None
    said = f": {' '.join(answer.body.split())[:200]}" if answer.body.strip() else ""
    if status == 429:
        wait = answer.retry_after
        when = f"; retrying after {wait:g}s" if wait is not None else ""
        return DeliveryError(f"webhook {name} answered 429{when}{said}", retry_after=wait)
    if 300 <= status < 400:
        return DeliveryError(
            f"webhook {name} answered {status}, a redirect to {answer.location or '?'}; "
            "webhooks do not follow redirects: set the destination's URL to where it points",
            permanent=True,
        )
    permanent = 400 <= status < 500 and status not in RETRYABLE
    return DeliveryError(f"webhook {name} answered HTTP {status}{said}", permanent=permanent)


class WebhookAdapter:
    platform = Platform.WEBHOOK.value
    max_group = 1

    def __init__(
        self,
        destinations: Destinations,
        policy: AddressPolicy,
        lookup: Lookup = system_lookup,
        clock: Callable[[], float] = time.time,
        timeout: float = TIMEOUT,
    ) -> None:
        self.destinations = destinations
        self.policy = policy
        self.lookup = lookup
        self.clock = clock
        self.timeout = timeout

    async def _post(self, delivery: Delivery) -> tuple[HttpAnswer, str]:
        """POST the row; returns the answer and the delivery id."""
        name = delivery.place
        destination = self.destinations(name)
        spec = destination.webhook if destination is not None else None
        if spec is None:
            raise DeliveryError(
                f"webhook:{name}: no destination named '{name}' has a webhook any more",
                permanent=True,
            )
        try:
            addresses = await checked_addresses(spec.url, self.policy, self.lookup)
        except AddressRefused as exc:
            raise DeliveryError(f"webhook {name} refused: {exc}", permanent=True) from None
        except Unresolvable as exc:
            raise DeliveryError(f"webhook {name}: {exc}") from None
        key = delivery_id(delivery)
        body = orjson.dumps(webhook_payload(delivery, name, key, self.clock()))
        headers = {
            **spec.headers,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(spec.secret.get_secret_value(), body),
            DELIVERY_HEADER: key,
        }
        try:
            answer = await post(spec.url, body, headers, addresses, self.timeout)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}".rstrip(": ")
            raise DeliveryError(f"webhook {name} unreachable: {reason}") from None
        return answer, key

    async def deliver(self, delivery: Delivery) -> str:
        """POST; returns the first delivery's id as the incident's reference here."""
        answer, key = await self._post(delivery)
        error = answer_error(delivery.place, answer)
        if error is not None:
            raise error
        return delivery.message_ref or key

    async def send_test(self, delivery: Delivery) -> TestAnswer:
        try:
            answer, _key = await self._post(delivery)
        except DeliveryError as exc:
            return TestAnswer(delivery.target, False, str(exc))
        error = answer_error(delivery.place, answer)
        summary = str(error) if error is not None else f"HTTP {answer.status}"
        return TestAnswer(delivery.target, error is None, summary, answer.status, answer.body)
