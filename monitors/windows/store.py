"""In-memory windowed store of pushed samples, per metric and label set, in time buckets.

Layout and why (figures from benchmarks/ingest.py on the 2-core box):

* A bucket is one ``array('d')`` of ``value, key`` pairs, where ``key`` is the sample's
  bin on DDSketch's logarithmic mapping (1 % relative accuracy), computed once at ingest.
  Past ``RAW_CAP`` samples a bucket becomes a histogram, so its size is bounded whatever
  the rate. A DDSketch per one-second bucket would cost about 4 kB and 20 µs a merge;
  the raw pairs cost 16 bytes a sample and are gathered with C-level joins and slices.
* Queries are answered from *running windows*: per series and per (window, offset) the
  store keeps count, sum, extremes and, when percentiles are asked, a histogram, and
  slides them forward by adding the buckets that entered and subtracting those that
  left, so a rule costs O(new buckets) per evaluation, not O(window). DDSketch's API
  cannot subtract, hence ``monitors.windows.histogram``: the same mapping, bins and quantile rule as
  ``DDSketch.get_quantile_value``, with removal.
* Window boundaries are resolved to ``bucket_seconds``: bucket ``k`` holds samples with
  ``(k - 1) * bucket_seconds < ts <= k * bucket_seconds``, so a window
  ``(now - window, now]`` is exact when ``now`` and ``window`` are multiples of it.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from monitors.sources.base import LabelSet, label_set
from monitors.windows.histogram import (
    MULTIPLIER,
    TINY,
    Histogram,
    code_of,
    quantile_of,
)

_ceil = math.ceil  # local aliases: these run per sample on the ingest path
_log2 = math.log2
_isfinite = math.isfinite

RAW_CAP = 128
"""Samples kept raw per bucket (2 kB) before it switches to a histogram."""

AGGREGATES = frozenset(
    {"count", "rate", "sum", "avg", "min", "max", "p50", "p90", "p95", "p99", "percent_where"}
)
QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
EXTREMES = frozenset({"min", "max"})


@dataclass(slots=True)
class Sample:
    """One pushed measurement. ``ts`` is epoch seconds; None means "now"."""

    metric: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)
    ts: float | None = None


@lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class _Big:
    """A bucket past ``RAW_CAP`` samples: exact count/sum/extremes plus a histogram."""

    __slots__ = ("count", "hi", "hist", "lo", "total")

    def __init__(self, pairs: array[float]) -> None:
        values = pairs[0::2]
        self.count = len(values)
        self.total = sum(values)
        self.lo = min(values)
        self.hi = max(values)
        self.hist = Histogram()
        self.hist.add_codes(pairs[1::2], 1)

    def add(self, v: float, code: int) -> None:
        self.count += 1
        self.total += v
        self.lo = min(self.lo, v)
        self.hi = max(self.hi, v)
        self.hist.add_codes((code,), 1)

    @classmethod
    def restored(cls, content: BigBucket) -> _Big:
        big = cls.__new__(cls)
        big.count, big.total, big.lo, big.hi = content.count, content.total, content.lo, content.hi
        big.hist = content.hist
        return big


Bucket = array | _Big


@dataclass(frozen=True)
class BigBucket:
    """A bucket past ``RAW_CAP`` samples, as the window journal keeps it."""

    index: int
    count: int
    total: float
    lo: float
    hi: float
    hist: Histogram


@dataclass(frozen=True)
class SeriesChanges:
    """The buckets of one series that changed since the journal last took them, each
    whole (see monitors.windows.journal); a later content of a bucket replaces an
    earlier one. Raw buckets come as their indices, their lengths (in numbers) and all
    their ``value, code`` pairs in one array, in that order; the others one by one."""

    metric: str
    key: LabelSet
    raw_indices: list[int]
    raw_lengths: list[int]
    raw_pairs: array[float]
    big: list[BigBucket]


class _Run:
    """Aggregates of one series over the buckets ``(e - n, e]``, slid forward as time passes."""

    __slots__ = ("comp", "count", "e", "extremes_ok", "hi", "hist", "lo", "n", "sum_", "used")

    def __init__(self, n: int, e: int, hist: bool) -> None:
        self.n = n
        self.e = e
        self.count = 0
        self.sum_ = 0.0
        self.comp = 0.0  # Neumaier compensation: sums stay exact-ish under add and subtract
        self.lo = math.inf
        self.hi = -math.inf
        self.extremes_ok = False
        self.hist = Histogram() if hist else None
        self.used = e

    @property
    def total(self) -> float:
        return self.sum_ + self.comp

    def _add_sum(self, x: float) -> None:
        t = self.sum_ + x
        if abs(self.sum_) >= abs(x):
            self.comp += (self.sum_ - t) + x
        else:
            self.comp += (x - t) + self.sum_
        self.sum_ = t

    def take(self, b: Bucket, sign: int) -> None:
        if type(b) is array:
            values = b[0::2]
            self.count += sign * len(values)
            self._add_sum(sign * sum(values))
            if self.hist is not None:
                self.hist.add_codes(b[1::2], sign)
            lo, hi = (min(values), max(values)) if self.extremes_ok else (0.0, 0.0)
        else:
            self.count += sign * b.count
            self._add_sum(sign * b.total)
            if self.hist is not None:
                self.hist.merge(b.hist, sign)
            lo, hi = b.lo, b.hi
        if self.extremes_ok:
            if sign > 0:
                self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)
            elif lo <= self.lo or hi >= self.hi:
                self.extremes_ok = False

    def take_all(self, buckets: Iterable[Bucket], sign: int, raw_only: bool) -> None:
        """``take`` each bucket, raw pairs pooled into one array first (C-level joins)."""
        pairs = array("d")
        if raw_only:
            pairs.frombytes(b"".join(buckets))  # type: ignore[arg-type]  # arrays are buffers
        else:
            for b in buckets:
                if type(b) is array:
                    pairs.extend(b)
                else:
                    self.take(b, sign)
        if pairs:
            self.take(pairs, sign)

    def absorb(self, v: float, code: int) -> None:
        """A late sample landed inside the run's range."""
        self.count += 1
        self._add_sum(v)
        if self.extremes_ok:
            self.lo, self.hi = min(self.lo, v), max(self.hi, v)
        if self.hist is not None:
            self.hist.add_codes((code,), 1)


class _Series:
    __slots__ = (
        "buckets",
        "changed",
        "first",
        "groups",
        "has_big",
        "key",
        "labels",
        "metric",
        "runs",
        "wheres",
    )

    def __init__(self, metric: str, key: LabelSet) -> None:
        self.metric = metric
        self.key = key
        self.changed: set[int] | None = None
        """Buckets changed since the journal last took them (when it is on); None, not
        an empty set (216 bytes), while there are none: the store may hold 200,000."""
        self.labels = dict(key)
        self.buckets: dict[int, Bucket] = {}
        self.first = 0  # lowest bucket index that may still be present
        self.has_big = False  # a bucket went past RAW_CAP: not every bucket is an array
        self.runs: dict[tuple[int, int], _Run] = {}
        self.groups: dict[tuple[str, ...], LabelSet] = {}
        self.wheres: dict[tuple[tuple[str, str], ...], bool] = {}

    def add(self, idx: int, v: float, code: int) -> bool:
        """Store a sample in bucket ``idx``; True if that created the bucket."""
        b = self.buckets.get(idx)
        created = b is None
        if created:
            self.buckets[idx] = array("d", (v, code))
            if idx < self.first or len(self.buckets) == 1:
                self.first = idx
        elif type(b) is array:
            b.append(v)
            b.append(code)
            if len(b) > 2 * RAW_CAP:
                self.buckets[idx] = _Big(b)
                self.has_big = True
        else:
            b.add(v, code)
        if self.runs:
            for r in self.runs.values():
                if r.e - r.n < idx <= r.e:
                    r.absorb(v, code)
        return created

    def span(self, start: int, end: int) -> Iterator[Bucket]:
        """Buckets with ``start < index <= end``."""
        bk = self.buckets
        if end - start <= len(bk):
            return filter(None, map(bk.get, range(start + 1, end + 1)))  # buckets are truthy
        return (b for i, b in bk.items() if start < i <= end)

    def window(self, n: int, off: int, e: int, hist: bool, extremes: bool) -> _Run:
        raw_only = not self.has_big
        r = self.runs.get((n, off))
        if r is None or e < r.e or e - r.e >= n or (hist and r.hist is None):
            r = self.runs[(n, off)] = _Run(n, e, hist)
            r.extremes_ok = extremes  # tracked from the start: no rescan below
            r.take_all(self.span(e - n, e), 1, raw_only)
        elif e > r.e:
            r.take_all(self.span(r.e - n, e - n), -1, raw_only)
            r.take_all(self.span(r.e, e), 1, raw_only)
            r.e = e
        if extremes and not r.extremes_ok:  # never tracked, or the extreme value left
            scan = _Run(n, e, False)
            scan.extremes_ok = True
            scan.take_all(self.span(e - n, e), 1, raw_only)
            r.lo, r.hi, r.extremes_ok = scan.lo, scan.hi, True
        r.used = e
        return r

    def prune(self, cutoff: int) -> int:
        """Drop buckets with index <= cutoff; return how many went."""
        bk = self.buckets
        if not bk or self.first > cutoff:
            return 0
        before = len(bk)
        if cutoff - self.first < before:
            for i in range(self.first, cutoff + 1):
                bk.pop(i, None)
        else:
            for i in [i for i in bk if i <= cutoff]:
                del bk[i]
        self.first = cutoff + 1
        if self.has_big:
            self.has_big = any(type(b) is _Big for b in bk.values())
        return before - len(bk)


def _contents(s: _Series, indices: Iterable[int]) -> SeriesChanges | None:
    """The buckets ``indices`` of ``s`` (those still there), for the journal."""
    buckets, raw, lengths, chunks, big = s.buckets, [], [], [], []
    for i in indices:
        b = buckets.get(i)
        if type(b) is array:
            raw.append(i)
            lengths.append(len(b))
            chunks.append(b)
        elif b is not None:
            big.append(BigBucket(i, b.count, b.total, b.lo, b.hi, b.hist.copy()))
    if not raw and not big:
        return None
    pairs = array("d")
    pairs.frombytes(b"".join(chunks))  # type: ignore[arg-type]  # arrays are buffers
    return SeriesChanges(s.metric, s.key, raw, lengths, pairs, big)


class _Metric:
    __slots__ = ("postings", "selections", "series")

    def __init__(self) -> None:
        self.series: dict[LabelSet, _Series] = {}
        self.postings: dict[tuple[str, str], dict[LabelSet, _Series]] = {}
        self.selections: dict[tuple[tuple[str, str], ...], list[_Series]] = {}
        """Series matching each ``match`` seen, until a series comes or goes."""

    def select(self, match: Mapping[str, str]) -> Iterable[_Series]:
        if not match:
            return self.series.values()
        items = tuple(sorted(match.items()))
        found = self.selections.get(items)
        if found is None:
            found = self.selections[items] = self._scan(items)
        return found

    def _scan(self, items: tuple[tuple[str, str], ...]) -> list[_Series]:
        smallest: Iterable[_Series] = self.series.values()
        size = len(self.series)
        for item in items:
            if item[1]:  # an empty value also matches a missing label: not in postings
                posting = self.postings.get(item)
                if posting is None:
                    return []
                if len(posting) < size:
                    smallest, size = posting.values(), len(posting)
        return [s for s in smallest if all(s.labels.get(k, "") == v for k, v in items)]


class GroupStats:
    """Everything needed to answer any aggregate for one group over one window."""

    __slots__ = ("count", "hi", "hists", "lo", "matched", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.lo = math.inf
        self.hi = -math.inf
        self.matched = 0
        self.hists: list[Histogram] = []

    def quantile(self, q: float) -> float | None:
        return quantile_of(self.hists, q)

    def value(self, aggregate: str, window: float) -> float | None:
        """The aggregate's value, None when the group had no samples."""
        if not self.count:
            return None
        if aggregate == "count":
            return float(self.count)
        if aggregate == "rate":
            return self.count / window
        if aggregate == "sum":
            return self.total
        if aggregate == "avg":
            return self.total / self.count
        if aggregate == "min":
            return self.lo
        if aggregate == "max":
            return self.hi
        if aggregate == "percent_where":
            return 100.0 * self.matched / self.count
        return self.quantile(QUANTILES[aggregate])


class WindowStore:
    """Pushed samples, bounded by ``max_window`` seconds and ``max_series`` series."""

    def __init__(
        self, max_window: float = 7200.0, bucket_seconds: float = 1.0, max_series: int = 200_000
    ) -> None:
        if max_window <= 0 or bucket_seconds <= 0 or max_series < 1:
            raise ValueError("max_window, bucket_seconds and max_series must be positive")
        self.max_window = float(max_window)
        self.bucket_seconds = float(bucket_seconds)
        self.max_series = max_series
        self._metrics: dict[str, _Metric] = {}
        self._series = 0
        self._buckets = 0
        self._stored = 0
        self._dropped = {"too_old": 0, "series_limit": 0, "not_finite": 0}
        # Prune about 120 times a window: memory overshoots the bound by under 1 %.
        self._prune_every = max(self.bucket_seconds, self.max_window / 120)
        self._next_prune = -math.inf
        self._changed: list[_Series] | None = None
        """Series with changed buckets, when the journal is on (``journal_changes``)."""

    def journal_changes(self) -> None:
        """Start tracking which buckets change, for ``take_changes`` (the journal that
        keeps the window across a restart). Off by default: nothing else drains it."""
        if self._changed is None:
            self._changed = []

    def keep_at_least(self, seconds: float) -> None:
        """Grow retention (never shrink it) so that windows of ``seconds`` can be
        answered once that much data has arrived; for rules added while running."""
        if seconds > self.max_window:
            self.max_window = float(seconds)
            self._prune_every = max(self.bucket_seconds, self.max_window / 120)

    def add(
        self, metric: str, value: float, labels: Mapping[str, str], ts: float, now: float
    ) -> bool:
        """Store one sample; False if it was dropped (too old, not finite, series limit)."""
        if ts is None or ts > now:
            ts = now
        if ts <= now - self.max_window:
            self._dropped["too_old"] += 1
            return False
        if not _isfinite(value):
            self._dropped["not_finite"] += 1
            return False
        if now >= self._next_prune:
            self.prune(now)
        m = self._metrics.get(metric)
        key = tuple(sorted(labels.items())) if labels else ()
        s = m.series.get(key) if m is not None else None
        if s is None:
            if self._series >= self.max_series:
                self._dropped["series_limit"] += 1
                return False
            if m is None:
                m = self._metrics[metric] = _Metric()
            s = self._new_series(m, metric, key)
        value = float(value)
        code = _ceil(_log2(value) * MULTIPLIER) if value > TINY else code_of(value)
        idx = _ceil(ts / self.bucket_seconds)
        if s.add(idx, value, code):
            self._buckets += 1
        if self._changed is not None:
            changed = s.changed
            if changed is None:
                changed = s.changed = set()
                self._changed.append(s)
            changed.add(idx)
        self._stored += 1
        return True

    def _new_series(self, m: _Metric, metric: str, key: LabelSet) -> _Series:
        s = m.series[key] = _Series(metric, key)
        m.selections.clear()
        for item in key:
            m.postings.setdefault(item, {})[key] = s
        self._series += 1
        return s

    def take_changes(self) -> list[SeriesChanges]:
        """Every bucket changed since the last call, whole, and forget the changes
        (buckets pruned meanwhile are left out). Needs ``journal_changes``."""
        if not self._changed:
            return []
        taken = []
        for s in self._changed:
            changes = _contents(s, sorted(s.changed or ()))
            s.changed = None
            if changes is not None:
                taken.append(changes)
        self._changed = []
        return taken

    def contents(self, since: float) -> list[SeriesChanges]:
        """Every bucket after ``since`` (epoch seconds), whole: a snapshot of the store,
        which also counts as taking every change so far."""
        after = math.floor(since / self.bucket_seconds)
        everything = []
        for m in self._metrics.values():
            for s in m.series.values():
                changes = _contents(s, sorted(i for i in s.buckets if i > after))
                if changes is not None:
                    everything.append(changes)
                s.changed = None
        if self._changed is not None:
            self._changed = []
        return everything

    def restore(self, changes: SeriesChanges, now: float) -> int:
        """Put back buckets the journal kept (each replacing what the bucket held);
        those older than ``max_window`` are left out. Returns how many were put back."""
        cutoff = math.floor((now - self.max_window) / self.bucket_seconds)
        m = self._metrics.get(changes.metric)
        s = m.series.get(changes.key) if m is not None else None
        if s is None:
            if self._series >= self.max_series:
                self._dropped["series_limit"] += 1
                return 0
            if m is None:
                m = self._metrics[changes.metric] = _Metric()
            s = self._new_series(m, changes.metric, changes.key)
        buckets, before, pairs, at = s.buckets, len(s.buckets), changes.raw_pairs, 0
        restored, lowest = 0, math.inf
        for i, n in zip(changes.raw_indices, changes.raw_lengths, strict=True):
            if i > cutoff:
                buckets[i] = pairs[at : at + n]
                restored += 1
                lowest = min(lowest, i)
            at += n
        for big in changes.big:
            if big.index > cutoff:
                buckets[big.index] = _Big.restored(big)
                s.has_big = True
                restored += 1
                lowest = min(lowest, big.index)
        if len(buckets) > before:  # ``first`` may be lower than the lowest, never higher
            self._buckets += len(buckets) - before
            s.first = int(lowest) if before == 0 else min(s.first, int(lowest))
        s.runs.clear()  # built again from the buckets on the next query
        if not s.buckets:  # everything was too old: no empty series left behind
            self._prune_series(m, changes.metric, changes.key)
        return restored

    def add_many(self, samples: Iterable[Sample], now: float) -> int:
        """Store samples (``ts`` None means ``now``); return how many were kept."""
        add = self.add
        kept = 0
        for s in samples:
            kept += add(s.metric, s.value, s.labels, now if s.ts is None else s.ts, now)
        return kept

    def collect(
        self,
        metric: str,
        *,
        window: float,
        now: float,
        group_by: Sequence[str] = (),
        match: Mapping[str, str] | None = None,
        where: Mapping[str, str] | None = None,
        offset: float = 0.0,
        quantiles: bool = False,
        extremes: bool = False,
    ) -> dict[LabelSet, GroupStats]:
        """Per-group statistics over ``(now - offset - window, now - offset]``.

        Lists a group for every matching series still in the store, even one with no
        sample in the window. ``quantiles``/``extremes`` ask for the costlier parts.
        """
        if window <= 0 or offset < 0:
            raise ValueError("window must be positive and offset not negative")
        if window + offset > self.max_window * (1 + 1e-9):
            raise ValueError(
                f"window {window:g}s + offset {offset:g}s is longer than the ingest store "
                f"keeps (max_window {self.max_window:g}s)"
            )
        m = self._metrics.get(metric)
        if m is None:
            return {}
        bs = self.bucket_seconds
        n = max(1, round(window / bs))
        off = round(offset / bs)
        e = _ceil((now - offset) / bs)
        gkey = tuple(group_by)
        wkey = tuple(sorted(where.items())) if where else ()
        groups: dict[LabelSet, GroupStats] = {}
        for s in m.select(match or {}):
            r = s.window(n, off, e, quantiles, extremes)
            lset = s.groups.get(gkey)
            if lset is None:
                lset = s.groups[gkey] = label_set(s.labels, gkey)
            g = groups.get(lset)
            if g is None:
                g = groups[lset] = GroupStats()
            if not r.count:
                continue
            g.count += r.count
            g.total += r.total
            if extremes:
                g.lo, g.hi = min(g.lo, r.lo), max(g.hi, r.hi)
            if quantiles and r.hist is not None:
                g.hists.append(r.hist)
            if wkey:
                ok = s.wheres.get(wkey)
                if ok is None:
                    ok = s.wheres[wkey] = all(
                        _regex(p).fullmatch(s.labels.get(k, "")) for k, p in wkey
                    )
                if ok:
                    g.matched += r.count
        return groups

    def query(
        self,
        metric: str,
        *,
        aggregate: str,
        window: float,
        now: float,
        group_by: Sequence[str] = (),
        match: Mapping[str, str] | None = None,
        where: Mapping[str, str] | None = None,
        offset: float = 0.0,
    ) -> dict[LabelSet, tuple[float | None, int]]:
        """``{group labels: (aggregate or None if no samples, sample count)}``."""
        if aggregate not in AGGREGATES:
            raise ValueError(f"unknown aggregate {aggregate!r}")
        groups = self.collect(
            metric,
            window=window,
            now=now,
            group_by=group_by,
            match=match,
            where=where if aggregate == "percent_where" else None,
            offset=offset,
            quantiles=aggregate in QUANTILES,
            extremes=aggregate in EXTREMES,
        )
        return {k: (g.value(aggregate, window), g.count) for k, g in groups.items()}

    def prune(self, now: float) -> None:
        """Drop buckets older than ``max_window``, idle windows and empty series."""
        self._next_prune = now + self._prune_every
        bs = self.bucket_seconds
        cutoff = math.floor((now - self.max_window) / bs)
        end = _ceil(now / bs)
        for name in list(self._metrics):
            m = self._metrics[name]
            for key in list(m.series):
                s = m.series[key]
                self._buckets -= s.prune(cutoff)
                if s.runs:  # a run this far behind would be rebuilt anyway
                    for rk in [rk for rk, r in s.runs.items() if end - rk[1] - r.used >= r.n]:
                        del s.runs[rk]
                if not s.buckets:
                    self._prune_series(m, name, key)

    def _prune_series(self, m: _Metric, name: str, key: LabelSet) -> None:
        del m.series[key]
        m.selections.clear()
        for item in key:
            posting = m.postings[item]
            del posting[key]
            if not posting:
                del m.postings[item]
        self._series -= 1
        if not m.series:
            del self._metrics[name]

    def stats(self) -> dict[str, int]:
        """Counters for /metrics."""
        return {
            "metrics": len(self._metrics),
            "series": self._series,
            "buckets": self._buckets,
            "samples_stored": self._stored,
            "dropped_too_old": self._dropped["too_old"],
            "dropped_series_limit": self._dropped["series_limit"],
            "dropped_not_finite": self._dropped["not_finite"],
        }
