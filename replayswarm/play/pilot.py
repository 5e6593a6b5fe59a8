"""What load a run asks for at each moment: its shape, bent by live control. Pure.

The runner asks `target(t)` every tick (t: seconds since the run started) and hands each worker
its share. A control (`replayswarm control`, or the UI) sets a new user count while the run goes:
from then on the pilot ramps there at the spawn rate, as Locust's UI does, and holds it.
"""

from __future__ import annotations

from collections.abc import Callable

from .capacity import SETTLE, UNSTEADY, Mark, Search, Step, mark, measure_step
from .shape import Shape
from .stats import RunStats
from .thresholds import Threshold


class Pilot:
    def __init__(self, shape: Shape, spawn_rate: float) -> None:
        self.shape = shape
        self.spawn_rate = spawn_rate
        self.manual: tuple[float, float, float] | None = None  # (from, to, since t)
        self.last = 0.0

    @property
    def rate(self) -> bool:
        """Targets are arrivals a second (open model)."""
        return self.shape.rate

    def target(self, t: float) -> float:
        if self.manual is None:
            value = self.shape.at(t)
        else:
            start, goal, since = self.manual
            step = self.spawn_rate * (t - since)
            value = min(goal, start + step) if goal >= start else max(goal, start - step)
        self.last = value
        return value

    def steer(self, goal: float, t: float) -> None:
        """A new target from a control: ramp from where the run is now."""
        self.manual = (self.last, goal, t)


class SearchPilot(Pilot):
    """A capacity search's pilot: holds each load the search asks for, measures its steady part,
    and moves on. `tick` is called every loop of the runner with the run's statistics."""

    def __init__(self, search: Search, slos: tuple[Threshold, ...], hold: float, spawn_rate: float, rate: bool,
                 budget: float, on_step: Callable[[Step], None]) -> None:
        super().__init__(Shape((), rate=rate), spawn_rate)
        self.search = search
        self.slos = slos
        self.hold = hold
        self.budget = budget
        self.on_step = on_step
        self.load = search.next_load()
        self.previous = 0.0
        self.since = 0.0  # when the current load was asked for
        self.settled: Mark | None = None
        self.extended = False
        self.hot = False

    def target(self, t: float) -> float:
        if self.load is None:
            return self.last
        if self.rate:
            value = float(self.load)
        else:  # ramp at the spawn rate, as a person adding users would
            step = self.spawn_rate * (t - self.since)
            value = min(self.load, self.previous + step) if self.load >= self.previous else max(self.load, self.previous - step)
        self.last = value
        return value

    def tick(self, t: float, stats: RunStats, saturated: bool) -> bool:
        """Advance the search; True when it is done."""
        if self.load is None:
            return True
        if t > self.budget:
            self.search.stopped = "budget"
            return True
        ramp = 0.0 if self.rate else abs(self.load - self.previous) / self.spawn_rate
        steady_from = self.since + ramp + max(2.0, SETTLE * self.hold)
        if self.settled is None:
            if t >= steady_from:
                self.settled = mark(t, stats.endpoints, stats.errors)
                self.hot = saturated
            return False
        self.hot = self.hot or saturated
        if t < self.settled.t + self.hold * (1 - SETTLE):
            return False
        end = mark(t, stats.endpoints, stats.errors)
        # Whole seconds inside the steady part, leaving out the last two: workers report every
        # second, so the newest seconds may not be complete yet.
        first, last = int(stats.started + self.settled.t) + 1, int(stats.started + t) - 1
        per_second = [stats.seconds[s].requests for s in range(first, last) if s in stats.seconds]
        samples = {key: entry[1] for key, entry in stats.errors.items()}
        step = measure_step(len(self.search.steps) + 1, self.load, self.settled, end, per_second, self.slos, self.hot, samples)
        if step.spread > UNSTEADY and not self.extended and not step.breaches:
            self.extended = True  # not settled yet: hold it once more
            self.settled = end
            return False
        self.search.steps.append(step)
        self.on_step(step)
        self.previous, self.load = float(self.load), self.search.next_load()
        self.since, self.settled, self.extended = t, None, False
        return self.load is None

    def interrupt(self) -> None:
        if self.load is not None and self.search.stopped is None:
            self.search.stopped = "interrupted"
