"""Scripted browsing of a real Roundup tracker (tests/sites/roundup_site.py) in headless Chromium.

Run with tests.browse.browse, like the notes site's people: each person in a browser context of
their own. `site` is the tracker's web URL (`http://127.0.0.1:PORT/tracker/`).

- visitor: anonymous; the front page (the list of open issues and the login form), "Show All",
  the list sorted by title with the list's own controls, one issue.
- editor: logs in with the front page's form, creates an issue (with a first message), adds a
  comment (a second message), changes its status to in-progress, logs out.
"""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page

from tests.sites.roundup_site import USERS

PAUSE = 0.4  # seconds a person spends on a page
STATUS = "in-progress"  # what editors set their issue to (the tracker itself sets `chatting` on a comment)


async def settle(page: Page) -> None:
    """Let the page's own background calls (its class helper asks /rest) finish, then pause as a
    person would: a navigation never cuts a call short, so the recording holds no aborted flow."""
    await page.wait_for_load_state("networkidle")
    await asyncio.sleep(PAUSE)


async def navigate(page: Page, selector: str) -> None:
    async with page.expect_navigation(wait_until="load"):
        await page.click(selector)


async def submit(page: Page, selector: str = "#submit_button") -> None:
    """Submit a form and check the tracker took it (Roundup answers a refused form with a page
    that holds an error message, often with status 200)."""
    await navigate(page, selector)
    errors = await page.locator(".error-message").all_inner_texts()
    if any(e.strip() for e in errors):
        raise AssertionError(f"{page.url}: {' '.join(errors)}")


async def visitor(page: Page, site: str) -> str:
    await page.goto(site)
    await settle(page)
    await navigate(page, "a:text-is('Show All')")
    await settle(page)
    # Sort by title with the list's controls (a GET form full of constant hidden inputs).
    await page.select_option("select[name='@sort0']", "title")
    await navigate(page, "input[value='Redisplay']")
    await settle(page)
    await navigate(page, "table.list a[href^='issue'] >> nth=0")
    await settle(page)
    return page.url[len(site):]


async def editor(page: Page, site: str, username: str = "alice", title: str = "alice's list") -> str:
    """Log in on the front page, create an issue, comment on it, change its status, log out.
    Returns the issue's path relative to the tracker (`issue3`)."""
    await page.goto(site)
    await settle(page)
    await page.fill("input[name='__login_name']", username)
    await page.fill("input[name='__login_password']", USERS[username])
    await asyncio.sleep(PAUSE)
    await submit(page, "input[type=submit][value='Login']")
    if await page.locator("a:text-is('Logout')").count() != 1:
        raise AssertionError(f"{username} is not logged in on {page.url}")
    await settle(page)

    await navigate(page, "a:text-is('Create New')")
    await settle(page)
    await page.fill("input[name='title']", title)
    await page.select_option("select[name='priority']", label="bug")
    await page.fill("textarea[name='@note']", f"Reported by {username}: it broke.")
    await asyncio.sleep(PAUSE)
    await submit(page)
    found = re.search(r"/issue(\d+)(?:\?|$)", page.url)
    if not found:
        raise AssertionError(f"no issue page after creating one: {page.url}")
    issue = f"issue{found.group(1)}"
    await settle(page)

    await page.fill("textarea[name='@note']", "More details: it broke again.")
    await asyncio.sleep(PAUSE)
    await submit(page)
    await settle(page)

    await page.select_option("select[name='status']", label=STATUS)
    await asyncio.sleep(PAUSE)
    await submit(page)
    await settle(page)

    await navigate(page, "a:text-is('Logout')")
    await settle(page)
    return issue
