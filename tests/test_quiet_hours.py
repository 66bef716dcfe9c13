"""Quiet hours: which moments are quiet, when they end, and what is refused."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from monitors.quiet_hours import QuietHours

NIGHT = QuietHours(start="22:00", end="07:00", timezone="Europe/Paris")


@pytest.mark.parametrize(
    ("utc", "quiet"),
    [
        ("2026-01-15T20:59", False),  # 21:59 in Paris (UTC+1)
        ("2026-01-15T21:00", True),  # 22:00
        ("2026-01-16T02:30", True),  # 03:30, across midnight
        ("2026-01-16T05:59", True),  # 06:59
        ("2026-01-16T06:00", False),  # 07:00: the end is not quiet
        ("2026-07-15T20:00", True),  # 22:00 in summer (UTC+2)
    ],
)
def test_a_stretch_across_midnight_is_quiet_in_local_time(utc: str, quiet: bool) -> None:
    moment = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert NIGHT.contains(moment) is quiet


def test_a_daytime_stretch_does_not_wrap() -> None:
    lunch = QuietHours(start="12:00", end="13:30")
    assert lunch.contains(datetime(2026, 1, 1, 12, 45, tzinfo=UTC))
    assert not lunch.contains(datetime(2026, 1, 1, 23, 0, tzinfo=UTC))


def test_quiet_hours_end_at_the_next_local_end() -> None:
    at_3am = datetime(2026, 1, 16, 2, 0, tzinfo=UTC)  # 03:00 Paris
    assert NIGHT.ends_after(at_3am) == datetime(2026, 1, 16, 6, 0, tzinfo=UTC)
    at_11pm = datetime(2026, 1, 15, 22, 0, tzinfo=UTC)  # 23:00 Paris
    assert NIGHT.ends_after(at_11pm) == datetime(2026, 1, 16, 6, 0, tzinfo=UTC)


def test_the_end_follows_a_daylight_saving_change() -> None:
    # Paris moves to summer time on 2026-03-29: 07:00 local is 05:00 UTC that morning.
    before_the_change = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert NIGHT.ends_after(before_the_change) == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start": "10pm", "end": "07:00"}, "is not a time of day"),
        ({"start": "24:00", "end": "07:00"}, "is not a time of day"),
        ({"start": "22:00", "end": "07:00", "timezone": "Mars/Olympus"}, "is not a time zone"),
        ({"start": "07:00", "end": "7:00"}, "two different times"),
        ({"start": "22:00", "end": "07:00", "days": "weekdays"}, "Extra inputs"),
    ],
)
def test_bad_quiet_hours_are_refused_with_a_reason(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        QuietHours(**fields)
