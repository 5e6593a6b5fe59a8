"""A worker process: monkey-patches first, then runs its share of the virtual users and sends
statistics deltas to the parent every second. Started by the runner as
`python -m replayswarm.play.worker FD`; its stdin carries the job, then the parent's commands
(length-prefixed pickles): ("users", N) in the closed model, ("rate", R) in the open one.
Its stdin closing means the parent is gone."""

from gevent import monkey

monkey.patch_all()

import heapq  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.os  # noqa: E402
import gevent.socket  # noqa: E402

from . import messages  # noqa: E402
from .job import Job  # noqa: E402
from .lifeline import die_with_parent  # noqa: E402
from .stats import VISITS, Stats  # noqa: E402
from .user import Swarm, VirtualUser  # noqa: E402

REPORT_EVERY = 1.0
TICK = 0.2  # seconds over which a change of the user count is spread


class Crew:
    """The worker's virtual users, kept at the count the parent asks for (closed model) or
    started at the rate it asks for (open model)."""

    def __init__(self, job: Job, swarm: Swarm) -> None:
        self.job = job
        self.swarm = swarm
        self.users: dict[int, tuple[gevent.Greenlet, VirtualUser]] = {}
        self.free: list[int] = []  # numbers of users that left: reused, lowest first
        self.started: list[int] = []  # users in the order they started; some may have left since
        self.retiring = 0  # retired users still finishing a request
        self.issued = 0
        self.target = 0
        self.rate = 0.0
        self.changed = gevent.event.Event()

    def command(self, message: tuple[Any, ...]) -> None:
        if message[0] == "users":
            self.target = int(message[1])
        elif message[0] == "rate":
            self.rate = float(message[1])
        self.changed.set()

    def number(self) -> int:
        if self.free:
            return heapq.heappop(self.free)
        self.issued += 1
        return self.job.first + self.job.stride * (self.issued - 1)

    def start(self, run: str, due: float | None = None) -> None:
        index = self.number()
        user = VirtualUser(self.swarm, index)
        user.due = due
        greenlet = gevent.spawn(getattr(user, run))
        self.users[index] = (greenlet, user)
        self.started.append(index)
        greenlet.link(lambda _: self.left(index))

    def left(self, index: int) -> None:
        entry = self.users.pop(index, None)
        if entry is not None and entry[1].retired:
            self.retiring -= 1
        heapq.heappush(self.free, index)  # only now: one data row is never used by two users at once

    def steer(self) -> None:
        """Closed model: start or retire users until as many run as asked, a step spread over a tick."""
        swarm = self.swarm
        while not swarm.stopping.is_set():
            running = len(self.users) - self.retiring
            if self.target > running and swarm.iterations_left != 0:
                self.start("run")
                gevent.sleep(TICK / (self.target - running))
            elif self.target < running:
                # The newest go first; one in the middle of a request finishes it, then leaves.
                while True:
                    entry = self.users.get(self.started.pop())
                    if entry is not None and not entry[1].retired:
                        break
                greenlet, user = entry
                user.retired = True
                self.retiring += 1
                if not user.busy:
                    greenlet.kill(block=False)
            else:
                self.changed.wait(TICK)
                self.changed.clear()

    def arrive(self) -> None:
        """Open model: a new visit every 1/rate seconds, due then whether or not the generator
        keeps up; one that would pass --max-users is dropped, and counted."""
        swarm = self.swarm
        due = time.perf_counter()
        while not swarm.stopping.is_set():
            if self.rate <= 0:
                self.changed.wait(TICK)
                self.changed.clear()
                due = time.perf_counter()
                continue
            due += 1.0 / self.rate
            delay = due - time.perf_counter()
            if delay > 0 and swarm.stopping.wait(delay):
                return
            if not swarm.take_iteration():
                return
            if self.job.max_users is not None and len(self.users) >= self.job.max_users:
                swarm.stats.error(VISITS, "dropped", f"a visit due when {len(self.users)} users were busy (--max-users)")
                continue
            self.start("visit", due)


def run(job: Job, out: int, commands: messages.Reader, early: list[tuple[Any, ...]]) -> None:
    stats = Stats()
    swarm = Swarm(job.plan, job.settings, stats, job.iterations, job.max_rps, open_model=job.open_model)
    crew = Crew(job, swarm)
    halted = gevent.event.Event()

    def stop() -> None:
        swarm.stopping.set()

    def halt() -> None:
        swarm.stopping.set()
        halted.set()

    gevent.signal_handler(signal.SIGUSR1, stop)
    gevent.signal_handler(signal.SIGUSR2, halt)
    gevent.signal_handler(signal.SIGTERM, halt)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides

    def listen() -> None:
        for message in early:
            crew.command(message)
        while True:
            gevent.socket.wait_read(commands.fd)
            for message in commands.read():
                crew.command(message)
            if commands.closed:  # the parent is gone: nobody measures, so nothing more is sent
                halt()
                return

    def reporter() -> None:
        cpu, wall = time.process_time(), time.monotonic()
        while True:
            stats.users(swarm.active)
            gevent.sleep(REPORT_EVERY)
            stats.users(swarm.active)
            now_cpu, now_wall = time.process_time(), time.monotonic()
            load = (now_cpu - cpu) / max(now_wall - wall, 1e-6)
            cpu, wall = now_cpu, now_wall
            try:
                messages.send(out, ("delta", job.worker, stats.delta(), {"cpu": load, "users": swarm.active}))
            except OSError:  # the parent is gone
                halt()
                return

    listening = gevent.spawn(listen)
    driving = gevent.spawn(crew.arrive if job.open_model else crew.steer)
    reporting = gevent.spawn(reporter)
    # Run until the iterations are spent, the parent says stop, or the run's deadline passes:
    # a worker keeps to it by itself, whatever became of its parent.
    deadline = None if job.deadline is None else time.monotonic() + job.deadline
    while not swarm.stopping.is_set():
        gevent.sleep(0.1)
        if swarm.iterations_left == 0 and not crew.users:
            break
        if deadline is not None and time.monotonic() > deadline:
            halt()
    swarm.stopping.set()
    driving.kill()
    # In-flight requests get --stop-timeout to finish; a halt ends them at once.
    deadline = time.monotonic() + job.stop_timeout
    while crew.users and not halted.is_set() and time.monotonic() < deadline:
        gevent.sleep(0.05)
    gevent.killall([g for g, _ in crew.users.values()], block=True, timeout=2)
    reporting.kill()
    listening.kill()
    try:
        messages.send(out, ("delta", job.worker, stats.delta(), {"cpu": 0.0, "users": 0}))
        messages.send(out, ("done", job.worker))
    except OSError:
        pass  # the parent is gone


def main() -> None:
    die_with_parent()
    # Every connection is a file: use all the machine allows (the parent checked it is enough).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    out = int(sys.argv[1])
    commands = messages.Reader(0)
    received: list[Any] = []
    while not received and not commands.closed:
        received = commands.read()
    if not received:
        sys.exit(1)  # the parent died before it said what to do
    job: Job = received[0]
    gevent.os.make_nonblocking(0)
    try:
        run(job, out, commands, received[1:])
    except Exception as exc:  # tell the parent, whatever happened
        messages.send(out, ("failed", job.worker, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        os.close(out)


if __name__ == "__main__":
    main()
