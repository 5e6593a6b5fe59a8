"""The run's only database writer: the parent process writes what it merged from its workers.

Writing happens on a thread of its own (`Sink`), so a database that stalls (another process
holding SQLite's write lock past the busy timeout, a slow PostgreSQL) delays rows, never the loop
that reads the workers: their pipes keep draining and the virtual users never wait. What waits
is a `Batch` of rows keyed by what they are; a newer snapshot of a row replaces the older, so a
stall of any length holds at most one copy of each row the run has, and the database catches up
in one transaction once it answers.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, or_, select, update
from sqlalchemy.exc import OperationalError

from ..db import busy, reading, writing
from ..db.models import RunBucketRow, RunEndpointRow, RunErrorRow, RunRow, RunStepRow, utcnow
from .stats import WINDOW, RunStats

RETRY_EVERY = 1.0  # seconds between attempts while the database is busy
GIVE_UP_AFTER = 120.0  # seconds the last write may wait for a busy database once the run is over


def start_run(engine: Engine, **fields: Any) -> int:
    with writing(engine) as session:
        run = RunRow(status="running", heartbeat=utcnow(), pid=os.getpid(), hostname=socket.gethostname(), **fields)
        session.add(run)
        session.flush()
        return run.id


@dataclass
class Batch:
    """Rows to write, keyed by their identity in the database; the run's totals and, last, its end."""

    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    buckets: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    errors: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    steps: dict[int, dict[str, Any]] = field(default_factory=dict)  # a capacity search's steps, by k
    status: str | None = None
    since: float | None = None  # time.monotonic() of its oldest snapshot

    def absorb(self, newer: Batch) -> None:
        """Take `newer`'s rows over this batch's: they are later snapshots of the same counters."""
        if newer.since is not None and (self.since is None or newer.since < self.since):
            self.since = newer.since
        self.endpoints.update(newer.endpoints)
        self.buckets.update(newer.buckets)
        self.errors.update(newer.errors)
        self.totals.update(newer.totals)
        self.steps.update(newer.steps)
        self.status = newer.status or self.status

    def __bool__(self) -> bool:
        return bool(self.endpoints or self.buckets or self.errors or self.totals or self.steps or self.status)


def snapshot(stats: RunStats, run_id: int, totals: dict[str, Any]) -> Batch:
    """The rows that changed since the last snapshot, as plain data; marks them written."""
    base = int(stats.started)
    batch = Batch(totals=dict(totals), since=time.monotonic())
    for name in stats.touched_endpoints:
        c = stats.endpoints[name]
        batch.endpoints[name] = {"run_id": run_id, "name": name, "count": c.count, "failures": c.failures, "bytes": c.bytes,
                                 "deviations": c.deviations, "histogram": c.hist.to_dict(),
                                 "due_histogram": c.due.to_dict() if c.due is not None else None}
    for second in stats.touched_seconds:
        s = stats.seconds[second]
        batch.buckets["", second - base] = {"run_id": run_id, "endpoint": "", "t": second - base, "requests": s.requests,
                                            "failures": s.failures, "users": s.users, "target_users": s.target,
                                            **_percentiles(s.hist)}
    for name, window in stats.touched_windows:
        c = stats.windows[name, window]
        t = window * WINDOW - base
        batch.buckets[name, t] = {"run_id": run_id, "endpoint": name, "t": t, "requests": c.count, "failures": c.failures,
                                  "users": 0, "target_users": 0, **_percentiles(c.hist)}
    for name, kind in stats.touched_errors:
        n, sample = stats.errors[name, kind]
        batch.errors[name, kind] = {"run_id": run_id, "endpoint": name, "kind": kind, "count": n, "sample": sample}
    stats.touched_endpoints.clear()
    stats.touched_seconds.clear()
    stats.touched_windows.clear()
    stats.touched_errors.clear()
    return batch


def write(engine: Engine, run_id: int, batch: Batch) -> None:
    """One transaction: every row of the batch replaces its older version, or nothing changes."""
    with writing(engine) as session:
        if batch.endpoints:
            session.execute(delete(RunEndpointRow).where(RunEndpointRow.run_id == run_id, RunEndpointRow.name.in_(batch.endpoints)))
            session.execute(insert(RunEndpointRow), list(batch.endpoints.values()))
        if batch.buckets:
            keys = [and_(RunBucketRow.endpoint == endpoint, RunBucketRow.t == t) for endpoint, t in batch.buckets]
            for start in range(0, len(keys), 200):
                session.execute(delete(RunBucketRow).where(RunBucketRow.run_id == run_id, or_(*keys[start:start + 200])))
            session.execute(insert(RunBucketRow), list(batch.buckets.values()))
        if batch.errors:
            keys = [and_(RunErrorRow.endpoint == name, RunErrorRow.kind == kind) for name, kind in batch.errors]
            for start in range(0, len(keys), 200):
                session.execute(delete(RunErrorRow).where(RunErrorRow.run_id == run_id, or_(*keys[start:start + 200])))
            session.execute(insert(RunErrorRow), list(batch.errors.values()))
        if batch.steps:
            session.execute(delete(RunStepRow).where(RunStepRow.run_id == run_id, RunStepRow.k.in_(batch.steps)))
            session.execute(insert(RunStepRow), [{"run_id": run_id, **row} for row in batch.steps.values()])
        ended = {"status": batch.status, "ended": utcnow()} if batch.status else {}
        session.execute(update(RunRow).where(RunRow.id == run_id).values(heartbeat=utcnow(), **batch.totals, **ended))


def read_control(engine: Engine, run_id: int) -> tuple[int | None, bool]:
    """(users asked for, stop asked) of a run, as `runs.control` left them."""
    with reading(engine) as session:
        users, stop = session.execute(select(RunRow.control_users, RunRow.control_stop).where(RunRow.id == run_id)).one()
    return users, bool(stop)


class Sink:
    """A writer thread for one run. `submit` never blocks; `close` writes the end of the run."""

    def __init__(self, engine: Engine, run_id: int) -> None:
        self.engine = engine
        self.run_id = run_id
        self._pending = Batch()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._oldest: float | None = None  # time.monotonic() of the oldest snapshot not yet written
        self.longest_lag = 0.0  # seconds: the latest any snapshot reached the database
        self.failure: Exception | None = None  # an error that is not the database being busy
        self._thread = threading.Thread(target=self._run, name="replayswarm-sink", daemon=True)
        self._thread.start()

    def lag(self) -> float:
        """Seconds the oldest snapshot not yet in the database has waited."""
        oldest = self._oldest
        return 0.0 if oldest is None else time.monotonic() - oldest

    def submit(self, batch: Batch) -> None:
        with self._lock:
            self._pending.absorb(batch)
        self._wake.set()

    def close(self, batch: Batch, give_up_after: float = GIVE_UP_AFTER) -> bool:
        """Write the last batch (with the run's status), waiting for a busy database at most
        `give_up_after` seconds; whether everything reached the database."""
        self.submit(batch)
        self._closing = True
        self._wake.set()
        self._thread.join(give_up_after)
        return not self._thread.is_alive() and self.failure is None

    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                batch, self._pending = self._pending, Batch()
                self._wake.clear()
                closing = self._closing
                self._oldest = batch.since
            if batch:
                try:
                    write(self.engine, self.run_id, batch)
                except OperationalError as exc:
                    if not busy(exc):
                        self.failure = exc
                        return
                    # Busy or locked: keep the rows (newer snapshots win) and try again.
                    with self._lock:
                        batch.absorb(self._pending)
                        self._pending = batch
                    time.sleep(RETRY_EVERY)
                    self._wake.set()
                    continue
                except Exception as exc:  # a broken database or schema: the run says so and fails
                    self.failure = exc
                    return
                if batch.since is not None:
                    self.longest_lag = max(self.longest_lag, time.monotonic() - batch.since)
                self._oldest = None
            if closing:
                return


def _percentiles(hist: Any) -> dict[str, float]:
    return {
        "p50_ms": hist.percentile(0.50) / 1000.0,
        "p95_ms": hist.percentile(0.95) / 1000.0,
        "p99_ms": hist.percentile(0.99) / 1000.0,
    }
