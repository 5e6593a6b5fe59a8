"""Scripted browsing of the notes site in real headless Chromium (Debian's, through Playwright).

People browse at the same time, each in a browser context of their own (own cookies, own
connections): visitors read notes; editors log in, create a note, open it, edit it, log out.
Used by the tests and by `make demo`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Page, async_playwright

from tests.helpers import CHROMIUM, chromium_args

USERS = {"alice": "alice-pass-123", "bob": "bob-pass-123"}
PAUSE = 0.4  # seconds a person spends on a page: the think time the recording will observe


async def visitor(page: Page, site: str) -> None:
    await page.goto(f"{site}/")
    await page.wait_for_function("document.getElementById('live-count').textContent !== '…'")
    await asyncio.sleep(PAUSE)
    await page.click("text=All notes")
    await page.wait_for_load_state("load")
    await asyncio.sleep(PAUSE)
    await page.click("ul.notes a >> nth=-1")
    await page.wait_for_load_state("load")


async def editor(page: Page, site: str, username: str = "alice", title: str = "Shopping list") -> str:
    """Log in, create a note, open it, edit it, log out. Returns the note's path."""
    await page.goto(f"{site}/")
    await page.wait_for_function("document.getElementById('live-count').textContent !== '…'")
    await asyncio.sleep(PAUSE)
    await page.click("text=Log in")
    await page.fill("#username", username)
    await page.fill("#password", USERS[username])
    await asyncio.sleep(PAUSE)
    await page.click("#login")
    await page.wait_for_url(f"{site}/mine/")
    await asyncio.sleep(PAUSE)
    await page.click("text=New note")
    await page.fill("#title", title)
    await page.fill("#body", "milk, eggs")
    await asyncio.sleep(PAUSE)
    await page.click("#save")
    await page.wait_for_selector("#note-title")
    note_path = page.url[len(site):]
    await asyncio.sleep(PAUSE)
    await page.click("#edit")
    await page.fill("#body", "milk, eggs, bread")
    await asyncio.sleep(PAUSE)
    await page.click("#save")
    await page.wait_for_selector("#note-title")
    await asyncio.sleep(PAUSE)
    await page.click("#logout")
    await page.wait_for_url(f"{site}/")
    await page.wait_for_function("document.getElementById('live-count').textContent !== '…'")
    return note_path


@dataclass(frozen=True)
class Person:
    role: Callable[..., Awaitable[object]]
    username: str | None = None
    har: Path | None = None


def browse(proxy_port: int | None, site: str, people: Sequence[Person], stagger: float = 0.15) -> list[object]:
    """Everyone browses at once (each starting `stagger` seconds after the last); returns what
    each role returned."""

    async def run() -> list[object]:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=chromium_args(proxy_port))
            try:
                async def one(i: int, person: Person) -> object:
                    await asyncio.sleep(i * stagger)
                    context = await browser.new_context(record_har_path=str(person.har) if person.har else None)
                    page = await context.new_page()
                    if person.username:
                        result = await person.role(page, site, username=person.username, title=f"{person.username}'s list")
                    else:
                        result = await person.role(page, site)
                    await context.close()  # writes the HAR
                    return result

                return list(await asyncio.gather(*(one(i, person) for i, person in enumerate(people))))
            finally:
                await browser.close()

    return asyncio.run(run())


MIXED = [Person(visitor), Person(editor, "alice"), Person(visitor), Person(editor, "bob"), Person(visitor)]
