"""A destination's quiet hours, digest and cap, end to end: the real service against the
fake Slack, on SQLite and PostgreSQL, on a clock set to a winter night in Paris.
Assertions are on what Slack received and on the database."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from html import unescape

from clocks import OffsetClock
from fake_slack import FakeSlack
from slack_harness import LATENCY, SlackWorld, eventually, slack_world
from sqlalchemy import select

from monitors.quiet_hours import QuietHours
from monitors.routing import Destination
from monitors.rules.schema import Rule
from storage.models import HeldRow, OutboxRow

PARIS_NIGHT = QuietHours(start="22:00", end="07:00", timezone="Europe/Paris")
NIGHT_RULE = LATENCY.model_copy(update={"channels": ("night",)})


def clock_at(utc: str) -> OffsetClock:
    """A clock that reads ``utc`` now and runs on from there."""
    clock = OffsetClock()
    clock.offset = datetime.fromisoformat(utc).replace(tzinfo=UTC).timestamp() - time.time()
    return clock


def night(**fields: object) -> dict[str, Destination]:
    spec = {"slack": "C0NIGHT", "quiet_hours": PARIS_NIGHT, **fields}
    return {"night": Destination.model_validate(spec)}


def texts(fake: FakeSlack, channel: str) -> list[str]:
    return [unescape(post["text"]) for post in fake.posts(channel)]


async def settled(world: SlackWorld) -> None:
    """Everything queued is delivered (or was never queued)."""
    await world.service.dispatcher.run_once()
    await asyncio.sleep(0.05)


async def held(world: SlackWorld) -> list[HeldRow]:
    async with world.service.core.db.read() as session:
        return list((await session.scalars(select(HeldRow).order_by(HeldRow.id))).all())


async def resolve(world: SlackWorld, route: str) -> None:
    """Normal readings a rule interval apart: three resolve the incident."""
    for _ in range(3):
        await world.push(route, 100)
        await world.tick()
        world.clock.advance(LATENCY.interval)


async def test_a_warning_at_23_paris_is_held_and_listed_when_quiet_hours_end(database_url):
    clock = clock_at("2026-11-29T22:00")  # 23:00 in Paris
    async with slack_world(
        database_url, rules=(NIGHT_RULE,), clock=clock, destinations=night()
    ) as world:
        await world.breach("/a", 900)
        (incident,) = await world.incidents()
        await settled(world)
        assert world.fake.posts("C0NIGHT") == []
        (row,) = await held(world)
        assert (row.incident_id, row.target, row.digest) == (incident.id, "slack:C0NIGHT", None)
        async with world.service.core.db.read() as session:
            queued = await session.scalars(
                select(OutboxRow).where(OutboxRow.channel == "slack:C0NIGHT")
            )
            assert list(queued) == []

        assert await world.service.core.digests.run() == 0  # still quiet: it waits
        clock.advance(8 * 3600)  # 07:04 in Paris: quiet hours are over
        assert await world.service.core.digests.run() == 1
        (digest,) = await eventually(lambda: texts(world.fake, "C0NIGHT"))
        assert digest == "Digest for night: 1 incident held"
        post = world.fake.posts("C0NIGHT")[0]
        body = str(post["attachments"])
        assert f"#{incident.id} WARNING slow-api (route=/a)" in body
        assert "opened 2026-11-29 23:0" in body and "Europe/Paris, still open" in body
        assert "/alerts list" in body
        assert await world.service.core.digests.run() == 0  # once per period
        await settled(world)
        assert len(world.fake.posts("C0NIGHT")) == 1
        assert [r.digest is not None for r in await held(world)] == [True]

        await resolve(world, "/a")  # shown only in the digest: nothing to edit, nothing new
        await settled(world)
        assert len(world.fake.posts("C0NIGHT")) == 1


async def test_a_critical_at_23_paris_posts_at_once(database_url):
    clock = clock_at("2026-11-29T22:00")
    async with slack_world(
        database_url, rules=(NIGHT_RULE,), clock=clock, destinations=night()
    ) as world:
        await world.breach("/b", 2500)
        (post,) = await eventually(lambda: world.fake.posts("C0NIGHT"))
        assert "CRITICAL" in post["text"]
        assert await held(world) == []


async def test_a_held_warning_escalating_to_critical_posts_then(database_url):
    clock = clock_at("2026-11-29T22:00")
    async with slack_world(
        database_url, rules=(NIGHT_RULE,), clock=clock, destinations=night()
    ) as world:
        await world.breach("/a", 900)
        await settled(world)
        assert world.fake.posts("C0NIGHT") == []
        await world.breach("/a", 2500, ticks=1)  # escalates
        (post,) = await eventually(lambda: world.fake.posts("C0NIGHT"))
        assert "CRITICAL" in post["text"]


async def test_resolved_while_quiet_still_appears_in_the_9_oclock_digest(database_url):
    clock = clock_at("2026-11-29T22:00")
    destinations = night(digest="daily 09:00")
    async with slack_world(
        database_url, rules=(NIGHT_RULE,), clock=clock, destinations=destinations
    ) as world:
        await world.breach("/a", 900)
        await resolve(world, "/a")
        (incident,) = await world.incidents()
        assert incident.status == "resolved"
        await settled(world)
        assert world.fake.posts("C0NIGHT") == []

        clock.advance(8 * 3600)  # 07:05 in Paris: not quiet, but the digest is at 09:00
        assert await world.service.core.digests.run() == 0
        await world.breach("/day", 900)  # by day a warning posts at once
        await eventually(lambda: len(world.fake.posts("C0NIGHT")) == 1)

        clock.advance(2 * 3600)  # 09:07
        assert await world.service.core.digests.run() == 1
        digest = await eventually(
            lambda: [p for p in world.fake.posts("C0NIGHT") if "Digest" in p["text"]]
        )
        body = str(digest[0]["attachments"])
        assert f"#{incident.id} WARNING slow-api (route=/a)" in body
        assert ", resolved 2026-11-29 23:" in body
        assert "route=/day" not in body  # it was posted, not held


async def test_a_restart_during_quiet_hours_loses_nothing(database_url):
    clock = clock_at("2026-11-29T22:30")
    fake = FakeSlack()
    async with slack_world(
        database_url, fake, rules=(NIGHT_RULE,), clock=clock, destinations=night()
    ) as world:
        await world.breach("/a", 900)
        await world.breach("/b", 900)
        await settled(world)
        assert world.fake.posts("C0NIGHT") == []
    clock.advance(3600)  # down for an hour, still in the night
    async with slack_world(
        database_url, fake, rules=(NIGHT_RULE,), clock=clock, destinations=night()
    ) as world:
        await world.breach("/c", 900)  # held by the new process too
        assert len(await held(world)) == 3
        clock.advance(7 * 3600)  # 07:3x
        digests = world.service.core.digests
        assert sum(await asyncio.gather(digests.run(), digests.run(), digests.run())) == 1
        (post,) = await eventually(lambda: world.fake.posts("C0NIGHT"))
        assert post["text"] == "Digest for night: 3 incidents held"
        body = str(post["attachments"])
        assert all(f"(route={r})" in body for r in ("/a", "/b", "/c"))


async def test_an_hourly_digest_without_quiet_hours_holds_warnings_for_the_hour(database_url):
    clock = clock_at("2026-11-30T10:05")
    destinations = {"batch": Destination(slack="C0BATCH", digest="hourly")}
    rule = LATENCY.model_copy(update={"channels": ("batch",)})
    async with slack_world(
        database_url, rules=(rule,), clock=clock, destinations=destinations
    ) as world:
        await world.breach("/a", 900)
        await world.breach("/b", 2500)  # critical goes at once
        await eventually(lambda: len(world.fake.posts("C0BATCH")) == 1)
        assert await world.service.core.digests.run() == 0  # 10:00's digest: nothing before it
        clock.advance(3600)
        assert await world.service.core.digests.run() == 1
        await eventually(lambda: len(world.fake.posts("C0BATCH")) == 2)
        assert texts(world.fake, "C0BATCH")[1] == "Digest for batch: 1 incident held"


def rule_reading(name: str, kind: str) -> Rule:
    return LATENCY.model_copy(update={"name": name, "match": {"kind": kind}, "channels": ("team",)})


async def breach_kind(world: SlackWorld, kind: str, route: str) -> None:
    for _ in range(2):
        sample = {"metric": "latency", "value": 900, "labels": {"route": route, "kind": kind}}
        response = await world.http.post(f"{world.base}/v1/samples", json={"samples": [sample]})
        assert response.status_code == 202
        await world.tick()
        world.clock.advance(LATENCY.interval)


async def test_a_destination_cap_across_two_rules_is_one_notice_edited_as_it_grows(
    database_url,
):
    rules = (rule_reading("slow-api", "api"), rule_reading("slow-db", "db"))
    destinations = {"team": Destination(slack="C0TEAM", max_per_hour=2)}
    async with slack_world(database_url, rules=rules, destinations=destinations) as world:
        for n, (kind, route) in enumerate((("api", "/1"), ("db", "/2"), ("api", "/3"))):
            await breach_kind(world, kind, route)
            await eventually(lambda n=n: len(world.fake.posts("C0TEAM")) == n + 1)
        notice = "team: 1 more incident not posted this hour"
        assert texts(world.fake, "C0TEAM")[2] == notice
        await breach_kind(world, "db", "/4")
        notice = "team: 2 more incidents not posted this hour"
        await eventually(lambda: texts(world.fake, "C0TEAM")[2] == notice)
        posts = world.fake.posts("C0TEAM")
        assert len(posts) == 3 and posts[2]["edits"] == 1
        assert "takes 2 new messages an hour, all rules together" in str(posts[2]["attachments"])
        listed = (await world.slack.command("/alerts", "list")).json()["text"]
        assert "4 unresolved incidents" in listed


async def test_a_destination_cap_holds_back_criticals_too_and_says_so(database_url):
    """As a rule's cap does: a cap is the volume the channel's owner asked for, and an
    outage is when criticals come by the dozen; the notice pages instead."""
    rule = LATENCY.model_copy(update={"channels": ("team",)})
    destinations = {"team": Destination(slack="C0TEAM", max_per_hour=1)}
    async with slack_world(database_url, rules=(rule,), destinations=destinations) as world:
        await world.breach("/a", 2500)
        await world.breach("/b", 2500)
        await eventually(lambda: len(world.fake.posts("C0TEAM")) == 2)
        assert texts(world.fake, "C0TEAM")[1] == "team: 1 more incident not posted this hour"
