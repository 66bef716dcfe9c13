"""Test messages (``POST /v1/destinations/{name}/test``, ``/notify test NAME``): sent
straight through the adapter of each target, not the outbox, so the answer the
destination gave can be shown to the person who asked."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from bot.adapters.base import ChatAdapter, Delivery, DeliveryError
from monitors.destinations.admin import TEST_EVENT, TestAnswer
from monitors.incidents.cards import IncidentCard
from monitors.routing import split_target

log = logging.getLogger(__name__)


@runtime_checkable
class AnswersTests(Protocol):
    """An adapter with more to say than "posted": an HTTP status, an SMTP reply."""

    async def send_test(self, delivery: Delivery) -> TestAnswer: ...


class AdapterTestSender:
    def __init__(
        self, adapters: Sequence[ChatAdapter], clock: Callable[[], float] = time.time
    ) -> None:
        self.adapters = {adapter.platform: adapter for adapter in adapters}
        self.clock = clock

    async def send_test(self, target: str, card: IncidentCard, line: str) -> TestAnswer:
        platform, place = split_target(target)
        adapter = self.adapters.get(platform)
        if adapter is None:
            return TestAnswer(target, False, f"{platform}: that platform is not configured")
        delivery = Delivery(
            target=target,
            place=place,
            event=TEST_EVENT,
            card=card,
            line=line,
            notify=False,
            message_ref=None,
            queued_at=self.clock(),
        )
        if isinstance(adapter, AnswersTests):
            return await adapter.send_test(delivery)
        try:
            ref = await adapter.deliver(delivery)
        except DeliveryError as exc:
            return TestAnswer(target, False, str(exc))
        except Exception as exc:  # shown to whoever asked, and logged with its trace
            log.exception("test message to %s failed", target)
            return TestAnswer(target, False, f"{type(exc).__name__}: {exc}")
        return TestAnswer(target, True, f"posted ({ref})" if ref else "posted")
