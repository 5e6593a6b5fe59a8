"""A real Roundup issue tracker (PyPI `roundup`, classic template, sqlite) for recording and replay.

Nobody here wrote it: its front page holds the login form, every form carries a one-time `@csrf`
token plus constant hidden inputs (`@action`, `@template`, `@sort`...), and every POST is checked
against the Origin, Referer and Host the tracker believes it is served at (`[tracker] web`).

    tracker = create_tracker(directory)        # roundup-admin install + initialise + users
    tracker.start()                            # roundup-server on a free 127.0.0.1 port
    ...                                        # tracker.url, tracker.access_log
    count_issues(tracker); issue_status(tracker, "1")
    tracker.close()                            # stops the server, keeps its logs in `directory`

Settings changed from the classic template's config.ini (everything else is as installed):

- `[tracker] web = http://127.0.0.1:PORT/tracker/`: the port is chosen before the server starts.
  The CSRF checks compare the Origin, Referer and Host of every POST with this URL, so Chromium
  (which sends the tracker's own origin) passes, and so does a replay against this copy as long
  as it sends the *target's* origin: no other origin is allowed (`allowed_api_origins` stays
  empty; it only applies to /rest and /xmlrpc anyway), and `csrf_enforce_*` stay at `yes`.
- `[web] login_attempts_min = 0`: Roundup limits logins to 3 a minute per user name, successful
  ones included; a load test logs the same few users in many times a minute.
- `[main] password_pbkdf2_default_rounds = 1000` (the enforced minimum; default 250,000): a
  login then costs a millisecond instead of a quarter of a CPU-second on a 2-core machine.
- `[mail] domain`, `[mail] debug = mail.log`: outgoing mail (nosy messages, error reports) goes
  to a file instead of an SMTP server on localhost:25.

Root: roundup-server refuses to run as root ("Can't run as root!") unless told a user with -u.
As root the tracker and its server therefore run as `nobody`, from a virtualenv made with
Debian's /usr/bin/python3 (the interpreter behind .venv lives under /root, which `nobody` cannot
read), with the same Roundup version as .venv's, in /var/tmp (made once by pip, reused); the
tracker's home is a directory `nobody` owns under /tmp. As any other user .venv's own Roundup is
used.

The server's log (`access_log`) holds one line per request (`127.0.0.1 - - [30/Nov/2026
18:31:04] "GET /tracker/ HTTP/1.1" 200 - TRACE_ID`) and Roundup's own complaints, e.g.
`ERROR Csrf mismatch user: ...` or `ERROR csrf Origin header check failed for user2. Value=...`.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from tests.helpers import free_port, wait_for_port

ADMIN_PASSWORD = "admin-pass-123"
USERS = {"alice": "alice-pass-123", "bob": "bob-pass-123"}
TRACKER_NAME = "tracker"  # the first segment of every URL path: http://127.0.0.1:PORT/tracker/
RUN_AS = "nobody"  # when the tests run as root


# -- where Roundup's commands come from ------------------------------------------------------


@dataclass(frozen=True)
class Runtime:
    bin: Path
    prefix: tuple[str, ...]  # runuser -u nobody -- (as root), else nothing
    env: dict[str, str]
    owner: tuple[int, int] | None  # uid, gid that must own the tracker's files, as root

    def command(self, name: str, *args: str) -> list[str]:
        return [*self.prefix, str(self.bin / name), *args]


def roundup_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("roundup")
    except PackageNotFoundError:
        raise RuntimeError("Roundup is not installed: `.venv/bin/pip install -e '.[test]'` installs it") from None


_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = _root_runtime() if os.geteuid() == 0 else _own_runtime()
    return _runtime


def _own_runtime() -> Runtime:
    roundup_version()
    here = Path(sys.executable).parent
    if not (here / "roundup-admin").exists():
        raise RuntimeError(f"no roundup-admin beside {sys.executable}")
    return Runtime(bin=here, prefix=(), env=dict(os.environ), owner=None)


def _root_runtime() -> Runtime:
    import pwd

    user = pwd.getpwnam(RUN_AS)
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        raise RuntimeError("Roundup refuses root and needs a Python that `nobody` can run: apt-get install python3 python3-venv")
    wanted = roundup_version()
    pyver = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    venv = Path("/var/tmp") / f"replayswarm-roundup-{wanted}-py{pyver}"
    ready = venv / ".ready"
    with open("/var/tmp/replayswarm-roundup.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes never build it at once
        if not ready.exists():
            shutil.rmtree(venv, ignore_errors=True)
            old = os.umask(0o022)
            try:
                subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
                pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "-q", f"roundup=={wanted}"],
                                     capture_output=True, text=True, timeout=300, check=False)
                if pip.returncode != 0:
                    raise RuntimeError(f"could not install roundup=={wanted} for {RUN_AS}: {pip.stderr}")
                ready.write_text(wanted + "\n")
            finally:
                os.umask(old)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": "/tmp"}
    return Runtime(bin=venv / "bin", prefix=(shutil.which("runuser") or "/usr/sbin/runuser", "-u", RUN_AS, "--"), env=env, owner=(user.pw_uid, user.pw_gid))


# -- the tracker -----------------------------------------------------------------------------


@dataclass
class Tracker:
    directory: Path  # the caller's directory: logs are kept here when the tracker is closed
    home: Path  # the tracker instance (config.ini, db/, html/)
    port: int
    access_log: Path  # roundup-server's log: one line per request
    mail_log: Path
    process: subprocess.Popen | None = None
    _owns_base: Path | None = field(default=None, repr=False)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The tracker's web URL (with a trailing slash): the front page, with the login form."""
        return f"{self.origin}/{TRACKER_NAME}/"

    @property
    def db_file(self) -> Path:
        return self.home / "db" / "db"

    def admin(self, *args: str, timeout: float = 60) -> str:
        """Run `roundup-admin -i HOME ARGS` (as the tracker's owner); returns its output."""
        rt = runtime()
        done = subprocess.run(rt.command("roundup-admin", "-i", str(self.home), *args), capture_output=True,
                              text=True, env=rt.env, cwd=self.home, timeout=timeout, check=False)
        if done.returncode != 0 or "Error:" in done.stdout or done.stderr.strip():
            raise RuntimeError(f"roundup-admin {' '.join(args)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self, timeout: float = 30) -> Tracker:
        rt = runtime()
        self.process = subprocess.Popen(
            rt.command("roundup-server", "-n", "127.0.0.1", "-p", str(self.port), "-l", str(self.access_log),
                       f"{TRACKER_NAME}={self.home}"),
            cwd=self.home, env=rt.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,  # fork mode: its children are stopped with it
        )
        try:
            wait_for_port(self.port, self.process, timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop roundup-server and the children it forked for requests still being served."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            # As root, runuser is the direct child; it passes SIGTERM on to the server. The
            # server's group (its own session) is signalled too, for forked request handlers.
            try:
                os.killpg(process.pid, 15)
            except ProcessLookupError:
                pass
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, 9)
                except ProcessLookupError:
                    pass
                process.wait(10)
        if process.stdout:
            process.stdout.close()

    def close(self) -> None:
        """Stop the server; keep copies of its logs and database in `directory`; remove a home
        made outside it."""
        self.stop()
        if self._owns_base is not None:
            keep = self.directory / f"roundup-{self.port}"
            keep.mkdir(parents=True, exist_ok=True)
            for f, name in ((self.access_log, self.access_log.name), (self.mail_log, "mail.log"), (self.db_file, "roundup.sqlite3")):
                if f.exists():
                    shutil.copy(f, keep / name)
            shutil.rmtree(self._owns_base, ignore_errors=True)
            self._owns_base = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the tracker holds, from its own database (never by reading pages) --------------

    def query(self, sql: str, *params: object) -> list[tuple]:
        conn = sqlite3.connect(f"file:{self.db_file}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


def _set_options(config: Path, options: dict[str, dict[str, str]]) -> None:
    """Set `key = value` in the sections of Roundup's config.ini, keeping its comments. An option
    without a default is written commented out (`#web = NO DEFAULT`): that line is replaced."""
    lines = config.read_text().splitlines()
    missing = {(s, k) for s, kv in options.items() for k in kv}
    for pattern in (r"(\w[\w-]*)\s*=", r"#(\w[\w-]*)\s*="):
        section = None
        for i, line in enumerate(lines):
            m = re.match(r"\[(\w+)\]\s*$", line)
            if m:
                section = m.group(1)
                continue
            m = re.match(pattern, line)
            if m and (section, m.group(1)) in missing:
                lines[i] = f"{m.group(1)} = {options[section][m.group(1)]}"
                missing.discard((section, m.group(1)))
    if missing:
        raise RuntimeError(f"{config} has no option {sorted(missing)}")
    config.write_text("\n".join(lines) + "\n")


SEED_ISSUES = ("Printer on fire", "Coffee machine says LP0")


def create_tracker(directory: Path, users: dict[str, str] = USERS, seed: tuple[str, ...] = SEED_ISSUES,
                   port: int | None = None) -> Tracker:
    """A fresh tracker (classic template, sqlite) with `admin`, the given users (role User) and
    issues with the `seed` titles (created by admin, so visitors have something to open), its
    web URL set to the port it will be served on. Not started: call `.start()`."""
    rt = runtime()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    owns_base = None
    base = directory
    if rt.owner is not None:
        # `nobody` cannot reach pytest's 0700 temporary directories: a base of its own.
        owns_base = base = Path(tempfile.mkdtemp(prefix="replayswarm-roundup-", dir="/tmp"))
        os.chmod(base, 0o755)
        os.chown(base, *rt.owner)
    port = port or free_port()
    home = base / f"tracker-{port}"
    tracker = Tracker(directory=directory, home=home, port=port, access_log=base / f"roundup-{port}.log",
                      mail_log=home / "mail.log", _owns_base=owns_base)
    try:
        done = subprocess.run(rt.command("roundup-admin", "-i", str(home), "install", "classic", "sqlite"),
                              capture_output=True, text=True, env=rt.env, cwd=base, timeout=60, check=False)
        if done.returncode != 0 or not (home / "config.ini").exists():
            raise RuntimeError(f"roundup-admin install: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
        _set_options(home / "config.ini", {
            "main": {"password_pbkdf2_default_rounds": "1000"},
            "tracker": {"web": tracker.url},
            "web": {"login_attempts_min": "0"},
            "mail": {"domain": "example.com", "debug": str(tracker.mail_log)},
        })
        tracker.admin("initialise", ADMIN_PASSWORD)
        for name, password in users.items():
            tracker.admin("create", "user", f"username={name}", f"password={password}",
                          f"address={name}@example.com", f"realname={name.title()}", "roles=User")
        for title in seed:
            tracker.admin("create", "issue", f"title={title}", "status=1", "priority=3")
    except BaseException:
        tracker.close()
        raise
    return tracker


def start_tracker(directory: Path, users: dict[str, str] = USERS, seed: tuple[str, ...] = SEED_ISSUES) -> Tracker:
    """create_tracker, then start it: the caller must `close()` it (or use it as a context manager)."""
    tracker = create_tracker(directory, users, seed)
    try:
        return tracker.start()
    except BaseException:
        tracker.close()
        raise


# -- counting what people did ----------------------------------------------------------------


def count_issues(tracker: Tracker, title_like: str = "%") -> int:
    [(n,)] = tracker.query("SELECT count(*) FROM _issue WHERE __retired__ = 0 AND _title LIKE ?", title_like)
    return n


def count_messages(tracker: Tracker) -> int:
    [(n,)] = tracker.query("SELECT count(*) FROM _msg WHERE __retired__ = 0")
    return n


def issue_status(tracker: Tracker, issue_id: str | int) -> str | None:
    """The name of an issue's status (`unread`, `chatting`, `resolved`...), or None."""
    found = tracker.query("SELECT s._name FROM _issue i LEFT JOIN _status s ON s.id = i._status WHERE i.id = ?", int(issue_id))
    return found[0][0] if found else None


@dataclass(frozen=True)
class Issue:
    id: int
    title: str
    status: str | None
    creator: str
    messages: int
    nosy: tuple[str, ...] = ()


def issues(tracker: Tracker) -> list[Issue]:
    """Every issue with its status, the user who created it, how many messages it holds and its
    nosy list (the classic template puts the creator there)."""
    found = tracker.query(
        "SELECT i.id, i._title, s._name, u._username,"
        " (SELECT count(*) FROM issue_messages m WHERE m.nodeid = i.id),"
        " (SELECT group_concat(n._username, ' ') FROM issue_nosy x JOIN _user n ON n.id = x.linkid WHERE x.nodeid = i.id)"
        " FROM _issue i LEFT JOIN _status s ON s.id = i._status LEFT JOIN _user u ON u.id = i._creator"
        " WHERE i.__retired__ = 0 ORDER BY i.id"
    )
    return [Issue(*row[:5], nosy=tuple(sorted((row[5] or "").split()))) for row in found]


def wait_until_served(tracker: Tracker, timeout: float = 10) -> None:
    """Wait for roundup-server to answer its front page (it listens before it can serve)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(tracker.url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
