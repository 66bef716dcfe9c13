"""A destination's ``max_per_hour``, ``quiet_hours`` and ``digest`` as the config gives
them: the documented example is valid and read as written, each mistake is refused by
check-config naming the destination, the key and the reason, and digests fall due when
the docs say."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from destination_helpers import api, check_config, config, service

from bot.settings import load_settings
from monitors.digests import DigestSchedule, digest_key
from monitors.routing import Destination, Routing

EXAMPLE = """
slack: {channel: C0ALERTS}
destinations:
  payments-team:
    slack: C0PAYMENTS
    max_per_hour: 20
    quiet_hours: {start: "22:00", end: "07:00", timezone: Europe/Paris}
    digest: daily 09:00
  low-priority: {slack: C0LOW, digest: hourly}
rules:
  - name: slow-checkout
    metric: http.request.duration_ms
    thresholds: {warning: 800, critical: 2000}
    channels: [payments-team]
"""


def at(utc: str) -> float:
    return datetime.fromisoformat(utc).replace(tzinfo=UTC).timestamp()


def test_the_documented_example_is_valid_and_read_as_written(tmp_path, capsys):
    status, out = check_config(tmp_path, EXAMPLE, capsys)
    assert status == 0, out
    settings = load_settings(tmp_path / "tocsin.yaml")
    team = settings.destinations["payments-team"]
    assert team.max_per_hour == 20
    assert team.quiet_hours is not None and team.quiet_hours.describe() == (
        "22:00-07:00 Europe/Paris"
    )
    assert team.digest_schedule() == DigestSchedule.parse("daily 09:00", "Europe/Paris")
    low = settings.destinations["low-priority"]
    assert low.digest_schedule() == DigestSchedule("hourly")
    assert low.holds(datetime.now(UTC))  # a digest alone holds all day


@pytest.mark.parametrize(
    ("spec", "field", "reason"),
    [
        (
            '{slack: C1, quiet_hours: {start: "25:00", end: "07:00"}}',
            "destinations.night.quiet_hours.start",
            "'25:00' is not a time of day; use HH:MM on a 24-hour clock",
        ),
        (
            '{slack: C1, quiet_hours: {start: "22:00", end: "07:00", timezone: Paris}}',
            "destinations.night.quiet_hours.timezone",
            "'Paris' is not a time zone; use an IANA name, e.g. Europe/Paris",
        ),
        (
            "{slack: C1, digest: weekly}",
            "destinations.night.digest",
            "'weekly' is not a digest; use hourly or daily HH:MM, e.g. daily 09:00",
        ),
        (
            "{slack: C1, digest: daily 9am}",
            "destinations.night.digest",
            "'9am' is not a time of day",
        ),
        (
            "{slack: C1, max_per_hour: -1}",
            "destinations.night.max_per_hour",
            "-1 is not a cap; give the most new messages an hour, from 0 (no cap) to 10000",
        ),
        (
            '{slack: C1, max_per_hour: "5"}',
            "destinations.night.max_per_hour",
            "'5' is not a whole number of messages",
        ),
        (
            '{slack: C1, quiet_hours: {start: "22:00", end: "07:00"}, digest: daily 03:00}',
            "destinations.night",
            "the digest at 03:00 falls in the quiet hours (22:00-07:00 UTC)",
        ),
        (
            '{slack: C1, quiet_hours: {start: "22:00", end: "7:00 pm"}}',
            "destinations.night.quiet_hours.end",
            "is not a time of day",
        ),
    ],
)
def test_each_mistake_names_the_destination_the_key_and_the_reason(
    tmp_path, capsys, spec, field, reason
):
    status, out = check_config(tmp_path, f"destinations:\n  night: {spec}\nrules: []\n", capsys)
    assert status == 1, out
    line = next((line for line in out.splitlines() if f" {field}:" in line), None)
    assert line is not None, out
    assert reason in line, line


PARIS_9 = DigestSchedule.parse("daily 09:00", "Europe/Paris")
HOURLY = DigestSchedule.parse("hourly")
KOLKATA = DigestSchedule.parse("hourly", "Asia/Kolkata")


@pytest.mark.parametrize(
    ("schedule", "now", "period", "due"),
    [
        (PARIS_9, "2026-11-30T08:30", "2026-11-30T09:00+0100", "2026-11-30T08:00"),
        (PARIS_9, "2026-11-30T07:59", "2026-11-29T09:00+0100", "2026-11-29T08:00"),
        (PARIS_9, "2026-07-01T07:30", "2026-07-01T09:00+0200", "2026-07-01T07:00"),
        (HOURLY, "2026-11-30T10:59", "2026-11-30T10:00+0000", "2026-11-30T10:00"),
        (KOLKATA, "2026-11-30T10:15", "2026-11-30T15:00+0530", "2026-11-30T09:30"),
    ],
)
def test_the_latest_digest_due_is_named_in_local_time(schedule, now, period, due):
    assert schedule.latest(at(now)) == (period, at(due))


def test_without_a_digest_quiet_hours_list_what_they_held_when_they_end():
    spec = {"slack": "C1", "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "UTC"}}
    destination = Destination.model_validate(spec)
    assert destination.digest_schedule() == DigestSchedule.daily("07:00", "UTC")
    assert destination.holds(datetime(2026, 11, 30, 23, 0, tzinfo=UTC))
    assert not destination.holds(datetime(2026, 11, 30, 7, 0, tzinfo=UTC))
    assert not Destination(slack="C1").holds(datetime(2026, 11, 30, 23, 0, tzinfo=UTC))


def test_a_place_two_destinations_share_takes_the_smaller_cap():
    routing = Routing(
        {
            "a": Destination(slack="C1", max_per_hour=5),
            "b": Destination(slack="C1", max_per_hour=3),
            "c": Destination(slack="C1"),
        }
    )
    assert routing.cap(["a", "b"], "slack:C1") == ("b", 3)
    assert routing.cap(["a", "c"], "slack:C1") == ("a", 5)
    assert routing.cap(["c"], "slack:C1") is None


def test_a_digest_key_fits_the_reports_table_whatever_the_holder():
    key = digest_key("destination:" + "x" * 63, "2026-11-30T09:00+0100")
    assert len(key) <= 64


async def test_the_api_takes_the_same_keys_and_refuses_the_same_mistakes(
    tmp_path, sqlite_url, clock
):
    async with (
        service(tmp_path, config(sqlite_url, "console"), clock) as running,
        api(running) as client,
    ):
        bad = {"name": "night", "slack": "C0N", "quiet_hours": {"start": "22:00", "end": "7"}}
        response = await client.post("/v1/destinations", json=bad)
        assert response.status_code == 400
        assert "'7' is not a time of day" in response.json()["error"]
        good = {
            "name": "night",
            "slack": "C0N",
            "max_per_hour": 5,
            "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Paris"},
            "digest": "daily  9:30",
        }
        response = await client.post("/v1/destinations", json=good)
        assert response.status_code == 201, response.text
        shown = response.json()
        assert shown["digest"] == "daily 09:30" and shown["max_per_hour"] == 5
        assert shown["quiet_hours"] == {
            "start": "22:00",
            "end": "07:00",
            "timezone": "Europe/Paris",
        }
        saved = running.core.announcer.routing.destinations["night"]
        assert saved.quiet_hours is not None and saved.digest == "daily 09:30"
