"""A mergeable latency histogram. Pure; used by play, compare, the web UI and reports.

Values are microseconds. Below 128 µs each microsecond has its own bucket; above, each power
of two is split into 64 buckets, so any percentile read back is within 1/64 (1.6 %) of the
truth. Histograms from different processes or machines merge exactly by adding counts, which
is what lets `--processes N` and the UI agree with the CLI to the request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_SUB = 6  # 2**6 = 64 buckets per power of two
_LINEAR = 1 << (_SUB + 1)  # 128: below this, one bucket per microsecond


def bucket_of(micros: int) -> int:
    if micros < _LINEAR:
        return max(micros, 0)
    shift = micros.bit_length() - _SUB - 1
    return (shift << _SUB) + (micros >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The lowest and highest microsecond values a bucket holds."""
    if index < _LINEAR:
        return index, index
    shift = (index >> _SUB) - 1
    mantissa = index - (shift << _SUB)
    return mantissa << shift, ((mantissa + 1) << shift) - 1


class Histogram:
    __slots__ = ("counts", "count", "total", "min", "max")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.total = 0  # µs, for the mean
        self.min = 0
        self.max = 0

    def record(self, micros: int) -> None:
        index = bucket_of(micros)
        counts = self.counts
        counts[index] = counts.get(index, 0) + 1
        if self.count == 0 or micros < self.min:
            self.min = micros
        if micros > self.max:
            self.max = micros
        self.count += 1
        self.total += micros

    def merge(self, other: Histogram) -> None:
        if other.count == 0:
            return
        counts = self.counts
        for index, n in other.counts.items():
            counts[index] = counts.get(index, 0) + n
        self.min = other.min if self.count == 0 else min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.count += other.count
        self.total += other.total

    def percentile(self, fraction: float) -> int:
        """The value below which `fraction` of the recorded values fall (µs); 0 when empty."""
        if self.count == 0:
            return 0
        if fraction >= 1.0:
            return self.max
        rank = max(1, int(fraction * self.count + 0.999999))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                low, high = bucket_bounds(index)
                return min(max((low + high) // 2, self.min), self.max)
        return self.max

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"counts": {str(k): v for k, v in sorted(self.counts.items())}, "count": self.count,
                "total": self.total, "min": self.min, "max": self.max}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Histogram:
        h = cls()
        if data:
            h.counts = {int(k): int(v) for k, v in data["counts"].items()}
            h.count, h.total, h.min, h.max = int(data["count"]), int(data["total"]), int(data["min"]), int(data["max"])
        return h

    def since(self, earlier: Histogram) -> Histogram:
        """What was recorded after `earlier`, a copy of this histogram taken before. Its min and
        max are the bounds of its outer buckets (the exact ones are not kept), within 1/64."""
        out = Histogram()
        for index, n in self.counts.items():
            left = n - earlier.counts.get(index, 0)
            if left > 0:
                out.counts[index] = left
        if out.counts:
            out.count = self.count - earlier.count
            out.total = self.total - earlier.total
            out.min = bucket_bounds(min(out.counts))[0]
            out.max = min(bucket_bounds(max(out.counts))[1], self.max)
        return out

    def copy(self) -> Histogram:
        out = Histogram()
        out.counts = dict(self.counts)
        out.count, out.total, out.min, out.max = self.count, self.total, self.min, self.max
        return out

    @classmethod
    def merged(cls, histograms: Iterable[Histogram]) -> Histogram:
        out = cls()
        for h in histograms:
            out.merge(h)
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Histogram) and self.to_dict() == other.to_dict()
