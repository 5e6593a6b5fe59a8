"""How fast `replayswarm play` generates load per core, and what an idle virtual user costs.

Starts nginx on 127.0.0.1 (temp config, 1 KB static file, pinned to core 0) and, for several
rounds in a rotating order, runs each load generator pinned to core 1 for the same duration
and the same number of concurrent users/connections:

  play      `replayswarm play` on a one-step scenario (no think time), full statistics
  play-10   the same with 10 steps per iteration (diagnostic, not run by default: see the README)
  play-stages  `play` with the users given as stages (`--stages`), so the parent steers them
            every tick: the cost of load shapes and live control on the hot path
  locust    Locust FastHttpUser, headless, `wait_time = constant(0)`, one `client.get` per task
  wrk       `wrk -t1`, the C reference
  gevent    a bare geventhttpclient loop (N greenlets: get + read + count): the most a generator
            on the client under Locust's FastHttpUser could reach

Then, for idle users, the peak RSS of replayswarm's worker process and of the Locust process
with 10,000 users that each send one request and then sleep for 30 s, minus a run with 10
users: MB per idle user. Optionally (py-spy installed) profiles one more play run and reports
where the worker spends its time.

The machine is assumed small and noisy: results are medians over rounds, ratios are paired
within a round. Everything goes to 127.0.0.1; every run is bounded by its duration (and killed
if it overruns by a minute).

Run from the repository root:  .venv/bin/python bench/play_throughput.py [--rounds 3 ...]
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import (
    HOST,
    LOAD_CORE,
    PAGE,
    PAGE_SIZE,
    PYTHON,
    REPLAYSWARM,
    ROOT,
    TARGET_CORE,
    VENV_BIN,
    Target,
    children_cpu,
    client_python,
    code_fingerprint,
    code_version,
    cpu_model,
    find_locust,
    med,
    page_html,
    page_scenario,
    pin_driver,
    pinned,
    proc_children,
    proc_cmdline,
    proc_cpu,
    proc_rss_mb,
    run_buckets,
    start_nginx,
)

RESULTS = ROOT / "bench" / "results" / "play_throughput.json"
LOGS = ROOT / "bench" / "results" / "play_throughput_logs"  # every run's command line and output

CONTENDERS = ("play", "play-10", "play-stages", "locust", "wrk", "gevent")
DEFAULT_CONTENDERS = ("play", "locust", "wrk", "gevent")
OVERRUN = 60.0  # a run that outlives its duration by this much is killed


# -- helpers ---------------------------------------------------------------------------------


def time_wait_sockets() -> int | None:
    """TCP sockets in TIME_WAIT on the machine: play opens a connection per iteration, and a
    port space crowded with them makes connect() slower."""
    m = re.search(r"\btw (\d+)", Path("/proc/net/sockstat").read_text())
    return int(m.group(1)) if m else None


def steady_rps(db: Path, duration: float) -> float | None:
    """Requests per second over whole seconds inside a play run, from its per-second buckets in
    the run tables. Bucket t is wall-clock second int(started) + t, so buckets 1 .. duration-1
    lie wholly inside the run; bucket 1 is left out too, as the worker starts up in it."""
    rows = [n for t, n, _ in run_buckets(db) if 2 <= t <= int(duration) - 1]
    return sum(rows) / len(rows) if rows else None


def core_busy() -> dict[int, tuple[int, int, int]]:
    """Per-core (busy, tasks, total) jiffies: busy is everything but idle and iowait; tasks is
    user + nice + system + steal, i.e. busy without interrupt handling (much of which, on
    loopback, is our own traffic's)."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        m = re.match(r"cpu(\d+) (.*)", line)
        if m:
            user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in m.group(2).split()[:8])
            total = user + nice + system + idle + iowait + irq + softirq + steal
            out[int(m.group(1))] = (total - idle - iowait, user + nice + system + steal, total)
    return out


def busy_between(a: dict[int, tuple[int, int, int]], b: dict[int, tuple[int, int, int]]) -> dict[str, float]:
    out = {}
    for c in (TARGET_CORE, LOAD_CORE):
        if c in a and c in b:
            total = max(1, b[c][2] - a[c][2])
            out[f"core{c}"] = round((b[c][0] - a[c][0]) / total, 3)
            out[f"core{c}_tasks"] = round((b[c][1] - a[c][1]) / total, 3)
    return out


class Watcher(threading.Thread):
    """Polls a process (or the single child of a process) for peak RSS and last-seen CPU time."""

    def __init__(self, pid: int, child: bool, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.child, self.every = pid, child, every
        self.target: int | None = None if child else pid
        self.peak_rss_mb = 0.0
        self.cpu_s: float | None = None
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            if self.target is None:
                kids = proc_children(self.pid)
                self.target = kids[0] if kids else None
            if self.target is not None:
                rss = proc_rss_mb(self.target)
                cpu = proc_cpu(self.target)
                if rss is not None:
                    self.peak_rss_mb = max(self.peak_rss_mb, rss)
                if cpu is not None:
                    self.cpu_s = cpu
            self.stop_event.wait(self.every)

    def finish(self) -> None:
        self.stop_event.set()
        self.join(5)


@dataclass
class Done:
    code: int
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float  # the whole process tree's CPU
    watcher: Watcher | None
    busy: dict[str, float]


def run_pinned(argv: list[str], timeout: float, cwd: Path | None = None, watch: str | None = None,
               log: Path | None = None) -> Done:
    """Run argv on the load core; bounded by `timeout` (then the process group is killed).
    watch: None, "self" (the process itself) or "child" (its single child: play's worker)."""
    tw = time_wait_sockets()
    cpu0, busy0, t0 = children_cpu(), core_busy(), time.monotonic()
    proc = subprocess.Popen(pinned(LOAD_CORE, argv), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, text=True)
    watcher = None
    if watch:
        watcher = Watcher(proc.pid, child=watch == "child")
        watcher.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # our own process group, started above
        out, err = proc.communicate(timeout=10)
        err += f"\n[bench] killed after {timeout:.0f}s"
    finally:
        if watcher:
            watcher.finish()
    wall, cpu = time.monotonic() - t0, children_cpu() - cpu0
    busy = busy_between(busy0, core_busy())
    # What else ran on the load core meanwhile (other processes, interrupts): its busy share
    # minus our process tree's CPU over the same wall time. Large values flag a disturbed run.
    busy["others_on_load_core"] = round(max(0.0, busy.get(f"core{LOAD_CORE}_tasks", 0.0) - cpu / wall), 3)
    busy["time_wait_before"] = tw
    done = Done(proc.returncode, out, err, wall, cpu, watcher, busy)
    if log:
        log.write_text(f"$ {' '.join(argv)}\n--- exit {proc.returncode}\n--- stdout\n{out}\n--- stderr\n{err}\n")
    return done


# -- target ----------------------------------------------------------------------------------


# -- contenders ------------------------------------------------------------------------------


def scenario_yaml(url: str, steps: int, idle: bool) -> str:
    """One scenario. Throughput: `steps` steps of GET /index.html, no think time. Idle: one
    request (opens the user's connection, like Locust's first task), then 30 s of thinking
    before the second step, which the 20 s run never reaches."""
    return page_scenario(url, "idle" if idle else "hit", [0, 30] if idle else [0] * steps)


LOCUSTFILE = """\
from locust import FastHttpUser, constant, task


class Hit(FastHttpUser):
    wait_time = constant({wait})

    @task
    def hit(self):
        self.client.get("{page}")
"""


GEVENT_LOOP = """\
from gevent import monkey
monkey.patch_all()
import json, sys, time
import gevent
from geventhttpclient import HTTPClient

host, port, path, users, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
CAP = 50_000_000  # a hard bound on requests, whatever the speed
count = errors = 0
deadline = 0.0

def user():
    global count, errors
    client = HTTPClient(host, port, concurrency=1, connection_timeout=10, network_timeout=10)
    while time.monotonic() < deadline and count < CAP:
        try:
            resp = client.get(path)
            resp.read()
            count += 1
        except Exception:
            errors += 1
            gevent.sleep(0.01)
    client.close()

t0 = time.monotonic()
deadline = t0 + duration
gevent.joinall([gevent.spawn(user) for _ in range(users)], timeout=duration + 30)
seconds = time.monotonic() - t0
print(json.dumps({"requests": count, "errors": errors, "seconds": seconds, "rps": count / seconds}))
"""


WRK_LUA = """\
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d errors=%d p50=%d p95=%d p99=%d\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, target: Target) -> None:
        self.args, self.tmp, self.target = args, tmp, target
        self.logs = LOGS
        shutil.rmtree(self.logs, ignore_errors=True)
        self.logs.mkdir(parents=True)
        url = target.url
        self.scenarios = {
            "play": tmp / "play.yaml", "play-10": tmp / "play10.yaml", "idle": tmp / "idle.yaml",
        }
        self.scenarios["play"].write_text(scenario_yaml(url, 1, False))
        self.scenarios["play-10"].write_text(scenario_yaml(url, 10, False))
        self.scenarios["idle"].write_text(scenario_yaml(url, 0, True))
        (tmp / "locust_busy.py").write_text(LOCUSTFILE.format(wait=0, page=PAGE))
        (tmp / "locust_idle.py").write_text(LOCUSTFILE.format(wait=30, page=PAGE))
        (tmp / "gevent_loop.py").write_text(GEVENT_LOOP)
        (tmp / "wrk.lua").write_text(WRK_LUA)
        self.n = 0
        self.client_python = client_python(args.locust) if args.locust else PYTHON

    def log(self, name: str) -> Path:
        self.n += 1
        return self.logs / f"{self.n:03d}-{name}.log"

    # replayswarm play --------------------------------------------------------------------

    def play(self, scenario: str, users: int, spawn_rate: float, duration: float, watch: str = "child",
             stages: bool = False) -> dict[str, Any]:
        db = self.tmp / f"play-{self.n}.db"
        shape = ["--stages", f"{users / spawn_rate:g}s:{users},{duration:g}s:{users}"] if stages else \
            ["--users", str(users), "--spawn-rate", str(spawn_rate)]
        argv = [REPLAYSWARM, "play", str(self.scenarios[scenario]), "--host", self.target.url,
                *shape, "--duration", f"{duration:g}s",
                "--db", f"sqlite:///{db}", "--json", "--quiet", "--processes", "1"]
        code = code_fingerprint(skip=("record", "convert"))  # what play runs
        done = run_pinned(argv, duration + OVERRUN, cwd=ROOT, watch=watch, log=self.log(scenario))
        steady = steady_rps(db, duration)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        try:
            out = json.loads(done.stdout)
        except ValueError:
            raise RuntimeError(f"replayswarm play printed no JSON (exit {done.code}): {done.stderr[-2000:]}") from None
        w = done.watcher
        return {
            # rps: the steady rate (see steady_rps), comparable with Locust's first-to-last-request
            # rate and wrk's; reported_rps: play's own, requests over its whole run time.
            "requests": out["requests"], "failures": out["failures"], "rps": steady if steady else out["rps"],
            "reported_rps": out["rps"], "stop_hang": done.wall_s > duration + 5,
            "p50_ms": out["p50_ms"], "p95_ms": out["p95_ms"], "p99_ms": out["p99_ms"],
            "saturated": out.get("saturated"), "exit_code": done.code,
            "tree_cpu_s": round(done.cpu_s, 3), "wall_s": round(done.wall_s, 3),
            "worker_cpu_s": w.cpu_s if w else None, "worker_peak_rss_mb": round(w.peak_rss_mb, 2) if w else None,
            "req_per_cpu_s": out["requests"] / done.cpu_s if done.cpu_s else None,
            "worker_core_share": (w.cpu_s / duration) if w and w.cpu_s else None,
            "busy": done.busy, "iterations": out.get("iterations"), "code": code,
        }

    # Locust ------------------------------------------------------------------------------

    def locust(self, locustfile: str, users: int, spawn_rate: float, duration: float) -> dict[str, Any]:
        """Locust's final numbers come from --json-file (written at shutdown, exact counts and its
        1 ms-bucket response-time histogram); its --csv stats are written once a second while it
        runs, so they can miss the last second: kept as a cross-check (csv_rps)."""
        prefix = self.tmp / f"locust-{self.n}"
        argv = [self.args.locust, "-f", str(self.tmp / locustfile), "--headless", "-u", str(users),
                "-r", str(spawn_rate), "-t", f"{duration:g}s", "--host", self.target.url,
                "--only-summary", "--csv", str(prefix), "--json-file", f"{prefix}-final", "--loglevel", "WARNING"]
        done = run_pinned(argv, duration + OVERRUN, cwd=self.tmp, watch="self", log=self.log(locustfile[:-3]))
        stats_csv, final_json = Path(f"{prefix}_stats.csv"), Path(f"{prefix}-final.json")
        if not final_json.exists():
            raise RuntimeError(f"locust wrote no JSON stats (exit {done.code}): {done.stderr[-2000:]}")
        entries = json.loads(final_json.read_text())
        csv_rps = None
        if stats_csv.exists():
            with open(stats_csv, newline="") as f:
                row = next((r for r in csv.DictReader(f) if r["Name"] == "Aggregated"), None)
            csv_rps = float(row["Requests/s"]) if row else None
        for p in self.tmp.glob(f"{prefix.name}*"):
            p.unlink()
        requests = sum(e["num_requests"] for e in entries)
        failures = sum(e["num_failures"] for e in entries)
        hist: collections.Counter[float] = collections.Counter()
        for e in entries:
            hist.update({float(k): v for k, v in e["response_times"].items()})
        start = min((e["start_time"] for e in entries), default=0.0)
        last = max((e["last_request_timestamp"] or 0.0 for e in entries), default=0.0)
        total_ms = sum(e["total_response_time"] for e in entries)
        w = done.watcher
        return {
            "requests": requests, "failures": failures, "rps": requests / (last - start) if last > start else 0.0,
            "csv_rps": csv_rps, "p50_ms": hist_percentile(hist, 0.50), "p95_ms": hist_percentile(hist, 0.95),
            "p99_ms": hist_percentile(hist, 0.99), "avg_ms": total_ms / requests if requests else None,
            "exit_code": done.code, "tree_cpu_s": round(done.cpu_s, 3), "wall_s": round(done.wall_s, 3),
            "req_per_cpu_s": requests / done.cpu_s if done.cpu_s else None,
            "peak_rss_mb": round(w.peak_rss_mb, 2) if w else None, "busy": done.busy,
        }

    # wrk ---------------------------------------------------------------------------------

    def wrk(self, users: int, duration: float) -> dict[str, Any]:
        argv = ["wrk", "-t1", f"-c{users}", f"-d{duration:g}s", "--timeout", "10s", "-s", str(self.tmp / "wrk.lua"),
                f"{self.target.url}{PAGE}"]
        done = run_pinned(argv, duration + OVERRUN, log=self.log("wrk"))
        m = re.search(r"BENCH requests=(\d+) duration_us=(\d+) errors=(\d+) p50=(\d+) p95=(\d+) p99=(\d+)", done.stdout)
        if not m:
            raise RuntimeError(f"wrk output not understood (exit {done.code}): {done.stdout[-1000:]} {done.stderr[-1000:]}")
        requests, dur_us, errors, p50, p95, p99 = map(int, m.groups())
        return {"requests": requests, "failures": errors, "rps": requests / (dur_us / 1e6),
                "p50_ms": p50 / 1000, "p95_ms": p95 / 1000, "p99_ms": p99 / 1000, "exit_code": done.code,
                "tree_cpu_s": round(done.cpu_s, 3), "wall_s": round(done.wall_s, 3),
                "req_per_cpu_s": requests / done.cpu_s if done.cpu_s else None, "busy": done.busy}

    # bare geventhttpclient ---------------------------------------------------------------

    def gevent(self, users: int, duration: float) -> dict[str, Any]:
        argv = [self.client_python, str(self.tmp / "gevent_loop.py"), HOST, str(self.target.port), PAGE, str(users), f"{duration:g}"]
        done = run_pinned(argv, duration + OVERRUN, log=self.log("gevent"))
        try:
            out = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise RuntimeError(f"gevent loop failed (exit {done.code}): {done.stderr[-2000:]}") from None
        return {"requests": out["requests"], "failures": out["errors"], "rps": out["rps"],
                "p50_ms": None, "p95_ms": None, "p99_ms": None, "exit_code": done.code,
                "tree_cpu_s": round(done.cpu_s, 3), "wall_s": round(done.wall_s, 3),
                "req_per_cpu_s": out["requests"] / done.cpu_s if done.cpu_s else None, "busy": done.busy}

    def throughput(self, contender: str) -> dict[str, Any]:
        """One run; run again (at most --retries times) while other processes took more than
        --max-noise of the load core, keeping the least disturbed attempt."""
        best: dict[str, Any] | None = None
        for attempt in range(1 + self.args.retries):
            r = self.throughput_once(contender)
            r["attempt"] = attempt + 1
            if best is None or r["busy"]["others_on_load_core"] < best["busy"]["others_on_load_core"]:
                best = r
            if r["busy"]["others_on_load_core"] <= self.args.max_noise:
                break
            print(f"  ({contender}: other processes took {r['busy']['others_on_load_core']:.0%} of core {LOAD_CORE}"
                  f"{', running it again' if attempt < self.args.retries else ''})", flush=True)
        assert best is not None
        return best

    def throughput_once(self, contender: str) -> dict[str, Any]:
        a = self.args
        if contender in ("play", "play-10"):
            return self.play(contender, a.users, 1000, a.duration)
        if contender == "play-stages":
            return self.play("play", a.users, 1000, a.duration, stages=True)
        if contender == "locust":
            return self.locust("locust_busy.py", a.users, 1000, a.duration)
        if contender == "wrk":
            return self.wrk(a.users, a.duration)
        return self.gevent(a.users, a.duration)

    # idle users --------------------------------------------------------------------------

    def idle(self, contender: str, users: int) -> dict[str, Any]:
        a = self.args
        spawn = min(a.idle_spawn_rate, max(users, 1))
        if contender == "play":
            r = self.play("idle", users, spawn, a.idle_duration, watch="child")
            rss = r["worker_peak_rss_mb"]
        else:
            r = self.locust("locust_idle.py", users, spawn, a.idle_duration)
            rss = r["peak_rss_mb"]
        return {"users": users, "peak_rss_mb": rss, "requests": r["requests"], "failures": r["failures"],
                "exit_code": r["exit_code"], "code": r.get("code")}

    # profile -----------------------------------------------------------------------------

    def profile(self) -> dict[str, Any] | None:
        pyspy = self.args.py_spy or next((str(p) for p in (VENV_BIN / "py-spy", Path("/tmp/pyspy-venv/bin/py-spy"),
                                                           Path("/tmp/locust-venv/bin/py-spy")) if p.exists()),
                                         None) or shutil.which("py-spy")
        if not pyspy:
            return None
        a = self.args
        duration = max(8.0, a.duration)
        raw = self.tmp / "profile.txt"
        result: dict[str, Any] = {}

        def attach() -> None:
            # Wait for play's worker, let it warm up, then sample it from the target's core.
            deadline = time.monotonic() + 20
            worker = None
            while worker is None and time.monotonic() < deadline:
                for pid in proc_children(os.getpid()):
                    for kid in proc_children(pid):
                        if "replayswarm.play.worker" in proc_cmdline(kid):
                            worker = kid
                time.sleep(0.1)
            if worker is None:
                result["error"] = "worker not found"
                return
            time.sleep(2)
            # --gil: only samples of the thread holding the GIL, i.e. where the worker's CPU goes
            # (gevent's resolver threads waiting for work are left out).
            argv = [pyspy, "record", "--nonblocking", "--gil", "-r", "250", "-d", f"{int(duration - 4)}", "--format", "raw",
                    "-o", str(raw), "--pid", str(worker)]
            p = subprocess.run(pinned(TARGET_CORE, argv), capture_output=True, text=True, timeout=duration + OVERRUN)
            result["py_spy"] = (p.stdout + p.stderr).strip().splitlines()[:1]

        t = threading.Thread(target=attach, daemon=True)
        t.start()
        run = self.play("play", a.users, 1000, duration)
        t.join(OVERRUN)
        result["run_rps_while_profiled"] = run["rps"]
        if raw.exists():
            result.update(summarize_profile(raw))
        return result


def hist_percentile(hist: collections.Counter[float], q: float) -> float | None:
    """Locust's way: the smallest recorded (rounded) response time with at least q of requests at or below it."""
    total = sum(hist.values())
    if not total:
        return None
    need, seen = q * total, 0
    for ms in sorted(hist):
        seen += hist[ms]
        if seen >= need:
            return ms
    return max(hist)


def summarize_profile(raw: Path) -> dict[str, Any]:
    """Collapsed stacks ('f1;f2;f3 N') → self and inclusive shares per function (lines dropped)."""
    self_n: collections.Counter[str] = collections.Counter()
    self_lines: collections.Counter[str] = collections.Counter()  # with line numbers
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        count = int(n)
        total += count
        raw_frames = stack.split(";")
        frames = [re.sub(r":\d+\)$", ")", f) for f in raw_frames]
        self_n[frames[-1]] += count
        self_lines[raw_frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    if not total:
        return {"samples": 0}
    ours = re.compile(r"replayswarm/(play/\w+|histogram)\.py")

    def share(c: collections.Counter[str], pred: Any, k: int) -> list[tuple[str, float]]:
        return [(f, round(100 * n / total, 1)) for f, n in c.most_common() if pred(f)][:k]

    return {
        "samples": total,
        "ours_inclusive_pct": share(incl, lambda f: bool(ours.search(f)), 12),
        "ours_self_pct": share(self_n, lambda f: bool(ours.search(f)), 8),
        # Time in C-accelerated gevent calls (Event.wait, Timeout) shows as the calling line's self time.
        "ours_self_lines_pct": share(self_lines, lambda f: bool(ours.search(f)), 8),
        "self_pct": share(self_n, lambda f: True, 12),
        "library_inclusive_pct": share(incl, lambda f: "replayswarm/" not in f and not f.startswith(("Greenlet.", "Hub.")), 15),
    }


# -- report ----------------------------------------------------------------------------------


def summarize(rounds: list[dict[str, Any]], idle: list[dict[str, Any]], contenders: tuple[str, ...]) -> dict[str, Any]:
    s: dict[str, Any] = {"throughput": {}, "ratios": {}, "memory": {}}
    for c in contenders:
        rs = [r[c] for r in rounds]
        s["throughput"][c] = {k: med([r.get(k) for r in rs]) for k in
                              ("rps", "p50_ms", "p95_ms", "p99_ms", "req_per_cpu_s", "tree_cpu_s", "worker_core_share")
                              if any(r.get(k) is not None for r in rs)}
        s["throughput"][c]["failures"] = sum(r["failures"] for r in rs)
        s["throughput"][c]["rps_per_round"] = [round(r["rps"]) for r in rs]
        s["throughput"][c]["others_on_load_core"] = med([r["busy"]["others_on_load_core"] for r in rs])
        if c.startswith("play"):
            s["throughput"][c]["reported_rps"] = med([r["reported_rps"] for r in rs])
            s["throughput"][c]["reported_rps_per_round"] = [round(r["reported_rps"]) for r in rs]
            s["throughput"][c]["stop_hangs"] = sum(bool(r["stop_hang"]) for r in rs)
    for c in contenders:
        if c == "locust" or "locust" not in contenders:
            continue
        s["ratios"][f"{c}/locust"] = med([r[c]["rps"] / r["locust"]["rps"] for r in rounds])
        s["ratios"][f"{c}/locust_per_cpu_s"] = med([r[c]["req_per_cpu_s"] / r["locust"]["req_per_cpu_s"] for r in rounds])
    if "gevent" in contenders and "play" in contenders:
        s["ratios"]["play/gevent"] = med([r["play"]["rps"] / r["gevent"]["rps"] for r in rounds])
    if "play-stages" in contenders and "play" in contenders:
        # Paired within rounds: the goal is within 5 % of the plain run.
        s["ratios"]["play-stages/play"] = med([r["play-stages"]["rps"] / r["play"]["rps"] for r in rounds])
    if idle:
        for c in ("play", "locust"):
            per_user = [(r[c]["big"]["peak_rss_mb"] - r[c]["base"]["peak_rss_mb"]) / (r[c]["big"]["users"] - r[c]["base"]["users"])
                        for r in idle]
            s["memory"][c] = {
                "base_rss_mb": med([r[c]["base"]["peak_rss_mb"] for r in idle]),
                "big_rss_mb": med([r[c]["big"]["peak_rss_mb"] for r in idle]),
                "mb_per_idle_user": med(per_user), "kb_per_idle_user": med(per_user) * 1024,
                "requests_big": [r[c]["big"]["requests"] for r in idle],
            }
        s["ratios"]["memory_play/locust"] = med([
            ((r["play"]["big"]["peak_rss_mb"] - r["play"]["base"]["peak_rss_mb"])
             / (r["locust"]["big"]["peak_rss_mb"] - r["locust"]["base"]["peak_rss_mb"])) for r in idle])
    goals = {}
    if "play/locust" in s["ratios"]:
        v = s["ratios"]["play/locust"]
        goals["rps_per_core_>=_2x_locust"] = {"ratio": v, "met": v >= 2.0,
                                              "ratio_req_per_cpu_s": s["ratios"]["play/locust_per_cpu_s"]}
    if "memory_play/locust" in s["ratios"]:
        v = s["ratios"]["memory_play/locust"]
        goals["memory_per_idle_user_<=_half_locust"] = {"ratio": v, "met": v <= 0.5}
    s["goals"] = goals
    return s


def fmt(v: Any, spec: str) -> str:
    return "-" if v is None or v != v else format(v, spec)


def print_report(s: dict[str, Any], env: dict[str, Any], args: argparse.Namespace, prof: dict[str, Any] | None) -> None:
    print(f"\nnginx {env['nginx']} on core {TARGET_CORE}, generators on core {LOAD_CORE}; {env['cpu']}, "
          f"Python {env['python']}, locust {env['locust']}, {env['wrk']}; {args.rounds} rounds x {args.duration:g}s, "
          f"{args.users} users/connections, medians over rounds")
    print(f"\n1. Throughput on one core, GET {PAGE} ({PAGE_SIZE} B)")
    print(f"   {'contender':<9}{'req/s':>9}{'vs locust':>10}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'req/CPU-s':>10}"
          f"{'vs locust':>10}{'fails':>6}{'noise':>6}   req/s per round")
    for c, t in s["throughput"].items():
        ratio = s["ratios"].get(f"{c}/locust", 1.0 if c == "locust" else None)
        cpu_ratio = s["ratios"].get(f"{c}/locust_per_cpu_s", 1.0 if c == "locust" else None)
        print(f"   {c:<9}{fmt(t['rps'], '.0f'):>9}{fmt(ratio, '.2f'):>10}{fmt(t.get('p50_ms'), '.2f'):>8}"
              f"{fmt(t.get('p95_ms'), '.2f'):>8}{fmt(t.get('p99_ms'), '.2f'):>8}{fmt(t.get('req_per_cpu_s'), '.0f'):>10}"
              f"{fmt(cpu_ratio, '.2f'):>10}{t['failures']:>6}{t['others_on_load_core']:>6.0%}   {t['rps_per_round']}")
    print("   req/s: play's is its steady rate (whole seconds 2..N-1 of its per-second buckets); Locust's is first to")
    print("   last request; noise: median share of the load core used by other processes during the runs")
    for c in ("play", "play-10", "play-stages"):
        t = s["throughput"].get(c)
        if t and "reported_rps" in t:
            print(f"   {c} as it reports itself (requests / whole run time): {t['reported_rps']:.0f} req/s "
                  f"{t['reported_rps_per_round']}; runs that overran their duration by >5 s: {t['stop_hangs']}")
    if "play" in s["throughput"] and s["throughput"]["play"].get("worker_core_share") is not None:
        print(f"   play's worker used {s['throughput']['play']['worker_core_share']:.0%} of the shared core "
              f"(the rest: its parent, the kernel, waiting)")
    if "play/gevent" in s["ratios"]:
        print(f"   play reaches {s['ratios']['play/gevent']:.0%} of the bare geventhttpclient loop")
    if "play-stages/play" in s["ratios"]:
        print(f"   play with its users given as stages (steered by the parent every tick): "
              f"{s['ratios']['play-stages/play']:.0%} of plain play's req/s, paired within rounds (goal: within 5 %)")
    if s["memory"]:
        print(f"\n2. Memory, idle users (one request each, then 30 s think), peak RSS, {args.idle_rounds} round(s)")
        print(f"   {'contender':<9}{str(args.idle_baseline) + ' users MB':>14}{str(args.idle_users) + ' users MB':>16}"
              f"{'KB/idle user':>14}")
        for c, m in s["memory"].items():
            what = "play (worker)" if c == "play" else "locust"
            print(f"   {what:<14}{m['base_rss_mb']:>9.1f}{m['big_rss_mb']:>16.1f}{m['kb_per_idle_user']:>14.1f}")
    print("\n3. Goals")
    for name, g in s["goals"].items():
        extra = f" (per CPU second: {g['ratio_req_per_cpu_s']:.2f})" if "ratio_req_per_cpu_s" in g else ""
        print(f"   {name}: ratio {g['ratio']:.2f}{extra} -> {'MET' if g['met'] else 'NOT MET'}")
    if prof and prof.get("samples"):
        print(f"\n4. Profile of play's worker (py-spy --gil, {prof['samples']} samples holding the GIL; "
              f"{prof['run_rps_while_profiled']:.0f} req/s while sampled)")
        print("   replayswarm/play, inclusive % of samples: " +
              ", ".join(f"{f.split(' (')[0]} {p}" for f, p in prof["ours_inclusive_pct"][:6]))
        print("   replayswarm/play, self %: " + ", ".join(f"{f.split(' (')[0]} {p}" for f, p in prof["ours_self_pct"][:6]))
        print("   replayswarm/play, self % by line (includes C-accelerated gevent calls made there): " +
              ", ".join(f"{f.split(' (')[1].rstrip(')').replace('replayswarm/', '')} {p}" for f, p in prof["ours_self_lines_pct"][:5]))
        print("   libraries, inclusive %: " + ", ".join(f"{f.split(' (')[0]} {p}" for f, p in prof["library_inclusive_pct"][:10]))
        print("   self %: " + ", ".join(f"{f} {p}" for f, p in prof["self_pct"][:6]))
    if s.get("warning"):
        print(f"\nWARNING: {s['warning']}")
    print(f"\nJSON: {RESULTS.relative_to(ROOT)}")


# -- main ------------------------------------------------------------------------------------


def environment(target: Target, locust: str) -> dict[str, Any]:
    version = code_version()
    lv = subprocess.run([locust, "--version"], capture_output=True, text=True).stdout.split(" from ")[0].strip()
    wv = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    ghc = subprocess.run([client_python(locust), "-c", "import gevent, geventhttpclient.client as c, importlib.metadata as m;"
                          "print(gevent.__version__, m.version('geventhttpclient'))"], capture_output=True, text=True)
    return {"nginx": target.version.split("/")[-1], "python": platform.python_version(), "kernel": platform.release(),
            "cpu": cpu_model(), "cpus": os.cpu_count(), "commit": version["commit"],
            "replayswarm_dirty": version["replayswarm_uncommitted"], "locust": lv.replace("locust ", ""),
            "wrk": (wv.stdout + wv.stderr).split(" Copyright")[0].strip(),
            "gevent_geventhttpclient": ghc.stdout.strip(),
            "loadavg_start": Path("/proc/loadavg").read_text().split()[:3]}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="throughput rounds, each runs every contender once (default 3)")
    p.add_argument("--duration", type=float, default=15, help="seconds per throughput run (default 15)")
    p.add_argument("--users", type=int, default=50, help="concurrent users / connections per generator (default 50)")
    p.add_argument("--contenders", default=",".join(DEFAULT_CONTENDERS),
                   help=f"comma-separated, from {','.join(CONTENDERS)} (default {','.join(DEFAULT_CONTENDERS)})")
    p.add_argument("--idle-rounds", type=int, default=1, help="rounds of the idle-user memory test, 0 to skip (default 1)")
    p.add_argument("--idle-users", type=int, default=10000, help="idle users (default 10000)")
    p.add_argument("--idle-baseline", type=int, default=10, help="users in the baseline run subtracted (default 10)")
    p.add_argument("--idle-spawn-rate", type=float, default=5000, help="users started per second (default 5000)")
    p.add_argument("--idle-duration", type=float, default=20, help="seconds per idle run (default 20)")
    p.add_argument("--max-noise", type=float, default=0.10,
                   help="rerun a throughput run when other processes took more than this share of the load core (default 0.10)")
    p.add_argument("--retries", type=int, default=2, help="reruns of a disturbed throughput run, keeping the least disturbed (default 2)")
    p.add_argument("--no-profile", action="store_true", help="skip the py-spy profile of play's worker")
    p.add_argument("--py-spy", default=None,
                   help="py-spy executable (default: .venv/bin, /tmp/pyspy-venv/bin, /tmp/locust-venv/bin, PATH)")
    p.add_argument("--locust", default=None, help="locust executable (default: .venv/bin/locust, /tmp/locust-venv/bin/locust, PATH)")
    args = p.parse_args()
    args.contenders = tuple(c.strip() for c in args.contenders.split(",") if c.strip())
    unknown = set(args.contenders) - set(CONTENDERS)
    if unknown:
        p.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    if args.rounds < 1 or args.users < 1 or args.duration < 2 or args.idle_rounds < 0:
        p.error("--rounds and --users must be at least 1, --duration at least 2, --idle-rounds at least 0")
    if args.idle_users <= args.idle_baseline:
        p.error("--idle-users must be above --idle-baseline")
    args.locust = args.locust or find_locust()
    if args.locust:  # the runs start elsewhere: a relative path would not be found there
        args.locust = str(Path(args.locust).resolve()) if Path(args.locust).exists() else shutil.which(args.locust)
    if not args.locust and ({"locust", "gevent"} & set(args.contenders) or args.idle_rounds):
        p.error("locust not found: .venv/bin/pip install locust (or --locust PATH)")
    if "wrk" in args.contenders and not shutil.which("wrk"):
        p.error("wrk not found: apt-get install -y wrk (or leave it out of --contenders)")
    return args


def main() -> None:
    args = parse_args()
    pin_driver(TARGET_CORE, LOAD_CORE)

    tmp = Path(tempfile.mkdtemp(prefix="replayswarm-playbench-"))
    rounds: list[dict[str, Any]] = []
    idle: list[dict[str, Any]] = []
    prof = None
    try:
        target = start_nginx(tmp, TARGET_CORE, {PAGE[1:]: page_html()})
        try:
            env = environment(target, args.locust or "locust")
            bench = Bench(args, tmp, target)
            print(f"nginx on {target.url} (core {TARGET_CORE}); generators on core {LOAD_CORE}; work dir {tmp}", flush=True)
            k = len(args.contenders)
            for i in range(args.rounds):
                order = args.contenders[i % k:] + args.contenders[:i % k]  # rotate: none always first
                rounds.append({})
                for c in order:
                    r = rounds[i][c] = bench.throughput(c)
                    print(f"round {i + 1}/{args.rounds} {c:<8} {r['rps']:8.0f} req/s  p50 {fmt(r.get('p50_ms'), '.2f')} ms  "
                          f"p99 {fmt(r.get('p99_ms'), '.2f')} ms  failures {r['failures']}  "
                          f"core {TARGET_CORE} busy {r['busy'].get(f'core{TARGET_CORE}', 0):.0%}, "
                          f"others on core {LOAD_CORE} {r['busy']['others_on_load_core']:.0%}", flush=True)
            for i in range(args.idle_rounds):
                idle.append({"play": {}, "locust": {}})
                order = ("play", "locust") if i % 2 == 0 else ("locust", "play")
                for c in order:
                    for tag, users in (("base", args.idle_baseline), ("big", args.idle_users)):
                        r = idle[i][c][tag] = bench.idle(c, users)
                        print(f"idle round {i + 1}/{args.idle_rounds} {c:<7} {users:>6} users: peak RSS "
                              f"{r['peak_rss_mb']:.1f} MB, {r['requests']} requests, {r['failures']} failures", flush=True)
            if not args.no_profile and "play" in args.contenders:
                prof = bench.profile()
                if prof is None:
                    print("py-spy not found: no profile (pip install py-spy, or --py-spy PATH)", flush=True)
        finally:
            target.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    summary = summarize(rounds, idle, args.contenders)
    codes = sorted({r["code"] for rnd in rounds for c, r in rnd.items() if c.startswith("play")}
                   | {x[c][t].get("code") for x in idle for c in ("play",) for t in ("base", "big") if x[c][t].get("code")})
    env["replayswarm_sources"] = codes
    if len(codes) > 1:
        summary["warning"] = (f"replayswarm's sources changed during the benchmark ({', '.join(codes)}): "
                              "the play numbers mix versions, run it again")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"environment": env, "parameters": vars(args), "summary": summary,
                                   "rounds": rounds, "idle": idle, "profile": prof}, indent=2))
    print_report(summary, env, args, prof)


if __name__ == "__main__":
    main()
