"""One run across many machines: what the master and the workers say to each other, and how the
load is spread. Pure: no Locust, no gevent (the relay and the bridge do the I/O).

The engine is Locust's master/worker runner: ZeroMQ, worker registration, heartbeats, noticing a
worker gone, custom messages. Over it, replayswarm's own messages (names below) carry the jobs
(the compiled plan, the settings and the data rows), each second's share of the load, the
statistics deltas back, and stop and halt. The load shape itself (users, stages, the open model,
capacity steps, live control) stays the play parent's, as on one machine: the relay only splits
each target among the worker processes still there, so the survivors take over a lost worker's
users at once.

    master host:  play parent ─pipes─ relay (Locust MasterRunner)
                                        ║ ZeroMQ
    worker hosts:          bridge (Locust WorkerRunner) ─pipes─ play workers (the usual ones)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .. import __version__

VERSION = __version__  # a worker of another version is refused: its plan format may differ

# master → worker
JOBS = "rs_jobs"  # {"ids": [global worker ids], "jobs": pickled [Job]}
AIM = "rs_aim"  # {"shares": {id: users or arrivals a second}, "rate": bool}
STOP = "rs_stop"  # stop: in-flight requests get --stop-timeout
HALT = "rs_halt"  # stop at once
REJECT = "rs_reject"  # {"why": text}: this worker may not join
# worker → master
HELLO = "rs_hello"  # {"version", "processes", "host"}: sent once its listeners are registered
DELTA = "rs_delta"  # {"worker": id, "delta": plain data, "state": {"cpu", "users"}}
DONE = "rs_done"  # {"worker": id}
FAILED = "rs_failed"  # {"worker": id, "error": text}


@dataclass(frozen=True)
class Member:
    """A worker host that joined: its Locust client id, name and number of worker processes, and
    the global worker ids of those processes (users are numbered by them, so a --data row goes
    to one user only, wherever it runs)."""

    client: str
    host: str
    processes: int
    ids: tuple[int, ...] = ()


def number(members: Sequence[Member]) -> list[Member]:
    """Give the members' processes consecutive global worker ids, in joining order."""
    numbered, first = [], 0
    for m in members:
        numbered.append(Member(m.client, m.host, m.processes, tuple(range(first, first + m.processes))))
        first += m.processes
    return numbered


def spread(target: float, ids: Sequence[int], rate: bool) -> dict[int, float]:
    """Each live worker process's part of the target: whole users, the remainder to the first
    ones (as on one machine), or an equal part of the arrival rate. No ids, no shares."""
    if not ids:
        return {}
    if rate:
        return {i: target / len(ids) for i in ids}
    users = round(target)
    return {i: float(users // len(ids) + (1 if k < users % len(ids) else 0)) for k, i in enumerate(ids)}


def refusal(hello: Mapping[str, object], started: bool) -> str | None:
    """Why a worker saying hello may not join, or None."""
    version = hello.get("version")
    if version != VERSION:
        return f"it runs replayswarm {version}, the master {VERSION}: run the same version on every machine"
    if started:
        return "the run has started: workers join before it does (--expect-workers)"
    processes = hello.get("processes")
    if not isinstance(processes, int) or processes < 1:
        return f"it offers {processes!r} processes"
    return None
