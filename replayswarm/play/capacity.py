"""The breaking-point search: raise the load step by step, hold each step until its numbers
settle, refine around the first breach, and answer "how many users?". Pure: the runner feeds it
the run's statistics and asks what load to hold next; everything here is plain data.

A step is judged on its steady part only (the ramp and the first seconds are discarded), and in
the open model on latency from when each request was due (see stats.Counter). It breaches an SLO when the SLO's measure over the step fails (`p95<800ms`, `errors<1%`, and per
endpoint `GET /login:p95<500ms`); failed requests of any kind are their own criterion, since
"how many users before requests fail" is the first question. After the first breaking step the
search bisects between the last good and the first bad load until they are one resolution apart
or the time budget runs out.

The knee is where throughput stops growing with users. By Little's law a closed system of N users
with think time Z and response time R does X = N / (Z + R) requests a second; below saturation R
is the bare service time and X grows along the line N / (Z + S); a target of W servers of service
time S caps X at W / S. The knee is where the line meets the ceiling: N* = ceiling × (Z + S),
estimated from the lightest step's X/N (the line's slope) and the highest steady X (the ceiling).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from ..histogram import Histogram
from .stats import VISITS, Counter, measure
from .thresholds import Threshold

SETTLE = 0.25  # of a step, discarded as ramp before its numbers count (at least 2 s)
UNSTEADY = 0.25  # coefficient of variation of a step's per-second req/s above which it is held again
PLATEAU = 0.9  # throughput below this share of the users' line: the knee is passed
GROWING = 0.5  # ...unless the heaviest load still added this share of a user's throughput per user


@dataclass
class Step:
    """One load held and measured: what it did, and what broke there."""

    k: int
    users: int  # closed model: users; open model: arrivals a second
    start_t: float  # its steady part, seconds since the run started
    end_t: float
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    spread: float  # coefficient of variation of its steady seconds' req/s
    saturated: bool  # the generator, not the target, ran out of CPU during it
    breaches: list[str]  # the criteria it broke: "failures", or an SLO as written
    endpoints: list[dict[str, Any]] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Mark:
    """The run's cumulative counters at a moment: a step is the difference of two marks."""

    t: float
    endpoints: dict[str, tuple[int, int, Histogram, Histogram | None]]
    errors: dict[tuple[str, str], int]


def mark(t: float, endpoints: dict[str, Counter], errors: dict[tuple[str, str], list[Any]]) -> Mark:
    return Mark(t, {n: (c.count, c.failures, c.hist.copy(), c.due.copy() if c.due is not None else None) for n, c in endpoints.items()},
                {key: entry[0] for key, entry in errors.items()})


def measure_step(k: int, users: int, start: Mark, end: Mark, per_second: list[int], slos: tuple[Threshold, ...],
                 saturated: bool, samples: dict[tuple[str, str], str]) -> Step:
    """A step from the marks at its steady start and end, and its steady seconds' request counts."""
    seconds = max(end.t - start.t, 0.001)
    endpoints: dict[str, Counter] = {}
    for name, (count, failures, hist, due) in end.endpoints.items():
        before = start.endpoints.get(name, (0, 0, Histogram(), None))
        if count > before[0]:
            # Open model: latency from when each request was due is what visitors lived through,
            # and what the step is judged on (a queue in front of the target shows there first).
            since = hist.since(before[2]) if due is None else due.since(before[3] or Histogram())
            endpoints[name] = Counter(count - before[0], failures - before[1], hist=since)
    total = Counter()
    for c in endpoints.values():
        total.merge(c)
    errors: dict[str, dict[str, int]] = {}
    for (name, kind), n in end.errors.items():
        grown = n - start.errors.get((name, kind), 0)
        if grown > 0:
            errors.setdefault(name, {})[kind] = grown
    # Visits the open model could not start (--max-users): the load asked for was not delivered,
    # a limit of the generator's settings, not the target's.
    saturated = saturated or bool(errors.pop(VISITS, None))
    breaches = ["failures"] if total.failures else []
    for slo in slos:
        counter = total if slo.endpoint is None else endpoints.get(slo.endpoint, Counter())
        if counter.count and not slo.holds(measure(counter, seconds, slo.metric)):
            breaches.append(slo.text)
    mean = statistics.fmean(per_second) if per_second else 0.0
    spread = statistics.pstdev(per_second) / mean if mean and len(per_second) > 1 else 0.0
    rows = []
    for name, c in sorted(endpoints.items()):
        broke = [slo.text for slo in slos if slo.endpoint in (None, name) and slo.metric.startswith("p")
                 and not slo.holds(measure(c, seconds, slo.metric))]
        rows.append({"name": name, "requests": c.count, "failures": c.failures,
                     "p95_ms": round(c.hist.percentile(0.95) / 1000, 3), "slow": broke, "errors": errors.get(name, {}),
                     "samples": {kind: samples.get((name, kind), "") for kind in errors.get(name, {})}})
    return Step(k=k, users=users, start_t=round(start.t, 3), end_t=round(end.t, 3), requests=total.count,
                failures=total.failures, rps=round(total.count / seconds, 3),
                p50_ms=round(total.hist.percentile(0.50) / 1000, 3), p95_ms=round(total.hist.percentile(0.95) / 1000, 3),
                p99_ms=round(total.hist.percentile(0.99) / 1000, 3), spread=round(spread, 3), saturated=saturated,
                breaches=breaches, endpoints=rows)


@dataclass
class Search:
    """Which load to hold next. Climb from `start` by `step` until something breaks (or the
    generator saturates, or `top` is reached), then bisect between the last good and the first
    bad load down to `resolution`."""

    start: int
    step: int
    top: int
    resolution: int
    steps: list[Step] = field(default_factory=list)
    stopped: str | None = None  # why the search ended early: saturated, budget, interrupted

    def next_load(self) -> int | None:
        """The next load to hold, or None when the search is done."""
        if self.stopped:
            return None
        if not self.steps:
            return self.start
        last = self.steps[-1]
        if last.saturated:
            self.stopped = "saturated"
            return None
        good, bad = self.bracket()
        if bad is None:
            if last.users >= self.top:
                return None
            return min(self.top, last.users + self.step)
        low = good if good is not None else 0
        if bad - low <= self.resolution:
            return None
        return (low + bad) // 2 if (low + bad) // 2 > low else None

    def bracket(self) -> tuple[int | None, int | None]:
        """The most load that broke nothing below the least load that broke something."""
        broken = [s.users for s in self.steps if s.breaches]
        bad = min(broken) if broken else None
        good = [s.users for s in self.steps if not s.breaches and (bad is None or s.users < bad)]
        return (max(good) if good else None), bad


def step_line(search: Search, step: Step, seconds_left: float, rate: bool) -> str:
    """The line a search prints when a step is measured: the step, and where the search stands."""
    unit = "/s" if rate else " users"
    verdict = "broke " + ", ".join(step.breaches) if step.breaches else "held"
    good, bad = search.bracket()
    so_far = f"most that held so far {good or 0}{unit}" + (f", first to break {bad}{unit}" if bad is not None else "")
    left = int(max(0.0, seconds_left))
    return (f"step {step.k}: {step.users}{unit}, {step.rps:.0f} req/s, p95 {step.p95_ms:.0f} ms, {step.failures} failures: "
            f"{verdict}; {so_far}; {left // 60}:{left % 60:02d} left of --max-time")


def answer(search: Search, slos: tuple[Threshold, ...], run_id: int, rate: bool) -> dict[str, Any]:
    """The answer a person (and CI) reads, from the steps measured so far. A step where the
    generator saturated says nothing about the target: its figures are left out (the caveat says so)."""
    steps = sorted((s for s in search.steps if not s.saturated), key=lambda s: s.users)
    unit = "arrivals_per_s" if rate else "users"

    def most_within(criterion: str) -> dict[str, Any]:
        first_bad = min((s.users for s in steps if criterion in s.breaches), default=None)
        ok = [s for s in steps if criterion not in s.breaches and (first_bad is None or s.users < first_bad)]
        best = max(ok, key=lambda s: s.users) if ok else None
        return {
            unit: best.users if best else None,  # None: no step measured the target (the generator saturated first)
            "rps": best.rps if best else 0.0,
            # Sure to within the gap to the first breaking load, or only a lower bound.
            "lower_bound": first_bad is None,
            "first_breach_at": first_bad,
            "uncertainty": (first_bad - best.users) if best and first_bad is not None else None,
        }

    without = most_within("failures")
    within = {slo.text: most_within(slo.text) for slo in slos}
    knee_users, knee_rps = knee(steps)
    return {
        "run_id": run_id,
        "model": "open" if rate else "closed",
        "max_users_without_failures": without[unit],
        "rps_without_failures": without["rps"],
        "max_users_within_slo": {text: w[unit] for text, w in within.items()},
        "knee_users": knee_users,
        "knee_rps": knee_rps,
        "first_breaches": first_breaches(steps),
        "certainty": {"without_failures": without, **{f"within {t}": w for t, w in within.items()},
                      "spread": max((s.spread for s in steps), default=0.0)},
        "stopped": search.stopped,
        "caveat": _caveat(search, steps),
        "steps": [s.row() for s in search.steps],
    }


def knee(steps: list[Step]) -> tuple[int | None, float | None]:
    """Where the users' throughput line meets the ceiling (see the module's docstring); None
    when throughput was still on its line at the heaviest step."""
    usable = [s for s in steps if s.users > 0 and s.rps > 0 and not s.saturated]
    if len(usable) < 2:
        return None, None
    # The users' line is the steepest any step measured: a step's ramp or a noisy second only
    # ever lowers req/s per user, so the first step alone can read low (and the knee high).
    slope = max(s.rps / s.users for s in usable)
    ceiling = max(s.rps for s in usable)
    heaviest = max(usable, key=lambda s: s.users)
    if heaviest.rps >= PLATEAU * slope * heaviest.users:
        return None, None  # still growing with users: the knee is beyond what was tried
    previous = max((s for s in usable if s.users < heaviest.users), key=lambda s: s.users)
    gain = (heaviest.rps - previous.rps) / (heaviest.users - previous.users)
    if heaviest.rps >= ceiling and gain >= GROWING * slope:
        return None, None  # the heaviest load still added throughput: no ceiling was measured yet
    return round(ceiling / slope), round(ceiling, 3)


def first_breaches(steps: list[Step]) -> list[dict[str, Any]]:
    """Endpoints in the order they broke: the load at which each first failed or went over a
    latency SLO, with its errors by kind and a sample of each."""
    found: dict[str, dict[str, Any]] = {}
    for s in sorted(steps, key=lambda s: s.users):
        for e in s.endpoints:
            if e["name"] in found or not (e["failures"] or e["slow"]):
                continue
            found[e["name"]] = {"endpoint": e["name"], "at": s.users, "failures": e["failures"], "p95_ms": e["p95_ms"],
                                "slo": e["slow"], "errors": e["errors"], "samples": e["samples"]}
    # At one load, the worse first: more failures, then the slower.
    return sorted(found.values(), key=lambda b: (b["at"], -b["failures"], -b["p95_ms"]))


def _caveat(search: Search, steps: list[Step]) -> str | None:
    if search.stopped == "saturated":
        at = next((s.users for s in search.steps if s.saturated), None)
        return (f"the load generator reached its own limit at {at} (its CPU, or --max-users dropping visits in the open "
                "model): the search stopped there and its figures are lower bounds on the target (use --processes, more "
                "machines, or a higher --max-users)")
    if search.stopped == "budget":
        return "the time budget (--max-time) ran out before the search finished: figures are as far as it got"
    if search.stopped == "interrupted":
        return "the search was stopped: figures are as far as it got"
    if steps and not any(s.breaches for s in steps):
        return f"nothing broke up to {max(s.users for s in steps)} (--max-users): every figure is a lower bound"
    return None
