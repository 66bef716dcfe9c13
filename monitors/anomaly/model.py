"""One series' anomaly model, learned online from the values its rule reads.

How a value is judged (``SeriesModel.observe``):

* **Expected value.** A robust level (an exponentially weighted mean whose updates are
  clipped at ``CLIP`` typical deviations, so the outliers it looks for barely move it)
  or, once they predict clearly better, a slower base (the series' mean over about a
  day) plus the usual offset from it at this time of day (``DAY_SLOTS`` slots of 15
  minutes) or of the week (``WEEK_SLOTS`` hourly slots). Which of the three is used is
  decided by their running mean absolute errors.
* **Normal band.** Above and below the expected value separately: the ``RANK``-th
  largest deviation seen so far, each one fading with a ``MEMORY`` time constant, times
  ``1 + MARGIN / sensitivity``. Outside the band is anomalous; the score is the
  deviation over the band's half-width on that side (1 at its edge).
* **Change of behaviour.** The same test on a short moving average of absolute
  deviations (about ``1 / SHORT`` readings) catches a series that turns restless
  without any single value standing out (denser spikes, more noise).
* Anomalous values count towards the band like any other reading (a spike seen once is
  less news the second time), but move the level and the profiles no more than the clip.
* **Learning.** For the first ``LEARNING`` readings the model only learns
  (``observe`` returns None: the rule reads "no data, learning").

The model is 1,502 bytes serialised (``to_bytes``), whatever the series' history, and
an observation costs a few microseconds.
"""

from __future__ import annotations

import math
import struct
from array import array
from dataclasses import dataclass
from functools import lru_cache

DAY = 86400.0
WEEK = 7 * DAY
DAY_SLOTS = 96
WEEK_SLOTS = 168
LEARNING = 100
"""Readings before the model judges anything."""
SETTLE = 30
"""Readings before deviations start to shape the band (the level is still rough)."""
RANK = 2
"""The band follows the second-largest deviation: one freak value does not widen it alone."""
MARGIN = 0.2
"""How far past the remembered deviations a value must go, at sensitivity 1."""
MEMORY = 60 * DAY
"""Time constant over which remembered deviations fade."""
LEVEL_RATE = 0.04
BASE_MEMORY = DAY
"""Time constant of the base the profiles are offsets from: slow enough not to chase
the daily shape the profiles learn, quick enough to follow a new normal in a day."""
CLIP = 6.0
SCALE_CLIP = 10.0
ERROR_RATE = 0.005
SHORT = 0.2
SEASON_RATE = 0.15
"""Share of a slot's profile that one day's readings replace (one week's, for weekly
slots): a few days to learn the daily shape, a few weeks the weekly one."""
PREFER = 0.6
"""A seasonal profile is used when its mean error is under half the simpler model's."""
MAGNITUDE_FLOOR = 1e-3

PLAIN, DAILY, WEEKLY = 0, 1, 2
_HEADER = struct.Struct("<BBIdddddddddd")
_VERSION = 1
_RECORDS = 3 * RANK * 2  # up, down, change: RANK (value, time) pairs each


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the model makes of one value. Scores are 0 inside the band, >= 1 outside."""

    expected: float
    low: float
    high: float
    score_up: float
    score_down: float


def _weakest(records: array, start: int, now: float) -> tuple[float, int]:
    """The smallest of a set's RANK remembered values, faded to ``now`` (their RANK-th
    largest: how far the band reaches), and where it is kept. A free place is 0, so on
    a side that never moved any move is news."""
    weakest, weakest_at = math.inf, start
    for at in range(start, start + 2 * RANK, 2):
        time = records[at + 1]
        faded = records[at] * math.exp((time - now) / MEMORY) if time else 0.0
        if faded < weakest:
            weakest, weakest_at = faded, at
    return weakest, weakest_at


class SeriesModel:
    __slots__ = (
        "base",
        "change",
        "day",
        "day_seen",
        "err_day",
        "err_level",
        "err_week",
        "first",
        "last",
        "level",
        "magnitude",
        "mode",
        "n",
        "records",
        "scale",
        "week",
        "week_seen",
    )

    def __init__(self) -> None:
        self.n = 0
        self.mode = PLAIN
        self.first = self.last = 0.0
        self.level = self.base = 0.0
        self.scale = 0.0
        self.magnitude = 0.0
        self.change = 0.0
        self.err_level = self.err_day = self.err_week = 0.0
        self.day = array("f", bytes(4 * DAY_SLOTS))
        self.week = array("f", bytes(4 * WEEK_SLOTS))
        self.day_seen = bytearray(DAY_SLOTS)
        self.week_seen = bytearray(WEEK_SLOTS)
        self.records = array("d", bytes(8 * _RECORDS))

    def observe(self, now: float, value: float, sensitivity: float = 1.0) -> Judgement | None:
        """Learn ``value`` read at ``now`` and judge it (None while learning)."""
        self.n += 1
        if self.n == 1:
            self.level = self.base = value
            self.first = self.last = now
            self.magnitude = abs(value)
            return None
        d_slot = int(now % DAY // (DAY / DAY_SLOTS))
        w_slot = int(now % WEEK // (WEEK / WEEK_SLOTS))
        plain = value - self.level
        anchored = value - self.base
        daily = anchored - self.day[d_slot] if self.day_seen[d_slot] else plain
        weekly = anchored - self.week[w_slot] if self.week_seen[w_slot] else plain
        deviation = self._choose(plain, daily, weekly, now)
        self.magnitude += ERROR_RATE * (abs(value) - self.magnitude)
        self.change += SHORT * (abs(deviation) - self.change)
        records = self.records
        up, up_at = _weakest(records, 0, now)
        down, down_at = _weakest(records, 2 * RANK, now)
        restless, restless_at = _weakest(records, 4 * RANK, now)
        judgement = None
        if self.n >= LEARNING:
            reach = (up, down, restless)
            judgement = self._judge(value - deviation, deviation, reach, sensitivity)
        if self.n > SETTLE:  # remember the deviation if it beats the weakest kept
            if deviation > up if deviation > 0 else -deviation > down:
                at = up_at if deviation > 0 else down_at
                records[at], records[at + 1] = abs(deviation), now
            if self.change > restless:
                records[restless_at], records[restless_at + 1] = self.change, now
        self._learn(value, plain, daily, weekly, deviation, d_slot, w_slot, now)
        return judgement

    def _choose(self, plain: float, daily: float, weekly: float, now: float) -> float:
        """The deviation from the best of: level, level + daily, level + weekly profile.
        When the choice changes, the remembered deviations are rescaled by the ratio of
        the two models' errors: they were measured against the worse one."""
        age = now - self.first
        mode = PLAIN
        if age >= DAY and self.err_day < PREFER * self.err_level:
            mode = DAILY
        if age >= WEEK and self.err_week < PREFER * min(self.err_day, self.err_level):
            mode = WEEKLY
        if mode != self.mode:
            errors = (self.err_level, self.err_day, self.err_week)
            if errors[self.mode] > 0:
                ratio = errors[mode] / errors[self.mode]
                for at in range(0, _RECORDS, 2):
                    self.records[at] *= ratio
            self.mode = mode
        return (plain, daily, weekly)[mode]

    def _judge(
        self,
        expected: float,
        deviation: float,
        reach: tuple[float, float, float],
        sensitivity: float,
    ) -> Judgement:
        """Score ``deviation`` against the band: the remembered deviations above and
        below (and of restlessness), widened by the margin."""
        widen = 1.0 + MARGIN / sensitivity
        least = MAGNITUDE_FLOOR * self.magnitude  # departures this small are never news
        high, low = max(reach[0] * widen, least), max(reach[1] * widen, least)
        change = _ratio(self.change, max(reach[2] * widen, least))
        if deviation > 0:
            score = max(_ratio(deviation, high), change)
            return Judgement(expected, expected - low, expected + high, score, 0.0)
        score = max(_ratio(-deviation, low), change)
        return Judgement(expected, expected - low, expected + high, 0.0, score)

    def _learn(
        self,
        value: float,
        plain: float,
        daily: float,
        weekly: float,
        deviation: float,
        d_slot: int,
        w_slot: int,
        now: float,
    ) -> None:
        """Move level, scale, errors and profiles, each by a step clipped at CLIP typical
        deviations (once settled), so outliers barely move them."""
        scale = max(self.scale, MAGNITUDE_FLOOR * self.magnitude, 1e-12)
        size = -deviation if deviation < 0 else deviation
        reach = SCALE_CLIP * scale
        if self.n > SETTLE:
            limit = CLIP * scale
            self.level += LEVEL_RATE * (limit if plain > limit else max(plain, -limit))
            self.scale += LEVEL_RATE * ((reach if size > reach else size) - self.scale)
        else:
            limit = math.inf
            self.level += LEVEL_RATE * plain
            self.scale += ((reach if size > reach else size) - self.scale) / self.n
        errors = [-e if e < 0 else e for e in (plain, daily, weekly)]
        errors = [limit if e > limit else e for e in errors]
        if self.n == 2:
            self.err_level, self.err_day, self.err_week = errors
        else:
            self.err_level += ERROR_RATE * (errors[0] - self.err_level)
            self.err_day += ERROR_RATE * (errors[1] - self.err_day)
            self.err_week += ERROR_RATE * (errors[2] - self.err_week)
        gap = now - self.last
        step = 0.0 if gap < 0 else (gap if gap < DAY / DAY_SLOTS else DAY / DAY_SLOTS)
        self.last = now
        if gap > 0:  # the base follows the series' daily mean, net of the profile in use
            seasonal = weekly if self.mode == WEEKLY else daily
            drift = limit if seasonal > limit else max(seasonal, -limit)
            self.base += (1.0 - math.exp(-gap / BASE_MEMORY)) * drift
        offset = value - self.base
        _profile(self.day, self.day_seen, d_slot, offset, limit, _rate(step, DAY / DAY_SLOTS))
        _profile(self.week, self.week_seen, w_slot, offset, limit, _rate(step, WEEK / WEEK_SLOTS))

    def to_bytes(self) -> bytes:
        header = _HEADER.pack(
            _VERSION,
            self.mode,
            self.n,
            self.first,
            self.level,
            self.scale,
            self.magnitude,
            self.change,
            self.err_level,
            self.err_day,
            self.err_week,
            self.last,
            self.base,
        )
        return b"".join(
            (
                header,
                self.records.tobytes(),
                self.day.tobytes(),
                bytes(self.day_seen),
                self.week.tobytes(),
                bytes(self.week_seen),
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SeriesModel | None:
        """The model saved by ``to_bytes``; None if it is from another version or cut
        short (the series then learns afresh)."""
        sizes = (_HEADER.size, 8 * _RECORDS, 4 * DAY_SLOTS, DAY_SLOTS, 4 * WEEK_SLOTS)
        if len(data) != sum(sizes) + WEEK_SLOTS or data[0] != _VERSION or data[1] > WEEKLY:
            return None
        model = cls()
        (
            _,
            model.mode,
            model.n,
            model.first,
            model.level,
            model.scale,
            model.magnitude,
            model.change,
            model.err_level,
            model.err_day,
            model.err_week,
            model.last,
            model.base,
        ) = _HEADER.unpack_from(data)
        at = _HEADER.size
        model.records = array("d", data[at : at + sizes[1]])
        at += sizes[1]
        model.day = array("f", data[at : at + sizes[2]])
        at += sizes[2]
        model.day_seen = bytearray(data[at : at + sizes[3]])
        at += sizes[3]
        model.week = array("f", data[at : at + sizes[4]])
        at += sizes[4]
        model.week_seen = bytearray(data[at:])
        return model


@lru_cache(maxsize=64)
def _rate(step: float, slot: float) -> float:
    """Share of a slot's profile one reading replaces, ``step`` seconds after the last:
    SEASON_RATE for a day's (or a week's) worth of readings."""
    return 1.0 - (1.0 - SEASON_RATE) ** (step / slot)


def _ratio(deviation: float, width: float) -> float:
    if width > 0:
        return deviation / width
    return math.inf if deviation > 0 else 0.0


def _profile(
    profile: array, seen: bytearray, slot: int, offset: float, limit: float, rate: float
) -> None:
    """Move one slot of a seasonal profile towards ``offset`` (clipped at ``limit``),
    as an average of all its readings while it has seen only a few."""
    count = seen[slot]
    if count:
        current = profile[slot]
        move = offset - current
        move = limit if move > limit else (-limit if move < -limit else move)
        share = 1.0 / (count + 1)
        profile[slot] = current + (rate if rate > share else share) * move
    else:
        profile[slot] = offset
    if count < 255:
        seen[slot] = count + 1
