from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import Recorder, Site, start_notes_site, start_recorder
from tests.pg import Server, start_server

pytest_plugins = ["tests.webui"]  # the `page` fixture: real headless Chromium


@pytest.fixture
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: SQLite, or on PostgreSQL for tests marked `@BOTH` (tests.dbutil), which run on each."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return request.getfixturevalue("postgres").create_database()  # type: ignore[no-any-return]
    return f"sqlite:///{tmp_path / 'replayswarm.db'}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    """One throwaway PostgreSQL server for the session (each xdist worker its own)."""
    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = start_notes_site(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def confdir(tmp_path: Path) -> Path:
    # mitmproxy writes its CA here; never the user's ~/.mitmproxy.
    return tmp_path / "mitmproxy"


@pytest.fixture
def recorder_factory(db: str, confdir: Path) -> Iterator:
    started: list[Recorder] = []

    def start(name: str = "visit", *extra: str) -> Recorder:
        r = start_recorder(db, name, confdir, *extra)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


@dataclass(frozen=True)
class MixedRecording:
    """Three visitors and two editors (alice, bob) browsing the notes site at the same time in
    Chromium, recorded through the real proxy. Recorded once per test run; each test gets its
    own copy of the database."""

    db_file: Path
    name: str
    origin: str


@pytest.fixture(scope="session")
def mixed_recording(tmp_path_factory: pytest.TempPathFactory) -> MixedRecording:
    from tests.browse import MIXED, browse

    directory = tmp_path_factory.mktemp("mixed")
    site = start_notes_site(directory)
    db_file = directory / "recorded.db"
    rec = start_recorder(f"sqlite:///{db_file}", "mixed", directory / "mitmproxy", "--allow", "127.0.0.1")
    try:
        browse(rec.port, site.url, MIXED)
    finally:
        code, _, err = rec.stop()
        site.stop()
    assert code == 0, err
    # Fold the write-ahead log into the file, so a plain copy of it holds everything.
    with sqlite3.connect(db_file) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert conn.execute("SELECT count(*) FROM recordings WHERE name = 'mixed'").fetchone() == (1,)
    return MixedRecording(db_file=db_file, name="mixed", origin=site.url)


@pytest.fixture
def mixed_db(mixed_recording: MixedRecording, tmp_path: Path) -> str:
    copy = tmp_path / "replayswarm.db"
    shutil.copy(mixed_recording.db_file, copy)
    os.chmod(copy, 0o600)
    return f"sqlite:///{copy}"


@pytest.fixture(scope="session", autouse=True)
def no_typed_password_in_any_scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every scenario file the suite writes is scanned, at the end, for the passwords its
    browsers typed: a recorded password never reaches a file people commit."""
    yield
    from tests.browse import USERS
    from tests.sites import roundup_site, tokens
    from tests.sites.notes.__main__ import ADMIN_PASSWORD

    typed = {*USERS.values(), *roundup_site.USERS.values(), roundup_site.ADMIN_PASSWORD, *tokens.USERS.values(), ADMIN_PASSWORD}
    leaks = [
        f"{path}: {secret}"
        for path in tmp_path_factory.getbasetemp().rglob("*.yaml")
        for secret in typed
        if secret in path.read_text(errors="replace")
    ]
    assert not leaks, f"typed passwords written into scenario files: {leaks}"
