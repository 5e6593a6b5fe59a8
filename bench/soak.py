"""Does `replayswarm play` hold steady over a long run: flat memory, a steady request rate?

Starts nginx on 127.0.0.1 (temp config, 1 KB static page, pinned to core 0), then runs
`replayswarm play` pinned to core 1 for --minutes with --users virtual users, each doing
GET /index.html after --think seconds of thinking (2,000 users thinking 1 s make about
2,000 req/s: well below what one core generates, so a drift shows play's, not a saturated
generator's). Every 10 s it samples the resident memory of play's worker process(es) and of
play itself (the parent: merging, the database); afterwards it reads the run's per-second
request counts from its database.

Reported: memory after warm-up (median over minutes 3-5; the first 20 % of runs under 10
minutes) and at the end (median over the last 2 minutes; the last 10 %), growth, peak; req/s
per minute (per 10 s in runs under 5 minutes) after spawning: median, min, max, coefficient of
variation; failures. Goals, reported and not asserted: memory growth under 5 % after warm-up,
req/s steady (coefficient of variation under 5 %, no window under 90 % of the median). The exit
code is non-zero only for a broken run (play failed, printed no result, stalled or the target died).

Run from the repository root:  .venv/bin/python bench/soak.py [--minutes 30 --users 2000 --think 1.0]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import (
    LOAD_CORE,
    PAGE,
    REPLAYSWARM,
    ROOT,
    TARGET_CORE,
    Target,
    code_fingerprint,
    code_version,
    cpu_model,
    med,
    page_html,
    page_scenario,
    pin_driver,
    pinned,
    proc_children,
    proc_cmdline,
    proc_cpu,
    proc_peak_rss_mb,
    proc_rss_mb,
    run_buckets,
    start_nginx,
    stop_process,
)

RESULTS = ROOT / "bench" / "results" / "soak.json"
WORKER = "replayswarm.play.worker"  # in a worker's command line
OVERRUN = 120.0  # past its duration, play gets this long to stop (its own --stop-timeout is 10 s)
GROWTH_GOAL_PCT = 5.0
CV_GOAL = 0.05
MIN_WINDOW_GOAL = 0.90  # no window's req/s under this share of the median


# -- sampling --------------------------------------------------------------------------------


def workers_of(pid: int) -> list[int]:
    return [kid for kid in proc_children(pid) if WORKER in proc_cmdline(kid)]


def sample(play: int, t: float, seen: set[int], cpu_before: dict[int, float], dt: float) -> dict[str, Any]:
    """One look at play's process tree: RSS and high-water mark of the parent and of its workers
    (summed: with --processes N the swarm's memory is theirs together), the workers' CPU share."""
    workers = workers_of(play)
    seen.update(workers)
    rss = {w: proc_rss_mb(w) for w in workers}
    hwm = {w: proc_peak_rss_mb(w) for w in workers}
    cpu = {w: proc_cpu(w) for w in workers}
    share = [(c - cpu_before[w]) / dt for w, c in cpu.items() if c is not None and w in cpu_before and dt > 0]
    cpu_before.update({w: c for w, c in cpu.items() if c is not None})
    return {
        "t": round(t, 1),
        "parent_rss_mb": round_or_none(proc_rss_mb(play)),
        "parent_hwm_mb": round_or_none(proc_peak_rss_mb(play)),
        "workers": len(workers),
        "worker_rss_mb": round_or_none(sum(v for v in rss.values() if v is not None)) if workers else None,
        "worker_hwm_mb": round_or_none(max((v for v in hwm.values() if v is not None), default=None)),
        "worker_cpu_share": round(sum(share), 3) if share else None,
    }


def round_or_none(v: float | None, digits: int = 2) -> float | None:
    return None if v is None else round(v, digits)


def no_nan(x: Any) -> Any:
    """NaN (a median of nothing) as null: JSON has no NaN."""
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, dict):
        return {k: no_nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [no_nan(v) for v in x]
    return x


def kill_leftovers(play: subprocess.Popen[bytes], workers: set[int]) -> None:
    """Stop play as Ctrl-C would (it tells its workers), then kill whatever is left. Its workers
    run in sessions of their own: killing play's process group would not reach them."""
    if play.poll() is None:
        workers.update(workers_of(play.pid))
    stop_process(play, signal.SIGINT, 20)
    for w in workers:
        if WORKER in proc_cmdline(w):  # still one of play's workers, not a reused pid
            try:
                os.kill(w, signal.SIGKILL)
            except OSError:
                pass


# -- analysis --------------------------------------------------------------------------------


def windows(duration: int, minutes: float) -> tuple[float, float, float, float]:
    """(warm-up from, to, end from, to) in seconds since play started. Minutes 3-5 and the last
    2: past start-up, allocator and caches settled; shares of the run when it is too short."""
    if minutes >= 10:
        return 180.0, 300.0, duration - 120.0, float(duration)
    return 0.0, 0.2 * duration, 0.9 * duration, float(duration)


def memory(samples: list[dict[str, Any]], duration: int, minutes: float) -> dict[str, Any]:
    w0, w1, e0, e1 = windows(duration, minutes)
    out: dict[str, Any] = {"warmup_window_s": [w0, w1], "end_window_s": [e0, e1]}
    for who in ("worker", "parent"):
        warm = med([s[f"{who}_rss_mb"] for s in samples if w0 <= s["t"] < w1])
        end = med([s[f"{who}_rss_mb"] for s in samples if e0 <= s["t"] < e1])
        peaks = [v for s in samples for v in (s[f"{who}_rss_mb"], s[f"{who}_hwm_mb"]) if v is not None]
        out[who] = {
            "warmup_rss_mb": round(warm, 2), "end_rss_mb": round(end, 2),
            "growth_pct": round(100 * (end / warm - 1), 2) if warm == warm and end == end and warm > 0 else None,
            "peak_rss_mb": round(max(peaks), 2) if peaks else None,
        }
    return out


def rates(buckets: list[tuple[int, int, int]], duration: int, users: int, spawn_rate: float, think: float) -> dict[str, Any]:
    """req/s per window after spawning, from the per-second buckets. Bucket t is wall-clock second
    int(started) + t: buckets 1 .. duration-1 are whole seconds of the run; a second missing from
    the table had no request (a stall)."""
    window = 60 if duration >= 300 else 10
    ramp = users / spawn_rate + think + 1  # every user started and through its first think time
    start = window * max(1, math.ceil(ramp / window))
    per_second = {t: (n, f) for t, n, f in buckets}
    series = []
    for a in range(start, duration - window + 1, window):
        n = sum(per_second.get(t, (0, 0))[0] for t in range(a, a + window))
        f = sum(per_second.get(t, (0, 0))[1] for t in range(a, a + window))
        series.append({"from_s": a, "rps": round(n / window, 1), "failures": f})
    steady = [per_second.get(t, (0, 0))[0] for t in range(start, duration)]
    rps = [w["rps"] for w in series]
    mean = statistics.fmean(rps) if rps else float("nan")
    return {
        "window_s": window, "steady_from_s": start, "windows": series,
        "median": med(rps), "min": min(rps) if rps else None, "max": max(rps) if rps else None,
        "cv": round(statistics.pstdev(rps) / mean, 4) if len(rps) > 1 and mean > 0 else None,
        "per_second_cv": round(statistics.pstdev(steady) / statistics.fmean(steady), 4) if len(steady) > 1 and any(steady) else None,
        "seconds_without_requests": sum(1 for n in steady if n == 0),
        "per_second_requests": steady,  # from steady_from_s on: where a dip in a window came from
        "requests": sum(n for _, n, _ in buckets), "failures": sum(f for _, _, f in buckets),
    }


# -- report ----------------------------------------------------------------------------------


def fmt(v: Any, spec: str) -> str:
    return "-" if v is None or v != v else format(v, spec)


def print_report(r: dict[str, Any]) -> None:
    a, env, m, q, play = r["parameters"], r["environment"], r["memory"], r["rate"], r["play"]
    print(f"\nnginx {env['nginx']} on core {TARGET_CORE}, play on core {LOAD_CORE}; {env['cpu']}, Python {env['python']}; "
          f"{a['minutes']:g} min, {a['users']} users, think {a['think']:g} s, spawn rate {a['spawn_rate']:g}/s")
    print(f"\n1. Memory (RSS, MB), sampled every {a['every']:g} s; warm-up = median over {m['warmup_window_s'][0]:.0f}-"
          f"{m['warmup_window_s'][1]:.0f} s, end = median over {m['end_window_s'][0]:.0f}-{m['end_window_s'][1]:.0f} s")
    print(f"   {'process':<10}{'warm-up':>9}{'end':>9}{'growth':>9}{'peak':>9}")
    for who in ("worker", "parent"):
        x = m[who]
        growth = f"{x['growth_pct']:+.1f}%" if x["growth_pct"] is not None else "-"
        print(f"   {who:<10}{fmt(x['warmup_rss_mb'], '.1f'):>9}{fmt(x['end_rss_mb'], '.1f'):>9}{growth:>9}"
              f"{fmt(x['peak_rss_mb'], '.1f'):>9}")
    print(f"   worker(s): {m['workers']}; worker CPU share of its core: median {fmt(m['worker_cpu_share_median'], '.0%')}, "
          f"max {fmt(m['worker_cpu_share_max'], '.0%')}")
    print(f"\n2. Requests per second, per {q['window_s']} s window from second {q['steady_from_s']} "
          f"({len(q['windows'])} windows; expected about {fmt(q['expected_rps'], '.0f')})")
    print(f"   median {fmt(q['median'], '.1f')}  min {fmt(q['min'], '.1f')}  max {fmt(q['max'], '.1f')}  "
          f"CV {fmt(q['cv'], '.2%')}  (per second: CV {fmt(q['per_second_cv'], '.2%')}, "
          f"{q['seconds_without_requests']} s without requests)")
    if q["window_s"] == 60:
        print("   per minute: " + " ".join(f"{w['rps']:.0f}" for w in q["windows"]))
    print(f"   play: {play.get('requests')} requests, {play.get('failures')} failures, p50 {fmt(play.get('p50_ms'), '.2f')} ms, "
          f"p99 {fmt(play.get('p99_ms'), '.2f')} ms, saturated: {play.get('saturated')}, exit {r['exit_code']}")
    print("\n3. Goals (reported, not asserted)")
    for name, g in r["goals"].items():
        print(f"   {name}: {g['value']} -> {'MET' if g['met'] else 'NOT MET'}")
    for w in r["warnings"]:
        print(f"\nWARNING: {w}")
    if r["broken"]:
        print(f"\nBROKEN RUN: {r['broken']}")
    print(f"\nJSON: {RESULTS.relative_to(ROOT)}")


# -- main ------------------------------------------------------------------------------------


def terminated(signum: int, frame: object) -> None:
    print("\nterminated: stopping play and nginx", file=sys.stderr)
    sys.exit(128 + signum)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30, help="length of the run (default 30)")
    p.add_argument("--users", type=int, default=2000, help="virtual users (default 2000)")
    p.add_argument("--think", type=float, default=1.0, help="seconds each user thinks before each request (default 1.0)")
    p.add_argument("--spawn-rate", type=float, default=500, help="users started per second (default 500)")
    p.add_argument("--every", type=float, default=10, help="seconds between memory samples (default 10)")
    args = p.parse_args()
    if args.minutes < 1 or args.users < 1 or args.think < 0 or args.spawn_rate <= 0 or args.every <= 0:
        p.error("--minutes must be at least 1, --users at least 1, --think at least 0, --spawn-rate and --every above 0")
    return args


def main() -> int:
    args = parse_args()
    pin_driver(TARGET_CORE, LOAD_CORE)
    # Ctrl-C and a plain `kill` must run the finally blocks below, also when started from a shell
    # that ignores SIGINT in background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, terminated)

    duration = round(args.minutes * 60)
    tmp = Path(tempfile.mkdtemp(prefix="replayswarm-soak-"))
    samples: list[dict[str, Any]] = []
    workers_seen: set[int] = set()
    target: Target | None = None
    play: subprocess.Popen[bytes] | None = None
    warnings: list[str] = []
    broken: list[str] = []
    try:
        target = start_nginx(tmp, TARGET_CORE, {PAGE[1:]: page_html()})
        scenario = tmp / "soak.yaml"
        scenario.write_text(page_scenario(target.url, "soak", [args.think]))
        db = tmp / "soak.db"
        argv = [REPLAYSWARM, "play", str(scenario), "--host", target.url, "--users", str(args.users),
                "--spawn-rate", f"{args.spawn_rate:g}", "--duration", f"{duration}s", "--no-validate", "--quiet",
                "--json", "--db", f"sqlite:///{db}"]
        code_before = code_fingerprint(skip=("record", "convert"))
        print(f"nginx on {target.url} (core {TARGET_CORE}); play on core {LOAD_CORE}, {args.users} users for "
              f"{args.minutes:g} min; work dir {tmp}", flush=True)
        with open(tmp / "play.out", "wb") as out, open(tmp / "play.err", "wb") as err:
            # A session of its own: Ctrl-C reaches this driver, which stops play in order.
            play = subprocess.Popen(pinned(LOAD_CORE, argv), cwd=tmp, stdout=out, stderr=err, start_new_session=True)
        t0 = time.monotonic()
        cpu_before: dict[int, float] = {}
        last = t0
        n = 0
        while True:
            n += 1
            try:
                play.wait(max(0.0, t0 + n * args.every - time.monotonic()))
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            s = sample(play.pid, now - t0, workers_seen, cpu_before, now - last)
            last = now
            samples.append(s)
            if n % max(1, round(60 / args.every)) == 0:
                print(f"  {s['t']:6.0f} s  worker RSS {fmt(s['worker_rss_mb'], '.1f')} MB  parent RSS "
                      f"{fmt(s['parent_rss_mb'], '.1f')} MB  worker CPU {fmt(s['worker_cpu_share'], '.0%')}", flush=True)
            if target.proc.poll() is not None and not broken:
                broken.append(f"nginx exited with {target.proc.returncode} during the run")
            if now - t0 > duration + OVERRUN:
                broken.append(f"play still running {OVERRUN:.0f} s past its duration: stopped")
                kill_leftovers(play, workers_seen)
                break
        wall = time.monotonic() - t0
        exit_code = play.returncode
        stdout = (tmp / "play.out").read_text(errors="replace")
        stderr = (tmp / "play.err").read_text(errors="replace")
        try:
            result = json.loads(stdout)
        except ValueError:
            result = {}
            broken.append(f"play printed no JSON (exit {exit_code}): {stderr[-1500:].strip()}")
        if exit_code != 0:
            broken.append(f"play exited with {exit_code}: {stderr[-1500:].strip()}")
        buckets = run_buckets(db, result.get("run_id"))
        if code_fingerprint(skip=("record", "convert")) != code_before:
            warnings.append("replayswarm's sources changed during the run: the numbers may mix two versions")
    except KeyboardInterrupt:
        print("\ninterrupted: stopping play and nginx", file=sys.stderr)
        return 130
    finally:
        if play is not None:
            kill_leftovers(play, workers_seen)
        if target is not None:
            target.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    in_run = [s for s in samples if s["t"] < duration]
    mem = memory(in_run, duration, args.minutes)
    shares = [s["worker_cpu_share"] for s in in_run if s["worker_cpu_share"] is not None]
    mem.update({"workers": max((s["workers"] for s in samples), default=0),
                "worker_cpu_share_median": med(shares), "worker_cpu_share_max": max(shares, default=None)})
    rate = rates(buckets, duration, args.users, args.spawn_rate, args.think)
    latency = (result.get("p50_ms") or 0) / 1000
    rate["expected_rps"] = args.users / (args.think + latency) if args.think + latency > 0 else float("nan")
    if not any(s["worker_rss_mb"] for s in in_run):
        broken.append("no memory sample of play's worker")
    if not rate["requests"]:
        broken.append("no requests in the run's database")
    elif rate["seconds_without_requests"]:
        warnings.append(f"{rate['seconds_without_requests']} whole seconds without a request after spawning")
    if result.get("saturated"):
        warnings.append("play reports its worker saturated: the rate is the generator's limit, lower --users or raise --think")

    growth = [mem[w]["growth_pct"] for w in ("worker", "parent")]
    goals = {
        f"memory_growth_<_{GROWTH_GOAL_PCT:g}%": {
            "value": ", ".join(f"{w} {g:+.1f}%" if g is not None else f"{w} -" for w, g in zip(("worker", "parent"), growth, strict=True)),
            "met": all(g is not None and g < GROWTH_GOAL_PCT for g in growth)},
        f"rps_steady_(cv_<_{CV_GOAL:.0%},_min_>=_{MIN_WINDOW_GOAL:.0%}_median)": {
            "value": f"cv {fmt(rate['cv'], '.2%')}, min/median {fmt((rate['min'] or 0) / rate['median'] if rate['median'] else None, '.2f')}",
            "met": rate["cv"] is not None and rate["cv"] < CV_GOAL and bool(rate["median"])
                   and rate["min"] >= MIN_WINDOW_GOAL * rate["median"]},
    }
    report = {
        "environment": {"nginx": target.version.split("/")[-1] if target else None, "python": platform.python_version(),
                        "kernel": platform.release(), "cpu": cpu_model(), "cpus": os.cpu_count(), **code_version(),
                        "replayswarm_sources": code_before, "loadavg_end": Path("/proc/loadavg").read_text().split()[:3]},
        "parameters": {**vars(args), "duration_s": duration, "argv": argv[1:]},
        "memory": mem, "rate": rate, "goals": goals,
        "play": {k: result.get(k) for k in ("run_id", "status", "requests", "failures", "rps", "p50_ms", "p95_ms", "p99_ms", "saturated")},
        "exit_code": exit_code, "wall_s": round(wall, 1), "warnings": warnings, "broken": "; ".join(broken) or None,
        "samples": samples,
    }
    report = no_nan(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print_report(report)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
