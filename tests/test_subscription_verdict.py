"""The verdict on one announcement for one subscriber (monitors.subscriptions.model),
row by row as its table reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitors.quiet_hours import QuietHours
from monitors.subscriptions.model import Send, Subscription, delivered_by, verdict

NIGHT = datetime(2026, 11, 29, 23, 30, tzinfo=UTC).timestamp()
DAY = datetime(2026, 11, 29, 12, 0, tzinfo=UTC).timestamp()
QUIET = QuietHours(start="22:00", end="07:00", timezone="UTC")


def person(min_severity: str = "warning", quiet: QuietHours | None = QUIET) -> Subscription:
    return Subscription("slack", "U1", "sam", None, min_severity, quiet)


@pytest.mark.parametrize(
    ("following", "page", "severity", "now", "expected"),
    [
        # already has the incident: always updated; pinged for a page unless quiet
        (True, True, "warning", DAY, Send(notify=True)),
        (True, True, "warning", NIGHT, Send(notify=False)),
        (True, True, "critical", NIGHT, Send(notify=True)),
        (True, False, "warning", DAY, Send(notify=False)),
        # not yet: a page at or above the floor, outside quiet hours unless critical
        (False, True, "warning", DAY, Send(notify=True)),
        (False, True, "warning", NIGHT, None),
        (False, True, "error", NIGHT, None),
        (False, True, "critical", NIGHT, Send(notify=True)),
        (False, False, "critical", DAY, None),
    ],
)
def test_the_table(following, page, severity, now, expected):
    found = verdict(person(), severity=severity, page=page, following=following, now=now)
    assert found == expected


def test_the_severity_floor_holds_back_what_is_below_it():
    critical_only = person("critical", quiet=None)
    assert verdict(critical_only, severity="error", page=True, following=False, now=DAY) is None
    assert verdict(critical_only, severity="critical", page=True, following=False, now=DAY)


def test_targets_and_who_delivers_them():
    assert person().target == "slack-dm:U1"
    assert Subscription("discord", "42", "sam", "slow-api").target == "discord-dm:42"
    mailed = Subscription("slack", "U1", "sam", None, email="sam@example.com")
    assert mailed.target == "email-dm:sam@example.com"
    assert [delivered_by(p) for p in ("slack-dm", "discord-dm", "email-dm", "slack")] == [
        "slack",
        "discord",
        "email",
        "slack",
    ]
