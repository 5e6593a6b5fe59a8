"""What the benchmarks in bench/ share: one copy, so that they measure the same way.

The scripts run as `.venv/bin/python bench/NAME.py`, which puts bench/ first on sys.path:
they import this module as `harness`. Only the standard library: the benchmarks run replayswarm
as a subprocess and read its results with sqlite3, so they keep working while its modules change.
"""

from __future__ import annotations

import hashlib
import os
import platform
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
REPLAYSWARM = str(VENV_BIN / "replayswarm") if (VENV_BIN / "replayswarm").exists() else "replayswarm"

HOST = "127.0.0.1"  # load only ever goes here
TARGET_CORE = 0  # the target (nginx) and the driver, which mostly sleeps
LOAD_CORE = 1  # the process under test, alone
PAGE = "/index.html"
PAGE_SIZE = 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


# -- processes -------------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on now: a fixed one could collide with another run or a test."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pinned(core: int, argv: list[str]) -> list[str]:
    """argv under `taskset`: on a 2-core machine the target and the generator must not share a core,
    or each one's numbers include the other's load."""
    return ["taskset", "-c", str(core), *argv]


def pin_driver(driver: int, other: int) -> None:
    """Check that `taskset` and both cores are there, then keep this driver on `driver`: it mostly
    sleeps, and must stay off the core the process under test has to itself."""
    if not shutil.which("taskset"):
        raise SystemExit("taskset (util-linux) is needed to pin the processes under test to cores")
    if not {driver, other} <= os.sched_getaffinity(0):
        raise SystemExit(f"needs cores {driver} and {other}")
    os.sched_setaffinity(0, {driver})


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
    """Wait until `proc` accepts connections on HOST:port: a server is ready when it listens,
    not when it has started; fail early when it exits instead."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early with code {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {HOST}:{port} within {timeout:.0f}s")


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 30.0) -> int:
    """Ask a process we started to stop, kill it if it does not within `timeout`: a benchmark
    must never leave a server or a generator running behind it."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def children_cpu() -> float:
    """CPU seconds (user + system) of all waited-for descendants so far: the generator's whole
    process tree, start-up included, which /proc of a single process cannot give."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# -- /proc -----------------------------------------------------------------------------------
# Readers return None (or nothing) for a process that is gone: they race with its exit.


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # pid (comm) state ppid ...: comm may hold spaces and parentheses, split after the last ')'
    return stat.rsplit(")", 1)[1].split()


def proc_children(pid: int) -> list[int]:
    """The direct children of `pid`: play's workers, which start sessions of their own and so
    are no longer in its process group."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry))
    return found


def proc_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of a running process: its rusage is only there once waited for."""
    fields = _stat_fields(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def proc_rss_mb(pid: int) -> float | None:
    """Resident set size now, in MiB (statm: cheap enough to poll four times a second)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES / 2**20
    except (OSError, IndexError, ValueError):
        return None


def proc_cmdline(pid: int) -> str:
    """A process's command line, space-separated: tells play's workers from other children."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace").replace("\0", " ").strip()
    except OSError:
        return ""


def proc_peak_rss_mb(pid: int) -> float | None:
    """The kernel's high-water mark of the resident set (VmHWM), in MiB: a peak between two
    samples is not missed."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, IndexError, ValueError):
        return None
    return None


# -- numbers ---------------------------------------------------------------------------------


def med(values: Iterable[float | None]) -> float:
    """Median of what was measured: a missing value (None, NaN) is left out, not counted, and no
    value at all gives NaN rather than an exception in the middle of a report."""
    kept = [v for v in values if v is not None and v == v]
    return statistics.median(kept) if kept else float("nan")


def run_buckets(db: Path, run_id: int | None = None) -> list[tuple[int, int, int]]:
    """A play run's per-second (t, requests, failures) from its database, read with sqlite3:
    the benchmark must not depend on (or load) replayswarm's models to read its own results.
    Empty when the database or the table is missing."""
    try:
        with sqlite3.connect(db) as c:
            sql = "SELECT t, requests, failures FROM run_buckets WHERE endpoint = ''"
            if run_id is None:
                return c.execute(sql + " ORDER BY t").fetchall()
            return c.execute(sql + " AND run_id = ? ORDER BY t", (run_id,)).fetchall()
    except sqlite3.Error:
        return []


def page_scenario(url: str, name: str, thinks: Sequence[float]) -> str:
    """A scenario file for play: one scenario of GET PAGE steps, step i thinking thinks[i]
    seconds before its request. Written by hand: the format is simple and no recording is needed."""
    lines = [
        "version: 1", "name: bench", f'origins: ["{url}"]', "scenarios:",
        f"  - name: {name}", "    weight: 1", "    steps:",
    ]
    for i, think in enumerate(thinks):
        lines += [
            f"      - name: GET {PAGE}" + ("" if i == 0 else f" #{i + 1}"),
            f"        think_time: {think}",
            f'        request: {{method: GET, url: "{url}{PAGE}"}}',
            "        expect: {status: 200}",
        ]
    return "\n".join(lines) + "\n"


# -- what ran --------------------------------------------------------------------------------


def code_fingerprint(skip: tuple[str, ...] = ()) -> str:
    """A hash of replayswarm's sources (leaving out the subpackages in `skip`): it is installed in
    editable mode and others may edit it, and a change in the middle of a benchmark would mix two
    versions in one table."""
    h = hashlib.sha256()
    pkg = ROOT / "replayswarm"
    for path in sorted(pkg.rglob("*.py")):
        if path.relative_to(pkg).parts[0] in skip:
            continue
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def code_version() -> dict[str, object]:
    """The commit, and whether replayswarm/ differs from it: a result names what it measured."""
    def git(*argv: str) -> str:
        try:
            return subprocess.run(["git", *argv], check=False, cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": git("rev-parse", "--short", "HEAD"), "replayswarm_uncommitted": bool(git("status", "--porcelain", "--", "replayswarm"))}


def cpu_model() -> str:
    """Absolute numbers only compare on the same CPU: every result says which."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), platform.processor())


def find_locust() -> str | None:
    """Locust is no dependency of replayswarm: `make bench` puts it in .bench/locust, others had it elsewhere."""
    for candidate in (ROOT / ".bench" / "locust" / "bin" / "locust", VENV_BIN / "locust", Path("/tmp/locust-venv/bin/locust")):
        if candidate.exists():
            return str(candidate)
    return shutil.which("locust")


def client_python(locust: str) -> str:
    """geventhttpclient comes with Locust (play does not use it): Locust's interpreter runs the loop."""
    beside = Path(locust).resolve().parent / "python"
    return str(beside) if beside.exists() else PYTHON


# -- the target: nginx on 127.0.0.1 --------------------------------------------------------


# Everything under a temp dir (config, pid, logs, temp paths): it never touches the system's
# nginx. One worker: the target has one core. Keep-alive without limits: a run of millions of
# requests stays on its connections.
NGINX_CONF = """\
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 32768; }}
http {{
    access_log {access_log};
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ text/html html; application/json json; text/javascript js; }}
    default_type application/octet-stream;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    server {{
        listen {host}:{port} backlog=4096;
        root {tmp}/www;
    }}
}}
"""


@dataclass
class Target:
    kind: str  # "nginx", or what a benchmark falls back to
    port: int
    proc: subprocess.Popen[bytes]
    version: str
    stop_signal: int = signal.SIGTERM  # nginx: SIGQUIT, a graceful stop

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        stop_process(self.proc, self.stop_signal)


def filler(line: bytes, size: int) -> bytes:
    """Exactly `size` bytes of a repeated printable line: a body of a known length that is
    valid text (the recorder stores text whole)."""
    return (line * (size // len(line) + 1))[:size]


def page_html(size: int = PAGE_SIZE) -> bytes:
    """The page the load generators fetch (PAGE): 1 KB of static HTML by default."""
    return filler(b"<p>replayswarm benchmark page, 1 KB of static HTML served by nginx.</p>\n", size)


def write_site(tmp: Path, files: Mapping[str, bytes]) -> Path:
    """The files under tmp/www; tmp made world-readable, as nginx workers run as "nobody"."""
    www = tmp / "www"
    www.mkdir(exist_ok=True)
    for name, body in files.items():
        (www / name).write_bytes(body)
    os.chmod(tmp, 0o755)
    return www


def nginx_path() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def start_nginx(tmp: Path, core: int, files: Mapping[str, bytes], access_log: bool = False) -> Target:
    """A throwaway nginx serving `files` on HOST, pinned to `core`, ready when this returns.
    access_log: write one (buffered) as a real site does; off, nginx spends its core on serving."""
    nginx = nginx_path()
    if not nginx:
        raise SystemExit("nginx is needed (apt-get install -y nginx)")
    write_site(tmp, files)
    port = free_port()
    conf = tmp / "nginx.conf"
    log_line = f"{tmp}/access.log combined buffer=256k flush=1s" if access_log else "off"
    conf.write_text(NGINX_CONF.format(tmp=tmp, host=HOST, port=port, access_log=log_line))
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
    # -e: the error log nginx uses before it has read the config, also kept under tmp.
    argv = [nginx, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")]
    with open(tmp / "nginx.out", "wb") as log:
        proc = subprocess.Popen(pinned(core, argv), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, "nginx", timeout=20)
    except RuntimeError as exc:
        stop_process(proc, signal.SIGKILL, 5)
        error_log = tmp / "error.log"
        raise RuntimeError(f"{exc}: {error_log.read_text(errors='replace') if error_log.exists() else ''}") from None
    return Target("nginx", port, proc, version, signal.SIGQUIT)
