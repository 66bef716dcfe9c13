"""Email destinations, end to end: incidents opened by the engine, delivered by the
dispatcher through the email adapter to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import pytest
from command_helpers import push_and_tick
from destination_helpers import config, email_section, open_incident, outbox, service
from discord_harness import SLOW_API, running_service, settings_for
from fake_discord import CHANNEL_ID, GUILD_ID
from receivers import smtp_server
from slack_harness import LATENCY, eventually, slack_world
from sqlalchemy import select

from bot.delivery.dispatcher import PARKED
from bot.settings import EmailConfig
from monitors.actors import ADMIN, Actor
from monitors.routing import Destination
from storage.models import MessageRow

ALICE = Actor("U1", "alice", "console", frozenset({ADMIN}))
ONCALL = ("oncall@example.com", "lead@example.com")


def mail_config(
    database_url: str, port: int, floor: str = "", channels: str = "oncall-mail"
) -> str:
    extra = f", min_severity: {floor}" if floor else ""
    destination = f"destinations:\n  oncall-mail: {{email: [{', '.join(ONCALL)}]{extra}}}\n"
    return config(database_url, channels, email_section(port) + destination)


async def test_an_incident_is_one_thread_of_mails_with_text_and_html(tmp_path, database_url, clock):
    async with (
        smtp_server() as mailbox,
        service(tmp_path, mail_config(database_url, mailbox.port), clock) as running,
    ):
        core = running.core
        await open_incident(running, clock)
        assert await running.dispatcher.run_once() == 1
        (incident,) = await core.incidents.list("all")
        await core.incidents.acknowledge(incident.id, ALICE)
        await core.incidents.resolve(incident.id, ALICE, "index rebuilt")
        assert await running.dispatcher.run_once() == 2
        async with core.db.read() as session:
            (ref,) = (await session.scalars(select(MessageRow.message_ref))).all()

    first, acked, resolved = mailbox.mails
    assert first.sender == "tocsin@example.com" and sorted(first.recipients) == sorted(ONCALL)
    assert first.message["Subject"] == "[WARNING] slow-api route=/checkout"
    assert first.message["To"] == ", ".join(ONCALL)
    assert first.message["Auto-Submitted"] == "auto-generated"
    assert first.message["In-Reply-To"] is None
    text, html = first.part("text/plain"), first.part("text/html")
    for body in (text, html):
        assert "900 (threshold &gt; 500" in body or "900 (threshold > 500" in body
        assert "Firing since" in body and "https://wiki.example/slow-api" in body
    assert "Runbook:" in text and '<a href="https://wiki.example/slow-api">' in html
    assert f"/alerts ack {incident.id}" in text

    thread = first.message["Message-ID"]
    assert ref == thread  # the dispatcher keeps the first mail's id as the reference
    for later in (acked, resolved):
        assert later.message["In-Reply-To"] == thread and later.message["References"] == thread
        assert later.message["Message-ID"] != thread
    assert acked.message["Subject"] == "[WARNING] slow-api route=/checkout"
    assert "Acknowledged by alice" in acked.part("text/plain")
    assert resolved.message["Subject"] == "[RESOLVED] slow-api route=/checkout"
    assert "index rebuilt" in resolved.part("text/plain")


async def test_below_the_floor_nothing_is_sent_until_it_escalates_past_it(
    tmp_path, database_url, clock
):
    async with smtp_server() as mailbox:
        text = mail_config(database_url, mailbox.port, "critical", "oncall-mail, console")
        async with service(tmp_path, text, clock) as running:
            core = running.core
            await open_incident(running, clock)  # warning: the console only
            await running.dispatcher.run_once()
            assert mailbox.mails == []
            assert [row.channel for row in await outbox(running)] == ["console"]

            await push_and_tick(core, clock, {"/checkout": 2500}, ticks=1)  # escalates
            await running.dispatcher.run_once()
            await push_and_tick(core, clock, {"/checkout": 900}, ticks=1)  # de-escalates
            (incident,) = await core.incidents.list("all")
            await core.incidents.resolve(incident.id, ALICE)
            await running.dispatcher.run_once()

    escalated, deescalated, resolved = mailbox.mails
    assert escalated.message["Subject"] == "[CRITICAL] slow-api route=/checkout"
    assert escalated.message["In-Reply-To"] is None  # the first mail of its thread
    thread = escalated.message["Message-ID"]
    # once the place shows the incident, it keeps getting its updates, below the floor too
    assert deescalated.message["In-Reply-To"] == thread
    assert deescalated.message["Subject"] == "[WARNING] slow-api route=/checkout"
    assert resolved.message["In-Reply-To"] == thread


async def test_an_incident_that_stays_below_the_floor_sends_no_mail(tmp_path, sqlite_url, clock):
    async with smtp_server() as mailbox:
        text = mail_config(sqlite_url, mailbox.port, "error", "oncall-mail, console")
        async with service(tmp_path, text, clock) as running:
            await open_incident(running, clock)
            (incident,) = await running.core.incidents.list("all")
            await running.core.incidents.resolve(incident.id, ALICE)
            await running.dispatcher.run_once()
            channels = {row.channel for row in await outbox(running)}
    assert mailbox.mails == [] and channels == {"console"}


async def test_a_refused_recipient_is_permanent_with_the_servers_reply(tmp_path, sqlite_url, clock):
    async with smtp_server() as mailbox:
        mailbox.refuse_recipients = {address: "550 5.1.1 no such user" for address in ONCALL}
        async with service(tmp_path, mail_config(sqlite_url, mailbox.port), clock) as running:
            await open_incident(running, clock)
            await running.dispatcher.run_once()  # parked: see the row
            (row,) = await outbox(running)
    assert row.available_at == PARKED
    assert "oncall@example.com: 550 5.1.1 no such user" in row.last_error


async def test_one_refused_recipient_does_not_hold_back_the_others(tmp_path, sqlite_url, clock):
    async with smtp_server() as mailbox:
        mailbox.refuse_recipients = {"lead@example.com": "550 5.1.1 no such user"}
        async with service(tmp_path, mail_config(sqlite_url, mailbox.port), clock) as running:
            await open_incident(running, clock)
            assert await running.dispatcher.run_once() == 1
    (mail,) = mailbox.mails
    assert mail.recipients == ["oncall@example.com"]


async def test_a_temporary_refusal_is_retried(tmp_path, sqlite_url, clock):
    async with smtp_server() as mailbox:
        mailbox.data_replies = ["451 4.3.0 try again later"]
        async with service(tmp_path, mail_config(sqlite_url, mailbox.port), clock) as running:
            await open_incident(running, clock)
            await running.dispatcher.run_once()  # parked: see the row
            (row,) = await outbox(running)
            assert row.available_at < PARKED and "451 4.3.0 try again later" in row.last_error
            clock.advance(600)
            assert await running.dispatcher.run_once() == 1
    assert len(mailbox.mails) == 1


async def test_a_server_that_is_down_is_retried(tmp_path, sqlite_url, clock):
    async with smtp_server() as mailbox:
        port = mailbox.port
    async with service(tmp_path, mail_config(sqlite_url, port), clock) as running:
        await open_incident(running, clock)
        await running.dispatcher.run_once()  # parked: see the row
        (row,) = await outbox(running)
    assert row.available_at < PARKED and "SMTP server unreachable" in row.last_error


@pytest.mark.parametrize(("password", "delivered"), [("right", True), ("wrong", False)])
async def test_the_login_comes_from_the_environment(
    tmp_path, sqlite_url, clock, monkeypatch, password, delivered
):
    monkeypatch.setenv("TOCSIN_SMTP_USERNAME", "tocsin")
    monkeypatch.setenv("TOCSIN_SMTP_PASSWORD", password)
    async with (
        smtp_server(logins={"tocsin": "right"}) as mailbox,
        service(tmp_path, mail_config(sqlite_url, mailbox.port), clock) as running,
    ):
        await open_incident(running, clock)
        await running.dispatcher.run_once()
        (row,) = await outbox(running)
    assert (len(mailbox.mails) == 1) is delivered
    if not delivered:
        assert row.available_at == PARKED and "SMTP refused the login: 535" in row.last_error


async def test_the_mail_links_to_the_incidents_slack_message(database_url):
    team = Destination(slack="C0ALERTS", email=ONCALL)
    rule = LATENCY.model_copy(update={"channels": ("team",)})
    async with smtp_server() as mailbox:
        email = EmailConfig.model_validate(
            {
                "host": "127.0.0.1",
                "port": mailbox.port,
                "from": "tocsin@example.com",
                "starttls": False,
            }
        )
        async with slack_world(
            database_url, rules=[rule], destinations={"team": team}, email=email
        ) as world:
            for _ in range(2):  # two breaches a rule interval apart; no time after the second
                world.clock.advance(rule.interval)
                await world.push("/checkout", 2500)
                await world.tick()
            (post,) = await eventually(lambda: world.fake.posts("C0ALERTS"))
            (first,) = await eventually(lambda: mailbox.mails)

    channel, ts = "C0ALERTS", post["ts"]
    permalink = f"https://tocsin-test.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    (line,) = [text for text in first.part("text/plain").splitlines() if permalink in text]
    assert line.split() == ["In", "Slack:", permalink]
    assert f'<a href="{permalink}">' in first.part("text/html")


async def test_the_mail_links_to_the_incidents_discord_message(fake_discord, database_url):
    team = Destination(discord=CHANNEL_ID, email=ONCALL)
    async with smtp_server() as mailbox:
        email = EmailConfig.model_validate(
            {"host": "127.0.0.1", "port": mailbox.port, "from": "x@example.com", "starttls": False}
        )
        rules = [{**SLOW_API, "channels": ["team"]}]
        settings = settings_for(
            fake_discord, database_url, rules=rules, destinations={"team": team}, email=email
        )
        async with running_service(settings, fake_discord) as app:
            for _ in range(2):  # as app.open_incident, with no time after the second
                app.clock.advance(3600)
                await app.push(900)
                await app.tick()
            (incident,) = await app.incidents()
            message = await app.posted(incident.id)
            (first,) = await eventually(lambda: mailbox.mails)

    address = f"https://discord.com/channels/{GUILD_ID}/{CHANNEL_ID}/{message['id']}"
    (line,) = [text for text in first.part("text/plain").splitlines() if address in text]
    assert line.split() == ["In", "Discord:", address]
