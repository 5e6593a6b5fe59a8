"""Starting runs from the UI: the New run form becomes a `replayswarm play` (or `capacity`) command,
run as its own process, so a crash or restart of the UI neither stops nor loses it.

`command` is pure: a form and the UI's policy in, the command line out, or a UserError naming what
is refused. What the policy guards (where load may go, how much of it) is checked here; everything
else (a malformed duration, an SLO, a source that fails validation) is play's to judge, and its
one-line error comes back to the form.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from ..db import reading
from ..db.models import RunRow
from ..errors import UserError
from ..runs import aware
from ..play.plan import parse_target
from ..play.shape import parse_stages

LOADS = ("users", "stages", "arrival")


@dataclass(frozen=True)
class Policy:
    """What this UI may start: load only towards `targets` (none: it only looks), at most
    `max_users` virtual users in one run."""

    targets: tuple[str, ...] = ()
    max_users: int = 1000
    max_processes: int = field(default_factory=lambda: os.cpu_count() or 1)  # a form must not fork hundreds

    def allows(self, host: str) -> bool:
        # parse_target gives scheme, lower-cased host and port (default ports filled in): one origin, one Target.
        return parse_target(host, "host") in {parse_target(t, "--allow-target") for t in self.targets}

    def capped(self, users: int, what: str) -> int:
        """`users`, if one run may have that many; else a UserError saying `what` is over the cap."""
        if users > self.max_users:
            raise UserError(f"{what} {users} is over this UI's cap of {self.max_users} users a run (replayswarm ui --max-users)")
        return users


def command(form: Mapping[str, str], sources: Collection[str], policy: Policy) -> list[str]:
    """The `replayswarm` arguments a New run form asks for.

    form: the form's fields (kind play|capacity, source, host, load users|stages|arrival, users,
    spawn_rate, stages, arrival_rate, duration, thresholds, slos, start, step, step_duration,
    max_time, max_users, processes, label, tags, variables); blank fields are left to play's defaults.
    Raises UserError when the target is not allowed, the load is over the cap, or a field is missing.
    """
    given = {k: str(v).strip() for k, v in form.items()}
    if not policy.targets:
        raise UserError("this UI only looks: start it with --allow-target URL to start runs")
    host = given.get("host", "")
    if not host:
        raise UserError("give the target host")
    if not policy.allows(host):
        raise UserError(f"{host} is not a target this UI may load (allowed: {', '.join(policy.targets)}; see `replayswarm ui --allow-target`)")
    source = given.get("source", "")
    if source not in sources:
        raise UserError(f"no scenario set or recording named {source!r}")
    kind = given.get("kind", "play")
    if kind not in ("play", "capacity"):
        raise UserError(f"unknown kind of run {kind!r}")
    load = given.get("load", "users")
    if load not in LOADS:
        raise UserError(f"unknown load {load!r} (users, stages or arrival)")
    args = [kind, f"--host={host}", "--quiet"]
    args += _load(kind, load, given, policy)
    processes = given.get("processes", "")
    if processes and processes != "auto" and not (processes.isdigit() and 1 <= int(processes) <= policy.max_processes):
        raise UserError(f"processes {processes!r}: give 1 to {policy.max_processes} (this machine's cores), or auto")
    args += [f"--processes={processes}"] if processes else []
    args += [f"--label={given['label']}"] if given.get("label") else []
    args += [f"--tag={t}" for t in given.get("tags", "").split()]
    args += [f"--var={v}" for v in _lines(given.get("variables", ""))]
    checks = "slo" if kind == "capacity" else "threshold"
    args += [f"--{checks}={t}" for t in _lines(given.get("slos" if kind == "capacity" else "thresholds", ""))]
    return [*args, "--", source]  # `--`: a source named like an option stays the source


def _load(kind: str, load: str, form: Mapping[str, str], policy: Policy) -> list[str]:
    def number(name: str, label: str) -> int:
        text = form.get(name, "")
        if not text.isdigit() or int(text) < 1:
            raise UserError(f"{label} {text!r} is not a whole number of at least 1")
        return int(text)

    spawn = [f"--spawn-rate={form['spawn_rate']}"] if form.get("spawn_rate") else []
    if kind == "capacity":
        top = policy.capped(number("max_users", "Max users") if form.get("max_users") else policy.max_users, "Max users")
        args = [f"--max-users={top}", *spawn]
        if load == "arrival":
            args.append(f"--arrival-rate={form.get('arrival_rate', '')}")
        elif form.get("start"):
            args.append(f"--start={policy.capped(number('start', 'Start'), 'Start')}")
        if form.get("step"):
            args.append(f"--step={number('step', 'Step')}")
        for name in ("step_duration", "max_time"):
            if form.get(name):
                args.append(f"--{name.replace('_', '-')}={form[name]}")
        return args
    duration = form.get("duration") or None
    if load == "users":
        args = [f"--users={policy.capped(number('users', 'Users'), 'Users')}", *spawn, f"--duration={duration or 'forever'}"]
    elif load == "stages":
        stages = form.get("stages", "")
        shape = parse_stages(stages)
        if shape.rate:  # an open model's users at once are not known ahead: the cap bounds them
            args = [f"--stages={stages}", f"--max-users={policy.max_users}"]
        else:
            policy.capped(int(shape.peak), "The stages peak at")
            args = [f"--stages={stages}"]
        args += [f"--duration={duration}"] if duration else []
    else:
        args = [f"--arrival-rate={form.get('arrival_rate', '')}", f"--max-users={policy.max_users}", f"--duration={duration or 'forever'}"]
    return args


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# -- the process ---------------------------------------------------------------------------------


@dataclass
class Started:
    run_id: int | None  # None: still validating after the wait; it shows in the runs list when it starts
    pid: int


def start(engine: Engine, db_url: str, args: list[str], data: bytes | None = None, wait: float = 60.0) -> Started:
    """Run `replayswarm ARGS` detached from the UI and wait until its run row exists.

    The process gets its own session (a Ctrl-C or the death of the UI does not reach it), the
    database URL in its environment (not in `ps`), and a private file for a --data CSV, removed
    once play has read it. Raises UserError with play's own message when it exits first."""
    private = tempfile.mkdtemp(prefix="replayswarm-ui-")  # 0700
    if data is not None:
        path = os.path.join(private, "data.csv")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(data)
        args = [args[0], f"--data={path}", *args[1:]]
    # An unlinked file: the process keeps writing to it after the UI is gone, and it takes no room then.
    errors = tempfile.TemporaryFile(dir=private)
    began = time.time()
    process = subprocess.Popen(
        [sys.executable, "-m", "replayswarm", *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
        env={**os.environ, "REPLAYSWARM_DB": db_url}, start_new_session=True,
    )
    threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()  # no zombies
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            run_id = _run_of(engine, process.pid, began)
            if run_id is not None:
                return Started(run_id, process.pid)
            if process.poll() is not None:
                errors.seek(0)
                lines = [line.strip() for line in errors.read().decode(errors="replace").splitlines() if line.strip()]
                said = lines[-1].removeprefix("Error: ") if lines else f"it exited with {process.returncode}"
                raise UserError(f"the run did not start: {said}")
            time.sleep(0.1)
        return Started(None, process.pid)
    finally:
        errors.close()
        for name in os.listdir(private):
            os.unlink(os.path.join(private, name))
        os.rmdir(private)


def _run_of(engine: Engine, pid: int, began: float) -> int | None:
    with reading(engine) as session:
        rows = session.execute(
            select(RunRow.id, RunRow.started).where(RunRow.pid == pid, RunRow.hostname == socket.gethostname()).order_by(RunRow.id.desc())
        ).all()
    # A pid is reused in time: only a run started after this launch is this one.
    return next((run_id for run_id, started in rows if aware(started).timestamp() >= began - 1.0), None)
