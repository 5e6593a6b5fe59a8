"""The run's only database writer: the parent process writes what it merged from its workers."""

from __future__ import annotations

import os
import socket
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, or_, update

from ..db import writing
from ..db.models import RunBucketRow, RunEndpointRow, RunErrorRow, RunRow, utcnow
from .stats import WINDOW, RunStats


def start_run(engine: Engine, **fields: Any) -> int:
    with writing(engine) as session:
        run = RunRow(status="running", heartbeat=utcnow(), pid=os.getpid(), hostname=socket.gethostname(), **fields)
        session.add(run)
        session.flush()
        return run.id


def flush(engine: Engine, run_id: int, stats: RunStats, totals: dict[str, Any]) -> None:
    """Write what changed since the last flush, and the running totals, in one transaction."""
    endpoints = {name: stats.endpoints[name] for name in stats.touched_endpoints}
    seconds = {s: stats.seconds[s] for s in stats.touched_seconds}
    windows = {key: stats.windows[key] for key in stats.touched_windows}
    errors = {key: stats.errors[key] for key in stats.touched_errors}
    base = int(stats.started)
    with writing(engine) as session:
        if endpoints:
            session.execute(delete(RunEndpointRow).where(RunEndpointRow.run_id == run_id, RunEndpointRow.name.in_(endpoints)))
            session.execute(insert(RunEndpointRow), [
                {"run_id": run_id, "name": name, "count": c.count, "failures": c.failures, "bytes": c.bytes,
                 "deviations": c.deviations, "histogram": c.hist.to_dict()}
                for name, c in endpoints.items()
            ])
        buckets = [
            {"run_id": run_id, "endpoint": "", "t": second - base, "requests": s.requests, "failures": s.failures,
             "users": s.users, **_percentiles(s.hist)}
            for second, s in seconds.items()
        ] + [
            {"run_id": run_id, "endpoint": name, "t": window * WINDOW - base, "requests": c.count, "failures": c.failures,
             "users": 0, **_percentiles(c.hist)}
            for (name, window), c in windows.items()
        ]
        if buckets:
            keys = [and_(RunBucketRow.endpoint == b["endpoint"], RunBucketRow.t == b["t"]) for b in buckets]
            for start in range(0, len(keys), 200):
                session.execute(delete(RunBucketRow).where(RunBucketRow.run_id == run_id, or_(*keys[start:start + 200])))
            session.execute(insert(RunBucketRow), buckets)
        if errors:
            keys = [and_(RunErrorRow.endpoint == name, RunErrorRow.kind == kind) for name, kind in errors]
            session.execute(delete(RunErrorRow).where(RunErrorRow.run_id == run_id, or_(*keys)))
            session.execute(insert(RunErrorRow), [
                {"run_id": run_id, "endpoint": name, "kind": kind, "count": n, "sample": sample}
                for (name, kind), (n, sample) in errors.items()
            ])
        session.execute(update(RunRow).where(RunRow.id == run_id).values(heartbeat=utcnow(), **totals))
    stats.touched_endpoints.clear()
    stats.touched_seconds.clear()
    stats.touched_windows.clear()
    stats.touched_errors.clear()


def finish_run(engine: Engine, run_id: int, status: str, totals: dict[str, Any]) -> None:
    with writing(engine) as session:
        session.execute(update(RunRow).where(RunRow.id == run_id).values(status=status, ended=utcnow(), **totals))


def _percentiles(hist: Any) -> dict[str, float]:
    return {
        "p50_ms": hist.percentile(0.50) / 1000.0,
        "p95_ms": hist.percentile(0.95) / 1000.0,
        "p99_ms": hist.percentile(0.99) / 1000.0,
    }
