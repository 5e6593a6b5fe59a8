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


def share(total: int, n: int, w: int) -> int:
    """Worker w's part of `total` split n ways, the remainder going to the first ones."""
    return total // n + (1 if w < total % n else 0)


def jobs(plan: Plan, settings: UserSettings, n: int, *, open_model: bool, iterations: int | None, max_users: int | None,
         max_rps: float | None, stop_timeout: float, deadline: float | None) -> list[Job]:
    """The jobs of a run's n worker processes, wherever they run: users numbered apart (worker w
    numbers w, w + n, ...: a --data row goes to one user only), each a share of the totals."""
    return [
        Job(worker=w, plan=plan, settings=settings, first=w, stride=n, open_model=open_model,
            iterations=None if iterations is None else share(iterations, n, w),
            max_users=None if max_users is None else share(max_users, n, w),
            stop_timeout=stop_timeout, deadline=deadline, max_rps=None if max_rps is None else max_rps / n)
        for w in range(n)
    ]
