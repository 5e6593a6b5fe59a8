"""The web UI as a real process, and a real headless Chromium to use it with."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, sync_playwright

from tests.helpers import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, wait_for_port


@dataclass
class UI:
    url: str
    token: str | None
    process: subprocess.Popen
    log: list[str] = field(default_factory=list)

    @property
    def api(self) -> requests.Session:
        """A scripted client: the bearer token, no cookie."""
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.token}"
        return session

    def sign_in(self, page: Page, path: str = "/") -> None:
        """Open PATH as a person does: the printed address, with its token, once."""
        page.goto(f"{self.url}{path}{'&' if '?' in path else '?'}token={self.token}")

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
        self.process.wait(10)


def start_ui(db: str, *extra: str, cwd: Path = ROOT) -> UI:
    """`replayswarm ui` on a free port; the token is read from the line it prints at start."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "replayswarm", "ui", "--port", str(port), "--db", db, *extra],
                               cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    first = process.stderr.readline()
    token = re.search(r"\?token=(\S+) ", first)
    ui = UI(f"http://127.0.0.1:{port}", token.group(1) if token else None, process, [first])
    # Werkzeug logs every request to stderr: keep reading it, so the UI never blocks on a full pipe.
    threading.Thread(target=lambda: ui.log.extend(process.stderr), daemon=True).start()  # type: ignore[arg-type]
    wait_for_port(port, process)
    return ui


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        # Playwright's own waits evaluate strings, which the UI's strict CSP forbids. Bypassing it
        # also makes the markup test stricter: escaping alone must keep recorded script inert.
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, bypass_csp=True)
        page = context.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
        page.on("dialog", lambda d: (page.errors.append(f"dialog: {d.message}"), d.dismiss()))  # type: ignore[attr-defined]
        yield page
        browser.close()


def charts_drawn(page: Page, count: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('.chart .main-svg').length >= {count}", timeout=15000)
