"""``/notify test NAME`` in chat: the same test message as the API's, its answer shown
to whoever asked; refused for non-admins and unknown names, with nothing sent."""

from __future__ import annotations

from command_helpers import ALICE, BOB, ok, refused
from destination_helpers import SECRET, config, service
from receivers import hook_receiver

from commands.dispatch import handle


def hook_config(database_url: str, url: str) -> str:
    extra = (
        "webhook_allow_networks: [127.0.0.0/8]\ndestinations:\n"
        f'  ops-hook: {{webhook: {{url: "{url}", secret: {SECRET}}}}}\n'
    )
    return config(database_url, "console", extra)


async def test_a_test_message_shows_the_answer(tmp_path, sqlite_url, clock):
    async with (
        hook_receiver() as receiver,
        service(tmp_path, hook_config(sqlite_url, receiver.url), clock) as running,
    ):
        reply = await ok(running.core, "/notify test ops-hook")
        receiver.answer(503, "maintenance")
        failed = await running.core.destinations.test("ops-hook", ALICE)
    assert reply.private
    assert reply.text.splitlines() == [
        "Test message sent to ops-hook; it was accepted:",
        "ok webhook:ops-hook: HTTP 200",
    ]
    assert receiver.received[0].json["context"]["fields"]["Sent by"] == "alice"
    assert not failed[0].ok and "answered HTTP 503: maintenance" in failed[0].summary


async def test_a_failed_test_message_says_so(tmp_path, sqlite_url, clock):
    async with (
        hook_receiver() as receiver,
        service(tmp_path, hook_config(sqlite_url, receiver.url), clock) as running,
    ):
        receiver.answer(404, "no such hook")
        reply = await handle(running.core, "/notify test ops-hook", ALICE)
    assert not reply.ok
    assert reply.text.splitlines()[1] == (
        "FAILED webhook:ops-hook: webhook ops-hook answered HTTP 404: no such hook"
    )


async def test_console_is_a_destination_too(tmp_path, sqlite_url, clock):
    async with (
        hook_receiver() as receiver,
        service(tmp_path, hook_config(sqlite_url, receiver.url), clock) as running,
    ):
        reply = await ok(running.core, "/notify test console")
        shown = running.console.console.file.getvalue()
    assert "ok console: posted" in reply.text
    assert "[TEST] Tocsin test message to console" in shown


async def test_refusals_send_nothing_and_change_nothing(tmp_path, sqlite_url, clock):
    async with (
        hook_receiver() as receiver,
        service(tmp_path, hook_config(sqlite_url, receiver.url), clock) as running,
    ):
        core = running.core
        not_admin = await refused(core, "/notify test ops-hook", BOB)
        unknown = await refused(core, "/notify test forged-name")
        bad_name = await refused(core, "/notify test Ops!")
        missing = await refused(core, "/notify test")
    assert "needs the admin role, which bob does not have" in not_admin.text
    assert "There is no destination named 'forged-name'" in unknown.text
    assert "Destinations: ops-hook" in unknown.text
    assert '"Ops!" is not a destination name' in bad_name.text
    assert "missing NAME, e.g. ops-hook" in missing.text
    assert receiver.received == []
