"""What load a run asks for at each moment: its shape, bent by live control. Pure.

The runner asks `target(t)` every tick (t: seconds since the run started) and hands each worker
its share. A control (`replayswarm control`, or the UI) sets a new user count while the run goes:
from then on the pilot ramps there at the spawn rate, as Locust's UI does, and holds it.
"""

from __future__ import annotations

from .shape import Shape


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
