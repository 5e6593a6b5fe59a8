"""What the parent hands a worker. Plain data: importing it imports no gevent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .plan import Plan


@dataclass(frozen=True)
class UserSettings:
    seed: int = 0
    think_scale: float = 1.0
    think_range: tuple[float, float] | None = None  # --think MIN-MAX, like Locust's between()
    timeout: float = 30.0
    # --max-body: the most of a response body a user holds, for the extractions that read it.
    max_body: int = 1 << 20
    insecure: bool = False
    variables: Mapping[str, str] = field(default_factory=dict)  # --var
    data: Sequence[Mapping[str, str]] = ()  # --data rows, one per virtual user
    use_recorded: bool = False  # fall back to the values recorded (scenario sets from the DB)


@dataclass(frozen=True)
class Job:
    worker: int
    plan: Plan
    settings: UserSettings
    # Its users are numbered first, first + stride, ... (a user's number picks its --data row).
    # How many run at a time, or how many visits start a second, the parent says as it goes.
    first: int
    stride: int
    open_model: bool  # visits arrive at a rate, each a new user for one iteration
    iterations: int | None  # this worker's share of --iterations
    stop_timeout: float
    # Seconds after its start when a worker halts by itself (the run's duration, its stop
    # timeout and a margin), even if its parent never says stop.
    deadline: float | None = None
    max_rps: float | None = None  # this worker's share of --max-rps
    max_users: int | None = None  # open model: this worker's share of --max-users
