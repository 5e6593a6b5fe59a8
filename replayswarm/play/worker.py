"""A worker process: monkey-patches first, then runs its share of the virtual users and sends
statistics deltas to the parent every second. Started by the runner as
`python -m replayswarm.play.worker FD` with its job pickled on stdin."""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import pickle  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.pool  # noqa: E402

from . import messages  # noqa: E402
from .job import Job  # noqa: E402
from .lifeline import die_with_parent  # noqa: E402
from .stats import Stats  # noqa: E402
from .user import Swarm, VirtualUser  # noqa: E402

REPORT_EVERY = 1.0


def run(job: Job, out: int) -> None:
    stats = Stats()
    swarm = Swarm(job.plan, job.settings, stats, job.iterations, job.max_rps)
    users = gevent.pool.Group()
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

    def spawner() -> None:
        for n, index in enumerate(job.user_indices):
            if n and swarm.stopping.wait(1.0 / job.spawn_rate):
                return
            users.spawn(VirtualUser(swarm, index).run)

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
            except OSError:  # the parent is gone: nobody measures, so nothing more is sent
                halt()
                return

    spawning = gevent.spawn(spawner)
    reporting = gevent.spawn(reporter)
    # Run until the users are done (iterations spent), the parent says stop, or the run's
    # deadline passes: a worker keeps to it by itself, whatever became of its parent.
    deadline = None if job.deadline is None else time.monotonic() + job.deadline
    while not swarm.stopping.is_set():
        gevent.sleep(0.1)
        if spawning.dead and len(users) == 0:
            break
        if deadline is not None and time.monotonic() > deadline:
            halt()
    swarm.stopping.set()
    spawning.kill()
    # In-flight requests get --stop-timeout to finish; a halt ends them at once.
    deadline = time.monotonic() + job.stop_timeout
    while len(users) and not halted.is_set() and time.monotonic() < deadline:
        gevent.sleep(0.05)
    users.kill(block=True, timeout=2)
    reporting.kill()
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
    job: Job = pickle.load(sys.stdin.buffer)
    try:
        run(job, out)
    except Exception as exc:  # tell the parent, whatever happened
        messages.send(out, ("failed", job.worker, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        os.close(out)


if __name__ == "__main__":
    main()
