"""Quiet hours: a daily stretch of local time (``{start: "22:00", end: "07:00", timezone:
Europe/Paris}``) when only critical incidents go out; the rest wait for the digest.

Used by destinations (the config's ``quiet_hours``) and by personal subscriptions (a
person's own). The stretch may cross midnight; ``start == end`` is refused (it would mean
either never or always, and neither is what someone typing it wants). Times are wall-clock
in ``timezone``, so 22:00 stays 22:00 across a daylight-saving change."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_clock(text: str) -> time:
    """``"22:00"`` -> 22:00; anything but ``HH:MM`` on a 24-hour clock is refused."""
    found = _CLOCK.match(text.strip()) if isinstance(text, str) else None
    if not found:
        raise ValueError(f"{text!r} is not a time of day; use HH:MM on a 24-hour clock, e.g. 22:00")
    return time(int(found.group(1)), int(found.group(2)))


def parse_timezone(text: str) -> ZoneInfo:
    """``"Europe/Paris"`` -> its zone; an unknown name is refused with an example."""
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{text!r} is not a time zone; use an IANA name, e.g. Europe/Paris or UTC"
        ) from None


class QuietHours(BaseModel):
    """When only critical goes out: from ``start`` to ``end`` local time in ``timezone``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str
    end: str
    timezone: str = "UTC"

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        return parse_clock(value).strftime("%H:%M")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        parse_timezone(value)
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError(f"quiet hours start and end at {self.start}; give two different times")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (aware, any zone) falls in the quiet stretch."""
        local = moment.astimezone(self.zone).time().replace(second=0, microsecond=0)
        start, end = parse_clock(self.start), parse_clock(self.end)
        if start < end:
            return start <= local < end
        return local >= start or local < end

    def ends_after(self, moment: datetime) -> datetime:
        """The first end of quiet hours after ``moment`` (UTC), when held news may go."""
        local = moment.astimezone(self.zone)
        end = parse_clock(self.end)
        candidate = datetime.combine(local.date(), end, tzinfo=self.zone)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=self.zone)
        return candidate.astimezone(UTC)

    def describe(self) -> str:
        """``22:00-07:00 Europe/Paris``, for replies and cards."""
        return f"{self.start}-{self.end} {self.timezone}"
