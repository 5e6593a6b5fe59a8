"""Real parts for tests: free loopback ports, the notes site, the recorder as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            raise RuntimeError(f"process exited with {process.returncode} before listening:\n{out}\n{err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `replayswarm ARGS` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "replayswarm", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )


@dataclass
class Site:
    url: str
    port: int
    db: Path
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_notes_site(directory: Path, anonymous_visitors: bool = False, real_hashing: bool = False) -> Site:
    """The notes site on a free port; its log (runserver's access log) is `notes-PORT.log`.
    anonymous_visitors: its home page sets no cookie (as on most real sites). real_hashing:
    Django's default password hashing, so logins cost what they cost on a real site."""
    port = free_port()
    db = directory / f"notes-{port}.sqlite3"
    log = open(directory / f"notes-{port}.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.sites.notes", "--port", str(port), "--db", str(db),
         *(["--anonymous-visitors"] if anonymous_visitors else []), *(["--real-hashing"] if real_hashing else [])],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_for_port(port, process)
    return Site(url=f"http://127.0.0.1:{port}", port=port, db=db, process=process)


@dataclass
class Recorder:
    port: int
    db: str
    confdir: Path
    process: subprocess.Popen
    result: tuple[int, str, str] | None = field(default=None)

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca_cert(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, str, str]:
        """Stop the recorder as a person would; returns (exit code, stdout, stderr)."""
        if self.result is None:
            if self.process.poll() is None:
                self.process.send_signal(sig)
            try:
                out, err = self.process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                out, err = self.process.communicate()
            self.result = (self.process.returncode, out, err)
        return self.result


def start_recorder(db: str, name: str, confdir: Path, *extra: str) -> Recorder:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "replayswarm", "record", "--name", name, "--db", db,
         "--listen-port", str(port), "--confdir", str(confdir), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    # The recorder announces itself once mitmproxy runs (CA written, port open).
    announced = process.stderr.readline()
    if "Recording through proxy" not in announced:
        process.kill()
        out, err = process.communicate()
        raise RuntimeError(f"recorder did not start: {announced}{err}")
    wait_for_port(port, process)
    return Recorder(port=port, db=db, confdir=confdir, process=process)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def chromium_args(proxy_port: int | None = None) -> list[str]:
    """Chromium flags for this closed machine; with a proxy, loopback goes through it too."""
    args = list(CHROMIUM_ARGS)
    if proxy_port is not None:
        args += [f"--proxy-server=http://127.0.0.1:{proxy_port}", "--proxy-bypass-list=<-loopback>"]
    return args
