from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Recorder, Site, start_notes_site, start_recorder


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'replayswarm.db'}"


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
