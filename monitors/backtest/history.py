"""The last week of every pushed series, downsampled so a rule can be replayed over it.

Each series (metric and label set) keeps one bucket per ``STEP`` (a minute): the count,
sum, minimum and maximum of its samples, exact, and their histogram on the window
store's bins (DDSketch's logarithmic mapping, 1% relative accuracy). Buckets merge, so
any window of whole minutes gives every aggregate the live store gives: count, rate,
sum, avg, min and max exactly, percentiles within the same 1%, percent_where exactly
(its condition is on labels, which name the series).

An hour of a series' buckets is one row of ``sample_history``, written compressed once
the hour is over (plus ``GRACE``), and at shutdown; the hour in progress stays in
memory, so a crash loses at most the last hour of history (never anything an incident
depends on). A row written already is merged with what comes later for its hour.
Samples older than ``KEEP`` are not kept, and rows older than ``KEEP`` are deleted at
each flush.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from monitors.sources.base import LabelSet
from monitors.windows.histogram import MULTIPLIER, TINY, code_of
from monitors.windows.store import Sample
from storage.db import Database
from storage.repositories import SampleHistoryRepository

STEP = 60.0
BLOCK = 3600.0
BUCKETS_PER_BLOCK = int(BLOCK // STEP)
KEEP = 7 * 86400.0
GRACE = 300.0
"""An hour is written this long after it ends, so samples pushed a little late count."""
MAX_SERIES = 50_000

_ceil = math.ceil
_log2 = math.log2

SeriesId = tuple[str, LabelSet]  # (metric, label set)


class Bucket:
    """One series' samples of one minute: exact count, sum and extremes, and a histogram
    (bin code -> count)."""

    __slots__ = ("bins", "count", "hi", "lo", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.lo = math.inf
        self.hi = -math.inf
        self.bins: dict[int, int] = {}

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        if value < self.lo:
            self.lo = value
        if value > self.hi:
            self.hi = value
        code = _ceil(_log2(value) * MULTIPLIER) if value > TINY else code_of(value)
        self.bins[code] = self.bins.get(code, 0) + 1

    def merge(self, other: Bucket) -> None:
        self.count += other.count
        self.total += other.total
        self.lo, self.hi = min(self.lo, other.lo), max(self.hi, other.hi)
        for code, count in other.bins.items():
            self.bins[code] = self.bins.get(code, 0) + count


def merge_buckets(target: Buckets, more: Mapping[int, Bucket]) -> None:
    for index, bucket in more.items():
        mine = target.get(index)
        if mine is None:
            target[index] = bucket
        else:
            mine.merge(bucket)


def block_of(index: int) -> int:
    """The first bucket index of the hour holding bucket ``index``."""
    return index - (index - 1) % BUCKETS_PER_BLOCK


Buckets = dict[int, Bucket]
"""Bucket index -> bucket; bucket ``k`` holds samples with (k - 1) * STEP < ts <= k * STEP."""


def encode_block(buckets: Mapping[int, Bucket], block: int) -> bytes:
    """One hour of a series' buckets (``block`` = its first bucket index) as bytes."""
    offsets, counts, sizes = array("B"), array("I"), array("I")
    floats, codes, tallies = array("d"), array("i"), array("I")
    for index in sorted(buckets):
        bucket = buckets[index]
        offsets.append(index - block)
        counts.append(bucket.count)
        floats.extend((bucket.total, bucket.lo, bucket.hi))
        sizes.append(len(bucket.bins))
        for code in sorted(bucket.bins):
            codes.append(code)
            tallies.append(bucket.bins[code])
    parts = [array("I", [len(offsets), len(codes)]), offsets, counts, sizes, floats, codes, tallies]
    return zlib.compress(b"".join(part.tobytes() for part in parts), 6)


def decode_block(data: bytes, block: int) -> Buckets:
    raw = zlib.decompress(data)
    head = array("I")
    head.frombytes(raw[:8])
    n, m = head
    at = 8
    parts = []
    for code, size in (("B", n), ("I", n), ("I", n), ("d", 3 * n), ("i", m), ("I", m)):
        part = array(code)
        width = part.itemsize * size
        part.frombytes(raw[at : at + width])
        parts.append(part)
        at += width
    offsets, counts, sizes, floats, codes, tallies = parts
    out: Buckets = {}
    start = 0
    for i in range(n):
        bucket = Bucket()
        bucket.count = counts[i]
        bucket.total, bucket.lo, bucket.hi = floats[3 * i : 3 * i + 3]
        end = start + sizes[i]
        bucket.bins = dict(zip(codes[start:end], tallies[start:end], strict=True))
        start = end
        out[block + offsets[i]] = bucket
    return out


@dataclass
class HistoryStats:
    samples: int = 0
    dropped_series_limit: int = 0
    blocks_written: int = 0
    bytes_written: int = 0


@dataclass
class SeriesHistory:
    """What a replay reads: per metric, per label set, the buckets of a period."""

    buckets: dict[str, dict[LabelSet, Buckets]] = field(default_factory=dict)
    first: float | None = None
    """The earliest bucket's end, or None when there is no history at all."""

    def series_count(self) -> int:
        return sum(len(by_labels) for by_labels in self.buckets.values())

    def sample_count(self) -> int:
        return sum(
            bucket.count
            for by_labels in self.buckets.values()
            for buckets in by_labels.values()
            for bucket in buckets.values()
        )


class SampleHistory:
    """Records pushed samples into per-minute buckets; ``db`` None keeps memory only."""

    def __init__(self, db: Database | None, max_series: int = MAX_SERIES) -> None:
        self.db = db
        self.max_series = max_series
        self.stats = HistoryStats()
        self._open: dict[SeriesId, Buckets] = {}

    def add(
        self, metric: str, value: float, labels: Mapping[str, str], ts: float, now: float
    ) -> bool:
        if not math.isfinite(value) or ts <= now - KEEP:
            return False
        key = (metric, tuple(sorted(labels.items())) if labels else ())
        index = _ceil(ts / STEP)
        buckets = self._open.get(key)
        if buckets is None:
            if len(self._open) >= self.max_series:
                self.stats.dropped_series_limit += 1
                return False
            buckets = self._open[key] = {}
        bucket = buckets.get(index)
        if bucket is None:
            bucket = buckets[index] = Bucket()
        bucket.add(value)
        self.stats.samples += 1
        return True

    def add_many(self, samples: Iterable[Sample], now: float) -> int:
        add = self.add
        return sum(
            add(s.metric, s.value, s.labels, now if s.ts is None else s.ts, now) for s in samples
        )

    async def flush(self, now: float, everything: bool = False) -> int:
        """Write every hour that ended ``GRACE`` ago (``everything``: the hours in
        progress too, at shutdown), merged with what was written of them before, and
        delete rows older than KEEP; returns the number of hours written."""
        last_closed = math.inf if everything else math.floor((now - GRACE) / STEP)
        pending: dict[tuple[SeriesId, int], Buckets] = {}
        for key, buckets in list(self._open.items()):
            for index in [i for i in buckets if block_of(i) + BUCKETS_PER_BLOCK - 1 <= last_closed]:
                pending.setdefault((key, block_of(index)), {})[index] = buckets.pop(index)
            if not buckets:
                del self._open[key]
        if self.db is None or not pending:
            return len(pending)
        async with self.db.transaction() as session:
            repository = SampleHistoryRepository(session)
            wanted = [(key[0], _digest(key[1]), block) for key, block in pending]
            for row in await repository.get_many(wanted):
                earlier = decode_block(row.data, row.block)
                key = (row.metric, _labels_from_text(row.labels))
                merge_buckets(pending[(key, row.block)], earlier)
            rows = [
                {
                    "metric": key[0],
                    "series": _digest(key[1]),
                    "block": block,
                    "labels": _labels_text(key[1]),
                    "data": encode_block(buckets, block),
                }
                for (key, block), buckets in pending.items()
            ]
            await repository.save_many(rows)
            await repository.delete_before(math.ceil((now - KEEP) / STEP) - BUCKETS_PER_BLOCK)
        self.stats.blocks_written += len(rows)
        self.stats.bytes_written += sum(len(row["data"]) for row in rows)
        return len(rows)

    def series_count(self) -> int:
        """Series with samples in the hour in progress."""
        return len(self._open)

    async def load(
        self,
        metrics: Iterable[str],
        since: float,
        until: float,
        only: Callable[[str, LabelSet], bool] | None = None,
    ) -> SeriesHistory:
        """The buckets of ``metrics`` ending in (since, until], saved and in memory;
        ``only``: of the (metric, label set) series it accepts (a chart reads one)."""
        wanted = set(metrics)
        first_index, last_index = _ceil(since / STEP) + 1, _ceil(until / STEP)
        out = SeriesHistory()

        def keep(metric: str, labels: LabelSet, buckets: Mapping[int, Bucket]) -> None:
            target = out.buckets.setdefault(metric, {}).setdefault(labels, {})
            inside = {i: b for i, b in buckets.items() if first_index <= i <= last_index}
            merge_buckets(target, {i: _copy(b) for i, b in inside.items()})

        if self.db is not None:
            async with self.db.read() as session:
                rows = await SampleHistoryRepository(session).between(
                    sorted(wanted), first_index - BUCKETS_PER_BLOCK, last_index
                )
            for row in rows:
                labels = _labels_from_text(row.labels)
                if only is None or only(row.metric, labels):
                    keep(row.metric, labels, decode_block(row.data, row.block))
        for (metric, labels), buckets in self._open.items():
            if metric in wanted and (only is None or only(metric, labels)):
                keep(metric, labels, buckets)
        indices = [i for by in out.buckets.values() for b in by.values() for i in b]
        out.first = min(indices) * STEP if indices else None
        return out


def _copy(bucket: Bucket) -> Bucket:
    """A replay must not change the buckets still being filled."""
    copy = Bucket()
    copy.merge(bucket)
    return copy


def _digest(labels: LabelSet) -> str:
    return hashlib.blake2b(_labels_text(labels).encode(), digest_size=16).hexdigest()


def _labels_text(labels: LabelSet) -> str:
    return "\x1f".join(f"{k}\x1e{v}" for k, v in labels)


def _labels_from_text(text: str) -> LabelSet:
    if not text:
        return ()
    return tuple(tuple(pair.split("\x1e", 1)) for pair in text.split("\x1f"))  # type: ignore[misc]
