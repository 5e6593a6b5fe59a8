"""A single-page app with a JSON token login, recorded in real Chromium through the proxy: the
replay logs in by the API on a fresh copy, creates its items with the token it got there, and
refreshes the spent token as the recording did. No token reaches the scenario file."""

from __future__ import annotations

import asyncio
import json

from playwright.async_api import async_playwright

from tests.helpers import CHROMIUM, chromium_args, cli, start_recorder
from tests.sites.tokens import USERS, serve


def browse(proxy_port: int, url: str) -> None:
    async def run() -> None:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=chromium_args(proxy_port))
            try:
                async def person(user: str, delay: float) -> None:
                    await asyncio.sleep(delay)
                    context = await browser.new_context()
                    page = await context.new_page()
                    await page.goto(url + "/")
                    await page.fill("#u", user)
                    await page.fill("#p", USERS[user])
                    await asyncio.sleep(0.3)
                    await page.click("#go")
                    await page.wait_for_function("document.getElementById('state').textContent === 'done'")
                    await context.close()

                await asyncio.gather(person("carol", 0.0), person("dave", 0.2))
            finally:
                await browser.close()

    asyncio.run(run())


def test_a_token_login_replays_with_tokens_of_its_own_and_refreshes_them(db, tmp_path):
    recorded = serve()
    url = f"http://127.0.0.1:{recorded.server_address[1]}"
    rec = start_recorder(db, "spa", tmp_path / "mitmproxy", "--allow", "127.0.0.1")
    try:
        browse(rec.port, url)
    finally:
        code, _, err = rec.stop()
        recorded.shutdown()
    assert code == 0, err
    assert len(recorded.app.items) == 4 and recorded.app.rejected == 0  # type: ignore[attr-defined]
    out = tmp_path / "spa.yaml"
    converted = cli("convert", "spa", "-o", str(out), "--db", db, "--json")
    assert converted.returncode == 0, converted.stderr
    summary = json.loads(converted.stdout)
    assert summary["sessions"] == 2 and len(summary["scenarios"]) == 1
    text = out.read_text()
    # The token each call sends comes from the answer that handed it out: the login's, then the refresh's.
    assert text.count("[Authorization, 'Bearer ${login_access_token}']") == 1
    assert text.count("[Authorization, 'Bearer ${refresh_access_token}']") == 2
    for secret in (*USERS.values(), *recorded.app.access, *recorded.app.refresh):  # type: ignore[attr-defined]
        assert secret not in text

    fresh = serve()
    users = tmp_path / "users.csv"
    users.write_text("username,password\n" + "".join(f"{u},{p}\n" for u, p in USERS.items()))
    try:
        played = cli("play", "spa", "--host", f"http://127.0.0.1:{fresh.server_address[1]}", "--users", "2",
                     "--iterations", "6", "--think-scale", "0.05", "--data", str(users), "--db", db, "--json")
    finally:
        fresh.shutdown()
    assert played.returncode == 0, played.stderr
    result = json.loads(played.stdout)
    assert result["failures"] == 0, result
    app = fresh.app  # type: ignore[attr-defined]
    # Two items per iteration, and two from the validation replay's one pass; no token refused.
    assert len(app.items) == 2 * 6 + 2 and app.rejected == 0
    assert {i["owner"] for i in app.items} == set(USERS)
