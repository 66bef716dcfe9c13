"""Charts on incident messages (issue 8): the message is posted first, unchanged, and the
chart of the metric follows, as a step of its own in the outbox: a PNG file in the
message's thread on Slack, the message's attachment shown as the embed's image on
Discord, kept by later edits; once, across a crash and a lost answer; never for an
incident with no series of pushed samples, nor for a storm; drawn off the event loop.

Everything runs against the protocol-level fakes (tests/fake_slack.py,
tests/fake_discord.py), which slack_sdk and discord.py talk to unmodified."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Sequence

from discord_harness import SLOW_API, running_service, settings_for
from discord_harness import eventually as discord_eventually
from discord_payloads import BOB, carrying
from fake_discord import FakeDiscord
from fake_slack import MEMBER, FakeSlack
from slack_harness import SlackWorld, eventually, slack_world
from sqlalchemy import select

from monitors.actors import Actor
from monitors.backtest.history import SampleHistory
from monitors.charts import Charts, chart_rule
from monitors.rules.schema import Rule
from storage.models import IncidentRow, MessageRow, OutboxRow
from storage.vocabulary import EventKind, IncidentKind

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHANNEL = "C0ALERTS"


def check_png(content: bytes) -> tuple[int, int]:
    """A PNG of a sane size; returns its width and height."""
    assert content[:8] == PNG_MAGIC
    assert 5_000 < len(content) < 200_000, len(content)
    width, height = struct.unpack(">II", content[16:24])  # the IHDR chunk
    return width, height


async def chart_rows(world_db, incident_id: int | None = None) -> list[OutboxRow]:
    async with world_db.read() as session:
        query = select(OutboxRow).where(OutboxRow.event == EventKind.CHART)
        if incident_id is not None:
            query = query.where(OutboxRow.incident_id == incident_id)
        return list((await session.scalars(query.order_by(OutboxRow.id))).all())


async def message_row(world_db, incident_id: int, target: str) -> MessageRow | None:
    async with world_db.read() as session:
        return await session.get(MessageRow, (incident_id, target))


def slack_post(world: SlackWorld) -> dict:
    (post,) = world.fake.posts(CHANNEL)
    return post


async def history_breach(world: SlackWorld, route: str = "/checkout") -> None:
    """An hour of normal readings a minute apart, then the breach that opens."""
    for _ in range(30):
        await world.push(route, 120)
        world.clock.advance(120)
    await world.breach(route)


# ---------------------------------------------------------------- Slack


async def test_slack_gets_the_chart_in_the_thread_after_the_post(database_url: str) -> None:
    async with slack_world(database_url, charts=True) as world:
        await history_breach(world)
        post = await eventually(lambda: world.fake.posts(CHANNEL))
        files = await eventually(lambda: world.fake.files_in_thread(post[0]["ts"]), within=30)
        (chart,) = files
        assert check_png(chart["content"]) == (600, 260)
        assert chart["mimetype"] == "image/png"
        methods = [c.method for c in world.fake.calls]
        posted = methods.index("chat.postMessage")
        assert posted < methods.index("files.getUploadURLExternal")
        assert methods.index("upload") < methods.index("files.completeUploadExternal")
        assert "files" not in post[0] and "chart" not in str(post[0].get("blocks"))

        (incident,) = await world.incidents()
        db = world.service.core.db
        (row,) = await chart_rows(db)
        assert await _delivered(world, row.id)
        stored = await message_row(db, incident.id, f"slack:{CHANNEL}")
        assert stored is not None and stored.chart_at is not None
        metrics = (await world.http.get(f"{world.base}/metrics")).text
        assert 'tocsin_charts_total{outcome="attached"} 1.0' in metrics
        assert 'tocsin_deliveries_total{platform="slack"} 1.0' in metrics  # the post only

        # an acknowledgement edits the message; the chart stays in its thread, alone
        await world.service.core.incidents.acknowledge(incident.id, Actor("slack:U0ADMIN", "al"))
        await eventually(lambda: slack_post(world).get("edits"))
        await eventually(lambda: len(world.fake.replies(post[0]["ts"])) >= 2)
        assert len(world.fake.files_in_thread(post[0]["ts"])) == 1


async def test_a_subscribers_dm_gets_no_chart_of_its_own(sqlite_url: str) -> None:
    async with slack_world(sqlite_url, charts=True) as world:
        await world.slack.command("/notify", "me rule=slow-api", MEMBER)
        await history_breach(world)
        await eventually(lambda: world.fake.posts("D" + MEMBER.id[1:]))  # the DM
        post = await eventually(lambda: world.fake.posts(CHANNEL))
        await eventually(lambda: world.fake.files_in_thread(post[0]["ts"]), within=30)
        (row,) = await chart_rows(world.service.core.db)  # one drawing: the channel's
        assert row.channel == f"slack:{CHANNEL}"


async def test_a_chart_still_owed_at_a_restart_is_attached_once_after_it(sqlite_url: str) -> None:
    """Stopped between the post and the chart (tests/test_charts_crash.py does the same
    with kill -9 against run.py)."""
    fake = FakeSlack()
    fake.fail("files.getUploadURLExternal", status=500, times=1000)  # Slack's files are down
    async with slack_world(sqlite_url, fake, charts=True) as world:
        await history_breach(world)
        db = world.service.core.db
        await eventually(lambda: fake.posts(CHANNEL))

        async def tried() -> bool:
            rows = await chart_rows(db)
            return bool(rows and rows[0].last_error)

        deadline = time.monotonic() + 30
        while not await tried():
            assert time.monotonic() < deadline, "the chart was never tried"
            await asyncio.sleep(0.05)
    # stopped with the chart not attached: the post is there, the chart row waits
    (post,) = fake.posts(CHANNEL)
    assert fake.files_in_thread(post["ts"]) == []
    fake.faults.clear()
    async with slack_world(sqlite_url, fake, clock=world.clock, charts=True) as world:
        files = await eventually(lambda: fake.files_in_thread(post["ts"]), within=30)
        check_png(files[0]["content"])
        (row,) = await chart_rows(world.service.core.db)
        assert await _delivered(world, row.id)
    assert len(fake.files_in_thread(post["ts"])) == 1
    assert len(fake.posts(CHANNEL)) == 1


async def _delivered(world: SlackWorld, row_id: int) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = [r for r in await chart_rows(world.service.core.db) if r.id == row_id]
        if rows and rows[0].delivered_at is not None:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_lost_answer_to_the_upload_does_not_attach_it_twice(sqlite_url: str) -> None:
    fake = FakeSlack()
    fake.fail("files.completeUploadExternal", lose_answer=True)  # shared, answer lost
    async with slack_world(sqlite_url, fake, charts=True) as world:
        await history_breach(world)
        (post,) = await eventually(lambda: fake.posts(CHANNEL))
        await eventually(lambda: fake.files_in_thread(post["ts"]), within=30)
        rows = await chart_rows(world.service.core.db)
        assert await _delivered(world, rows[0].id)
        assert len(fake.called("files.completeUploadExternal")) == 1  # the retry found it
        assert len(fake.called("conversations.replies")) >= 1
    assert len(fake.files_in_thread(post["ts"])) == 1


async def test_no_chart_without_history_for_tests_or_for_a_storm(sqlite_url: str) -> None:
    async with slack_world(sqlite_url, charts=True) as world:
        # a storm: two series open on one tick share one message, which gets no chart
        for _ in range(2):
            await world.push_all(["/a", "/b"], 900)  # warnings: critical never joins
            await world.tick()
            world.clock.advance(60)
        await eventually(lambda: len(world.fake.called("chat.update")) >= 1)
        # a test incident (/rule test) has no series of its own
        response = await world.slack.command("/rule", "test slow-api")
        assert response.status_code == 200
        await eventually(lambda: len(world.fake.posts(CHANNEL)) == 2)
        db = world.service.core.db
        assert await _all_delivered(db)
        assert world.fake.called("files.getUploadURLExternal") == []
        for post in world.fake.posts(CHANNEL):
            assert world.fake.files_in_thread(post["ts"]) == []


async def _all_delivered(db) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        async with db.read() as session:
            waiting = (
                await session.scalars(select(OutboxRow).where(OutboxRow.delivered_at.is_(None)))
            ).all()
        if not waiting:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_charts_off_queues_nothing(sqlite_url: str) -> None:
    async with slack_world(sqlite_url, charts=False) as world:
        await history_breach(world)
        await eventually(lambda: world.fake.posts(CHANNEL))
        assert await _all_delivered(world.service.core.db)
        assert await chart_rows(world.service.core.db) == []
        assert world.fake.called("files.getUploadURLExternal") == []


# ---------------------------------------------------------------- Discord


def chart_attachments(message: dict) -> list[dict]:
    return [a for a in message.get("attachments") or [] if a["filename"] == "chart.png"]


def shows_chart(message: dict) -> bool:
    embed = (message.get("embeds") or [{}])[0]
    return (embed.get("image") or {}).get("url") == "attachment://chart.png"


async def test_discord_attaches_the_chart_and_edits_keep_it(
    fake_discord: FakeDiscord, sqlite_url: str
) -> None:
    settings = settings_for(fake_discord, sqlite_url, charts=True)
    async with running_service(settings, fake_discord) as app:
        incident = await app.open_incident()
        posted = await app.posted(incident)
        message = await discord_eventually(
            lambda: chart_attachments(posted) and posted, within=30, what="the chart attached"
        )
        assert shows_chart(message)
        (content,) = fake_discord.attachment_bytes(message)
        check_png(content)
        edits = fake_discord.calls_to("PATCH", rf"/channels/\d+/messages/{message['id']}")
        assert edits and edits[-1].files  # the chart came as an edit carrying the file
        first = fake_discord.calls_to("POST", r"/channels/\d+/messages")[0]
        assert not first.files and "image" not in first.body["embeds"][0]

        # an acknowledgement through the outbox edits the card: the chart stays
        await app.service.core.incidents.acknowledge(incident, Actor("discord:1", "al"))
        await app.delivered()
        message = app.message_of(incident)
        assert message is not None and "acknowledged" in str(message["embeds"]).lower()
        assert len(chart_attachments(message)) == 1 and shows_chart(message)

        # a click that redraws the card (resolve) keeps it too
        custom_id = f"tocsin:resolve:{incident}"
        click = app.people.click(BOB, carrying(message, custom_id), custom_id)
        await fake_discord.interact(click)
        await app.delivered()
        message = app.message_of(incident)
        assert message is not None
        assert len(chart_attachments(message)) == 1 and shows_chart(message)
        assert fake_discord.attachment_bytes(message) == [content]


async def test_a_storm_that_forms_while_a_chart_is_drawn_is_not_overwritten_by_it(
    fake_discord: FakeDiscord, sqlite_url: str, monkeypatch
) -> None:
    """The chart of a message that has since become a storm's is not attached: it
    would redraw the message as one incident's card, hiding the others."""
    drawing, release = asyncio.Event(), asyncio.Event()
    draw = Charts.png

    async def held(self, request, now):  # the real drawing, finished only when told
        png = await draw(self, request, now)
        drawing.set()
        await release.wait()
        return png

    monkeypatch.setattr(Charts, "png", held)
    rule = {**SLOW_API, "breaches_to_open": 1}
    settings = settings_for(fake_discord, sqlite_url, rules=(rule,), charts=True)
    async with running_service(settings, fake_discord) as app:
        await app.push(900, "/a")
        await app.tick()
        (first,) = [i.id for i in await app.incidents()]
        await app.posted(first)
        await asyncio.wait_for(drawing.wait(), 30)
        app.clock.advance(5)  # within the storm wait
        await app.push(900, "/b")
        await app.tick()
        await discord_eventually(
            lambda: len((app.message_of(first) or {}).get("embeds", [])) == 2,
            what="/b joining the message",
        )
        release.set()
        await app.delivered()
        message = app.message_of(first)
        assert message is not None and len(message["embeds"]) == 2  # the storm, whole
        assert not shows_chart(message)


async def test_discord_without_charts_attaches_nothing(
    fake_discord: FakeDiscord, sqlite_url: str
) -> None:
    async with running_service(settings_for(fake_discord, sqlite_url), fake_discord) as app:
        incident = await app.open_alone()
        message = await app.posted(incident)
        assert message["attachments"] == [] and not shows_chart(message)
        assert not any(c.files for c in fake_discord.calls)


# ---------------------------------------------------------------- the chart itself

RULE = Rule.model_validate(
    {
        "name": "slow-api",
        "metric": "latency",
        "aggregate": "p95",
        "window": "5m",
        "group_by": ["route"],
        "thresholds": {"warning": 500, "critical": 2000},
    }
)


def incident(
    kind: str = IncidentKind.METRIC, test: bool = False, rule: Rule = RULE, now: float = 0.0
) -> IncidentRow:
    return IncidentRow(
        id=7,
        rule=rule.name,
        labels={"route": "/checkout"},
        kind=kind,
        test=test,
        rule_snapshot=rule.to_json(),
        threshold=500.0,
        opened_at=now - 600,
        firing_since=None,
        resolved_at=None,
    )


def filled(now: float, routes: Sequence[str] = ("/checkout", "/other")) -> SampleHistory:
    history = SampleHistory(None)
    for second in range(0, 3 * 3600, 10):
        at = now - 3 * 3600 + second
        value = 2500.0 if at > now - 900 else 300.0
        for route in routes:
            history.add("latency", value, {"route": route}, at, now)
    return history


def test_only_metric_incidents_of_pushed_samples_have_a_chart() -> None:
    assert chart_rule(incident()) is not None
    assert chart_rule(incident(kind=IncidentKind.EVENT)) is None
    assert chart_rule(incident(kind=IncidentKind.SOURCE_DOWN)) is None
    assert chart_rule(incident(kind=IncidentKind.BEHIND)) is None
    assert chart_rule(incident(kind=IncidentKind.DELIVERY_FAILING)) is None
    assert chart_rule(incident(test=True)) is None
    prometheus = RULE.model_copy(
        update={"source": "prometheus", "query": "up", "url": "http://prometheus:9090"}
    )
    assert chart_rule(incident(rule=prometheus)) is None


async def test_no_values_in_the_window_is_no_chart() -> None:
    now = time.time()
    charts = Charts(SampleHistory(None))
    try:
        request = charts.request(incident(now=now))
        assert request is not None
        assert await charts.png(request, now) is None
        other = filled(now, routes=("/other",))  # samples, but of another series
        assert await Charts(other).png(request, now) is None
    finally:
        charts.close()


async def test_drawing_a_chart_leaves_the_event_loop_running() -> None:
    now = time.time()
    charts = Charts(filled(now))
    request = charts.request(incident(now=now))
    assert request is not None
    ticks_while_drawing = 0
    drawing = asyncio.ensure_future(charts.png(request, now))
    try:
        while not drawing.done():
            await asyncio.sleep(0.001)
            ticks_while_drawing += not drawing.done()
        png = drawing.result()
        assert png is not None
        check_png(png)
        # the loop kept turning while the chart was drawn (on the loop: not once)
        assert ticks_while_drawing >= 3
    finally:
        charts.close()
