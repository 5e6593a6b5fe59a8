"""The play parent's side of a distributed run: it starts the relay (Locust's master, in a
process of its own: Locust's gevent must not enter this threaded one) and waits for the worker
hosts before a run row exists, so a run that cannot start leaves nothing in the database."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import UserError
from . import messages
from .lifeline import child_environment


class Says(Protocol):
    def note(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...


@dataclass(frozen=True)
class ClusterSettings:
    bind_host: str = "127.0.0.1"  # where the master listens for worker hosts: loopback unless told (it hands out plans)
    port: int = 5557
    expect_workers: int = 1  # worker hosts to wait for before the run starts
    wait: float = 120.0  # seconds to wait for them


@dataclass
class Relayed:
    """The relay, once its worker hosts joined: a worker like any other to the runner."""

    process: subprocess.Popen
    fd: int
    reader: messages.Reader
    members: list[tuple[str, int]]  # (host, processes) per worker host

    @property
    def processes(self) -> int:
        return sum(n for _, n in self.members)


def start_relay(c: ClusterSettings, say: Says) -> Relayed:
    """The relay, listening, with c.expect_workers worker hosts joined. Raises UserError when the
    port is taken, or the hosts do not come within c.wait seconds."""
    try:
        import locust  # noqa: F401
    except ImportError:
        raise UserError("--master needs Locust, the distributed engine: pip install 'replayswarm[distributed]'") from None
    _check_port(c)
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-m", "replayswarm.play.relay", str(write_fd), c.bind_host, str(c.port), str(c.expect_workers), str(c.wait)],
        stdin=subprocess.PIPE, pass_fds=[write_fd], start_new_session=True, env=child_environment(),
    )
    os.close(write_fd)
    reader = messages.Reader(read_fd)
    reach = " (only this machine can reach it: --master-bind-host 0.0.0.0 for others)" if c.bind_host in ("127.0.0.1", "localhost", "::1") else ""
    say.note(f"master listening on {c.bind_host}:{c.port}{reach}: waiting up to {c.wait:g} s for {c.expect_workers} worker host(s)")
    found = _await_ready(reader, say)
    if found is None or found[0] != "ready":
        process.kill()
        process.wait()
        os.close(read_fd)
        raise UserError(found[1] if found else "the master (replayswarm.play.relay) ended before its workers joined")
    return Relayed(process, read_fd, reader, [(h, n) for h, n in found[1]])


def _await_ready(reader: messages.Reader, say: Says) -> tuple[Any, ...] | None:
    selector = selectors.DefaultSelector()
    selector.register(reader.fd, selectors.EVENT_READ)
    try:
        while not reader.closed:
            selector.select()
            for message in reader.read():
                if message[0] == "note":
                    say.note(message[1])
                elif message[0] == "warn":
                    say.warn(message[1])
                elif message[0] in ("ready", "refused"):
                    return message  # type: ignore[no-any-return]
        return None
    finally:
        selector.close()


def _check_port(c: ClusterSettings) -> None:
    """Locust exits on a taken port, deep inside; here it is one line, before anything starts."""
    host = "0.0.0.0" if c.bind_host in ("*", "") else c.bind_host
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, c.port))
    except OSError as exc:
        raise UserError(f"--master-bind-port {c.port}: cannot listen on {c.bind_host}:{c.port} ({exc.strerror})") from None
