"""Scripted browsing of the notes site in real headless Chromium (Debian's, through Playwright).

Used by the tests and by `make demo`: a visitor reads notes; an editor logs in, creates a note,
opens it, edits it and logs out.
"""

from __future__ import annotations

from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from tests.helpers import CHROMIUM, chromium_args


@contextmanager
def chromium(proxy_port: int | None = None) -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=chromium_args(proxy_port))
        try:
            yield browser
        finally:
            browser.close()


def visitor(page: Page, site: str) -> None:
    page.goto(f"{site}/")
    page.wait_for_function("document.getElementById('live-count').textContent !== '…'")
    page.click("text=All notes")
    page.wait_for_load_state("load")
    page.click("ul.notes a >> nth=0")
    page.wait_for_load_state("load")


def editor(page: Page, site: str, username: str = "alice", password: str = "alice-pass-123", title: str = "Shopping list") -> str:
    """Log in, create a note, open it, edit it, log out. Returns the note's path."""
    page.goto(f"{site}/")
    page.wait_for_function("document.getElementById('live-count').textContent !== '…'")
    page.click("text=Log in")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login")
    page.wait_for_url(f"{site}/mine/")
    page.click("text=New note")
    page.fill("#title", title)
    page.fill("#body", "milk, eggs")
    page.click("#save")
    page.wait_for_selector("#note-title")
    note_path = page.url[len(site):]
    page.click("#edit")
    page.fill("#body", "milk, eggs, bread")
    page.click("#save")
    page.wait_for_selector("#note-title")
    page.goto(f"{site}{note_path}")
    page.click("#logout")
    page.wait_for_url(f"{site}/")
    page.wait_for_function("document.getElementById('live-count').textContent !== '…'")
    return note_path


def record_visit(proxy_port: int, site: str, har: Path | None = None, who: str = "editor") -> str | None:
    with chromium(proxy_port) as browser:
        context = browser.new_context(record_har_path=str(har) if har else None)
        page = context.new_page()
        result = editor(page, site) if who == "editor" else visitor(page, site)
        context.close()  # writes the HAR
    return result
