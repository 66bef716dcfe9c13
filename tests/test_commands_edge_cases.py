"""Chat commands at the edges, as an on-call engineer meets them: messages that must not
mislead, input that must not crash, and changes that must not happen."""

from __future__ import annotations

import pytest
from command_helpers import ALICE, ok, open_one, refused, set_rule, snapshot

from commands.help import help_text
from monitors.incidents.timers import Timers
from monitors.rules.matchers import Matcher, parse_matchers
from storage.repositories import AuditRepository, OutboxRepository

HUGE = "9" * 400  # float("9" * 400) is inf


# ---------------------------------------------------------------- durations


@pytest.mark.parametrize("duration", [f"{HUGE}s", f"{HUGE}d"], ids=["seconds", "days"])
async def test_an_absurd_duration_is_refused_not_a_crash(core, clock, duration):
    """It raised OverflowError: the console said "Something went wrong; see the log"."""
    incident_id = await open_one(core, clock)
    reply = await refused(core, f"/alerts snooze {incident_id} {duration}")
    assert "too long" in reply.text
    reply = await refused(core, f"/silence add rule=slow-api {duration}")
    assert "too long" in reply.text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/silence add rule=slow-api 2", '"2" needs a unit, e.g. 2m, 2h or 2d'),
        ("/silence add rule=slow-api 2 deploy", '"2" needs a unit, e.g. 2m, 2h or 2d'),
        ("/alerts snooze 1 90", '"90" needs a unit, e.g. 90m, 90h or 90d'),
    ],
)
async def test_a_duration_without_a_unit_is_refused(core, text, says):
    """A bare number was taken as seconds: "/silence add rule=slow-api 2", meant as two
    hours of maintenance, silenced for two seconds and said OK."""
    reply = await refused(core, text)
    assert says in reply.text


# ---------------------------------------------------------------- test incidents


async def test_ack_and_resolve_of_a_test_incident_do_not_promise_what_only_real_ones_do(core):
    card = (await ok(core, "/rule test slow-api")).cards[0]
    acked = await ok(core, f"/alerts ack {card.incident_id}")
    assert "resolves itself" not in acked.text, "a test incident never resolves itself"
    assert "test incident" in acked.text
    resolved = await ok(core, f"/alerts resolve {card.incident_id}")
    assert "cooldown" not in resolved.text, "a test incident never breaches, nor reopens"


async def test_a_test_incident_does_not_ping_the_channel(core):
    """Its card says "no one is paged for it", yet its outbox row asked for a ping."""
    card = (await ok(core, "/rule test slow-api")).cards[0]
    async with core.db.transaction() as session:
        rows = await OutboxRepository(session).for_incident(card.incident_id)
    assert rows and not any(row.notify for row in rows)


async def test_a_snoozed_test_incident_is_not_announced_as_still_firing(core, clock):
    card = (await ok(core, "/rule test slow-api")).cards[0]
    await ok(core, f"/alerts snooze {card.incident_id} 1h")
    clock.advance(3601)
    await Timers(core.db, core.announcer, clock).run()
    shown = await ok(core, f"/alerts show {card.incident_id}")
    assert "still firing" not in shown.text


# ---------------------------------------------------------------- /rule set


async def test_set_to_the_current_value_changes_nothing(core):
    """It saved an override (the config file's rule was then ignored) and an audit row,
    and answered "warning threshold 500 -> 500 ... Saved"."""
    before = await snapshot(core)
    reply = await set_rule(core, "/rule set slow-api 500")
    assert reply.text == "slow-api: the warning threshold is already 500; nothing was changed."
    assert await snapshot(core) == before
    assert getattr(core.rulebook.origin("slow-api"), "source", None) != "saved"


async def test_set_says_the_threshold_in_the_rules_unit(core):
    """A dynamic rule's threshold is a multiple of the baseline, not a latency."""
    await set_rule(core, "/rule set slow-api 700")
    spec = {**core.rulebook.get("slow-api").to_json(), "name": "slow-vs-baseline"}
    spec.update(threshold_type="dynamic", thresholds={"warning": 1.5, "critical": 3})
    await core.rules.create(spec, ALICE)
    reply = await set_rule(core, "/rule set slow-vs-baseline 2")
    assert "alerts when avg of api.latency > 2 x baseline" in reply.text


async def test_set_refused_for_order_names_the_current_thresholds(core):
    reply = await refused(core, "/rule set slow-api 5000")
    assert "they must increase from warning to critical" in reply.text
    assert "slow-api has warning > 500, critical > 2000" in reply.text


def test_help_does_not_claim_warning_is_always_the_default_level():
    """/rule set error-rate 5 sets the error threshold: the rule has no warning level."""
    assert "warning (default)" not in help_text("rule")
    assert "lowest" in help_text("rule")


# ---------------------------------------------------------------- disable


async def test_disable_audits_the_incidents_it_resolved_and_clears_their_snooze(core, clock):
    incident_id = await open_one(core, clock)
    await ok(core, f"/alerts snooze {incident_id} 1h")
    await ok(core, "/rule disable slow-api")
    async with core.db.transaction() as session:
        (last, *_) = await AuditRepository(session).recent(limit=1)
    assert (last.action, last.detail) == ("rule.disable", {"resolved": [int(incident_id)]})
    card = (await ok(core, f"/alerts show {incident_id}")).cards[0]
    assert "Snoozed until" not in dict(card.fields), "a resolved incident is not snoozed"


# ---------------------------------------------------------------- refusals


async def test_refusal_says_who_resolved_it_next_to_the_status(core, clock):
    incident_id = await open_one(core, clock)
    await ok(core, f"/alerts resolve {incident_id}")
    reply = await refused(core, f"/alerts snooze {incident_id} 1h")
    assert reply.text.startswith(
        f"#{incident_id} is resolved (by alice at "
    ) and reply.text.endswith("); there is nothing to snooze. Nothing was changed.")


# ---------------------------------------------------------------- silences


async def test_a_silence_on_an_unknown_rule_warns_that_it_matches_nothing(core):
    """rule=slow-apii (a typo) was accepted without a word: the engineer believes the
    maintenance is silenced and is paged anyway."""
    reply = await ok(core, "/silence add rule=slow-apii 2h deploy")
    assert "no rule is named 'slow-apii'" in reply.text
    reply = await ok(core, "/silence add rule=slow-api 2h deploy")
    assert "no rule is named" not in reply.text


async def test_a_silence_on_a_value_starting_with_a_tilde_keeps_meaning_equal(core):
    """route="~x" was saved as route=~x, which reads back as the regex x: the silence
    then matched other incidents than the one the admin named."""
    reply = await ok(core, '/silence add route="~home" 1h')
    assert 'on route="~home" until' in reply.text
    (silence,) = await core.silences.list()
    assert parse_matchers(silence.matchers) == (Matcher("route", "=", "~home"),)
