"""What `replayswarm record` costs over plain mitmproxy.

Starts a local target (nginx, or Python's http.server when nginx is missing), then for several
rounds runs three contenders one after the other, in a rotating order:

  direct    the client talks to the target itself (the floor, and the client's own ceiling)
  mitmdump  plain mitmproxy, no addon of ours
  recorder  `python -m replayswarm record`, which stores every flow in SQLite

and measures, per contender: sequential latency on one keep-alive connection, throughput with
several concurrent keep-alive connections, and for the recorder how fast flows reach the
database and that every completed request became exactly one row. Finally it times the
recorder's `FlowWriter` alone.

The machine is assumed small and noisy: the client and target share core 0, the proxy under
test gets core 1 alone, and results are medians over rounds (ratios paired within a round).
Everything goes to 127.0.0.1; every phase is bounded by a request count and socket timeouts.

Run from the repository root:  .venv/bin/python bench/record_overhead.py [--rounds 3 ...]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import (
    HOST,
    LOAD_CORE,
    PYTHON,
    ROOT,
    TARGET_CORE,
    VENV_BIN,
    Target,
    code_version,
    cpu_model,
    filler,
    free_port,
    med,
    nginx_path,
    pin_driver,
    pinned,
    start_nginx,
    stop_process,
    wait_port,
    write_site,
)

RESULTS = ROOT / "bench" / "results" / "record_overhead.json"

CLIENT_CORE = TARGET_CORE  # client and target
PROXY_CORE = LOAD_CORE  # the proxy under test, alone
CONTENDERS = ("direct", "mitmdump", "recorder")
SOCKET_TIMEOUT = 10.0  # no single request may hang a phase
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
DRAIN_TIMEOUT = 60.0

# Two bodies: a typical API response and a typical script bundle. Both are text, so the
# recorder keeps (decodes and stores) them whole: its most expensive path under the body cap.
FILES = {"small": ("small.json", 1024), "large": ("large.js", 100 * 1024)}


# -- helpers ---------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


# -- target ----------------------------------------------------------------------------------


# The fallback target: Python's threaded static file server, speaking HTTP/1.1 keep-alive.
# Without TCP_NODELAY its separate header and body writes meet the client's delayed ACK and
# every request takes ~40 ms.
FALLBACK_SERVER = """
import functools, http.server, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *args):
        pass
host, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
http.server.ThreadingHTTPServer((host, port), functools.partial(Handler, directory=root)).serve_forever()
"""


def site_files() -> dict[str, bytes]:
    # Printable, repetitive but valid UTF-8 text of the exact size.
    line = b'{"id": 12345, "name": "replayswarm benchmark item", "tags": ["a", "b"]}\n'
    return {name: filler(line, size) for name, size in FILES.values()}


def start_target(tmp: Path, choice: str) -> Target:
    if choice in ("auto", "nginx") and nginx_path():
        # The access log on, as on a real site: nginx shares core 0 with the client.
        return start_nginx(tmp, CLIENT_CORE, site_files(), access_log=True)
    if choice == "nginx":
        raise SystemExit("--target nginx: nginx is not installed (apt-get install -y nginx)")
    www = write_site(tmp, site_files())
    port = free_port()
    argv = [PYTHON, "-c", FALLBACK_SERVER, HOST, str(port), str(www)]
    log = open(tmp / "httpserver.log", "wb")
    proc = subprocess.Popen(pinned(CLIENT_CORE, argv), stdout=log, stderr=subprocess.STDOUT)
    wait_port(port, proc, "http.server", START_TIMEOUT)
    return Target("python http.server", port, proc, f"Python {platform.python_version()}")


# -- proxies under test ----------------------------------------------------------------------


@dataclass
class Proxy:
    kind: str  # "mitmdump" or "recorder"
    port: int
    proc: subprocess.Popen[bytes]
    workdir: Path
    db_path: Path | None = None

    def stop(self) -> tuple[int, str]:
        code = stop_process(self.proc, signal.SIGINT, STOP_TIMEOUT)
        out = (self.workdir / f"{self.kind}.out").read_text(errors="replace").strip()
        return code, out


def start_proxy(kind: str, workdir: Path, confdir: Path, name: str) -> Proxy:
    port = free_port()
    db_path = None
    if kind == "mitmdump":
        argv = [str(VENV_BIN / "mitmdump"), "-q", "--listen-host", HOST, "--listen-port", str(port),
                "--set", f"confdir={confdir}"]
    else:
        db_path = workdir / f"{name}.db"
        argv = [PYTHON, "-m", "replayswarm", "record", "--name", name, "--db", f"sqlite:///{db_path}",
                "--listen-port", str(port), "--confdir", str(confdir)]
    out = open(workdir / f"{kind}.out", "wb")
    err = open(workdir / f"{kind}.err", "wb")
    proc = subprocess.Popen(pinned(PROXY_CORE, argv), cwd=ROOT, stdout=out, stderr=err)
    try:
        wait_port(port, proc, kind, START_TIMEOUT)
        if kind == "recorder":
            # Listening is not enough: wait for its own announcement that it is recording.
            deadline = time.monotonic() + START_TIMEOUT
            while b"Recording through proxy" not in (workdir / "recorder.err").read_bytes():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("recorder did not announce itself")
                time.sleep(0.05)
    except Exception:
        stop_process(proc, signal.SIGINT, STOP_TIMEOUT)
        sys.stderr.write((workdir / f"{kind}.err").read_text(errors="replace"))
        raise
    return Proxy(kind, port, proc, workdir, db_path)


# -- client ----------------------------------------------------------------------------------


@dataclass
class Client:
    """Plain http.client. Through a proxy it sends absolute-form requests on a plain
    connection to the proxy, as a browser does for http:// URLs."""

    target_port: int
    proxy_port: int | None

    def connect(self) -> http.client.HTTPConnection:
        port = self.proxy_port if self.proxy_port is not None else self.target_port
        return http.client.HTTPConnection(HOST, port, timeout=SOCKET_TIMEOUT)

    def get(self, conn: http.client.HTTPConnection, size: str) -> bool:
        name, length = FILES[size]
        path = f"/{name}"
        url = f"http://{HOST}:{self.target_port}{path}" if self.proxy_port is not None else path
        try:
            conn.request("GET", url, headers={"Host": f"{HOST}:{self.target_port}"})
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()  # http.client reopens on the next request
            return False
        return resp.status == 200 and len(body) == length


@dataclass
class Counter:
    """How many requests got a full 200 response through one proxy session (for the row check)."""

    ok: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, ok: bool) -> None:
        with self.lock:
            if ok:
                self.ok += 1
            else:
                self.errors += 1


def latency_phase(client: Client, size: str, warmup: int, n: int, counter: Counter) -> dict[str, Any]:
    conn = client.connect()
    for _ in range(warmup):
        counter.add(client.get(conn, size))
    samples: list[float] = []
    errors = 0
    for _ in range(n):
        t0 = time.perf_counter_ns()
        ok = client.get(conn, size)
        t1 = time.perf_counter_ns()
        counter.add(ok)
        if ok:
            samples.append((t1 - t0) / 1e6)
        else:
            errors += 1
    conn.close()
    samples.sort()
    return {
        "n": len(samples),
        "errors": errors,
        "median_ms": statistics.median(samples) if samples else float("nan"),
        "p99_ms": percentile(samples, 0.99) if samples else float("nan"),
    }


def throughput_phase(client: Client, size: str, n: int, concurrency: int, counter: Counter) -> dict[str, Any]:
    issued = 0
    issue_lock = threading.Lock()
    start = threading.Barrier(concurrency + 1, timeout=START_TIMEOUT)
    phase = Counter()

    def worker() -> None:
        nonlocal issued
        conn = client.connect()
        counter.add(client.get(conn, size))  # open the connection before the clock starts
        try:
            start.wait()
        except threading.BrokenBarrierError:
            return
        while True:
            # A shared budget rather than n/concurrency each: no thread idles at the end.
            with issue_lock:
                if issued >= n:
                    break
                issued += 1
            ok = client.get(conn, size)
            counter.add(ok)
            phase.add(ok)
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    # Bounded: n requests, each at most SOCKET_TIMEOUT (twice, connect + read).
    deadline = time.monotonic() + n * 2 * SOCKET_TIMEOUT
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    seconds = time.perf_counter() - t0
    return {"n": phase.ok, "errors": phase.errors, "seconds": seconds, "rps": phase.ok / seconds,
            "t0": t0}


def count_rows(db_path: Path) -> int:
    with closing(sqlite3.connect(db_path, timeout=5)) as db:
        return db.execute("SELECT count(*) FROM flows").fetchone()[0]


def wait_stored(db_path: Path, expected: int) -> tuple[float, int]:
    """Poll the recorder's database until `expected` rows are committed; returns when (perf
    counter) and the count seen. Polls only after the client is done, so it never competes."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while True:
        rows = count_rows(db_path)
        if rows >= expected or time.monotonic() > deadline:
            return time.perf_counter(), rows
        time.sleep(0.01)


# -- one contender, one round ----------------------------------------------------------------


def run_session(contender: str, target: Target, args: argparse.Namespace, workdir: Path,
                confdir: Path, round_no: int) -> dict[str, Any]:
    proxy = None
    if contender != "direct":
        proxy = start_proxy(contender, workdir, confdir, f"bench-round{round_no}")
    client = Client(target.port, proxy.port if proxy else None)
    counter = Counter()
    result: dict[str, Any] = {"latency": {}, "throughput": {}}
    try:
        for size, n in (("small", args.requests), ("large", args.large_requests)):
            result["latency"][size] = latency_phase(client, size, args.warmup, n, counter)
            if proxy and proxy.db_path:
                # Let the writer catch up so its backlog does not slow the next phase.
                wait_stored(proxy.db_path, counter.ok)
        for size, n in (("small", args.tp_requests), ("large", args.tp_large_requests)):
            tp = throughput_phase(client, size, n, args.concurrency, counter)
            if proxy and proxy.db_path:
                # Flows stored per second: the phase's requests over the time from its start
                # until the last of them is committed (the writer may lag the client).
                done, _ = wait_stored(proxy.db_path, counter.ok)
                tp["stored_lag_s"] = max(0.0, done - tp["t0"] - tp["seconds"])
                tp["stored_fps"] = tp["n"] / (done - tp["t0"])
            del tp["t0"]
            result["throughput"][size] = tp
    finally:
        if proxy:
            code, out = proxy.stop()
            result["exit_code"] = code
    result["client_completed"] = counter.ok
    result["client_errors"] = counter.errors
    if proxy and proxy.db_path:
        # After a clean SIGINT every completed request must be exactly one row.
        result["rows"] = count_rows(proxy.db_path)
        result["summary_line"] = out.splitlines()[-1] if out else ""
        result["rows_match"] = result["rows"] == counter.ok
        for suffix in ("", "-wal", "-shm"):
            Path(f"{proxy.db_path}{suffix}").unlink(missing_ok=True)  # large bodies add up
    return result


# -- the writer alone ------------------------------------------------------------------------


def writer_round(workdir: Path, rows: int, body_size: int, tag: str) -> dict[str, Any]:
    from replayswarm.db import open_db
    from replayswarm.record.capture import Body, Exchange
    from replayswarm.record.store import create_recording
    from replayswarm.record.writer import FlowWriter

    db_path = workdir / f"writer-{tag}.db"
    engine = open_db(f"sqlite:///{db_path}")
    recording_id = create_recording(engine, f"writer-{tag}", "proxy")
    line = '{"id": 12345, "name": "replayswarm benchmark item", "tags": ["a", "b"]}\n'
    body = (line * (body_size // len(line) + 1))[:body_size].encode()
    now = time.time()
    # Headers like a browser's and nginx's, so rows are as wide as recorded ones.
    exchange = Exchange(
        client="5e1f0c1a-7d43-4c8e-9b0e-2f7f3c1d9a10", client_addr="127.0.0.1:54321",
        started=now, ended=now + 0.002, method="GET", scheme="http", host="127.0.0.1", port=8000,
        path="/api/items", query="page=1&per_page=20", http_version="HTTP/1.1",
        request_headers=[("Host", "127.0.0.1:8000"), ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0"),
                         ("Accept", "application/json, text/plain, */*"), ("Accept-Language", "en-US,en;q=0.9"),
                         ("Accept-Encoding", "gzip, deflate"), ("Cookie", "sessionid=abcdef0123456789; csrftoken=xyz"),
                         ("Referer", "http://127.0.0.1:8000/items"), ("Connection", "keep-alive")],
        status=200, reason="OK",
        response_headers=[("Server", "nginx/1.22.1"), ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"),
                          ("Content-Type", "application/json"), ("Content-Length", str(body_size)),
                          ("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"), ("Connection", "keep-alive"),
                          ("ETag", '"65920080-400"'), ("Accept-Ranges", "bytes")],
        response_body=Body.of(body, "application/json"),
    )
    # Rows are built before the clock starts: this times the writer, not row building
    # (the recorder builds rows in the proxy's event loop, measured above).
    batch = [exchange.row(seq) for seq in range(1, rows + 1)]
    failures: list[Exception] = []
    t0 = time.perf_counter()
    writer = FlowWriter(engine, recording_id, on_failure=failures.append)
    for row in batch:
        writer.put(row)
    t_put = time.perf_counter()
    writer.close()
    seconds = time.perf_counter() - t0
    engine.dispose()
    stored = count_rows(db_path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    if failures:
        raise RuntimeError(f"FlowWriter failed: {failures[0]!r}")
    return {"rows": rows, "stored": stored, "seconds": seconds, "put_seconds": t_put - t0,
            "rows_per_s": rows / seconds}


# -- report ----------------------------------------------------------------------------------


def summarize(rounds: list[dict[str, dict[str, Any]]], writer: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    s: dict[str, Any] = {"latency": {}, "throughput": {}, "recorder_vs_mitmdump": {}, "storage": {}, "writer": {}}
    for size in FILES:
        s["latency"][size] = {
            c: {"median_ms": med([r[c]["latency"][size]["median_ms"] for r in rounds]),
                "p99_ms": med([r[c]["latency"][size]["p99_ms"] for r in rounds])}
            for c in CONTENDERS
        }
        s["throughput"][size] = {c: {"rps": med([r[c]["throughput"][size]["rps"] for r in rounds])} for c in CONTENDERS}
        # Paired within each round (the two ran back to back), then the median over rounds.
        add_ms = [r["recorder"]["latency"][size]["median_ms"] - r["mitmdump"]["latency"][size]["median_ms"] for r in rounds]
        add_pct = [100 * (r["recorder"]["latency"][size]["median_ms"] / r["mitmdump"]["latency"][size]["median_ms"] - 1)
                   for r in rounds]
        add_p99 = [r["recorder"]["latency"][size]["p99_ms"] - r["mitmdump"]["latency"][size]["p99_ms"] for r in rounds]
        tp_ratio = [r["recorder"]["throughput"][size]["rps"] / r["mitmdump"]["throughput"][size]["rps"] for r in rounds]
        s["recorder_vs_mitmdump"][size] = {
            "added_median_ms": med(add_ms), "added_median_pct": med(add_pct), "added_p99_ms": med(add_p99),
            "throughput_ratio": med(tp_ratio),
        }
        s["storage"][size] = {
            "stored_fps": med([r["recorder"]["throughput"][size]["stored_fps"] for r in rounds]),
            "stored_lag_s": med([r["recorder"]["throughput"][size]["stored_lag_s"] for r in rounds]),
        }
    s["storage"]["rows_vs_completed"] = [
        {"rows": r["recorder"]["rows"], "client_completed": r["recorder"]["client_completed"],
         "match": r["recorder"]["rows_match"]} for r in rounds
    ]
    for tag, rs in writer.items():
        s["writer"][tag] = {"rows": rs[0]["rows"], "rows_per_s": med([x["rows_per_s"] for x in rs]),
                            "all_stored": all(x["stored"] == x["rows"] for x in rs)}
    return s


def print_report(s: dict[str, Any], env: dict[str, Any], args: argparse.Namespace) -> None:
    label = {"small": "1 KB", "large": "100 KB"}
    n = {"small": args.requests, "large": args.large_requests}
    tpn = {"small": args.tp_requests, "large": args.tp_large_requests}
    print(f"\nTarget: {env['target']} ({env['target_version']}); mitmproxy {env['mitmproxy']}; "
          f"Python {env['python']}; {args.rounds} rounds, medians over rounds")
    if env["target"] != "nginx":
        print("NOTE: the target is Python's threaded http.server (nginx not installed, or --target python),"
              " far slower than nginx: direct numbers are not comparable with nginx runs.")
    print("\n1. Latency, 1 keep-alive connection, sequential (ms)")
    print(f"   {'body':<7}{'contender':<10}{'requests':>9}{'median':>9}{'p99':>9}")
    for size in FILES:
        for c in CONTENDERS:
            v = s["latency"][size][c]
            print(f"   {label[size]:<7}{c:<10}{n[size]:>9}{v['median_ms']:>9.3f}{v['p99_ms']:>9.3f}")
        d = s["recorder_vs_mitmdump"][size]
        print(f"   {label[size]:<7}recorder adds {d['added_median_ms']:+.3f} ms median ({d['added_median_pct']:+.1f}%), "
              f"{d['added_p99_ms']:+.3f} ms p99 over mitmdump")
    print(f"\n2. Throughput, {args.concurrency} keep-alive connections (requests/s)")
    print(f"   {'body':<7}{'requests':>9}{'direct':>10}{'mitmdump':>10}{'recorder':>10}{'rec/mitm':>10}")
    for size in FILES:
        t = s["throughput"][size]
        print(f"   {label[size]:<7}{tpn[size]:>9}{t['direct']['rps']:>10.0f}{t['mitmdump']['rps']:>10.0f}"
              f"{t['recorder']['rps']:>10.0f}{s['recorder_vs_mitmdump'][size]['throughput_ratio']:>10.2f}")
    print("\n3. Storage")
    for size in FILES:
        st = s["storage"][size]
        print(f"   {label[size]:<7}stored {st['stored_fps']:.0f} flows/s during the recorder's throughput phase "
              f"(writer finished {st['stored_lag_s']:.3f} s after the client)")
    for i, m in enumerate(s["storage"]["rows_vs_completed"], 1):
        print(f"   round {i}: rows in flows = {m['rows']}, requests completed = {m['client_completed']} "
              f"-> {'OK' if m['match'] else 'MISMATCH'}")
    for tag, w in s["writer"].items():
        print(f"   FlowWriter alone, {w['rows']} rows with {tag} bodies: {w['rows_per_s']:.0f} rows/s"
              f"{'' if w['all_stored'] else ' (NOT ALL STORED)'}")
    print(f"\nJSON: {RESULTS.relative_to(ROOT)}")


# -- main ------------------------------------------------------------------------------------


def environment(target: Target) -> dict[str, Any]:
    from mitmproxy.version import VERSION

    return {"target": target.kind, "target_version": target.version, "mitmproxy": VERSION,
            "python": platform.python_version(), "kernel": platform.release(), "cpu": cpu_model(),
            "cpus": os.cpu_count(), "commit": code_version()["commit"]}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="rounds; each runs every contender once (default 3)")
    p.add_argument("--requests", type=int, default=2000, help="timed sequential requests, 1 KB body (default 2000)")
    p.add_argument("--large-requests", type=int, default=500, help="timed sequential requests, 100 KB body (default 500)")
    p.add_argument("--warmup", type=int, default=200, help="untimed requests before each latency phase (default 200)")
    p.add_argument("--tp-requests", type=int, default=4000, help="throughput requests, 1 KB body (default 4000)")
    p.add_argument("--tp-large-requests", type=int, default=1000, help="throughput requests, 100 KB body (default 1000)")
    p.add_argument("--concurrency", type=int, default=8, help="connections in the throughput phase (default 8)")
    p.add_argument("--writer-rows", type=int, default=20000,
                   help="rows for the FlowWriter-alone test with 1 KB bodies; a tenth with 100 KB (default 20000)")
    p.add_argument("--target", choices=("auto", "nginx", "python"), default="auto",
                   help="target server (default: nginx if installed)")
    args = p.parse_args()
    for name in ("rounds", "requests", "large_requests", "tp_requests", "tp_large_requests", "concurrency", "writer_rows"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main() -> None:
    args = parse_args()
    # This process is the client: it shares core 0 with the target, so the proxy has core 1.
    pin_driver(CLIENT_CORE, PROXY_CORE)

    tmp = Path(tempfile.mkdtemp(prefix="replayswarm-bench-"))
    rounds: list[dict[str, dict[str, Any]]] = []
    writer: dict[str, list[dict[str, Any]]] = {"1 KB": [], "100 KB": []}
    try:
        confdir = tmp / "mitmproxy"  # one CA for all proxies, generated on the first start
        confdir.mkdir()
        target = start_target(tmp, args.target)
        try:
            env = environment(target)
            print(f"target {target.kind} on {HOST}:{target.port}; client+target on core {CLIENT_CORE}, "
                  f"proxy on core {PROXY_CORE}; work dir {tmp}", flush=True)
            for i in range(args.rounds):
                # Rotate the order each round so no contender always runs first or last.
                order = CONTENDERS[i % 3:] + CONTENDERS[:i % 3]
                rounds.append({})
                for contender in order:
                    t = time.monotonic()
                    r = rounds[i][contender] = run_session(contender, target, args, tmp, confdir, i + 1)
                    print(f"round {i + 1}/{args.rounds} {contender:<9} {time.monotonic() - t:5.1f}s  "
                          f"lat 1KB median {r['latency']['small']['median_ms']:.3f} ms  "
                          f"tp 1KB {r['throughput']['small']['rps']:.0f}/s  errors {r['client_errors']}", flush=True)
        finally:
            target.stop()
        # The writer alone, on the proxy's core, with nothing else running.
        os.sched_setaffinity(0, {PROXY_CORE})
        for i in range(args.rounds):
            writer["1 KB"].append(writer_round(tmp, args.writer_rows, 1024, f"small{i}"))
            writer["100 KB"].append(writer_round(tmp, max(1, args.writer_rows // 10), 100 * 1024, f"large{i}"))
            print(f"writer round {i + 1}/{args.rounds}: 1 KB {writer['1 KB'][-1]['rows_per_s']:.0f} rows/s, "
                  f"100 KB {writer['100 KB'][-1]['rows_per_s']:.0f} rows/s", flush=True)
        os.sched_setaffinity(0, {CLIENT_CORE})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    summary = summarize(rounds, writer)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"environment": env, "parameters": vars(args), "summary": summary,
                                   "rounds": rounds, "writer": writer}, indent=2))
    print_report(summary, env, args)


if __name__ == "__main__":
    main()
