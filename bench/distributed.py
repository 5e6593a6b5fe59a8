"""What the distributed engine costs, and how it scales.

nginx serves a 1 KB page on core 0. Contenders, in alternating order each round, on core 1:

  play         `replayswarm play`, 50 users, no think time: the one-machine baseline
  distributed  `replayswarm play --master` and one `replayswarm worker`, both on core 1: the same
               load through Locust's runner (relay, ZeroMQ, bridge); goal: at least 0.9 of play

  paced-one    the master and one worker, at --paced req/s in all (--max-rps)
  paced-two    the master and two workers, at the same total

Two workers on two cores of their own need a target on a third core, which this 2-core machine
has not, so the scaling is simulated. What decides whether two cores give twice the requests is
the work each request costs: the CPU seconds of every process of ours (master, relay, bridges,
workers) per request, with two workers against one, at the same paced total, below what the core
can do (two saturated processes on one core would measure their contention, which two cores do
not have). Predicted scaling on two cores = 2 × (CPU per request, one worker) / (CPU per request,
two workers); goal: at least 1.8.

    .venv/bin/python bench/distributed.py [--rounds 3 --seconds 15 --users 50]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
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
    proc_children,
    proc_cpu,
    run_buckets,
    start_nginx,
    stop_process,
)


def steady(db: Path, seconds: int) -> float:
    """req/s over the run's steady part: its first 3 and last 2 seconds left out."""
    counts = [n for t, n, _ in run_buckets(db) if 3 <= t < seconds - 2]
    return med(counts)


def tree_cpu(pids: list[int]) -> float:
    """CPU seconds so far of these processes and every descendant (relay, bridges, workers)."""
    total, todo = 0.0, list(pids)
    while todo:
        pid = todo.pop()
        total += proc_cpu(pid) or 0.0
        todo += proc_children(pid)
    return total


def wait_second(db: Path, t: int, process: subprocess.Popen[bytes]) -> None:
    """Until the run has stored its second `t` (or ended)."""
    while process.poll() is None and not any(s >= t for s, _, _ in run_buckets(db)):
        time.sleep(0.05)


def one(args: argparse.Namespace, tmp: Path, scenario: Path, target: str, workers: int, n: int, paced: bool = False) -> dict[str, Any]:
    """One run. CPU per request is measured over the steady part only (seconds 3 to the last 2):
    start-up (Locust's import alone is most of a CPU second) would weigh on the runs with more
    processes."""
    db = tmp / f"run-{n}.db"
    argv = [PYTHON, "-m", "replayswarm", "play", str(scenario), "--host", target, "--users", str(args.users), "--spawn-rate", "1000",
            "--duration", f"{args.seconds}s", "--no-validate", "--quiet", "--json", "--db", f"sqlite:///{db}",
            *(["--max-rps", str(args.paced)] if paced else [])]
    hosts: list[subprocess.Popen[bytes]] = []
    if workers:
        port = free_port()
        argv += ["--master", "--master-bind-host", HOST, "--master-bind-port", str(port), "--expect-workers", str(workers)]
    master = subprocess.Popen(pinned(LOAD_CORE, argv), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for _ in range(workers):
        hosts.append(subprocess.Popen(pinned(LOAD_CORE, [PYTHON, "-m", "replayswarm", "worker", "--master-host", HOST, "--master-port", str(port)]),
                                      cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    pids = [master.pid, *(h.pid for h in hosts)]
    first, last = 3, args.seconds - 2
    try:
        wait_second(db, first, master)
        cpu = tree_cpu(pids)
        wait_second(db, last, master)
        used = tree_cpu(pids) - cpu
        out, _ = master.communicate(timeout=args.seconds + 120)
        for h in hosts:
            h.wait(60)
    finally:
        for p in (master, *hosts):
            stop_process(p)
    result = json.loads(out)
    steady_requests = sum(r for t, r, _ in run_buckets(db) if first <= t < last)
    return {"rps": steady(db, args.seconds), "requests": result["requests"], "failures": result["failures"],
            "cpu_s": used, "cpu_per_1000": 1000 * used / max(1, steady_requests), "saturated": result["saturated"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--paced", type=int, default=6000, help="req/s in all for the scaling contenders")
    args = parser.parse_args()
    pin_driver(TARGET_CORE, LOAD_CORE)
    contenders = {"play": (0, False), "distributed": (1, False), "paced-one": (1, True), "paced-two": (2, True)}
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="replayswarm-distributed-") as name:
        tmp = Path(name)
        nginx = start_nginx(tmp, TARGET_CORE, {"index.html": page_html()})
        scenario = tmp / "page.yaml"
        scenario.write_text(page_scenario(nginx.url, "page", [0.0]))
        try:
            n = 0
            for r in range(args.rounds):
                order = list(contenders) if r % 2 == 0 else list(reversed(contenders))
                result = {}
                for name_ in order:
                    n += 1
                    workers, paced = contenders[name_]
                    result[name_] = one(args, tmp, scenario, nginx.url, workers, n, paced)
                result["ratio"] = result["distributed"]["rps"] / result["play"]["rps"]
                result["scaling"] = 2 * result["paced-one"]["cpu_per_1000"] / result["paced-two"]["cpu_per_1000"]
                rounds.append(result)
                print(f"round {r + 1}: play {result['play']['rps']:.0f} req/s, distributed {result['distributed']['rps']:.0f} "
                      f"(ratio {result['ratio']:.3f}); CPU ms per 1000 requests: "
                      + ", ".join(f"{k} {result[k]['cpu_per_1000'] * 1000:.0f}" for k in contenders)
                      + f"; predicted scaling on two cores {result['scaling']:.2f}", flush=True)
        finally:
            nginx.stop()
    summary = {
        "parameters": vars(args), "cpu": cpu_model(), **code_version(),
        "ratio_median": med(r["ratio"] for r in rounds), "scaling_median": med(r["scaling"] for r in rounds),
        "rps": {k: med(r[k]["rps"] for r in rounds) for k in contenders},
        "cpu_ms_per_1000": {k: med(1000 * r[k]["cpu_per_1000"] for r in rounds) for k in contenders},
        "failures": sum(r[k]["failures"] for r in rounds for k in contenders),
    }
    print(f"\n{args.users} users, no think time, nginx on core {TARGET_CORE}, everything of ours on core {LOAD_CORE}; {summary['cpu']}")
    print(f"distributed (master + 1 worker) / play: {summary['ratio_median']:.3f} of its req/s   goal >= 0.9")
    print(f"predicted scaling, two workers on two cores: {summary['scaling_median']:.2f}x   goal >= 1.8 (simulated: CPU per request)")
    print(f"failures {summary['failures']}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "distributed.json").write_text(json.dumps({**summary, "rounds": rounds}, indent=2))


if __name__ == "__main__":
    main()
