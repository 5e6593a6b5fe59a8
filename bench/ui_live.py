"""The web UI while a big run goes: how fast the live run page answers, and what its polling
costs the run.

Starts nginx on 127.0.0.1 (1 KB page, pinned to core 0) and `replayswarm ui` (pinned to
--ui-core, core 0 by default: beside nginx, so play's core stays play's; `--ui-core 1` puts it
on play's core, the worst case). Then runs `replayswarm play` pinned to core 1 with --users
virtual users thinking --think seconds between requests (5,000 users thinking 0.25 s ask for
about 20,000 req/s, more than one core generates: any time the UI takes from play shows in its
req/s) for --seconds, --rounds times.

During each run one browser tab's traffic comes and goes in alternating 10 s windows: the run's
page, then its JSON every 2 s (what ui/static/app.js does), and the page again every 10 s. The
cost of watching is the run's req/s in watched seconds over its req/s in unwatched seconds of
the same run (2 s at each window's edges left out): a paired comparison inside one run, where
separate runs of a saturated generator differ by several percent among themselves.

Reported: the live page's and the JSON's time to answer while the run goes (median, p95, max;
measured by the client over loopback, so they bound the server's time from above), the
watched/unwatched req/s ratio of each run, and the UI process's CPU time over the run: the
share of a core the polling takes, which is the most it can take from play on a shared core
(a finer measure than req/s ratios, whose noise is a few percent). Goals, reported and not asserted: under 100 ms to
answer, and watched seconds within 2 % of unwatched ones.

    .venv/bin/python bench/ui_live.py [--users 5000 --think 0.25 --seconds 120 --rounds 2 --ui-core 0]
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
    proc_cpu,
    run_buckets,
    start_nginx,
    stop_process,
    wait_port,
)

TOKEN = "bench-ui-live-token-0123456789"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


WINDOW = 10  # seconds watched, then as many not
EDGE = 2  # seconds left out at each window's edges: the tab's clock and the run's differ a little


def watched(t: float) -> bool:
    return int(t // WINDOW) % 2 == 1


class Tab:
    """One browser tab on a run's page, there in every other window: what app.js fetches, timed."""

    def __init__(self, ui: str, run_id: int) -> None:
        self.ui, self.run_id = ui, run_id
        self.page_ms: list[float] = []
        self.json_ms: list[float] = []
        self.stopped = threading.Event()
        self.started = time.monotonic()

    def get(self, path: str) -> float:
        request = urllib.request.Request(self.ui + path, headers={"Authorization": f"Bearer {TOKEN}"})
        began = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()
        return (time.perf_counter() - began) * 1000

    def watch(self) -> None:
        self.get(f"/runs/{self.run_id}")  # the UI's first page compiles its templates: not a live page's time
        was = False
        while not self.stopped.wait(2.0 - (time.monotonic() - self.started) % 2.0):
            t = time.monotonic() - self.started
            if not watched(t):
                was = False
                continue
            if not was or round(t) % WINDOW == 0:
                self.page_ms.append(self.get(f"/runs/{self.run_id}"))
            else:
                self.json_ms.append(self.get(f"/api/runs/{self.run_id}"))
            was = True


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


def one_run(args: argparse.Namespace, scenario: Path, db: Path, target: str, ui: str, ui_pid: int) -> dict[str, Any]:
    argv = [PYTHON, "-m", "replayswarm", "play", str(scenario), "--host", target, "--users", str(args.users),
            "--spawn-rate", str(args.users), "--duration", f"{args.seconds}s", "--no-validate", "--quiet", "--json", "--db", f"sqlite:///{db}"]
    play = subprocess.Popen(pinned(LOAD_CORE, argv), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tab = None
    try:
        run_id = running_run(db, play.pid)
        cpu_before, began = proc_cpu(ui_pid) or 0.0, time.monotonic()
        tab = Tab(ui, run_id)
        threading.Thread(target=tab.watch, daemon=True).start()
        out, _ = play.communicate(timeout=args.seconds + 120)
        ui_core_share = ((proc_cpu(ui_pid) or 0.0) - cpu_before) / (time.monotonic() - began)
    finally:
        if tab:
            tab.stopped.set()
        stop_process(play)
    result = json.loads(out)
    on, off = [], []
    for t, n, _ in run_buckets(db, run_id):
        edge = min(t % WINDOW, WINDOW - t % WINDOW)
        if WINDOW <= t <= args.seconds - WINDOW and edge >= EDGE:
            (on if watched(t) else off).append(n)
    return {"run_id": run_id, "rps_watched": med(on), "rps_unwatched": med(off), "ratio": med(on) / med(off),
            "seconds": [len(on), len(off)], "requests": result["requests"], "failures": result["failures"],
            "saturated": result["saturated"], "page_ms": tab.page_ms, "json_ms": tab.json_ms, "ui_core_share": ui_core_share}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--think", type=float, default=0.25)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=2)
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
                run = one_run(args, scenario, db, nginx.url, f"http://{HOST}:{port}", ui.pid)
                rounds.append(run)
                print(f"run {r + 1}: {run['rps_unwatched']:.0f} req/s unwatched, {run['rps_watched']:.0f} watched (ratio {run['ratio']:.3f}, "
                      f"{run['seconds'][0]}/{run['seconds'][1]} s); UI {100 * run['ui_core_share']:.2f} % of a core; JSON median {med(run['json_ms']):.1f} ms, page median {med(run['page_ms']):.1f} ms",
                      flush=True)
        finally:
            stop_process(ui)
            nginx.stop()
    page = [ms for r in rounds for ms in r["page_ms"]]
    data = [ms for r in rounds for ms in r["json_ms"]]
    summary = {
        "parameters": vars(args), "cpu": cpu_model(), **code_version(),
        "live_page_ms": {"median": med(page), "p95": percentile(page, 0.95), "max": max(page), "count": len(page)},
        "live_json_ms": {"median": med(data), "p95": percentile(data, 0.95), "max": max(data), "count": len(data)},
        "ratios": [round(r["ratio"], 4) for r in rounds], "ratio_median": med(r["ratio"] for r in rounds),
        "ui_core_share": med(r["ui_core_share"] for r in rounds),
        "saturated": any(r["saturated"] for r in rounds), "failures": sum(r["failures"] for r in rounds),
    }
    print(f"\n{args.users} users, think {args.think} s, UI on core {args.ui_core}, play on core {LOAD_CORE}; {summary['cpu']}")
    print(f"live page: median {summary['live_page_ms']['median']:.1f} ms, p95 {summary['live_page_ms']['p95']:.1f}, max {summary['live_page_ms']['max']:.1f} "
          f"({len(page)} loads); its JSON: median {summary['live_json_ms']['median']:.1f} ms, p95 {summary['live_json_ms']['p95']:.1f}, "
          f"max {summary['live_json_ms']['max']:.1f} ({len(data)} polls)   goal < 100 ms")
    print(f"the UI took {100 * summary['ui_core_share']:.2f} % of a core over the runs (watched half the time)   goal < 2 %")
    print(f"req/s watched / unwatched: {summary['ratios']}, median {summary['ratio_median']:.3f}   goal >= 0.98; "
          f"failures {summary['failures']}, saturated {summary['saturated']}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"ui_live_core{args.ui_core}.json").write_text(json.dumps({**summary, "rounds": rounds}, indent=2))


if __name__ == "__main__":
    main()
