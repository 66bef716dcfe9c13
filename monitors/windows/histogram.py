"""Log-binned histograms that can subtract: the percentile half of the window store.

The bins are DDSketch's (``LogarithmicMapping``, 1 % relative accuracy) and quantiles
follow ``DDSketch.get_quantile_value`` exactly, but counts can also be removed, which
DDSketch's own stores cannot do; the window store needs that to slide a window forward
by adding the buckets that entered and subtracting those that left. A value's bin is
its *code* (see ``code_of``), computed once at ingest and stored beside the value."""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from itertools import accumulate
from operator import add as _add
from operator import sub as _sub

from ddsketch.mapping import LogarithmicMapping

RELATIVE_ACCURACY = 0.01
_MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
MULTIPLIER = 1.0 / math.log2(_MAPPING.gamma)  # the mapping's multiplier: key = ceil(log2(v) * m)
TINY = _MAPPING.min_possible
_value_of = _MAPPING.value
_ceil = math.ceil
_log2 = math.log2
# Codes stored next to values: positive values' keys lie within +-40,000; a negative
# value's key is shifted by _NEG; zero (|v| <= TINY) has its own code.
_NEG = 100_000
_ZERO = 300_000
_POS_BELOW = 50_000
_NEG_BELOW = 200_000


def code_of(v: float) -> int:
    if v > TINY:
        return _ceil(_log2(v) * MULTIPLIER)
    if v < -TINY:
        return _NEG + _ceil(_log2(-v) * MULTIPLIER)
    return _ZERO


class _Bins:
    """Dense bin counts from key ``off`` upwards (a DDSketch DenseStore that can subtract)."""

    __slots__ = ("_cum", "arr", "n", "off")

    def __init__(self) -> None:
        self.off = 0
        self.arr = array("q")
        self.n = 0
        self._cum: array[int] | None = None

    def add(self, key: int, c: int) -> None:
        self.cover(key, key)
        self.arr[key - self.off] += c
        self.n += c
        self._cum = None

    def cover(self, lo: int, hi: int) -> None:
        """Grow the bins to hold keys ``lo..hi``, with some slack."""
        arr = self.arr
        if arr and self.off <= lo and hi < self.off + len(arr):
            return
        if not arr:
            self.off = lo - 8
            self.arr = array("q", bytes(8 * (hi - lo + 17)))
            return
        top = self.off + len(arr) - 1
        new_lo = min(lo - 16, self.off) if lo < self.off else self.off
        new_hi = max(hi + 16, top) if hi > top else top
        grown = array("q", bytes(8 * (self.off - new_lo)))
        grown.extend(arr)
        grown.extend(bytes(8 * (new_hi - top)))
        self.arr, self.off = grown, new_lo

    def merge(self, other: _Bins, sign: int) -> None:
        if not other.n:
            return
        size = len(other.arr)
        self.cover(other.off, other.off + size - 1)
        i = other.off - self.off
        op = _add if sign > 0 else _sub
        self.arr[i : i + size] = array("q", map(op, self.arr[i : i + size], other.arr))
        self.n += sign * other.n
        self._cum = None

    def cumulative(self) -> array[int]:
        """Running totals of ``arr``, cached until the bins change."""
        if self._cum is None:
            self._cum = array("q", accumulate(self.arr))
        return self._cum


def _key_at_rank(bins: Sequence[_Bins], rank: float, lower: bool) -> int:
    """The key of the value at ``rank`` in the union of ``bins``, as DenseStore.key_at_rank.

    Several stores are searched together (binary search over keys on their cumulative
    counts) rather than merged: a merge copies every bin, this reads ~10 per store.
    """
    live = [b for b in bins if b.n > 0]
    if len(live) == 1:
        cum = live[0].cumulative()
        i = bisect_right(cum, rank) if lower else bisect_left(cum, rank + 1)
        return live[0].off + min(i, len(cum) - 1)
    cums = [(b.off, b.cumulative()) for b in live]
    lo = min(off for off, _ in cums)
    hi = max(off + len(cum) - 1 for off, cum in cums)
    while lo < hi:
        mid = (lo + hi) // 2
        seen = 0
        for off, cum in cums:
            i = mid - off
            if i >= 0:
                seen += cum[i] if i < len(cum) else cum[-1]
        if (seen > rank) if lower else (seen >= rank + 1):
            hi = mid
        else:
            lo = mid + 1
    return lo


class Histogram:
    """A DDSketch-equivalent histogram (positive, negative and zero bins) with removal."""

    __slots__ = ("neg", "pos", "zeros")

    def __init__(self) -> None:
        self.pos = _Bins()
        self.neg = _Bins()
        self.zeros = 0

    def add_codes(self, codes: Sequence[float], sign: int) -> None:
        """Count (``sign`` 1) or uncount (-1) samples given by their stored codes."""
        if not codes:
            return
        top = max(codes)
        if top < _POS_BELOW:  # all positive, the usual case: one tight loop
            pos = self.pos
            pos.cover(int(min(codes)), int(top))
            arr, off = pos.arr, pos.off
            for c in map(int, codes):
                arr[c - off] += sign
            pos.n += sign * len(codes)
            pos._cum = None
            return
        for c in map(int, codes):
            if c < _POS_BELOW:
                self.pos.add(c, sign)
            elif c < _NEG_BELOW:
                self.neg.add(c - _NEG, sign)
            else:
                self.zeros += sign

    def merge(self, other: Histogram, sign: int) -> None:
        self.pos.merge(other.pos, sign)
        self.neg.merge(other.neg, sign)
        self.zeros += sign * other.zeros

    def copy(self) -> Histogram:
        copied = Histogram()
        for mine, theirs in ((self.pos, copied.pos), (self.neg, copied.neg)):
            theirs.off, theirs.arr, theirs.n = mine.off, mine.arr[:], mine.n  # a C-level copy
        copied.zeros = self.zeros
        return copied

    def parts(self) -> tuple[int, array[int], int, array[int], int]:
        """(positive offset, positive counts, negative offset, negative counts, zeros):
        what ``from_parts`` needs to build the same histogram (the window journal)."""
        return self.pos.off, self.pos.arr, self.neg.off, self.neg.arr, self.zeros

    @classmethod
    def from_counts(cls, counts: Mapping[int, int]) -> Histogram:
        """A histogram of samples given as stored code -> how many (the backtest's
        history buckets); positive bins in one go."""
        hist = cls()
        positive = [code for code in counts if code < _POS_BELOW]
        if positive:
            low, high = min(positive), max(positive)
            dense = array("q", bytes(8 * (high - low + 1)))
            for code in positive:
                dense[code - low] = counts[code]
            hist.pos.off, hist.pos.arr, hist.pos.n = low, dense, sum(dense)
        for code, count in counts.items():
            if code >= _NEG_BELOW:
                hist.zeros += count
            elif code >= _POS_BELOW:
                hist.neg.add(code - _NEG, count)
        return hist

    @classmethod
    def from_parts(
        cls, pos_off: int, pos: array[int], neg_off: int, neg: array[int], zeros: int
    ) -> Histogram:
        hist = cls()
        for bins, off, counts in ((hist.pos, pos_off, pos), (hist.neg, neg_off, neg)):
            bins.off, bins.arr, bins.n = off, counts, sum(counts)
        hist.zeros = zeros
        return hist


def quantile_of(hists: Sequence[Histogram], q: float) -> float | None:
    """The ``q`` quantile of the union of ``hists``, as ``DDSketch.get_quantile_value``."""
    neg = sum(h.neg.n for h in hists)
    zeros = sum(h.zeros for h in hists)
    total = neg + zeros + sum(h.pos.n for h in hists)
    if total <= 0:
        return None
    rank = q * (total - 1)
    if rank < neg:
        return -_value_of(_key_at_rank([h.neg for h in hists], neg - rank - 1, lower=False))
    if rank < neg + zeros:
        return 0.0
    return _value_of(_key_at_rank([h.pos for h in hists], rank - zeros - neg, lower=True))
