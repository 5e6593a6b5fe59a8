"""Server time of the web UI's heaviest pages on a big history.

Builds a SQLite database with 1,000 runs, two of which last an hour at per-second resolution
with 50 endpoints (3,600 per-second buckets, 50 × 360 per-endpoint buckets, 50 histograms each),
then times the run detail, the comparison and the runs list through Flask's test client (server
time only: no network, no browser). Target: under 300 ms each.

    .venv/bin/python bench/ui_speed.py [--repeat 10]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert

from replayswarm.db import open_db, writing
from replayswarm.db.models import RunBucketRow, RunEndpointRow, RunRow
from replayswarm.histogram import Histogram

HOUR = 3600
ENDPOINTS = 50
RUNS = 1000


def histogram(rng: random.Random, n: int, scale: float) -> dict:
    h = Histogram()
    for _ in range(n):
        h.record(int(rng.lognormvariate(0, 0.6) * scale))
    return h.to_dict()


def build(db_url: str) -> tuple[int, int]:
    engine = open_db(db_url)
    rng = random.Random(7)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    with writing(engine) as session:
        session.execute(insert(RunRow), [
            {"source": "checkout", "host": "http://127.0.0.1:8000", "users": 100, "spawn_rate": 10.0, "duration": 60.0,
             "label": f"build-{i}", "tags": {"sha": f"{i:07x}"}, "config": {}, "status": "completed",
             "started": start + timedelta(hours=i), "ended": start + timedelta(hours=i, minutes=1),
             "requests": 6000, "failures": 3, "rps": 100.0, "p50_ms": 20.0, "p95_ms": 80.0, "p99_ms": 120.0,
             "thresholds": [], "iterations": {}}
            for i in range(RUNS)
        ])
    long_runs = []
    for run_id, scale in ((1, 20_000.0), (2, 26_000.0)):
        with writing(engine) as session:
            run = session.get(RunRow, run_id)
            run.duration, run.ended = float(HOUR), run.started + timedelta(seconds=HOUR)
            names = [f"GET /api/resource{i}/{{id}}/" for i in range(ENDPOINTS)]
            session.execute(insert(RunEndpointRow), [
                {"run_id": run_id, "name": n, "count": 36_000, "failures": 5, "bytes": 36_000_000, "deviations": 0,
                 "histogram": histogram(rng, 3000, scale)} for n in names
            ])
            session.execute(insert(RunBucketRow), [
                {"run_id": run_id, "endpoint": "", "t": t, "requests": 500, "failures": 0, "users": 100,
                 "p50_ms": 20.0, "p95_ms": 80.0, "p99_ms": 120.0} for t in range(HOUR)
            ])
            session.execute(insert(RunBucketRow), [
                {"run_id": run_id, "endpoint": n, "t": t, "requests": 100, "failures": 0, "users": 0,
                 "p50_ms": 20.0, "p95_ms": 80.0, "p99_ms": 120.0} for n in names for t in range(0, HOUR, 10)
            ])
        long_runs.append(run_id)
    engine.dispose()
    return long_runs[0], long_runs[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    from replayswarm.web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'ui.db'}"
        built = time.perf_counter()
        a, b = build(db_url)
        print(f"built {RUNS} runs (two of one hour × {ENDPOINTS} endpoints) in {time.perf_counter() - built:.1f}s")
        app = create_app(db_url)
        client = app.test_client()
        signed = {"Authorization": f"Bearer {app.config['REPLAYSWARM_TOKEN']}"}
        pages = {
            "run detail (1 h, 50 endpoints)": f"/runs/{a}",
            "run API (1 h, 50 endpoints)": f"/api/runs/{a}",
            "compare (2 × 1 h, 50 endpoints)": f"/compare?run={a}&run={b}",
            f"runs list ({RUNS} runs)": "/",
        }
        results = {}
        print(f"{'page':36} {'median ms':>10} {'max ms':>8}  (target < 300 ms)")
        for label, url in pages.items():
            timings = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                response = client.get(url, headers=signed)
                timings.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            results[label] = {"median_ms": round(statistics.median(timings), 1), "max_ms": round(max(timings), 1), "bytes": len(response.data)}
            print(f"{label:36} {statistics.median(timings):10.1f} {max(timings):8.1f}")
        out = Path(__file__).parent / "results"
        out.mkdir(exist_ok=True)
        (out / "ui_speed.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
