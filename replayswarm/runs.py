"""Stored runs, read back: the list, one run with its endpoints and errors. Shared by the CLI,
the web UI and reports, so they all show the same numbers."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, select, update

from .db import reading, writing
from .db.models import RunEndpointRow, RunErrorRow, RunRow, RunStepRow, utcnow
from .errors import UserError
from .histogram import Histogram
from .play.stats import Counter, numbers


def run_duration(run: RunRow) -> float:
    """Seconds from its start to its end, or, while it runs, to now."""
    if run.ended is not None:
        return max(0.001, (aware(run.ended) - aware(run.started)).total_seconds())
    end = utcnow() if run.status == "running" else aware(run.heartbeat or run.started)
    return max(0.001, (end - aware(run.started)).total_seconds())


def run_header(run: RunRow) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind,
        "label": run.label,
        "tags": dict(run.tags),
        "source": run.source,
        "host": run.host,
        "users": run.users,
        "spawn_rate": run.spawn_rate,
        "processes": run.processes,
        "status": run.status,
        "started": run.started.isoformat(timespec="seconds"),
        "ended": run.ended.isoformat(timespec="seconds") if run.ended else None,
        "duration_s": round(run_duration(run), 3),
        "requests": run.requests,
        "failures": run.failures,
        "error_pct": round(100.0 * run.failures / run.requests, 3) if run.requests else 0.0,
        "rps": round(run.rps, 3),
        "p50_ms": round(run.p50_ms, 3),
        "p95_ms": round(run.p95_ms, 3),
        "p99_ms": round(run.p99_ms, 3),
        "saturated": run.saturated,
    }


STALE = 60.0  # seconds without a heartbeat after which a running run is taken for crashed


def reap(engine: Engine) -> None:
    """Mark as crashed the running runs whose process is gone: on this machine, its pid is no
    longer alive; anywhere, it has not written for STALE seconds. What it flushed stays."""
    now, here = utcnow(), socket.gethostname()
    with reading(engine) as session:
        running = session.execute(select(RunRow.id, RunRow.pid, RunRow.hostname, RunRow.heartbeat).where(RunRow.status == "running")).all()
    dead = [
        (run_id, beat) for run_id, pid, host, beat in running
        if (host == here and pid is not None and not _alive(pid))
        or (beat is not None and (now - aware(beat)).total_seconds() > STALE)
    ]
    if dead:
        with writing(engine) as session:
            for run_id, beat in dead:
                session.execute(update(RunRow).where(RunRow.id == run_id, RunRow.status == "running").values(status="crashed", ended=beat))


def control(engine: Engine, run_id: int, users: int | None = None, stop: bool = False) -> None:
    """Ask a running run for another user count, or to stop; it reads this within a second."""
    if users is not None and stop:
        raise UserError("control takes --users N or --stop, not both")
    reap(engine)
    with writing(engine) as session:
        run = session.get(RunRow, run_id)
        if run is None:
            raise UserError(f"no run {run_id} (see `replayswarm runs`)")
        if run.status != "running":
            raise UserError(f"run {run_id} is {run.status}, not running")
        if users is not None and run.kind == "capacity":
            raise UserError(f"run {run_id} is a capacity search: it sets its own load (only --stop steers it)")
        if users is not None and (run.config.get("shape") or {}).get("rate"):
            raise UserError(f"run {run_id} is an open-model run (arrivals a second): --users does not apply to it")
        if users is not None:
            run.control_users = users
        if stop:
            run.control_stop = True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def aware(moment: datetime) -> datetime:
    """A stored moment as UTC: SQLite gives them back without a zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def list_runs(engine: Engine) -> list[dict[str, Any]]:
    reap(engine)
    with reading(engine) as session:
        return [run_header(r) for r in session.scalars(select(RunRow).order_by(RunRow.id))]


def get_run(engine: Engine, run_id: int) -> dict[str, Any]:
    reap(engine)
    with reading(engine) as session:
        run = session.get(RunRow, run_id)
        if run is None:
            raise UserError(f"no run {run_id} (see `replayswarm runs`)")
        duration = run_duration(run)
        endpoints = []
        total = Counter()
        for e in session.scalars(select(RunEndpointRow).where(RunEndpointRow.run_id == run_id).order_by(RunEndpointRow.name)):
            counter = Counter(e.count, e.failures, e.bytes, e.deviations, Histogram.from_dict(e.histogram),
                              Histogram.from_dict(e.due_histogram) if e.due_histogram is not None else None)
            endpoints.append(numbers(e.name, counter, duration))
            total.merge(counter)
        errors = [
            {"endpoint": e.endpoint, "kind": e.kind, "count": e.count, "sample": e.sample}
            for e in session.scalars(select(RunErrorRow).where(RunErrorRow.run_id == run_id).order_by(RunErrorRow.count.desc()))
        ]
        return {
            **run_header(run),
            "total": numbers("Aggregated", total, duration),
            "endpoints": endpoints,
            "errors": errors,
            "thresholds": list(run.thresholds),
            "iterations": dict(run.iterations),
            "config": dict(run.config),
            "answer": run.answer,  # a capacity search's, once it ended
            "steps": [
                {c: getattr(s, c) for c in ("k", "users", "start_t", "end_t", "requests", "failures", "rps", "p50_ms", "p95_ms",
                                            "p99_ms", "spread", "saturated", "breaches", "endpoints")}
                for s in session.scalars(select(RunStepRow).where(RunStepRow.run_id == run_id).order_by(RunStepRow.k))
            ],
        }


def series(engine: Engine, run_id: int, endpoint: str = "") -> dict[str, list[Any]]:
    """Per-second (or, for an endpoint, per-10-second) time series of a run, column by column."""
    from .db.models import RunBucketRow

    columns: dict[str, list[Any]] = {k: [] for k in ("t", "rps", "failures_per_s", "users", "target_users", "p50_ms", "p95_ms", "p99_ms")}
    step = 1 if endpoint == "" else 10
    with reading(engine) as session:
        rows = session.execute(
            select(RunBucketRow.t, RunBucketRow.requests, RunBucketRow.failures, RunBucketRow.users, RunBucketRow.target_users,
                   RunBucketRow.p50_ms, RunBucketRow.p95_ms, RunBucketRow.p99_ms)
            .where(RunBucketRow.run_id == run_id, RunBucketRow.endpoint == endpoint)
            .order_by(RunBucketRow.t)
        ).all()
    for t, requests, failures, users, target, p50, p95, p99 in rows:
        columns["t"].append(t)
        columns["rps"].append(requests / step)
        columns["failures_per_s"].append(failures / step)
        columns["users"].append(users)
        columns["target_users"].append(target)
        columns["p50_ms"].append(round(p50, 3))
        columns["p95_ms"].append(round(p95, 3))
        columns["p99_ms"].append(round(p99, 3))
    return columns
