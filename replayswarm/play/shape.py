"""Load shapes: how many virtual users (closed model) or new visits a second (open model) a run
asks for at each moment. Pure: parsed from options, read by the runner every tick.

Stages are k6's: `30s:50,2m:50,30s:200` ramps linearly from 0 to 50 users over 30 s, holds 50
for 2 min, then ramps to 200 over 30 s. The same grammar with rates (`1m:10/s,5m:50/s`) shapes
arrivals. `--users N --spawn-rate R` is the one stage `N/R s:N`, then a hold; `--step 50/1m
--max-users 500` adds 50 users every minute (each step ramped at the spawn rate) up to 500.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import UserError

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m(?!s))?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|min)\s*$")


@dataclass(frozen=True)
class Stage:
    seconds: float
    target: float  # users, or arrivals a second


@dataclass(frozen=True)
class Shape:
    """Stages from 0; after the last one its target holds (until the run's duration, or a stop)."""

    stages: tuple[Stage, ...]
    rate: bool = False  # targets are arrivals a second (open model), not users

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stages)

    @property
    def peak(self) -> float:
        return max((s.target for s in self.stages), default=0.0)

    def at(self, t: float) -> float:
        """The target `t` seconds into the run: linear within a stage."""
        start = 0.0
        for stage in self.stages:
            if t < stage.seconds:
                return start + (stage.target - start) * (t / stage.seconds)
            t -= stage.seconds
            start = stage.target
        return start


def duration(text: str, option: str) -> float:
    """`90`, `90s`, `5m`, `1h30m` → seconds."""
    m = _DURATION.match(text)
    if not text.strip() or m is None:
        raise UserError(f"{option} {text!r} is not a duration (like 90s, 5m, 1h30m)")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in m.groups())
    return hours * 3600 + minutes * 60 + seconds


def rate(text: str, option: str) -> float:
    """`20/s`, `600/m` → arrivals a second."""
    m = _RATE.match(text)
    if m is None:
        raise UserError(f"{option} {text!r} is not a rate (like 20/s or 600/m)")
    per = float(m.group(1))
    return per if m.group(2) == "s" else per / 60.0


def parse_stages(text: str) -> Shape:
    """`30s:50,2m:50` (users) or `1m:10/s,5m:50/s` (arrivals a second), as k6's stages."""
    stages = []
    kinds = set()
    for part in text.split(","):
        length, sep, target = part.partition(":")
        if not sep or not target.strip():
            raise UserError(f"--stages {text!r}: each stage is DURATION:TARGET, like 30s:50 or 1m:10/s")
        seconds = duration(length, "--stages")
        if "/" in target:
            kinds.add("rate")
            value = rate(target, "--stages")
        else:
            kinds.add("users")
            if not target.strip().isdigit():
                raise UserError(f"--stages {text!r}: {target.strip()!r} is not a number of users")
            value = float(int(target))
        if seconds <= 0 and value != (stages[-1].target if stages else 0.0):
            raise UserError(f"--stages {text!r}: a stage that changes the target needs a duration")
        stages.append(Stage(seconds, value))
    if len(kinds) > 1:
        raise UserError(f"--stages {text!r}: stages are all users or all rates (N/s), not both")
    if not any(s.target > 0 for s in stages):
        raise UserError(f"--stages {text!r}: no stage asks for any load")
    return Shape(tuple(stages), rate="rate" in kinds)


def spawn(users: int, spawn_rate: float) -> Shape:
    """`--users N --spawn-rate R`: ramp to N at R users a second, then hold."""
    return Shape((Stage(users / spawn_rate, float(users)),))


def steps(text: str, max_users: int | None, spawn_rate: float) -> Shape:
    """`--step 50/1m --max-users 500`: 50 more users every minute, each step ramped at the
    spawn rate, up to the maximum (held from then on)."""
    size, sep, every = text.partition("/")
    if not sep or not size.strip().isdigit() or int(size) < 1:
        raise UserError(f"--step {text!r} is not USERS/DURATION (like 50/1m)")
    period = duration(every, "--step")
    if period <= 0:
        raise UserError(f"--step {text!r}: the duration must be longer than 0s")
    if max_users is None:
        raise UserError("--step needs --max-users (where the steps stop)")
    n, stages = int(size), []
    ramp = min(period, n / spawn_rate)
    for k in range(1, math.ceil(max_users / n) + 1):
        users = float(min(k * n, max_users))
        stages += [Stage(ramp, users), Stage(period - ramp, users)]
    return Shape(tuple(stages))
