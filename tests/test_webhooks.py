"""Webhook destinations, end to end: incidents opened by the engine, delivered by the
dispatcher through the webhook adapter to a real HTTP receiver on loopback, which checks
every signature with its own HMAC code."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace
from datetime import datetime

import pytest
from destination_helpers import SECRET, config, open_incident, outbox, service
from receivers import hook_receiver

from bot.adapters.base import Delivery
from bot.adapters.webhook import WebhookAdapter
from bot.adapters.webhook.payload import delivery_id
from bot.delivery.dispatcher import PARKED, Dispatcher
from monitors.actors import ADMIN, Actor
from monitors.destinations.network import AddressPolicy, Unresolvable
from monitors.digests import digest_card

ALICE = Actor("U1", "alice", "console", frozenset({ADMIN}))
CONTRACT = {
    "alert_id",
    "alert_name",
    "severity",
    "status",
    "metric_name",
    "metric_value",
    "threshold_value",
    "labels",
    "triggered_at",
    "resolved_at",
    "context",
    "event",
}
LOOPBACK = AddressPolicy((ipaddress.ip_network("127.0.0.0/8"),))


def hook_config(database_url: str, url: str, allow: str = "[127.0.0.0/8]") -> str:
    destination = (
        f"webhook_allow_networks: {allow}\n"
        "destinations:\n"
        f'  ops-hook: {{webhook: {{url: "{url}", secret: {SECRET}, '
        "headers: {X-Team: payments}}}\n"
    )
    return config(database_url, "ops-hook", destination)


def rfc3339(text: str) -> bool:
    return bool(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text)) and bool(
        datetime.fromisoformat(text)
    )


async def test_each_change_is_one_signed_post_with_the_contract_fields(
    tmp_path, database_url, clock
):
    async with (
        hook_receiver(SECRET) as receiver,
        service(tmp_path, hook_config(database_url, receiver.url), clock) as running,
    ):
        core = running.core
        await open_incident(running, clock)
        assert await running.dispatcher.run_once() == 1
        (incident,) = await core.incidents.list("all")
        await core.incidents.acknowledge(incident.id, ALICE)
        await core.incidents.resolve(incident.id, ALICE, "fixed the index")
        assert await running.dispatcher.run_once() == 2

    opened, acked, resolved = (hook.json for hook in receiver.received)
    assert all(hook.signature_ok for hook in receiver.received)
    assert all(hook.headers["X-Team"] == "payments" for hook in receiver.received)
    assert all(hook.headers["Content-Type"] == "application/json" for hook in receiver.received)
    for body in (opened, acked, resolved):
        assert set(body) >= CONTRACT, CONTRACT - set(body)
        assert isinstance(body["context"], dict)
    assert [b["event"] for b in (opened, acked, resolved)] == ["opened", "acknowledged", "resolved"]
    assert opened["alert_id"] == incident.id and opened["alert_name"] == "slow-api"
    assert (opened["severity"], opened["status"]) == ("warning", "open")
    assert (opened["metric_name"], opened["metric_value"], opened["threshold_value"]) == (
        "api.latency",
        900,
        500,
    )
    assert opened["labels"] == {"route": "/checkout"}
    assert rfc3339(opened["triggered_at"]) and opened["resolved_at"] is None
    assert opened["context"]["runbook"] == "https://wiki.example/slow-api"
    assert acked["status"] == "acknowledged" and acked["context"]["acknowledged_by"] == "alice"
    assert resolved["status"] == "resolved" and rfc3339(resolved["resolved_at"])
    assert "fixed the index" in resolved["context"]["fields"]["Note"]
    ids = [hook.headers["X-Tocsin-Delivery"] for hook in receiver.received]
    assert ids == [b["delivery_id"] for b in (opened, acked, resolved)] and len(set(ids)) == 3


async def test_a_forged_signature_is_told_apart(tmp_path, sqlite_url, clock):
    """The receiver's check is not a formality: the same body under another secret fails."""
    async with (
        hook_receiver("another-secret") as receiver,
        service(tmp_path, hook_config(sqlite_url, receiver.url), clock) as running,
    ):
        await open_incident(running, clock)
        await running.dispatcher.run_once()
    (hook,) = receiver.received
    assert not hook.signature_ok


async def test_a_5xx_is_retried_with_the_same_delivery_id(tmp_path, sqlite_url, clock):
    async with (
        hook_receiver(SECRET) as receiver,
        service(tmp_path, hook_config(sqlite_url, receiver.url), clock) as running,
    ):
        receiver.answer(503, "down for maintenance")
        await open_incident(running, clock)
        await running.dispatcher.run_once()  # parked: see the row
        (row,) = await outbox(running)
        assert row.delivered_at is None and row.available_at < PARKED
        assert "answered HTTP 503: down for maintenance" in row.last_error
        clock.advance(600)
        assert await running.dispatcher.run_once() == 1
    first, second = receiver.received
    assert first.json["delivery_id"] == second.json["delivery_id"]
    assert second.signature_ok


async def test_a_429_waits_for_its_retry_after(tmp_path, sqlite_url, clock):
    async with (
        hook_receiver(SECRET) as receiver,
        service(tmp_path, hook_config(sqlite_url, receiver.url), clock) as running,
    ):
        receiver.answer(429, "slow down", **{"Retry-After": "120"})
        await open_incident(running, clock)
        await running.dispatcher.run_once()
        (row,) = await outbox(running)
        assert row.available_at == pytest.approx(clock.now + 120)
        assert "answered 429; retrying after 120s" in row.last_error
        clock.advance(121)
        assert await running.dispatcher.run_once() == 1


@pytest.mark.parametrize(
    ("status", "headers", "reason"),
    [
        (400, {}, "answered HTTP 400: no such alert type"),
        (401, {}, "answered HTTP 401"),
        (302, {"Location": "http://169.254.169.254/latest"}, "a redirect to http://169.254"),
    ],
)
async def test_a_4xx_or_redirect_is_parked_at_once_with_the_reason(
    tmp_path, sqlite_url, clock, status, headers, reason
):
    async with (
        hook_receiver(SECRET) as receiver,
        service(tmp_path, hook_config(sqlite_url, receiver.url), clock) as running,
    ):
        receiver.answer(status, "no such alert type", **headers)
        await open_incident(running, clock)
        await running.dispatcher.run_once()
        (row,) = await outbox(running)
        assert row.available_at == PARKED and reason in row.last_error
        clock.advance(3600)
        await running.dispatcher.run_once()  # parked: see the row
    assert len(receiver.received) == 1  # not retried, and the redirect not followed


async def test_an_oversized_answer_is_read_only_in_part(tmp_path, sqlite_url, clock):
    async with (
        hook_receiver(SECRET) as receiver,
        service(tmp_path, hook_config(sqlite_url, receiver.url), clock) as running,
    ):
        receiver.answer(400, "x" * 5_000_000)
        await open_incident(running, clock)
        await running.dispatcher.run_once()
        (row,) = await outbox(running)
    assert row.available_at == PARKED and len(row.last_error) < 400


class Dns:
    """The system resolver's stand-in: the answers a name gets, in turn."""

    def __init__(self, *answers: list[str] | Exception) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


async def deliver_with(running, adapter: WebhookAdapter, clock) -> None:
    """Open an incident and deliver it through ``adapter`` (a resolver of the test's)."""
    await open_incident(running, clock)
    await Dispatcher(running.core.db, [adapter], clock).run_once()


@pytest.mark.parametrize(
    "answer",
    [["127.0.0.1"], ["::ffff:127.0.0.1"], ["93.184.216.34", "10.0.0.7"], ["169.254.169.254"]],
)
async def test_a_name_that_resolves_somewhere_private_at_delivery_is_refused(
    tmp_path, database_url, clock, answer
):
    """DNS rebinding: the name checked at start-up (it did not resolve, or to a public
    address) resolves to a private one when the delivery goes out."""
    async with hook_receiver(SECRET) as receiver:
        url = f"http://hooks.rebind.test:{receiver.port}/hook"
        async with service(tmp_path, hook_config(database_url, url, allow="[]"), clock) as running:
            dns = Dns(answer)
            adapter = WebhookAdapter(running.core.destinations.configured, AddressPolicy(), dns)
            await deliver_with(running, adapter, clock)
            (row,) = await outbox(running)
    assert row.available_at == PARKED  # permanent, visible at once, never retried
    assert f"hooks.rebind.test resolves to {ipaddress.ip_address(answer[-1])}" in row.last_error
    assert "webhook_allow_networks" in row.last_error
    assert receiver.received == [] and dns.asked == ["hooks.rebind.test"]


async def test_the_connection_goes_to_the_address_that_was_checked(tmp_path, sqlite_url, clock):
    """The name resolves nowhere in real DNS: the request only arrives because the
    connection used the address the check approved, with the name as Host."""
    async with hook_receiver(SECRET) as receiver:
        url = f"http://hooks.rebind.test:{receiver.port}/hook"
        async with service(tmp_path, hook_config(sqlite_url, url), clock) as running:
            adapter = WebhookAdapter(
                running.core.destinations.configured, LOOPBACK, Dns(["127.0.0.1"])
            )
            await deliver_with(running, adapter, clock)
            (row,) = await outbox(running)
    assert row.delivered_at is not None
    (hook,) = receiver.received
    assert hook.headers["Host"] == f"hooks.rebind.test:{receiver.port}" and hook.signature_ok


async def test_a_name_that_does_not_resolve_is_retried(tmp_path, sqlite_url, clock):
    async with hook_receiver(SECRET) as receiver:
        url = f"http://hooks.rebind.test:{receiver.port}/hook"
        async with service(tmp_path, hook_config(sqlite_url, url), clock) as running:
            dns = Dns(Unresolvable("hooks.rebind.test does not resolve: Name or service not known"))
            adapter = WebhookAdapter(running.core.destinations.configured, LOOPBACK, dns)
            await deliver_with(running, adapter, clock)
            (row,) = await outbox(running)
    assert row.available_at < PARKED and "does not resolve" in row.last_error


async def test_an_unreachable_receiver_is_retried(tmp_path, sqlite_url, clock):
    async with hook_receiver(SECRET) as receiver:
        url = receiver.url
    async with service(tmp_path, hook_config(sqlite_url, url), clock) as running:  # now closed
        await open_incident(running, clock)
        await running.dispatcher.run_once()  # parked: see the row
        (row,) = await outbox(running)
    assert row.available_at < PARKED and "unreachable" in row.last_error


def test_a_digests_delivery_id_is_the_same_on_every_retry():
    """A digest has no incident (alert_id 0): it is named by its outbox row, so a
    receiver can drop a repeat as it does for incident changes."""
    card = digest_card("Held overnight", [], "UTC", 0.0)
    first = Delivery("webhook:ops-hook", "ops-hook", "digest", card, "", True, None, row_id=7)
    again = Delivery("webhook:ops-hook", "ops-hook", "digest", card, "", True, None, row_id=7)
    other = Delivery("webhook:ops-hook", "ops-hook", "digest", card, "", True, None, row_id=8)
    assert delivery_id(first) == delivery_id(again) != delivery_id(other)
    test = Delivery("webhook:ops-hook", "ops-hook", "test", card, "", True, None)
    assert delivery_id(test) != delivery_id(replace(test))  # a test message: no row
