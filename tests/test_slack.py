"""Tocsin as a Slack app, at the protocol level: the real service, the real bolt app and
slack_sdk client, a fake Slack Web API on loopback, and requests signed as Slack signs
them. Assertions are on what the fake Slack received and on the database."""

from __future__ import annotations

import io
import json
import time
from html import unescape
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from command_helpers import snapshot
from fake_slack import ADMIN, APP_TOKEN, MEMBER, FakeSlack, sign
from rich.console import Console
from slack_harness import LATENCY, eventually, slack_world

from bot.adapters.console import ConsoleAdapter
from bot.settings import SlackConfig
from monitors.actors import ADMIN as ADMIN_ROLE
from monitors.actors import Actor
from monitors.incidents.cards import RESOLVED_COLOR, SEVERITY_COLORS
from monitors.routing import Destination
from storage.repositories import MessageRepository
from storage.vocabulary import IncidentStatus

CAROL = Actor(id="api", name="carol", surface="api", roles=frozenset({ADMIN_ROLE}))
"""Someone working an incident through the REST API."""


def buttons(message: dict) -> list[str]:
    (attachment,) = message["attachments"]
    ids = []
    for block in attachment["blocks"]:
        if block["type"] == "actions":
            for element in block["elements"]:
                ids.append(element["action_id"])
                ids.extend(option["value"] for option in element.get("options", []))
    return ids


def text_of(message: dict) -> str:
    (attachment,) = message["attachments"]
    parts = []
    for block in attachment["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts.extend(f["text"] for f in block.get("fields", []))
        parts.extend(
            e.get("text", "") for e in block.get("elements", []) if block["type"] == "context"
        )
    return "\n".join(parts)


async def test_an_incident_from_ingested_samples_is_posted_once_with_colour_and_buttons(
    database_url,
):
    async with slack_world(database_url) as world:
        await world.breach("/checkout", 2500)
        (post,) = await eventually(lambda: world.fake.posts("C0ALERTS"))
        (incident,) = await world.incidents()
        assert post["attachments"][0]["color"] == SEVERITY_COLORS["critical"]
        body = text_of(post)
        assert f"#{incident.id} CRITICAL slow-api (route=/checkout)" in body
        assert "2,500 (threshold &gt; 2,000, 25% over)" in body
        assert "<https://runbooks.example/slow-api|Runbook>" in body
        assert f"<!date^{int(incident.opened_at)}^" in body
        assert buttons(post) == [
            f"tocsin:ack:{incident.id}",
            f"tocsin:snooze:{incident.id}",
            *(f"tocsin:snooze:{incident.id}:{d}" for d in ("15m", "1h", "4h", "1d")),
            f"tocsin:resolve:{incident.id}",
        ]
        assert post["metadata"]["event_payload"] == {"incident": incident.id}
        await world.tick()  # still breaching: nothing new
        await world.service.dispatcher.run_once()
        assert len(world.fake.called("chat.postMessage")) == 1
        async with world.service.core.db.read() as session:
            message = await MessageRepository(session).of(incident.id, "slack:C0ALERTS")
            ref = message.message_ref if message else None
        assert ref == f"C0ALERTS:{post['ts']}"


async def test_clicking_acknowledge_edits_the_message_and_says_who_in_its_thread(database_url):
    async with slack_world(database_url) as world:
        await world.breach()
        (post,) = await eventually(lambda: world.fake.posts("C0ALERTS"))
        (incident,) = await world.incidents()
        response = await world.slack.click(post, f"tocsin:ack:{incident.id}", MEMBER)
        assert response.status_code == 200
        await eventually(lambda: post.get("edits"))
        assert f"*Acknowledged by*\n<@{MEMBER.id}>" in text_of(post)
        assert buttons(post)[0] == f"tocsin:snooze:{incident.id}"  # no Acknowledge any more
        (line,) = await eventually(lambda: world.fake.replies(post["ts"]))
        assert line["text"] == f"Acknowledged by <@{MEMBER.id}>" and not line["reply_broadcast"]
        (word,) = world.fake.called("chat.postEphemeral")
        assert word["user"] == MEMBER.id and word["text"].startswith(f"Acknowledged #{incident.id}")
        (stored,) = await world.incidents()
        assert stored.status == IncidentStatus.ACKNOWLEDGED
        assert (stored.acknowledged_by, stored.acknowledged_by_ref) == ("bob", "slack:U0MEMBER")
        assert len(world.fake.posts()) == 1, "edited in place, never posted twice"


async def test_the_snooze_menu_snoozes_for_the_chosen_time(database_url):
    async with slack_world(database_url) as world:
        await world.breach()
        (post,) = await eventually(lambda: world.fake.posts("C0ALERTS"))
        (incident,) = await world.incidents()
        before = world.clock()
        await world.slack.click(post, f"tocsin:snooze:{incident.id}:4h", MEMBER)
        await eventually(lambda: post.get("edits"))
        (stored,) = await world.incidents()
        assert stored.snoozed_until is not None
        assert 4 * 3600 - 5 < stored.snoozed_until - before < 4 * 3600 + 5
        assert "Snoozed until" in text_of(post)


async def test_resolving_by_button_turns_the_message_green_and_removes_the_buttons(
    database_url,
):
    async with slack_world(database_url) as world:
        await world.breach()
        (post,) = await eventually(lambda: world.fake.posts("C0ALERTS"))
        (incident,) = await world.incidents()
        await world.slack.click(post, f"tocsin:resolve:{incident.id}", ADMIN)
        await eventually(lambda: post.get("edits"))
        assert post["attachments"][0]["color"] == RESOLVED_COLOR
        assert buttons(post) == []
        assert f"by <@{ADMIN.id}> after" in text_of(post)


async def test_a_slash_command_is_answered_ephemerally_in_the_acknowledgement(database_url):
    async with slack_world(database_url) as world:
        await world.breach()
        response = await world.slack.command("/alerts", "list")
        assert response.status_code == 200
        answer = response.json()
        assert answer["response_type"] == "ephemeral"
        assert "1 unresolved incident:" in answer["text"]
        assert "slow-api" in json.dumps(answer["blocks"])


async def test_a_non_admin_cannot_change_a_rule_and_nothing_changes(database_url):
    async with slack_world(database_url) as world:
        before = await snapshot(world.service.core)
        response = await world.slack.command("/rule", "set slow-api 1000", MEMBER)
        answer = response.json()
        assert answer["response_type"] == "ephemeral"
        assert "/rule set needs the admin role, which bob does not have" in answer["text"]
        assert "slack.admins" in answer["text"]
        assert await snapshot(world.service.core) == before
        assert world.service.core.rulebook.get("slow-api").thresholds["warning"] == 500


async def set_rule(world, text: str, user) -> str:
    """``/rule set`` then Apply where a preview offers it (see test_rule_preview_chat):
    what Apply answered, else what ``/rule set`` did."""
    answer = (await world.slack.command("/rule", text, user)).json()
    if answer["blocks"][-1].get("block_id") != "tocsin:choices":
        return unescape(answer["text"])
    apply = answer["blocks"][-1]["elements"][0]["action_id"]
    message = {**answer, "ts": "1700000000.000100", "channel": "C0ALERTS"}
    await world.slack.click(message, apply, user)
    (replaced,) = await eventually(lambda: world.fake.responses)
    world.fake.responses.clear()
    return unescape(replaced["text"])


async def test_an_admin_changes_a_rule_with_the_slash_command(database_url):
    async with slack_world(database_url) as world:
        said = await set_rule(world, "set slow-api 1000", ADMIN)
        assert "warning threshold 500 -> 1000" in said
        assert world.service.core.rulebook.get("slow-api").thresholds["warning"] == 1000


async def test_members_of_an_admin_user_group_are_admins(database_url):
    fake = FakeSlack(user_groups={"S0ONCALL": [MEMBER.id]})
    config = SlackConfig(channel="C0ALERTS", admins=[], admin_groups=["S0ONCALL"])
    async with slack_world(database_url, fake, slack=config) as world:
        assert "warning threshold 500 -> 1000" in await set_rule(world, "set slow-api 1000", MEMBER)
        answer = (await world.slack.command("/rule", "set slow-api 900", ADMIN)).json()
        assert "needs the admin role" in answer["text"]


@pytest.mark.parametrize("forgery", ["wrong secret", "stale", "unsigned"])
async def test_a_forged_or_stale_request_gets_401_and_changes_nothing(database_url, forgery):
    async with slack_world(database_url) as world:
        body = world.slack.command_body("/rule", "set slow-api 1000", ADMIN)
        headers = {
            "wrong secret": sign(body, secret="not-the-secret"),
            "stale": sign(body, timestamp=int(time.time()) - 600),
            "unsigned": {},
        }[forgery]
        before = await snapshot(world.service.core)
        response = await world.slack.send(body, headers=headers)
        assert response.status_code == 401
        assert await snapshot(world.service.core) == before


async def test_a_button_for_an_unknown_incident_gets_a_clear_ephemeral_answer(database_url):
    async with slack_world(database_url) as world:
        await world.breach()
        (post,) = await eventually(lambda: world.fake.posts("C0ALERTS"))
        payload = world.slack.click_payload(post, buttons(post)[0], ADMIN)
        payload["actions"][0]["action_id"] = payload["actions"][0]["value"] = "tocsin:ack:999"
        response = await world.slack.send(world.slack.interaction_body(payload))
        assert response.status_code == 200
        (word,) = await eventually(lambda: world.fake.called("chat.postEphemeral"))
        assert word["text"] == ":warning: There is no incident #999. Nothing was changed." or (
            "There is no incident #999" in word["text"]
        )


async def test_a_foreign_action_id_is_refused_with_a_sentence(database_url):
    async with slack_world(database_url) as world:
        await world.breach()
        (post,) = await eventually(lambda: world.fake.posts("C0ALERTS"))
        payload = world.slack.click_payload(post, buttons(post)[0], ADMIN)
        payload["actions"][0]["action_id"] = payload["actions"][0]["value"] = "tocsin:nuke:1"
        await world.slack.send(world.slack.interaction_body(payload))
        (word,) = await eventually(lambda: world.fake.called("chat.postEphemeral"))
        assert '"nuke" is not a button action' in word["text"]
        (incident,) = await world.incidents()
        assert incident.status == IncidentStatus.OPEN


async def test_rule_edit_opens_a_modal_and_saving_it_changes_the_rule(database_url):
    async with slack_world(database_url) as world:
        response = await world.slack.command("/rule", "edit slow-api", ADMIN)
        assert response.status_code == 200 and response.text == ""
        (opened,) = world.fake.called("views.open")
        view = opened["view"]
        assert opened["trigger_id"].startswith("trigger-")
        initial = {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"]}
        assert initial["thresholds"] == "warning 500, critical 2000"
        assert initial["window"] == "1m"
        response = await world.slack.submit(
            view, {"thresholds": "warning 700, critical 2500", "window": "5m"}, ADMIN
        )
        assert response.status_code == 200 and response.text == ""
        rule = world.service.core.rulebook.get("slow-api")
        assert rule.thresholds == {"warning": 700, "critical": 2500} and rule.window == 300
        (word,) = await eventually(lambda: world.fake.called("chat.postEphemeral"))
        assert word["text"] == "slow-api: saved; it applies from the next tick."


async def test_a_bad_rule_edit_shows_field_errors_and_saves_nothing(database_url):
    async with slack_world(database_url) as world:
        await world.slack.command("/rule", "edit slow-api", ADMIN)
        (opened,) = world.fake.called("views.open")
        before = await snapshot(world.service.core)
        response = await world.slack.submit(
            opened["view"],
            {
                "thresholds": "warning 3000, critical 2000",
                "window": "soon",
                "breaches_to_open": "x",
            },
            ADMIN,
        )
        answer = response.json()
        assert answer["response_action"] == "errors"
        assert set(answer["errors"]) == {"window", "breaches_to_open"}
        assert "'soon' is not a duration" in answer["errors"]["window"]
        assert answer["errors"]["breaches_to_open"] == "'x' is not a whole number"
        response = await world.slack.submit(
            opened["view"], {"thresholds": "warning 3000, critical 2000"}, ADMIN
        )
        answer = response.json()
        assert answer["errors"] == {
            "thresholds": "with op '>' they must increase from warning to critical"
        }
        assert await snapshot(world.service.core) == before


async def test_a_429_storm_is_waited_out_and_every_message_arrives_once(database_url):
    fake = FakeSlack()
    fake.fail("chat.postMessage", status=429, retry_after=0.2, times=4)
    async with slack_world(database_url, fake) as world:
        for route in ("/a", "/b", "/c"):
            await world.breach(route)
        posts = await eventually(lambda: len(world.fake.posts()) == 3 and world.fake.posts())
        incidents = await world.incidents()
        assert sorted(p["metadata"]["event_payload"]["incident"] for p in posts) == [
            i.id for i in incidents
        ]
        statuses = [c for c in world.fake.calls if c.method == "chat.postMessage"]
        assert len(statuses) == 3 + 4  # three messages, four refused attempts, nothing else


async def test_a_post_whose_answer_was_lost_is_not_posted_twice(database_url):
    fake = FakeSlack()
    fake.fail("chat.postMessage", lose_answer=True, times=1)
    async with slack_world(database_url, fake) as world:
        await world.breach()
        await eventually(lambda: world.fake.called("conversations.history"), within=15)
        await world.service.dispatcher.run_once()
        assert len(world.fake.posts()) == 1
        (incident,) = await world.incidents()
        await world.slack.click(world.fake.posts()[0], f"tocsin:ack:{incident.id}", ADMIN)
        await eventually(lambda: world.fake.posts()[0].get("edits"))
        assert len(world.fake.posts()) == 1


async def test_a_deleted_message_is_posted_again_on_the_next_change(database_url):
    async with slack_world(database_url) as world:
        await world.breach()
        await eventually(lambda: world.fake.posts("C0ALERTS"))
        (incident,) = await world.incidents()
        world.fake.messages["C0ALERTS"].clear()  # someone deleted it
        await world.service.core.incidents.acknowledge(incident.id, CAROL)
        (again,) = await eventually(lambda: world.fake.posts("C0ALERTS"))
        assert "Acknowledged by" in text_of(again)


async def test_socket_mode_answers_slash_commands_without_a_public_url(database_url):
    async with slack_world(database_url, slack_app_token=APP_TOKEN) as world:
        await eventually(lambda: world.fake.socket_connected)
        await world.breach()
        payload = dict(parse_qsl(world.slack.command_body("/alerts", "list")))
        envelope_id = await world.fake.envelope("slash_commands", payload)
        (ack,) = await eventually(
            lambda: [a for a in world.fake.socket_acks if a.get("envelope_id") == envelope_id]
        )
        assert ack["payload"]["response_type"] == "ephemeral"
        assert "1 unresolved incident:" in ack["payload"]["text"]


async def test_each_rule_reaches_its_destination_and_nowhere_else(database_url):
    payments = LATENCY.model_copy(update={"name": "slow-payments", "channels": ("payments-team",)})
    destinations = {"payments-team": Destination(slack="C0PAYMENTS")}
    console_out = io.StringIO()
    async with slack_world(
        database_url,
        rules=(LATENCY, payments),
        destinations=destinations,
        console=ConsoleAdapter(Console(file=console_out)),
    ) as world:
        await world.breach("/checkout")
        await eventually(lambda: len(world.fake.posts()) == 2)
        by_rule = {i.id: i.rule for i in await world.incidents()}
        arrived = {
            channel: [by_rule[m["metadata"]["event_payload"]["incident"]] for m in messages]
            for channel, messages in world.fake.messages.items()
        }
        assert arrived == {"C0ALERTS": ["slow-api"], "C0PAYMENTS": ["slow-payments"]}
        assert console_out.getvalue() == "", "not interactive: the console shows nothing"


async def test_a_slow_command_says_working_on_it_then_answers_through_the_response_url(
    database_url,
):
    async with slack_world(database_url) as world:
        (platform,) = world.service.platforms
        platform.handlers.budget = 0.0  # as if the database took seconds to answer
        response = await world.slack.command("/alerts", "list")
        assert response.json() == {"response_type": "ephemeral", "text": "Working on it…"}
        (answer,) = await eventually(lambda: world.fake.responses)
        assert answer["response_type"] == "ephemeral"
        assert answer["text"] == "No unresolved incidents."


@pytest.mark.parametrize(
    ("text", "says"), [("", "Tocsin commands:"), ("rule list", "1 rule:"), ("nope", "unknown")]
)
async def test_tocsin_alone_is_help_and_with_words_runs_that_command(database_url, text, says):
    async with slack_world(database_url) as world:
        answer = (await world.slack.command("/tocsin", text)).json()
        assert says in answer["text"]


def test_the_manifest_declares_every_command_tocsin_answers_at_one_url():
    import yaml

    from bot.adapters.slack.platform import COMMANDS, EVENTS_PATH

    repo = Path(__file__).resolve().parent.parent
    manifest = yaml.safe_load((repo / "config/slack-manifest.yaml").read_text())
    declared = manifest["features"]["slash_commands"]
    assert [c["command"] for c in declared] == list(COMMANDS)
    urls = {c["url"] for c in declared} | {manifest["settings"]["interactivity"]["request_url"]}
    assert len(urls) == 1 and urls.pop().endswith(EVENTS_PATH)


async def test_a_thread_line_whose_answer_was_lost_is_not_posted_twice(database_url):
    async with slack_world(database_url) as world:
        await world.breach()
        (post,) = await eventually(lambda: world.fake.posts("C0ALERTS"))
        (incident,) = await world.incidents()
        world.fake.fail("chat.postMessage", lose_answer=True, times=1)  # the thread line
        await world.service.core.incidents.acknowledge(incident.id, CAROL)
        await eventually(lambda: world.fake.called("conversations.replies"), within=15)
        await world.service.dispatcher.run_once()
        lines = world.fake.replies(post["ts"])
        assert [line["text"] for line in lines] == ["Acknowledged by carol"]


def lines_of(message: dict) -> list[str]:
    """The incident lines of a storm message (its first block is the heading)."""
    (attachment,) = message["attachments"]
    return [unescape(b["text"]["text"]) for b in attachment["blocks"][1:] if "accessory" in b]


def storm_of(fake: FakeSlack, size: int) -> dict | None:
    """The first message once it shows ``size`` incident lines."""
    posts = fake.posts()
    return posts[0] if posts and len(lines_of(posts[0])) == size else None


async def test_a_storm_is_one_message_with_a_line_and_a_menu_per_incident(database_url):
    async with slack_world(database_url) as world:
        for route in ("/a", "/b", "/c"):
            await world.push(route, 900)
        await world.tick()
        world.clock.advance(60)
        await world.push("/a", 900)
        await world.push("/b", 900)
        await world.push("/c", 900)
        await world.tick()  # three incidents open on one tick
        storm = await eventually(lambda: storm_of(world.fake, 3))
        assert world.fake.posts("C0ALERTS") == [storm]
        first, second, third = await world.incidents()
        assert "3 incidents opened together" in text_of(storm)
        assert [line.split("*")[1] for line in lines_of(storm)] == [
            f"#{i.id} WARNING slow-api (route={r})"
            for i, r in ((first, "/a"), (second, "/b"), (third, "/c"))
        ]
        edits = storm.get("edits", 0)
        await world.slack.click(storm, f"tocsin:ack:{second.id}", MEMBER)
        await eventually(lambda: storm.get("edits", 0) > edits)
        statuses = [line.rsplit("· ", 1)[1] for line in lines_of(storm)]
        assert statuses == ["open", "acknowledged", "open"]
        (line,) = await eventually(
            lambda: [r for r in world.fake.replies(storm["ts"]) if "Acknowledged" in r["text"]]
        )
        assert line["text"] == f"#{second.id}: Acknowledged by <@{MEMBER.id}>"
        assert len(world.fake.posts()) == 1


async def test_a_critical_incident_never_joins_a_storm_message(database_url):
    async with slack_world(database_url) as world:
        await world.breach("/a", 900)
        await eventually(lambda: world.fake.posts("C0ALERTS"))
        await world.breach("/b", 2500)  # within the wait, but critical: its own page
        posts = await eventually(lambda: len(world.fake.posts()) == 2 and world.fake.posts())
        assert "CRITICAL" in posts[1]["text"]


async def test_past_max_per_hour_one_message_counts_what_was_not_posted(database_url):
    capped = LATENCY.model_copy(update={"max_per_hour": 2})
    async with slack_world(database_url, rules=(capped,)) as world:
        for n, route in enumerate(("/a", "/b", "/c", "/d")):
            await world.breach(route, 900)
            await eventually(lambda n=n: len(world.fake.posts()) == min(n + 1, 3))
            world.clock.advance(31)  # past the storm wait: each would post alone
        notice = "slow-api: 2 more incidents not posted this hour"
        await eventually(lambda: unescape(world.fake.posts()[2]["text"]) == notice)
        posts = world.fake.posts("C0ALERTS")
        assert len(posts) == 3  # two incidents, then the notice, edited as it grows
        assert posts[2]["edits"] == 1
        listed = (await world.slack.command("/alerts", "list")).json()["text"]
        assert "4 unresolved incidents" in listed


async def test_a_cap_notice_whose_answer_was_lost_is_not_posted_twice(database_url):
    capped = LATENCY.model_copy(update={"max_per_hour": 1})
    async with slack_world(database_url, rules=(capped,)) as world:
        await world.breach("/a", 900)
        await eventually(lambda: world.fake.posts())
        world.clock.advance(31)  # past the storm wait
        world.fake.fail("chat.postMessage", lose_answer=True)  # the notice's answer
        await world.breach("/b", 900)
        await eventually(lambda: world.fake.called("conversations.history"), within=15)
        await world.service.dispatcher.run_once()
        world.clock.advance(31)
        await world.breach("/c", 900)
        notice = "slow-api: 2 more incidents not posted this hour"
        await eventually(lambda: unescape(world.fake.posts()[-1]["text"]) == notice)
        assert len(world.fake.posts("C0ALERTS")) == 2  # the incident, one notice


async def test_a_storm_claimed_together_is_one_post_and_one_edit(database_url):
    """Slack allows about 50 edits a minute: thirty incidents opening on one tick must
    not cost thirty edits (and thirty thread lines) of the storm's message."""
    routes = [f"/r{n}" for n in range(30)]
    async with slack_world(database_url) as world:
        await world.push_all(routes, 900)
        await world.tick()
        world.clock.advance(60)
        await world.push_all(routes, 900)
        await world.tick()
        storm = await eventually(lambda: storm_of(world.fake, 30))
        assert world.fake.posts() == [storm]
        assert storm["edits"] == 1
        assert world.fake.replies(storm["ts"]) == []
