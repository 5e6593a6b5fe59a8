"""A file upload through a multipart form with its CSRF token, recorded in real Chromium through
the proxy: on a fresh copy of the site the files arrive byte for byte, one per replayed upload."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os

from playwright.async_api import async_playwright

from tests.dbutil import BOTH, rows
from tests.helpers import CHROMIUM, chromium_args, cli, start_notes_site, start_recorder

PHOTO = os.urandom(40_000) + bytes(range(256)) * 4  # binary, NULs and every byte value included


def upload(proxy_port: int, site: str, path: str) -> None:
    async def run() -> None:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=chromium_args(proxy_port))
            try:
                page = await (await browser.new_context()).new_page()
                await page.goto(f"{site}/upload/")
                await page.fill("#label", "holiday")
                await page.set_input_files("#file", path)
                await asyncio.sleep(0.3)
                await page.click("#send")
                await page.wait_for_selector("#uploaded")
            finally:
                await browser.close()

    asyncio.run(run())


@BOTH
def test_uploaded_files_arrive_byte_for_byte_with_a_fresh_csrf_token(db, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(PHOTO)
    site = start_notes_site(tmp_path)
    rec = start_recorder(db, "upload", tmp_path / "mitmproxy", "--allow", "127.0.0.1")
    try:
        upload(rec.port, site.url, str(photo))
    finally:
        code, _, err = rec.stop()
        site.stop()
    assert code == 0, err
    converted = cli("convert", "upload", "--db", db, "--json", "-o", str(tmp_path / "upload.yaml"))
    assert converted.returncode == 0, converted.stderr
    summary = json.loads(converted.stdout)
    assert summary["correlations"].get("csrf", 0) >= 1 and not summary["literals"], summary

    fresh = start_notes_site(tmp_path)
    try:
        played = cli("play", "upload", "--host", fresh.url, "--users", "2", "--iterations", "4", "--think-scale", "0",
                     "--db", db, "--json")
    finally:
        fresh.stop()
    assert played.returncode == 0, played.stderr
    assert json.loads(played.stdout)["failures"] == 0
    arrived = rows(f"sqlite:///{fresh.db}", "SELECT name, size, sha256 FROM notes_attachment")
    # One per replayed upload, and one from the validation replay before the swarm.
    assert len(arrived) == 4 + 1
    assert {(a["name"], a["size"], a["sha256"]) for a in arrived} == {("photo.jpg", len(PHOTO), hashlib.sha256(PHOTO).hexdigest())}
