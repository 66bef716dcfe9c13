"""The console chat (bot/adapters/console.py): what a person at the terminal sees when an
incident is delivered, updated, and when a command replies."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from command_helpers import BOB, fields, ok, open_core, open_one, refused, sqlite_url
from rich.console import Console

from bot.adapters.base import Delivery
from bot.adapters.console import ConsoleAdapter, console_actor, reply_renderable
from bot.delivery.dispatcher import Dispatcher
from commands.dispatch import handle
from commands.model import Reply
from monitors.incidents.cards import IncidentCard
from storage.repositories import MessageRepository

CARD = IncidentCard(
    incident_id=7,
    title="#7 WARNING slow-api (route=/checkout)",
    status="open",
    severity="warning",
    color="#ECB22E",
    fields=(("Status", "open"), ("Value", "900 (threshold > 500)")),
    actions=("acknowledge", "snooze", "resolve"),
    runbook="https://wiki.example/slow-api",
)


def terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=False, width=120), buffer


def rendered(renderable) -> str:
    console, buffer = terminal()
    console.print(renderable)
    return buffer.getvalue()


@pytest.fixture
async def core(tmp_path, clock):
    core = await open_core(await sqlite_url(tmp_path), clock)
    yield core
    await core.close()


# ---------------------------------------------------------------- deliveries


async def test_a_new_incident_prints_a_panel_with_title_fields_and_action_hints(core, clock):
    console, buffer = terminal()
    incident_id = await open_one(core, clock)
    assert await Dispatcher(core.db, [ConsoleAdapter(console)], clock).run_once() == 1
    out = buffer.getvalue()
    assert out.startswith("Opened after 2 consecutive breaches")
    assert f"#{incident_id} WARNING slow-api (route=/checkout)" in out
    assert "900 (threshold > 500, 80% over)" in out
    assert "https://wiki.example/slow-api" in out
    assert (
        f"[/alerts ack {incident_id}]  [/alerts snooze {incident_id} 1h]  "
        f"[/alerts resolve {incident_id}]"
    ) in out
    assert "╭" in out and "╰" in out, "a panel"


async def test_an_update_prints_one_line_under_the_incident(core, clock):
    console, buffer = terminal()
    dispatcher = Dispatcher(core.db, [ConsoleAdapter(console)], clock)
    incident_id = await open_one(core, clock)
    await dispatcher.run_once()
    opened = buffer.getvalue()
    await ok(core, f"/alerts ack {incident_id}", BOB)
    assert await dispatcher.run_once() == 1
    update = buffer.getvalue()[len(opened) :]
    assert update == f"  ↳ #{incident_id} [acknowledged] Acknowledged by bob\n"
    async with core.db.transaction() as session:
        message = await MessageRepository(session).of(int(incident_id), "console")
        ref = message.message_ref if message else None
    assert ref == f"console:{incident_id}"


async def test_deliver_returns_the_message_ref_to_edit_later():
    console, buffer = terminal()
    adapter = ConsoleAdapter(console)
    new = Delivery("console", "", "opened", CARD, "Opened", notify=True, message_ref=None)
    assert await adapter.deliver(new) == "console:7"
    edit = Delivery(
        "console", "", "acknowledged", CARD, "Ack", notify=False, message_ref="console:7"
    )
    before = buffer.getvalue()
    assert await adapter.deliver(edit) == "console:7"
    assert buffer.getvalue()[len(before) :] == "  ↳ #7 [open] Ack\n"


async def test_a_repeat_page_prints_the_panel_again():
    console, buffer = terminal()
    reminder = Delivery(
        "console", "", "reminder", CARD, "Still firing", notify=True, message_ref="console:7"
    )
    assert await ConsoleAdapter(console).deliver(reminder) == "console:7"
    out = buffer.getvalue()
    assert out.startswith("Still firing\n")
    assert "#7 WARNING slow-api" in out


def test_a_resolved_card_has_no_action_hints():
    resolved = IncidentCard(7, "#7 WARNING slow-api", "resolved", "warning", "#2EB67D")
    out = rendered(reply_renderable(Reply("Resolved #7.", cards=(resolved,))))
    assert "#7 WARNING slow-api" in out
    assert "/alerts" not in out


def test_a_test_card_shows_its_footer():
    card = IncidentCard(
        3,
        "[TEST] #3 CRITICAL slow-api",
        "open",
        "critical",
        "#9B59B6",
        test=True,
        footer="Test incident: no one is paged for it.",
    )
    out = rendered(reply_renderable(Reply("Posted", cards=(card,))))
    assert "[TEST] #3 CRITICAL slow-api" in out
    assert "Test incident: no one is paged for it." in out


# ---------------------------------------------------------------- replies


async def test_an_error_reply_prints_its_text_and_usage(core):
    reply = await handle(core, "/alerts snooze 3 soon", BOB)
    out = rendered(reply_renderable(reply))
    assert out.splitlines() == [
        "'soon' is not a duration; use a number with a unit, like 30s, 15m, 2h or 7d",
        "Usage: /alerts snooze ID DURATION",
    ]


def test_an_error_reply_is_bold_red_on_a_colour_terminal():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="standard", width=120)
    console.print(reply_renderable(Reply("nope", ok=False)))
    console.print(reply_renderable(Reply("fine")))
    error, fine = buffer.getvalue().splitlines()
    assert error == "\x1b[1;31mnope\x1b[0m"
    assert fine == "fine"


async def test_a_table_reply_prints_a_table(core, clock):
    await ok(core, "/silence add rule=slow-api 2h deploy")
    await ok(core, '/silence add "route=~/api/[a-z]+/orders" 30m')
    out = rendered(reply_renderable(await ok(core, "/silence list")))
    title, header, rule, *rows = out.splitlines()
    assert title == "2 silences:"
    assert [cell.strip() for cell in header.split("┃")] == [
        "ID",
        "Matchers",
        "Until",
        "Left",
        "By",
        "Reason",
    ]
    assert set(rule) <= {"━", "╇"}
    cells = [[cell.strip() for cell in row.split("│")] for row in rows]
    assert [row[:2] for row in cells] == [
        ["1", "rule=slow-api"],
        ["2", "route=~/api/[a-z]+/orders"],
    ]
    assert cells[0][3:] == ["2h", "alice (console)", "deploy"]
    assert cells[1][3:] == ["30m", "alice (console)", "-"]


def test_brackets_in_text_are_printed_as_typed():
    card = IncidentCard(
        9,
        "#9 ERROR queue-depth (queue=[/jobs])",
        "open",
        "error",
        "#F2711C",
        fields=(("Value", "[b]12[/b]"),),
    )
    reply = Reply("1 incident(s):", table=(("Series",), ("queue=[/jobs]",)), cards=(card,))
    out = rendered(reply_renderable(reply))
    assert "#9 ERROR queue-depth (queue=[/jobs])" in out
    assert "[b]12[/b]" in out
    assert out.count("queue=[/jobs]") == 2


# ---------------------------------------------------------------- who may change things


@pytest.mark.parametrize(
    "text", ["/rule set slow-api 900", "/rule disable slow-api", "/silence add rule=slow-api 1h"]
)
async def test_a_console_user_who_is_not_admin_is_told_how_to_become_one(core, text):
    actor = console_actor(False, Path("/etc/tocsin/tocsin.yaml"))
    reply = await refused(core, text, actor)
    assert "needs the admin role" in reply.text
    assert reply.text.endswith(
        "nothing was changed. To be an admin at this console, set console_admin: true in "
        "/etc/tocsin/tocsin.yaml and restart Tocsin."
    )


async def test_the_console_hint_is_for_the_console_only(core):
    reply = await refused(core, "/rule set slow-api 900", BOB)
    assert "console_admin" not in reply.text
    assert reply.text.endswith("nothing was changed.")


@pytest.mark.parametrize("login", ["tocsin", "auto"])
async def test_a_login_named_like_tocsin_itself_does_not_act_as_tocsin(
    core, clock, monkeypatch, login
):
    """'resolved by auto' reads 'resolved automatically', and 'tocsin' is the system."""
    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):  # getpass.getuser reads these
        monkeypatch.setenv(variable, login)
    incident_id = await open_one(core, clock)
    reply = await ok(core, f"/alerts resolve {incident_id}", console_actor(True))
    shown = fields(reply.cards[0])
    assert shown["Resolved"].startswith(f"by {login}@console after")
