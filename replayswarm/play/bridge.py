"""A worker host of a distributed run: Locust's worker runner on one side, replayswarm's own worker
processes (`replayswarm.play.worker`, exactly as on one machine) on the other.

`replayswarm worker` runs it. It waits for the master (a worker started first waits for it),
says hello with its version and process count, starts its worker processes when the jobs come,
hands them their shares of the load, and sends their statistics deltas on to the master. It serves
one run, then exits: 0 when the run ended, 2 when the master refused it or never answered.
"""

import locust  # noqa: F401  (first: it monkey-patches the standard library for gevent)

import logging  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.socket  # noqa: E402
import locust.runners  # noqa: E402
from locust import User, constant  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.rpc import Message  # noqa: E402
from locust.runners import WorkerRunner  # noqa: E402

from . import cluster, messages  # noqa: E402
from .lifeline import child_environment  # noqa: E402

MASTER_SILENT = 15  # seconds without the master's heartbeat after which the run is over for us


class Slot(User):
    wait_time = constant(3600)


class Worker(WorkerRunner):
    """Locust's worker, which hands out no users of its own: ours run in the worker processes."""

    def start_worker(self, user_classes_count: dict[str, int], **kwargs: Any) -> None:
        pass  # only the relay's own messages set the load (Locust's dispatch is not used)


class Bridge:
    def __init__(self, host: str, port: int, processes: int) -> None:
        env = Environment(user_classes=[Slot])
        self.runner: Worker = env._create_runner(Worker, master_host=host, master_port=port)
        self.processes = processes
        self.workers: dict[int, subprocess.Popen] = {}
        self.refused: str | None = None  # why the master would not have us
        self.silent = False  # the master stopped answering
        self.over = gevent.event.Event()
        for name, listener in ((cluster.JOBS, self.jobs), (cluster.AIM, self.aim), (cluster.STOP, self.stop),
                               (cluster.HALT, self.halt), (cluster.REJECT, self.reject)):
            self.runner.register_message(name, listener)
        # Only now, with every listener in place, may the master talk to us.
        self.runner.send_message(cluster.HELLO, {"version": cluster.VERSION, "processes": processes, "host": socket.gethostname()})

    def reject(self, environment: Any, msg: Message, **_: Any) -> None:
        self.refused = str(msg.data.get("why"))
        self.over.set()

    def jobs(self, environment: Any, msg: Message, **_: Any) -> None:
        print(f"worker: running virtual users in {len(msg.data['ids'])} process(es) for the master", file=sys.stderr)
        for job in pickle.loads(msg.data["jobs"]):
            read_fd, write_fd = os.pipe()
            proc = subprocess.Popen([sys.executable, "-m", "replayswarm.play.worker", str(write_fd)], stdin=subprocess.PIPE,
                                    pass_fds=[write_fd], start_new_session=True, env=child_environment())
            os.close(write_fd)
            assert proc.stdin is not None
            messages.send(proc.stdin.fileno(), job)
            self.workers[job.worker] = proc
            gevent.spawn(self.forward, job.worker, read_fd)

    def forward(self, worker: int, fd: int) -> None:
        """One worker process's messages, on to the master as plain data."""
        reader = messages.Reader(fd)
        while not reader.closed:
            gevent.socket.wait_read(fd)
            for message in reader.read():
                if message[0] == "delta":
                    self.runner.send_message(cluster.DELTA, {"worker": worker, "delta": message[2], "state": message[3]})
                elif message[0] == "failed":
                    self.runner.send_message(cluster.FAILED, {"worker": worker, "error": message[2]})
        os.close(fd)
        self.workers[worker].wait()
        self.runner.send_message(cluster.DONE, {"worker": worker})
        if all(p.poll() is not None for p in self.workers.values()):
            self.over.set()

    def aim(self, environment: Any, msg: Message, **_: Any) -> None:
        kind = "rate" if msg.data["rate"] else "users"
        for worker, share in msg.data["shares"].items():
            proc = self.workers.get(int(worker))
            if proc is not None and proc.stdin is not None:
                try:
                    messages.send(proc.stdin.fileno(), (kind, share if kind == "rate" else int(share)))
                except OSError:
                    pass  # it has ended: its pipe is read for what it sent

    def signal_workers(self, sig: int) -> None:
        for proc in self.workers.values():
            if proc.poll() is None:
                proc.send_signal(sig)

    def stop(self, environment: Any = None, msg: Any = None, **_: Any) -> None:
        self.signal_workers(signal.SIGUSR1)

    def halt(self, environment: Any = None, msg: Any = None, **_: Any) -> None:
        self.signal_workers(signal.SIGUSR2)
        if not self.workers:
            self.over.set()

    def master_gone(self) -> None:
        """The master stopped answering: nobody measures, so the workers stop at once."""
        while not self.over.is_set():
            gevent.sleep(1)
            beat = self.runner.last_heartbeat_timestamp
            if beat is not None and time.time() - beat > MASTER_SILENT:
                self.silent = True
                self.halt()
                self.over.set()


def serve(host: str, port: int, processes: int, wait: float) -> int:
    """Serve one run of the master at host:port; the exit code. Errors are one line on stderr."""
    logging.getLogger("locust").setLevel(logging.CRITICAL)
    # A worker started before its master waits for it, up to `wait` seconds (Locust retries every 5 s).
    locust.runners.CONNECT_TIMEOUT = 1
    locust.runners.CONNECT_RETRY_COUNT = max(1, int(wait))
    try:
        bridge = Bridge(host, port, processes)
    except ConnectionError:
        print(f"Error: no replayswarm master answered at {host}:{port} within {wait:g} s", file=sys.stderr)
        return 2
    gevent.signal_handler(signal.SIGTERM, bridge.halt)
    gevent.signal_handler(signal.SIGINT, bridge.halt)
    gevent.spawn(bridge.master_gone)
    print(f"worker: connected to the master at {host}:{port}, offering {processes} process(es)", file=sys.stderr)
    bridge.over.wait()
    deadline = 30.0
    while any(p.poll() is None for p in bridge.workers.values()) and deadline > 0:
        gevent.sleep(0.1)
        deadline -= 0.1
    for proc in bridge.workers.values():
        if proc.poll() is None:
            proc.kill()
    gevent.sleep(0.2)  # the last messages leave
    try:
        bridge.runner.send_message("quit")
    except Exception:  # noqa: BLE001  (the master may be gone already)
        pass
    if bridge.refused is not None:
        print(f"Error: the master at {host}:{port} refused this worker: {bridge.refused}", file=sys.stderr)
        return 2
    if bridge.silent:
        print(f"Error: the master at {host}:{port} stopped answering for {MASTER_SILENT} s: the run's workers here were stopped", file=sys.stderr)
        return 1
    print("worker: the run is over", file=sys.stderr)
    return 0
