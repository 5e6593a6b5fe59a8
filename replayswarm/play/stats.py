"""Statistics of a run. Pure (no gevent, no I/O).

A worker's `Stats` is fed by one call per request and hands out deltas; the parent's `RunStats`
merges deltas from every worker exactly (counts add, histograms merge) and is what the console,
the database and the thresholds read, so they agree to the request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..histogram import Histogram

WINDOW = 10  # seconds: the coarser step of per-endpoint time series
INTERNAL = "internal error"  # an exception in replayswarm itself: the run fails, whatever the target did
WORKERS = "(workers)"  # a distributed run: where a worker host that was lost is counted, as "lost"
VISITS = "(visits)"  # open model: where visits that could not start (--max-users) are counted, as "dropped"


@dataclass
class Counter:
    count: int = 0
    failures: int = 0
    bytes: int = 0
    deviations: int = 0
    hist: Histogram = field(default_factory=Histogram)  # service time: from sending to the last byte
    # Open model only: from when the request was due (its visit's arrival, or the end of the
    # think time before it) to its last byte, so a generator that fell behind does not hide a
    # stall (coordinated omission). None in the closed model, where the two are the same.
    due: Histogram | None = None

    def merge(self, other: Counter) -> None:
        self.count += other.count
        self.failures += other.failures
        self.bytes += other.bytes
        self.deviations += other.deviations
        self.hist.merge(other.hist)
        if other.due is not None:
            if self.due is None:
                self.due = Histogram()
            self.due.merge(other.due)

    def to_dict(self) -> dict[str, Any]:
        d = {"count": self.count, "failures": self.failures, "bytes": self.bytes, "deviations": self.deviations, "hist": self.hist.to_dict()}
        if self.due is not None:
            d["due"] = self.due.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Counter:
        due = d.get("due")
        return cls(d["count"], d["failures"], d["bytes"], d["deviations"], Histogram.from_dict(d["hist"]),
                   Histogram.from_dict(due) if due is not None else None)


@dataclass
class Second:
    requests: int = 0
    failures: int = 0
    users: int = 0
    hist: Histogram = field(default_factory=Histogram)
    target: int = 0  # the users (or arrivals a second) the load shape asked for


class Stats:
    """One worker's statistics since the last delta."""

    def __init__(self) -> None:
        self.reset()
        self.iterations: dict[str, int] = {}

    def reset(self) -> None:
        self.endpoints: dict[str, Counter] = {}
        self.seconds: dict[int, Second] = {}
        self.windows: dict[tuple[str, int], Counter] = {}
        self.errors: dict[tuple[str, str], list[Any]] = {}

    def request(self, name: str, micros: int | None, nbytes: int, failed: bool, deviation: bool = False, now: float | None = None,
                due_micros: int | None = None) -> None:
        """One finished request: its time (None when no response came), size and outcome; in the
        open model also its time from when it was due."""
        now = time.time() if now is None else now
        second = int(now)
        for counter in (
            self.endpoints.get(name) or self.endpoints.setdefault(name, Counter()),
            self.windows.get((name, second // WINDOW)) or self.windows.setdefault((name, second // WINDOW), Counter()),
        ):
            counter.count += 1
            counter.bytes += nbytes
            if failed:
                counter.failures += 1
            if deviation:
                counter.deviations += 1
            if micros is not None:
                counter.hist.record(micros)
                if due_micros is not None:
                    if counter.due is None:
                        counter.due = Histogram()
                    counter.due.record(due_micros)
        s = self.seconds.get(second) or self.seconds.setdefault(second, Second())
        s.requests += 1
        if failed:
            s.failures += 1
        if micros is not None:
            s.hist.record(micros)

    def error(self, name: str, kind: str, message: str) -> None:
        entry = self.errors.get((name, kind))
        if entry is None:
            self.errors[(name, kind)] = [1, message[:500]]
        else:
            entry[0] += 1

    def users(self, active: int, now: float | None = None) -> None:
        second = int(time.time() if now is None else now)
        s = self.seconds.get(second) or self.seconds.setdefault(second, Second())
        s.users = max(s.users, active)

    def iteration(self, scenario: str) -> None:
        self.iterations[scenario] = self.iterations.get(scenario, 0) + 1

    def delta(self) -> dict[str, Any]:
        """Everything since the last delta, as plain data; then start afresh."""
        out = {
            "endpoints": {k: v.to_dict() for k, v in self.endpoints.items()},
            "seconds": {k: {"requests": v.requests, "failures": v.failures, "users": v.users, "hist": v.hist.to_dict()} for k, v in self.seconds.items()},
            "windows": [[name, w, c.to_dict()] for (name, w), c in self.windows.items()],
            "errors": [[name, kind, n, sample] for (name, kind), (n, sample) in self.errors.items()],
            "iterations": dict(self.iterations),
        }
        self.reset()
        self.iterations = {}
        return out


class RunStats:
    """The whole run, merged from every worker's deltas."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.endpoints: dict[str, Counter] = {}
        self.seconds: dict[int, Second] = {}
        self.windows: dict[tuple[str, int], Counter] = {}
        self.errors: dict[tuple[str, str], list[Any]] = {}
        self.iterations: dict[str, int] = {}
        self.worker_users: dict[int, dict[int, int]] = {}  # second → worker → users
        self.touched_seconds: set[int] = set()
        self.touched_windows: set[tuple[str, int]] = set()
        self.touched_endpoints: set[str] = set()
        self.touched_errors: set[tuple[str, str]] = set()

    def merge(self, worker: int, delta: dict[str, Any]) -> None:
        for name, d in delta["endpoints"].items():
            self.endpoints.setdefault(name, Counter()).merge(Counter.from_dict(d))
            self.touched_endpoints.add(name)
        for second, d in delta["seconds"].items():
            second = int(second)
            s = self.seconds.setdefault(second, Second())
            s.requests += d["requests"]
            s.failures += d["failures"]
            s.hist.merge(Histogram.from_dict(d["hist"]))
            # Users are a level, not a count: each worker's latest, summed over workers.
            levels = self.worker_users.setdefault(second, {})
            levels[worker] = max(levels.get(worker, 0), d["users"])
            s.users = sum(levels.values())
            self.touched_seconds.add(second)
        for name, window, d in delta["windows"]:
            self.windows.setdefault((name, window), Counter()).merge(Counter.from_dict(d))
            self.touched_windows.add((name, window))
        for name, kind, n, sample in delta["errors"]:
            entry = self.errors.setdefault((name, kind), [0, sample])
            entry[0] += n
            self.touched_errors.add((name, kind))
        for scenario, n in delta["iterations"].items():
            self.iterations[scenario] = self.iterations.get(scenario, 0) + n

    def note(self, name: str, kind: str, sample: str) -> None:
        """One more event of a kind no worker counts (a lost worker host): kept with the errors."""
        entry = self.errors.setdefault((name, kind), [0, ""])
        entry[0] += 1
        entry[1] = ", ".join(filter(None, [entry[1], sample]))[:500]
        self.touched_errors.add((name, kind))

    def target(self, users: int, now: float) -> None:
        """What the load shape asks for this second (users, or arrivals a second)."""
        second = int(now)
        s = self.seconds.setdefault(second, Second())
        if s.target != users:
            s.target = users
            self.touched_seconds.add(second)

    def forget(self, before: int) -> None:
        """Drop per-second and per-window rows older than `before` (an epoch second) that are
        already written: the parent's memory, and the console's work, stay flat however long the
        run. Workers report within a second or two, so nothing comes for them again."""
        for second in [s for s in self.seconds if s < before and s not in self.touched_seconds]:
            del self.seconds[second]
            self.worker_users.pop(second, None)
        for key in [k for k in self.windows if (k[1] + 1) * WINDOW < before and k not in self.touched_windows]:
            del self.windows[key]

    def total(self) -> Counter:
        total = Counter()
        for c in self.endpoints.values():
            total.merge(c)
        return total

    def elapsed(self, now: float | None = None) -> float:
        last = max(self.seconds) + 1 if self.seconds else self.started
        return max(0.001, (now if now is not None else last) - self.started)

    def summary(self, duration: float) -> dict[str, Any]:
        """The numbers a person and a threshold read: whole run and per endpoint."""
        endpoints = [numbers(name, c, duration) for name, c in sorted(self.endpoints.items())]
        total = numbers("Aggregated", self.total(), duration)
        del total["name"]
        return {**total, "endpoints": endpoints}


def numbers(name: str, c: Counter, duration: float) -> dict[str, Any]:
    """An endpoint's row, as the CLI, the database reader, the UI and reports all show it."""
    h = c.hist
    ms = lambda micros: round(micros / 1000.0, 3)  # noqa: E731
    due = {} if c.due is None else {
        # Open model: from when each request was due, so time the generator spent behind shows.
        "due_p50_ms": ms(c.due.percentile(0.50)), "due_p95_ms": ms(c.due.percentile(0.95)),
        "due_p99_ms": ms(c.due.percentile(0.99)), "due_max_ms": ms(c.due.max),
    }
    return {
        "name": name,
        "requests": c.count,
        "failures": c.failures,
        "error_pct": round(100.0 * c.failures / c.count, 3) if c.count else 0.0,
        "bytes": c.bytes,
        "avg_size": round(c.bytes / c.count) if c.count else 0,
        "deviations": c.deviations,
        "rps": round(c.count / duration, 3) if duration > 0 else 0.0,
        "p50_ms": ms(h.percentile(0.50)),
        "p90_ms": ms(h.percentile(0.90)),
        "p95_ms": ms(h.percentile(0.95)),
        "p99_ms": ms(h.percentile(0.99)),
        "p99.9_ms": ms(h.percentile(0.999)),
        "max_ms": ms(h.max),
        "avg_ms": round(h.mean / 1000.0, 3),
        **due,
    }


def measure(c: Counter, duration: float, metric: str) -> float:
    """One number of a counter by its threshold name: p95 (ms), max, avg, errors (%), failures, rps, requests."""
    if metric.startswith("p"):
        return c.hist.percentile(float(metric[1:]) / 100.0) / 1000.0
    if metric == "max":
        return c.hist.max / 1000.0
    if metric in ("avg", "mean"):
        return c.hist.mean / 1000.0
    if metric == "errors":
        return 100.0 * c.failures / c.count if c.count else 0.0
    if metric == "failures":
        return float(c.failures)
    if metric == "rps":
        return c.count / duration if duration > 0 else 0.0
    return float(c.count)
