"""Scripted use of Django's own admin on the notes site (/admin/) in headless Chromium.

Run with tests.browse.browse. The staff superuser is created by the notes site at startup
(tests/sites/notes/__main__.py: ADMIN_USER, ADMIN_PASSWORD).

admin: opens /admin/ (redirected to the login form, no cookie yet), logs in, adds a note with
"Save and continue editing" (the admin answers with a redirect to /admin/notes/note/ID/change/),
changes it and saves, opens it again from the list of notes (an id from a link), adds a second note, deletes that one through its Delete link and the
confirmation page, logs out. Every object id the visit uses came from a redirect or a link the
admin handed out during the visit.
"""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page

from tests.sites.notes.__main__ import ADMIN_PASSWORD, ADMIN_USER

PAUSE = 0.4
KEPT = "Admin draft"  # added, then changed: on a replay each iteration leaves one, changed
CHANGED_BODY = "changed in the admin"
SCRATCH = "Admin scratch"  # added, then deleted: on a replay none is left


async def navigate(page: Page, selector: str) -> None:
    async with page.expect_navigation(wait_until="load"):
        await page.click(selector)


async def saved(page: Page, selector: str) -> None:
    """Submit an admin form and check the admin took it (a refused form comes back with errors)."""
    await navigate(page, selector)
    errors = await page.locator(".errornote, .errorlist").all_inner_texts()
    if any(e.strip() for e in errors):
        raise AssertionError(f"{page.url}: {' '.join(errors)}")


def object_id(url: str) -> str:
    found = re.search(r"/admin/notes/note/(\d+)/change/", url)
    if not found:
        raise AssertionError(f"not a note's change page: {url}")
    return found.group(1)


async def add_note(page: Page, title: str, body: str) -> str:
    await navigate(page, "a[href='/admin/notes/note/add/']")
    await page.fill("#id_title", title)
    await page.fill("#id_body", body)
    await page.select_option("#id_owner", label="alice")
    await asyncio.sleep(PAUSE)
    await saved(page, "input[name='_continue']")  # "Save and continue editing"
    return object_id(page.url)


async def admin(page: Page, site: str, username: str = ADMIN_USER, title: str = "") -> list[str]:
    """Returns the ids of the note it kept and the note it deleted."""
    await page.goto(f"{site}/admin/")
    if "/admin/login/" not in page.url:
        raise AssertionError(f"/admin/ did not ask for a login: {page.url}")
    await asyncio.sleep(PAUSE)
    await page.fill("#id_username", username)
    await page.fill("#id_password", ADMIN_PASSWORD)
    await asyncio.sleep(PAUSE)
    await saved(page, "input[type=submit]")
    if not page.url.endswith("/admin/"):
        raise AssertionError(f"not logged in to the admin: {page.url}")
    await asyncio.sleep(PAUSE)

    kept = await add_note(page, KEPT, "written in the admin")
    await asyncio.sleep(PAUSE)
    await page.fill("#id_body", CHANGED_BODY)
    await asyncio.sleep(PAUSE)
    await saved(page, "input[name='_save']")  # back to the list of notes
    await asyncio.sleep(PAUSE)
    # Ids from links: the list links to the note this visit made; open it from there, then go
    # back to the list by its breadcrumb.
    await navigate(page, f"#result_list a[href='/admin/notes/note/{kept}/change/']")
    await asyncio.sleep(PAUSE)
    await navigate(page, ".breadcrumbs a[href='/admin/notes/note/']")
    await asyncio.sleep(PAUSE)

    scratch = await add_note(page, SCRATCH, "to be deleted")
    await asyncio.sleep(PAUSE)
    await navigate(page, f"a[href='/admin/notes/note/{scratch}/delete/']")
    await asyncio.sleep(PAUSE)
    await saved(page, "input[type=submit]")  # "Yes, I'm sure"
    await asyncio.sleep(PAUSE)

    await navigate(page, "#logout-form button")
    return [kept, scratch]
