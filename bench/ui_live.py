"""The web UI while a big run goes: how fast the live run page answers, and what its polling
costs the run.

Starts nginx on 127.0.0.1 (1 KB page, pinned to core 0) and `replayswarm ui` (pinned to
--ui-core, core 0 by default: beside nginx, so play's core stays play's; `--ui-core 1` puts it
on play's core, the worst case). Then, in --rounds alternating pairs, runs `replayswarm play`
pinned to core 1 with --users virtual users thinking --think seconds between requests (5,000
users thinking 0.25 s ask for about 20,000 req/s, near what one core generates, so any time the
UI takes from play shows in its req/s):

  alone   play, nobody looking
  watched play, with one browser tab's traffic on its live page: the page once, then its
          JSON every 2 s (what ui/static/app.js does), and the page again every 10 s

Reported: the live page's and the JSON's time to answer while the run goes (median, p95, max;
measured by the client over loopback, so it bounds the server's time from above), and the
run's req/s over its steady part (the ramp and the last seconds left out), alone and watched:
the median of the paired ratios. Goals, reported and not asserted: under 100 ms to answer, and
the watched run within 2 % of the one alone.

    .venv/bin/python bench/ui_live.py [--users 5000 --think 0.25 --seconds 30 --rounds 3 --ui-core 0]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from harness import (
    HOST,
    LOAD_CORE,
    PYTHON,
    ROOT,
    TARGET_CORE,
    code_version,
    cpu_model,
    free_port,
    med,
    page_html,
    page_scenario,
    pin_driver,
    pinned,
    run_buckets,
    start_nginx,
    stop_process,
    wait_port,
)

TOKEN = "bench-ui-live-token-0123456789"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Tab:
    """One browser tab on a run's page: what app.js fetches, timed."""

    def __init__(self, ui: str, run_id: int) -> None:
        self.ui, self.run_id = ui, run_id
        self.page_ms: list[float] = []
        self.json_ms: list[float] = []
        self.stopped = threading.Event()

    def get(self, path: str) -> float:
        request = urllib.request.Request(self.ui + path, headers={"Authorization": f"Bearer {TOKEN}"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()
        return (time.perf_counter() - started) * 1000

    def watch(self) -> None:
        self.page_ms.append(self.get(f"/runs/{self.run_id}"))
        tick = 0
        while not self.stopped.wait(2.0):
            tick += 1
            self.json_ms.append(self.get(f"/api/runs/{self.run_id}"))
            if tick % 5 == 0:
                self.page_ms.append(self.get(f"/runs/{self.run_id}"))


def running_run(db: Path, pid: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db) as c:
                row = c.execute("SELECT id FROM runs WHERE pid = ? AND status = 'running'", (pid,)).fetchone()
        except sqlite3.Error:
            row = None
        if row:
            return int(row[0])
        time.sleep(0.1)
    raise RuntimeError("play's run did not start")


def one_run(args: argparse.Namespace, scenario: Path, db: Path, target: str, ui: str | None) -> dict[str, Any]:
    argv = [PYTHON, "-m", "replayswarm", "play", str(scenario), "--host", target, "--users", str(args.users),
            "--spawn-rate", str(args.users), "--duration", f"{args.seconds}s", "--no-validate", "--quiet", "--json", "--db", f"sqlite:///{db}"]
    play = subprocess.Popen(pinned(LOAD_CORE, argv), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tab = None
    try:
        run_id = running_run(db, play.pid)
        if ui is not None:
            tab = Tab(ui, run_id)
            threading.Thread(target=tab.watch, daemon=True).start()
        out, err = play.communicate(timeout=args.seconds + 120)
    finally:
        if tab:
            tab.stopped.set()
        stop_process(play)
    result = json.loads(out)
    steady = [n for t, n, _ in run_buckets(db, run_id) if 3 <= t <= args.seconds - 3]
    return {"run_id": run_id, "rps": med(steady), "requests": result["requests"], "failures": result["failures"],
            "saturated": result["saturated"], "page_ms": tab.page_ms if tab else [], "json_ms": tab.json_ms if tab else []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--think", type=float, default=0.25)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ui-core", type=int, default=TARGET_CORE)
    args = parser.parse_args()
    pin_driver(TARGET_CORE, LOAD_CORE)
    with tempfile.TemporaryDirectory(prefix="replayswarm-ui-live-") as tmp_name:
        tmp = Path(tmp_name)
        nginx = start_nginx(tmp, TARGET_CORE, {"index.html": page_html()})
        scenario = tmp / "page.yaml"
        scenario.write_text(page_scenario(nginx.url, "page", [args.think]))
        db = tmp / "replayswarm.db"
        port = free_port()
        ui = subprocess.Popen(pinned(args.ui_core, [PYTHON, "-m", "replayswarm", "ui", "--port", str(port), "--token", TOKEN, "--db", f"sqlite:///{db}"]),
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rounds = []
        try:
            wait_port(port, ui, "replayswarm ui")
            for r in range(args.rounds):
                # Alternate which goes first: the host drifts, and a pair should see the same drift.
                order = ("alone", "watched") if r % 2 == 0 else ("watched", "alone")
                pair = {name: one_run(args, scenario, db, nginx.url, f"http://{HOST}:{port}" if name == "watched" else None) for name in order}
                pair["ratio"] = pair["watched"]["rps"] / pair["alone"]["rps"]
                rounds.append(pair)
                w = pair["watched"]
                print(f"round {r + 1}: alone {pair['alone']['rps']:.0f} req/s, watched {w['rps']:.0f} req/s (ratio {pair['ratio']:.3f}); "
                      f"JSON median {med(w['json_ms']):.1f} ms, page median {med(w['page_ms']):.1f} ms", flush=True)
        finally:
            stop_process(ui)
            nginx.stop()
    page = [ms for p in rounds for ms in p["watched"]["page_ms"]]
    data = [ms for p in rounds for ms in p["watched"]["json_ms"]]
    summary = {
        "parameters": vars(args), "cpu": cpu_model(), **code_version(),
        "live_page_ms": {"median": med(page), "p95": percentile(page, 0.95), "max": max(page), "count": len(page)},
        "live_json_ms": {"median": med(data), "p95": percentile(data, 0.95), "max": max(data), "count": len(data)},
        "rps_alone": med(p["alone"]["rps"] for p in rounds), "rps_watched": med(p["watched"]["rps"] for p in rounds),
        "ratio_median": med(p["ratio"] for p in rounds), "ratios": [round(p["ratio"], 4) for p in rounds],
        "saturated": any(p[k]["saturated"] for p in rounds for k in ("alone", "watched")),
        "failures": sum(p[k]["failures"] for p in rounds for k in ("alone", "watched")),
    }
    print(f"\n{args.users} users, think {args.think} s, UI on core {args.ui_core}, play on core {LOAD_CORE}; {summary['cpu']}")
    print(f"live page: median {summary['live_page_ms']['median']:.1f} ms, p95 {summary['live_page_ms']['p95']:.1f}, max {summary['live_page_ms']['max']:.1f} "
          f"({len(page)} loads); its JSON: median {summary['live_json_ms']['median']:.1f} ms, p95 {summary['live_json_ms']['p95']:.1f}, "
          f"max {summary['live_json_ms']['max']:.1f} ({len(data)} polls)   goal < 100 ms")
    print(f"req/s alone {summary['rps_alone']:.0f}, watched {summary['rps_watched']:.0f}: median paired ratio {summary['ratio_median']:.3f} "
          f"{summary['ratios']}   goal >= 0.98; failures {summary['failures']}, saturated {summary['saturated']}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"ui_live_core{args.ui_core}.json").write_text(json.dumps({**summary, "rounds": rounds}, indent=2))


if __name__ == "__main__":
    main()
