"""The parent of a run: plans it, starts the worker processes, merges their statistics,
writes the database, shows progress, checks thresholds and decides how the run ended.

It never imports gevent: workers do that in processes of their own.
"""

from __future__ import annotations

import ipaddress
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import UserError
from . import messages
from .job import UserSettings, jobs
from .remote import ClusterSettings, Relayed, start_relay
from .lifeline import child_environment
from ..scenario.model import ScenarioSet
from .plan import MAX_ENDPOINTS, OTHER, PER_HOST, Plan, Target, compile_plan, map_origins, needed_variables, weighted_order
from .capacity import Search, Step, answer, step_line
from .pilot import Pilot, SearchPilot
from .shape import Shape, spawn
from .sink import Batch, Sink, read_control, snapshot, start_run
from .source import resolve
from .stats import INTERNAL, VISITS, WORKERS, Counter, RunStats, measure
from .thresholds import ErrorGuard, Threshold
from .validation import Verdict, judge, literal_tokens, probe

FLUSH_EVERY = 2.0  # seconds between database writes: a crash loses at most this much
HORIZON = 300  # seconds of per-second rows the parent keeps after writing them (console, error guard)
LATE = 3 * FLUSH_EVERY  # statistics waiting this long for the database are worth a word
SATURATED = 0.9  # a worker's CPU share above which its numbers understate the target
FILES_BESIDE_USERS = 64  # a worker's own descriptors: pipes, its interpreter, DNS
DEADLINE_MARGIN = 10.0  # seconds a worker waits past duration and stop timeout before halting itself


@dataclass(frozen=True)
class PlaySettings:
    source: str
    host: str | None
    users: int
    spawn_rate: float
    duration: float | None
    iterations: int | None = None
    host_map: tuple[str, ...] = ()
    processes: int = 1
    thresholds: tuple[Threshold, ...] = ()
    abort_on_threshold: bool = False
    abort_on_errors: ErrorGuard | None = ErrorGuard(0.9, 30.0)  # a target that fails nearly everything
    max_rps: float | None = None  # total requests a second, across every process
    label: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    user: UserSettings = field(default_factory=UserSettings)
    stop_timeout: float = 10.0
    validate: bool = True  # a validation replay of each scenario before the swarm
    # How many users (or arrivals a second) over time; None: ramp to `users` at `spawn_rate`.
    shape: Shape | None = None
    max_users: int | None = None  # open model: visits that would pass it are dropped
    capacity: CapacitySettings | None = None  # a breaking-point search instead of a fixed shape
    allow_recorded_origin: bool = False  # load may go to the origin the recording was made on
    cluster: ClusterSettings | None = None  # --master: the users run on worker hosts


@dataclass(frozen=True)
class CapacitySettings:
    slos: tuple[Threshold, ...]
    start: int  # users, or arrivals a second with an open model
    step: int
    hold: float  # seconds each load is held
    top: int  # the most load tried
    max_time: float  # seconds the whole search may take
    rate: bool = False  # open model: loads are arrivals a second


class View(Protocol):
    def update(self, stats: RunStats, elapsed: float, users: int) -> None: ...
    def warn(self, message: str) -> None: ...
    def note(self, message: str) -> None: ...
    def close(self) -> None: ...


@dataclass
class Outcome:
    run_id: int
    status: str
    summary: dict[str, Any]
    thresholds: list[dict[str, Any]]
    saturated: bool
    iterations: dict[str, int]
    answer: dict[str, Any] | None = None  # a capacity search's

    @property
    def exit_code(self) -> int:
        if self.status == "stopped":
            return 130
        if self.status == "failed" or any(not t["held"] for t in self.thresholds):
            return 1
        return 0


def prepare(engine: Engine, settings: PlaySettings) -> tuple[Plan, Any]:
    """Everything that can be wrong with the input, found before a run row exists."""
    source = resolve(engine, settings.source)
    origins = map_origins(source.scenario_set.origins, settings.host, settings.host_map)
    if not settings.allow_recorded_origin:
        _not_the_recorded_origin(origins)
    plan = compile_plan(source.scenario_set, origins, source.recorded)
    given = set(settings.user.variables) | (set(settings.user.data[0]) if settings.user.data else set())
    for scenario in plan.scenarios:
        recorded = set(scenario.recorded) if source.kind != "file" else set()
        missing = sorted(needed_variables(plan)[scenario.name] - given - recorded)
        if missing:
            names = ", ".join(missing)
            raise UserError(f"scenario {scenario.name!r} needs {names}: give --var NAME=VALUE or --data users.csv with a column for each")
    endpoints = {s.request.name for sc in plan.scenarios for s in sc.steps} | {r.name for sc in plan.scenarios for s in sc.steps for r in s.resources}
    for threshold in settings.thresholds:
        if threshold.endpoint is not None and threshold.endpoint not in endpoints:
            raise UserError(f"--threshold {threshold.text!r}: no endpoint named {threshold.endpoint!r} in the scenarios")
    _preflight(plan, settings)
    for target in plan.targets:
        _reachable(target, settings.user.timeout)
    return plan, source


def _not_the_recorded_origin(origins: dict[str, Target]) -> None:
    """Recordings are often made on production: load aimed back at the recorded origin needs
    saying so. Loopback is exempt (a site recorded and replayed on one's own machine)."""
    for recorded, target in origins.items():
        if target.origin == recorded.rstrip("/") and not _loopback(target.host):
            raise UserError(f"{target.origin} is where the recording was made (often production): "
                            "add --allow-recorded-origin to send load there")


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _preflight(plan: Plan, settings: PlaySettings) -> None:
    """Refuse a run this machine cannot hold: every connection is a file descriptor in its
    worker, and a local port towards its target. (Workers raise their soft limit to the hard.)"""
    per_user = len(plan.targets) * (PER_HOST if any(s.resources for sc in plan.scenarios for s in sc.steps) else 1)
    per_worker = -(-settings.users // settings.processes) * per_user + FILES_BESIDE_USERS
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and per_worker > hard:
        raise UserError(f"--users {settings.users} needs about {per_worker} open files in each of {settings.processes} worker "
                        f"process(es) ({per_user} connections a user), and the limit here is {hard}: raise it (ulimit -n) "
                        "or use more --processes")
    try:
        low, high = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    except (OSError, ValueError):
        return
    per_target = settings.users * (PER_HOST if per_user > len(plan.targets) else 1)
    if per_target > high - low + 1:
        raise UserError(f"--users {settings.users} needs about {per_target} connections to one target, and this machine has "
                        f"{high - low + 1} local ports ({low}-{high}): use fewer users per machine")


def _reachable(target: Target, timeout: float) -> None:
    try:
        socket.create_connection((target.host, target.port), timeout=min(timeout, 10.0)).close()
    except socket.gaierror as exc:
        raise UserError(f"cannot reach {target.origin}: host not found ({exc.strerror})") from None
    except OSError as exc:
        raise UserError(f"cannot reach {target.origin}: {exc.strerror or exc}") from None


def play(engine: Engine, settings: PlaySettings, view: View) -> Outcome:
    plan, source = prepare(engine, settings)
    if plan.skipped:
        hosts = sorted({url.split(" ", 1)[1].split("/", 3)[2] for url in plan.skipped})
        view.warn(f"{len(plan.skipped)} recorded requests go to hosts not named by --host/--host-map and are not sent: {', '.join(hosts)}")
    if plan.folded:
        view.warn(f"{plan.folded} sub-resource URLs are counted together as '{OTHER}': a run keeps {MAX_ENDPOINTS} endpoints at most")
    planned = {s.name for s in plan.scenarios}
    for scenario in source.scenario_set.scenarios:
        tokens = [t for step in scenario.steps for t in literal_tokens(step)] if scenario.name in planned else []
        if tokens:
            more = f" and {len(tokens) - 1} more" if len(tokens) > 1 else ""
            view.warn(f"scenario {scenario.name!r} sends a token-like value as recorded: {tokens[0]}{more}")
    verdicts: list[Verdict] = []
    if settings.validate:
        plan, verdicts = _validated(plan, source.scenario_set, settings.user, view)
    relayed = None
    if settings.cluster is not None:
        # The worker hosts join before the run exists: a run that cannot start writes nothing.
        relayed = start_relay(settings.cluster, view)
        settings = replace(settings, processes=relayed.processes)
    started = time.time()
    run_id = start_run(
        engine,
        kind="play" if settings.capacity is None else "capacity",
        set_id=source.set_id,
        source=settings.source,
        host=", ".join(t.origin for t in plan.targets),
        users=settings.users,
        spawn_rate=settings.spawn_rate,
        duration=settings.duration,
        processes=settings.processes,
        label=settings.label,
        tags=dict(settings.tags),
        config={**_config(settings, plan), "validation": [asdict(v) for v in verdicts],
                "workers": None if relayed is None else [{"host": h, "processes": n} for h, n in relayed.members]},
    )
    return _Run(engine, settings, plan, run_id, started, view, relayed).execute()


def _validated(plan: Plan, scenario_set: ScenarioSet, user: UserSettings, view: View) -> tuple[Plan, list[Verdict]]:
    """One pass of each scenario by one user first; a scenario that diverges from its
    recording is not swarmed, and the reason is said."""
    verdicts = judge(scenario_set, probe(plan, user), {s.name: len(s.steps) for s in plan.scenarios})
    failed = {v.scenario: v for v in verdicts if not v.passed}
    for v in failed.values():
        view.warn(f"scenario {v.scenario!r} failed validation and is not played: {v.divergence}"
                  + (f"; likely cause: {v.suspect}" if v.suspect else ""))
    kept = tuple(s for s in plan.scenarios if s.name not in failed)
    if not kept:
        reasons = "; ".join(f"{v.scenario!r}: {v.divergence}" + (f" ({v.suspect})" if v.suspect else "") for v in failed.values())
        raise UserError(f"every scenario failed validation, nothing was swarmed: {reasons} (see `replayswarm validate`; --no-validate skips it)")
    if failed:
        plan = replace(plan, scenarios=kept, order=weighted_order([s.weight for s in kept]))
    return plan, verdicts


def _config(settings: PlaySettings, plan: Plan) -> dict[str, Any]:
    user = settings.user
    return {
        "source": settings.source, "host": settings.host, "host_map": list(settings.host_map),
        "users": settings.users, "spawn_rate": settings.spawn_rate, "duration": settings.duration,
        "iterations": settings.iterations, "processes": settings.processes,
        "thresholds": [t.text for t in settings.thresholds], "seed": user.seed, "think_scale": user.think_scale,
        "think_range": list(user.think_range) if user.think_range else None, "timeout": user.timeout,
        "stop_timeout": settings.stop_timeout, "variables": sorted(user.variables), "data_rows": len(user.data),
        "insecure": user.insecure, "max_rps": settings.max_rps,
        "abort_on_errors": None if settings.abort_on_errors is None else [settings.abort_on_errors.ratio, settings.abort_on_errors.seconds],
        "scenarios": [{"name": s.name, "weight": s.weight, "steps": len(s.steps)} for s in plan.scenarios],
        "skipped": list(plan.skipped),
        "shape": None if settings.shape is None else {"rate": settings.shape.rate, "stages": [[s.seconds, s.target] for s in settings.shape.stages]},
        "capacity": None if settings.capacity is None else {
            **{k: v for k, v in asdict(settings.capacity).items() if k != "slos"}, "slos": [t.text for t in settings.capacity.slos]},
    }


class _Run:
    def __init__(self, engine: Engine, settings: PlaySettings, plan: Plan, run_id: int, started: float, view: View,
                 relayed: Relayed | None = None) -> None:
        self.engine = engine
        self.relayed = relayed  # a distributed run: the relay is its one worker, standing for every worker host
        self.settings = settings
        self.plan = plan
        self.run_id = run_id
        self.started = started
        self.view = view
        self.stats = RunStats(started)
        self.users: dict[int, int] = {}
        self.hot: dict[int, int] = {}  # worker → consecutive reports above the CPU limit
        self.saturated = False
        self.stop_reason: str | None = None  # completed | stopped | failed
        self.halt = False
        self.failures: list[str] = []
        self.sink = Sink(engine, run_id)
        self.behind = False  # told that the database is not taking statistics
        self.pilot: Pilot = Pilot(settings.shape or spawn(settings.users, settings.spawn_rate), settings.spawn_rate)
        self.answer: dict[str, Any] | None = None
        c = settings.capacity
        if c is not None:
            search = Search(c.start, c.step, c.top, resolution=max(1, c.step // 4))
            self.pilot = SearchPilot(search, c.slos, c.hold, settings.spawn_rate, c.rate, c.max_time, self._stepped)
        self.commands: list[Any] = []  # each worker's stdin: where its share of the target goes
        self.shares: list[float] = []
        self.controlled: int | None = None  # the last user count a control asked for

    def execute(self) -> Outcome:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        workers: list[subprocess.Popen] = []
        try:
            workers, readers = self._start_workers()
            self._loop(workers, readers)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for proc in workers:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
            for stdin in self.commands:
                try:
                    stdin.close()
                except OSError:
                    pass
            self.view.close()
        return self._finish()

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self.stop_reason == "stopped" and signum == signal.SIGINT:
            self.halt = True  # a second Ctrl-C: stop at once
        self.stop_reason = "stopped"
        if isinstance(self.pilot, SearchPilot):
            self.pilot.interrupt()  # every finished step, and the answer so far, are kept

    def _start_workers(self) -> tuple[list[subprocess.Popen], dict[int, tuple[int, messages.Reader]]]:
        workers = []
        readers: dict[int, tuple[int, messages.Reader]] = {}
        duration = self.settings.duration
        planned = jobs(self.plan, self.settings.user, self.settings.processes, open_model=self.pilot.rate,
                       iterations=self.settings.iterations, max_users=self.settings.max_users, max_rps=self.settings.max_rps,
                       stop_timeout=self.settings.stop_timeout,
                       deadline=None if duration is None else duration + self.settings.stop_timeout + DEADLINE_MARGIN)
        if self.relayed is not None:
            r = self.relayed
            assert r.process.stdin is not None
            messages.send(r.process.stdin.fileno(), ("jobs", planned))
            self.commands.append(r.process.stdin)
            return [r.process], {r.fd: (-1, r.reader)}
        for job in planned:
            read_fd, write_fd = os.pipe()
            proc = subprocess.Popen(
                [sys.executable, "-m", "replayswarm.play.worker", str(write_fd)],
                stdin=subprocess.PIPE,
                pass_fds=[write_fd],
                start_new_session=True,  # Ctrl-C reaches the parent only; it tells the workers
                env=child_environment(),
            )
            os.close(write_fd)
            assert proc.stdin is not None
            # Its stdin stays open: the job, then its share of the target as it changes.
            messages.send(proc.stdin.fileno(), job)
            self.commands.append(proc.stdin)
            workers.append(proc)
            readers[read_fd] = (job.worker, messages.Reader(read_fd))
        return workers, readers

    def _loop(self, workers: Sequence[subprocess.Popen], readers: dict[int, tuple[int, messages.Reader]]) -> None:
        selector = selectors.DefaultSelector()
        for fd in readers:
            selector.register(fd, selectors.EVENT_READ)
        deadline = self.started + self.settings.duration if self.settings.duration else None
        next_flush = time.time() + FLUSH_EVERY
        next_control = time.time() + 1.0
        told: str | None = None
        told_at = 0.0
        open_fds = set(readers)
        while open_fds:
            for key, _ in selector.select(timeout=0.2):
                worker, reader = readers[key.fd]
                for message in reader.read():
                    self._handle(message)
                if reader.closed:
                    selector.unregister(key.fd)
                    os.close(key.fd)
                    open_fds.discard(key.fd)
            now = time.time()
            if deadline is not None and now >= deadline and self.stop_reason is None:
                self.stop_reason = "completed"
            if now >= next_control:
                next_control = now + 1.0
                self._read_control(now)
            if self.stop_reason is None:
                self._aim(now)
            if isinstance(self.pilot, SearchPilot) and self.stop_reason is None:
                if self.pilot.tick(now - self.started, self.stats, any(n >= 3 for n in self.hot.values())):
                    self.stop_reason = "completed"
            if self.stop_reason and told is None:
                told, told_at = "stop", now
                _signal_all(workers, signal.SIGUSR1)
            if self.halt and told != "halt":
                told = "halt"
                _signal_all(workers, signal.SIGUSR2)
            if told and now > told_at + self.settings.stop_timeout + 15:
                self.failures.append("a worker did not stop in time and was killed")
                _signal_all(workers, signal.SIGKILL)
            if now >= next_flush:
                next_flush = now + FLUSH_EVERY
                self.sink.submit(snapshot(self.stats, self.run_id, self._totals(now)))
                self.stats.forget(int(now) - HORIZON)
                lag = self.sink.lag()
                if lag > LATE and not self.behind:
                    self.view.warn(f"the database has taken no statistics for {lag:.0f} s (locked by another process?): "
                                   "they wait in memory and will catch up; the virtual users go on")
                self.behind = lag > LATE
                self.view.update(self.stats, now - self.started, sum(self.users.values()))
                if self.settings.abort_on_threshold and self.stop_reason is None and self._violations(now):
                    self.view.warn("a threshold failed: stopping the run (--abort-on-threshold)")
                    self.stop_reason = "failed"
                guard = self.settings.abort_on_errors
                if guard is not None and self.stop_reason is None and self._failing(now, guard):
                    reason = f"{guard.ratio:.0%} or more of requests failed for {guard.seconds:g} s: stopping the run (--abort-on-errors)"
                    self.view.warn(reason)
                    self.failures.append(reason)
                    self.stop_reason = "failed"
        for proc in workers:
            if proc.wait() not in (0, -signal.SIGKILL) and self.stop_reason != "stopped":
                self.failures.append(f"a worker exited with {proc.returncode}")

    def _aim(self, now: float) -> None:
        """Hand each worker its share of what the load shape (or a control) asks for now."""
        target = self.pilot.target(now - self.started)
        n = len(self.commands)
        if self.pilot.rate:
            shares = [target / n] * n
        else:
            users = round(target)
            shares = [float(users // n + (1 if w < users % n else 0)) for w in range(n)]
        self.stats.target(round(target), now)
        if shares == self.shares:
            return
        self.shares = shares
        for stdin, share in zip(self.commands, shares):
            try:
                messages.send(stdin.fileno(), ("rate", share) if self.pilot.rate else ("users", int(share)))
            except OSError:
                pass  # that worker has ended: its pipe is read for what it sent

    def _stepped(self, step: Step) -> None:
        """A capacity step is measured: store it, and say where the search is."""
        self.sink.submit(Batch(steps={step.k: step.row()}))
        pilot = self.pilot
        assert isinstance(pilot, SearchPilot)
        self.view.note(step_line(pilot.search, step, pilot.budget - (time.time() - self.started), pilot.rate))

    def _read_control(self, now: float) -> None:
        """A new user count or a stop, asked for by `replayswarm control` or the UI."""
        try:
            users, stop = read_control(self.engine, self.run_id)
        except SQLAlchemyError:
            return  # a busy database: asked again in a second
        if stop and self.stop_reason is None:
            self.view.warn("stop requested (replayswarm control): stopping the run")
            self.stop_reason = "stopped"
        if users is not None and users != self.controlled:
            self.controlled = users
            self.view.warn(f"{users} users requested (replayswarm control)")
            self.pilot.steer(float(users), now - self.started)

    def _failing(self, now: float, guard: ErrorGuard) -> bool:
        """Failures stayed at or above the guard's ratio over its whole window."""
        if now - self.started < guard.seconds:
            return False
        window = [s for t, s in self.stats.seconds.items() if now - guard.seconds <= t < now]
        return guard.tripped(sum(s.requests for s in window), sum(s.failures for s in window))

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind, worker = message[0], message[1]
        if kind == "delta":
            delta, state = message[2], message[3]
            self.stats.merge(worker, delta)
            self.users[worker] = state["users"]
            self.hot[worker] = self.hot.get(worker, 0) + 1 if state["cpu"] > SATURATED else 0
            if self.hot[worker] >= 3 and not self.saturated:
                self.saturated = True
                self.view.warn(f"worker {worker} is using over {SATURATED:.0%} of a CPU: the numbers understate what the target can do (use --processes)")
        elif kind == "failed":
            self.failures.append(f"worker {worker}: {message[2]}")
        elif kind == "note":
            self.view.note(message[1])
        elif kind == "warn":
            self.view.warn(message[1])
        elif kind == "lost":
            host = message[1]
            self.stats.note(WORKERS, "lost", host)
            self.view.warn(f"worker host {host} stopped answering: what it reported is kept, the other workers take over its users")

    def _totals(self, now: float) -> dict[str, Any]:
        total = self.stats.total()
        duration = max(0.001, now - self.started)
        return {
            "requests": total.count,
            "failures": total.failures,
            "rps": total.count / duration,
            "p50_ms": total.hist.percentile(0.50) / 1000.0,
            "p95_ms": total.hist.percentile(0.95) / 1000.0,
            "p99_ms": total.hist.percentile(0.99) / 1000.0,
            "saturated": self.saturated,
            "iterations": dict(self.stats.iterations),
        }

    def _violations(self, now: float) -> list[dict[str, Any]]:
        return [t for t in self._check(now) if not t["held"]]

    def _check(self, now: float) -> list[dict[str, Any]]:
        duration = max(0.001, now - self.started)
        results = []
        for threshold in self.settings.thresholds:
            counter = self.stats.total() if threshold.endpoint is None else self.stats.endpoints.get(threshold.endpoint, Counter())
            value = measure(counter, duration, threshold.metric)
            results.append({"threshold": threshold.text, "value": round(value, 3), "held": threshold.holds(value)})
        return results

    def _finish(self) -> Outcome:
        ended = time.time()
        status = self.stop_reason or "completed"
        internal = sum(n for (_, kind), (n, _) in self.stats.errors.items() if kind == INTERNAL)
        if internal:
            self.failures.append(f"{internal} requests failed inside replayswarm (internal error, see `replayswarm run {self.run_id}`)")
        if self.failures and status == "completed":
            status = "failed"
        for failure in self.failures:
            self.view.warn(failure)
        thresholds = self._check(ended)
        totals = {**self._totals(ended), "thresholds": thresholds}
        if isinstance(self.pilot, SearchPilot):
            c = self.settings.capacity
            assert c is not None
            self.answer = totals["answer"] = answer(self.pilot.search, c.slos, self.run_id, c.rate)
        final = snapshot(self.stats, self.run_id, totals)
        final.status = status
        if not self.sink.close(final):
            why = f": {self.sink.failure}" if self.sink.failure else " (it stayed busy)"
            self.view.warn(f"could not store the end of run {self.run_id} in the database{why}")
            status = "failed"
        elif self.sink.longest_lag > LATE:
            self.view.warn(f"statistics reached the database up to {self.sink.longest_lag:.0f} s late (it was busy); every request is stored")
        summary = self.stats.summary(max(0.001, ended - self.started))
        dropped = self.stats.errors.get((VISITS, "dropped"))
        if dropped:
            summary["dropped_visits"] = dropped[0]
            self.view.warn(f"{dropped[0]} visits were due but not started: --max-users {self.settings.max_users} "
                           "users were busy (counted as dropped; the load asked for was not delivered)")
        return Outcome(self.run_id, status, summary, thresholds, self.saturated, dict(self.stats.iterations), self.answer)


def _signal_all(workers: Sequence[subprocess.Popen], sig: int) -> None:
    for proc in workers:
        if proc.poll() is None:
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass
