"""`replayswarm record`: mitmproxy in-process, with the recorder addon and one DB writer thread."""

from __future__ import annotations

import asyncio
import errno
import gc
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
import os
from pathlib import Path

from mitmproxy import addons, master, options
from sqlalchemy import Engine

from ..errors import RecorderFailed, UserError, describe
from ..hosts import host_pattern
from .addon import Recorder, RecorderOptions
from .capture import DEFAULT_BODY_CAP
from .store import create_recording, finish_recording
from .writer import FlowWriter

DEFAULT_CONFDIR = "~/.mitmproxy"


@dataclass(frozen=True)
class ProxySettings:
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    allow: Sequence[str] = ()
    confdir: str = DEFAULT_CONFDIR
    ssl_insecure: bool = False
    ui_port: int = 8089
    body_cap: int = DEFAULT_BODY_CAP
    allow_remote_clients: bool = False


@dataclass(frozen=True)
class RecordResult:
    flows: int
    duration: float


def record(
    engine: Engine,
    name: str,
    settings: ProxySettings,
    announce: Callable[[str], None] = print,
) -> RecordResult:
    _check_port_free(settings.listen_host, settings.listen_port)
    confdir = Path(settings.confdir).expanduser()
    # It holds the CA's private key: private to its owner, made so before mitmproxy writes there.
    confdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if confdir.stat().st_mode & 0o077 and confdir.stat().st_uid == os.getuid():
        confdir.chmod(0o700)
    recording_id = create_recording(engine, name, "proxy", list(settings.allow))
    started = time.monotonic()
    writer = asyncio.run(_serve(engine, recording_id, settings, confdir, announce))
    if writer.failure is not None:
        # The recording stays marked unfinished (no end time): it is not the whole visit.
        raise RecorderFailed(
            f"cannot write to the database, recording stopped after {writer.stored} flows"
            f" ({writer.lost} more could not be stored): {describe(writer.failure)}"
        )
    finish_recording(engine, recording_id)
    return RecordResult(flows=writer.stored, duration=time.monotonic() - started)


async def _serve(
    engine: Engine,
    recording_id: int,
    settings: ProxySettings,
    confdir: Path,
    announce: Callable[[str], None],
) -> FlowWriter:
    loop = asyncio.get_running_loop()
    opts = options.Options(
        listen_host=settings.listen_host,
        listen_port=settings.listen_port,
        confdir=str(confdir),
        ssl_insecure=settings.ssl_insecure,
        # Hosts outside --allow are tunnelled untouched: never decrypted, never recorded.
        allow_hosts=[host_pattern(a) for a in settings.allow],
    )
    proxy = master.Master(opts, event_loop=loop, with_termlog=True)
    proxy.options.update(termlog_verbosity="warn")
    recorder = Recorder(
        RecorderOptions(
            allow=tuple(settings.allow),
            refuse_ports=frozenset({settings.ui_port, settings.listen_port}),
            allow_remote_clients=settings.allow_remote_clients,
            body_cap=settings.body_cap,
        ),
        put=lambda row: writer.put(row),
        shutdown=proxy.shutdown,
    )
    writer = FlowWriter(
        engine, recording_id, on_failure=lambda exc: loop.call_soon_threadsafe(recorder.fail, exc),
        on_stall=lambda: sys.stderr.write("Warning: the database is busy (locked by another process?): "
                                          "flows wait in memory and are stored once it answers\n"),
    )
    proxy.addons.add(*addons.default_addons())
    proxy.addons.add(recorder, _Announce(settings, confdir, announce, proxy))
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, proxy.shutdown)
    try:
        await proxy.run()
    finally:
        # Every flow that finished before the stop is in the queue: store it all.
        await asyncio.to_thread(writer.close)
    return writer


class _Announce:
    """Says the proxy is recording, once it is; then tidies up for the flows to come."""

    def __init__(
        self, settings: ProxySettings, confdir: Path, announce: Callable[[str], None], proxy: master.Master
    ) -> None:
        self.settings = settings
        self.confdir = confdir
        self.announce = announce
        self.proxy = proxy

    def running(self) -> None:
        # Everything built at startup (mitmproxy, SQLAlchemy, the CLI) lives as long as the
        # process: freeze it, so the collector's full passes stop rescanning it under load
        # (each such pass stalled the event loop for tens of milliseconds).
        gc.collect()
        gc.freeze()
        # mitmproxy offers every event of every flow to every addon, a few microseconds each:
        # with nothing left to do, this one leaves the chain.
        asyncio.get_running_loop().call_soon(self.proxy.addons.remove, self)
        s = self.settings
        scope = ", ".join(s.allow) if s.allow else "every host"
        self.announce(
            f"Recording through proxy http://{s.listen_host}:{s.listen_port} ({scope}); "
            f"HTTPS CA: {self.confdir / 'mitmproxy-ca-cert.pem'}. Ctrl-C to stop."
        )


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            why = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise UserError(f"cannot listen on {host}:{port}: {why}") from None
