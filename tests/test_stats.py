"""``/alerts stats`` and ``GET /v1/stats`` over incidents of known timings, opened,
acknowledged and resolved the way production does it (pushed samples, engine ticks,
commands), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from command_helpers import RULES, incident_for, ok, push_and_tick
from discord_harness import running_service, settings_for
from discord_payloads import BOB
from fake_slack import MEMBER
from http_harness import serve
from slack_harness import slack_world

from monitors.core import Core
from monitors.insight.stats import percentile
from monitors.windows.store import Sample

DAY = 86400.0


async def scenario(core: Core, clock) -> dict[str, float]:
    """error-rate fires three days before the window; then in one hour (08:xx UTC):
    A acknowledged after 2m and resolved by hand after 10m; B resolves by itself after
    3m, unacknowledged; C acknowledged after 5m, resolves by itself after 7m, then
    reopens. Returns when error-rate fired."""
    errors_at = clock()
    for _ in range(2):
        core.store.add_many([Sample("api.errors", 1.0, {})] * 11, now=clock())
        await core.engine.tick(core.rulebook.enabled(), now=clock())
        clock.advance(60)
    (old,) = [i for i in await core.incidents.list("all") if i.rule == "error-rate"]
    await ok(core, f"/alerts resolve {old.id}")
    clock.advance(3 * DAY)

    await push_and_tick(core, clock, {"/a": 900})  # opens a minute into it
    a = await incident_for(core, "/a")
    clock.advance(a.opened_at + 120 - clock())
    await ok(core, f"/alerts ack {a.id}")
    clock.advance(a.opened_at + 600 - clock())
    await ok(core, f"/alerts resolve {a.id}")

    await push_and_tick(core, clock, {"/b": 900})
    await push_and_tick(core, clock, {"/b": 100}, ticks=3)  # resolves on the third

    await push_and_tick(core, clock, {"/c": 900})
    c = await incident_for(core, "/c")
    clock.advance(c.opened_at + 300 - clock())
    await ok(core, f"/alerts ack {c.id}")
    clock.advance(c.opened_at + 300 - clock())
    await push_and_tick(core, clock, {"/c": 100}, ticks=3)  # resolves 7 minutes in
    await push_and_tick(core, clock, {"/c": 900})  # within the cooldown: reopens
    return {"errors_at": errors_at + 60}


def test_percentiles_interpolate_between_ranks():
    assert percentile([], 50) is None
    assert percentile([7], 90) == 7
    assert percentile([120, 300], 50) == 210
    assert percentile([600, 180, 420], 90) == pytest.approx(564)


async def test_the_stats_of_a_day_with_known_timings(core_each_db, clock):
    core = core_each_db
    when = await scenario(core, clock)
    b = await incident_for(core, "/b")
    assert (b.resolved_at - b.opened_at, b.resolved_by) == (180, "auto")
    stats = await core.stats(1)
    total = stats.total
    assert (total.opened, total.reopens, total.acknowledged, total.resolved) == (3, 1, 2, 3)
    assert total.self_resolved == 1 and total.self_resolved_share == pytest.approx(1 / 3)
    assert (total.mtta.count, total.mtta.median, total.mtta.p90) == (2, 210, pytest.approx(282))
    assert (total.mttr.count, total.mttr.median) == (3, 420)  # 600, 180 and 420 seconds
    assert total.mttr.p90 == pytest.approx(564)
    (slow,) = stats.rules
    assert (slow.rule, slow.opened, slow.reopens, slow.noise) == ("slow-api", 3, 1, 4)
    assert stats.peak_hours == [(8, 3)]  # 1,800,259,200 + minutes is 08:xx UTC
    assert [r.rule for r in stats.noisiest] == ["slow-api"]
    assert stats.quiet == [("error-rate", when["errors_at"])]  # fired, but before the day

    week = await core.stats(7)
    assert week.total.opened == 4 and week.quiet == []
    assert {r.rule: r.opened for r in week.rules} == {"slow-api": 3, "error-rate": 1}


async def test_alerts_stats_reads_as_a_summary_and_a_table(core, clock):
    await scenario(core, clock)
    reply = await ok(core, "/alerts stats 1d")
    assert reply.text.startswith(
        "Over the last day: 3 incidents, 1 reopen. Time to acknowledge median 3m30s, p90 "
        "4m42s (over 2); to resolve median 7m, p90 9m24s (over 3). 33% resolved by "
        "themselves with nobody acknowledging. Peak hours (UTC): 08:00 (3). Noisiest: "
        "slow-api (4). Never fired in this time: error-rate (last "
    )
    assert reply.table[0][0] == "Rule"
    assert reply.table[1] == ("slow-api", "3", "1", "2", "1 (33%)", "3m30s / 4m42s", "7m / 9m24s")
    empty = await ok(core, "/alerts stats")
    assert "Never fired in this time" not in empty.text  # a week: every rule fired
    assert "/alerts stats [DAYS]" in (await ok(core, "/help alerts")).text


async def test_no_incidents_says_so_and_names_the_rules_that_never_fired(core):
    reply = await ok(core, "/alerts stats")
    assert reply.text == (
        "No incidents over the last 7 days. Never fired in this time: error-rate (never), "
        "slow-api (never)."
    )
    assert not reply.table


async def test_the_stats_api(database_url, clock):
    async with serve(database_url, clock, rules=RULES) as api:
        await scenario(api.core, clock)
        body = (await api.client.get("/v1/stats?days=1")).json()
        assert body["opened"] == 3 and body["reopens"] == 1
        assert body["mtta"] == {"count": 2, "median_seconds": 210.0, "p90_seconds": 282.0}
        assert body["mttr"]["median_seconds"] == 420.0
        assert body["self_resolved"] == 1 and body["self_resolved_share"] == 0.3333
        assert body["peak_hours"] == [{"hour": 8, "incidents": 3}]
        assert body["hours"][8] == 3 and sum(body["hours"]) == 3
        assert body["noisiest"] == ["slow-api"]
        assert [r["rule"] for r in body["rules"]] == ["slow-api"]
        assert body["never_fired"][0]["rule"] == "error-rate"
        assert body["never_fired"][0]["last_fired"].endswith("Z")
        assert body["days"] == 1
        default = (await api.client.get("/v1/stats")).json()
        assert default["days"] == 7 and default["opened"] == 4
        for bad in ("0", "366", "x", "-1"):
            answer = await api.client.get(f"/v1/stats?days={bad}")
            assert answer.status_code == 400
            assert answer.json()["error"] == "days: give 1 to 365 (e.g. ?days=7)."


async def test_stats_and_coaching_answer_in_slack_and_discord(sqlite_url, fake_discord):
    async with slack_world(sqlite_url) as world:
        answer = (await world.slack.command("/alerts", "stats 3d", MEMBER)).json()
        assert answer["response_type"] == "ephemeral"
        assert answer["text"].startswith("No incidents over the last 3 days.")
        answer = (await world.slack.command("/rule", "coach slow-api", MEMBER)).json()
        assert "slow-api opened no incidents over the last 7 days" in answer["text"]
    settings = settings_for(fake_discord, sqlite_url.replace("tocsin.db", "discord.db"))
    async with running_service(settings, fake_discord) as app:
        for group, action, options, words in (
            ("alerts", "stats", {"days": "3d"}, "No incidents over the last 3 days."),
            ("rule", "coach", {"name": "slow-api"}, "slow-api opened no incidents"),
            ("rule", "backtest", {"name": "slow-api", "days": "2d"}, "no history to replay"),
        ):
            call = await app.fake.interact(app.people.slash(BOB, group, action, **options))
            assert call.body["data"]["flags"] & (1 << 6)
            assert words in call.body["data"]["content"]
