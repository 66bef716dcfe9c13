"""``/rule set`` shows a backtest of the change before anything is saved, with Apply
and Cancel; Apply saves through the same audited path, once, and only the change
shown; Cancel saves nothing; ``/rule backtest`` gives a rule's record. Through the
neutral commands (the Slack and Discord tests click the same buttons)."""

from __future__ import annotations

import pytest
from command_helpers import (
    ALICE,
    BOB,
    RULES,
    SLOW_API,
    as_read,
    audit_log,
    ok,
    refused,
    snapshot,
)
from rich.console import Console

from bot.adapters.console import ConsoleAdapter
from commands.dispatch import handle
from commands.model import Reply
from monitors.core import Core
from monitors.insight.proposals import EXPIRES_AFTER
from monitors.rules.schema import Rule
from monitors.windows.store import Sample

DAY = 86400.0


def history(core: Core, now: float, days: float, spikes: dict[float, float]) -> None:
    """A sample a minute on route /a for ``days`` before ``now``: 100 ms, except 5
    minutes at ``spikes[start]`` from each start (seconds before ``now``)."""
    samples = []
    t = now - days * DAY + 60
    while t <= now:
        value = 100.0
        for ago, high in spikes.items():
            if now - ago <= t < now - ago + 300:
                value = high
        samples.append(Sample(SLOW_API.metric, value, {"route": "/a"}, t))
        t += 60
    core.ingest(samples, now)


def a_day(core: Core, now: float) -> None:
    """A quiet day of history: enough for /rule set to show a preview rather than save."""
    history(core, now, 1, {})


WEEK_OF_SPIKES = {d * DAY + 3600: (800.0 if d < 4 else 1500.0) for d in range(6)}
"""Six spikes, a day apart: four to 800 (over 500, under 1,000), two to 1,500."""


def choice(reply: Reply, verb: str) -> str:
    (found,) = [c for c in reply.choices if c.verb == verb]
    return found.typed


async def test_the_preview_says_what_the_change_would_have_done_and_saves_nothing(
    core_each_db, clock
):
    core = core_each_db
    history(core, clock(), 7, WEEK_OF_SPIKES)
    before = await snapshot(core)
    reply = await ok(core, "/rule set slow-api 1000")
    assert reply.text.startswith(
        "slow-api, warning 500 -> 1000: over the last 7 days this would have opened "
        "2 incidents (today's rule: 6), time to open +0; it would not have opened during 4 "
        "of today's."
    )
    assert "Apply saves it; Cancel leaves the rule as it is (the offer lasts 1h)." in reply.text
    assert reply.private
    assert [c.label for c in reply.choices] == ["Apply", "Cancel"]
    assert core.rulebook.get("slow-api").thresholds["warning"] == 500
    after = await snapshot(core)
    assert {t: rows for t, rows in after.items() if t != "proposals"} == {
        t: rows for t, rows in before.items() if t != "proposals"
    }
    assert len(after["proposals"]) == 1  # the change waiting for Apply, and nothing else

    applied = await ok(core, choice(reply, "apply"))
    assert applied.text.startswith("slow-api: warning threshold 500 -> 1000 (alerts when")
    assert core.rulebook.get("slow-api").thresholds["warning"] == 1000
    assert await audit_log(core) == [("alice (console)", "rule.set", "slow-api")]
    again = await refused(core, choice(reply, "apply"))
    assert "This change to slow-api was already applied by alice (console)" in again.text


async def test_cancel_saves_nothing_and_the_proposal_cannot_be_applied_after(core_each_db, clock):
    core = core_each_db
    a_day(core, clock())
    reply = await ok(core, "/rule set slow-api 1000")
    before = await snapshot(core)
    cancelled = await ok(core, choice(reply, "cancel"))
    assert cancelled.text == "Cancelled: slow-api stays as it is; nothing was saved."
    assert core.rulebook.get("slow-api").thresholds["warning"] == 500
    after = await snapshot(core)
    assert {t: r for t, r in after.items() if t != "proposals"} == {
        t: r for t, r in before.items() if t != "proposals"
    }
    late = await refused(core, choice(reply, "apply"))
    assert "already cancelled by alice (console)" in late.text
    assert await audit_log(core) == []


async def test_with_no_history_it_saves_at_once_and_says_why_there_was_no_preview(core, clock):
    reply = await ok(core, "/rule set slow-api 1000")
    assert not reply.choices
    assert reply.text.startswith("slow-api: warning threshold 500 -> 1000 (alerts when")
    assert reply.text.endswith(
        "(No backtest first: there is no history to replay yet: Tocsin has no pushed "
        "samples of api.latency from the last 7 days.)"
    )
    assert core.rulebook.get("slow-api").thresholds["warning"] == 1000
    assert await audit_log(core) == [("alice (console)", "rule.set", "slow-api")]


async def test_a_short_history_is_named_for_what_it_is(core, clock):
    history(core, clock(), 0.25, {3600.0: 800.0})  # six hours, one spike
    reply = await ok(core, "/rule set slow-api 1000")
    assert (
        "over the 5h59m of history there is (Tocsin keeps the pushed samples of 7 days) this "
        "would have opened 0 incidents (today's rule: 1)"
    ) in reply.text


async def test_a_rule_changed_since_the_preview_is_not_changed_by_its_apply(core, clock):
    a_day(core, clock())
    reply = await ok(core, "/rule set slow-api 1000")
    await ok(core, "/rule set slow-api 700 critical")  # another preview: saves nothing
    await core.rules.set_threshold("slow-api", 800, None, ALICE)  # the API, say
    stale = await refused(core, choice(reply, "apply"))
    assert "slow-api has changed since this was proposed" in stale.text
    assert core.rulebook.get("slow-api").thresholds["warning"] == 800


async def test_an_expired_proposal_is_refused(core, clock):
    a_day(core, clock())
    reply = await ok(core, "/rule set slow-api 1000")
    clock.advance(EXPIRES_AFTER + 1)
    expired = await refused(core, choice(reply, "apply"))
    assert "This proposal expired at" in expired.text and "Propose it again" in expired.text
    assert core.rulebook.get("slow-api").thresholds["warning"] == 500


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("/rule apply nope", '"nope" is not a proposal token; copy it from the message'),
        ("/rule apply AAAAAAAAAAAAAAAAAAAAAA", "There is no such proposal"),
        ("/rule cancel AAAAAAAAAAAAAAAAAAAAAA", "There is no such proposal"),
        ("/rule apply", "missing TOKEN"),
    ],
)
async def test_bad_tokens_are_refused_with_a_sentence(core, text, words):
    assert words in (await refused(core, text)).text


async def test_only_admins_preview_apply_or_cancel(core, clock):
    a_day(core, clock())
    reply = await ok(core, "/rule set slow-api 1000")
    for text in ("/rule set slow-api 900", choice(reply, "apply"), choice(reply, "cancel")):
        refusal = await refused(core, text, BOB)
        assert "needs the admin role, which bob does not have" in refusal.text
    assert core.rulebook.get("slow-api").thresholds["warning"] == 500


async def test_apply_works_after_a_restart(sqlite_url, clock):
    core = await Core.open(sqlite_url, RULES, clock=clock)
    try:
        a_day(core, clock())
        reply = await ok(core, "/rule set slow-api 1000")
    finally:
        await core.close()
    core = await Core.open(sqlite_url, RULES, clock=clock)
    try:
        await ok(core, choice(reply, "apply"))
        assert core.rulebook.get("slow-api").thresholds["warning"] == 1000
    finally:
        await core.close()


async def test_a_rule_that_cannot_be_replayed_is_saved_at_once_as_before(tmp_path, clock):
    probe = Rule.model_validate(
        {
            "name": "api-up",
            "source": "http",
            "url": "http://127.0.0.1:9/health",
            "metric": "up",
            "op": "<",
            "thresholds": {"critical": 1},
        }
    )
    core = await Core.open(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", [probe], clock=clock)
    try:
        reply = as_read(await handle(core, "/rule set api-up 0.5", ALICE))
        assert reply.ok and not reply.choices
        assert reply.text.endswith("(No backtest first: only pushed samples are kept to replay.)")
        assert core.rulebook.get("api-up").thresholds["critical"] == 0.5
    finally:
        await core.close()


async def test_rule_backtest_gives_the_record_of_the_rule_as_it_is(core, clock):
    history(core, clock(), 7, WEEK_OF_SPIKES)
    reply = await ok(core, "/rule backtest slow-api")
    assert reply.text.startswith(
        "Over the last 7 days slow-api would have opened 6 incidents on 1 series; they lasted"
    )
    assert "It opened 0 in that time" in reply.text
    assert reply.table[0] == ("Series", "Severity", "Opened", "Resolved", "Reopened")
    assert len(reply.table) == 7
    shorter = await ok(core, "/rule backtest slow-api 2d")
    assert shorter.text.startswith("Over the last 2 days slow-api would have opened 2 incidents")
    refusal = await refused(core, "/rule backtest slow-api 30d")
    assert '"30d" is not a number of days from 1d to 7d' in refusal.text


async def test_the_console_shows_the_commands_the_buttons_stand_for(core, clock):
    a_day(core, clock())
    reply = await ok(core, "/rule set slow-api 1000")
    console = ConsoleAdapter(Console(width=300))
    with console.console.capture() as shown:
        console.show(reply)
    token = reply.choices[0].token
    assert f"[Apply: /rule apply {token}]  [Cancel: /rule cancel {token}]" in shown.get()
