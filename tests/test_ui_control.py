"""Starting, watching and steering runs from the web UI, in real headless Chromium, and who may."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest
import requests
from playwright.sync_api import Page

from tests.dbutil import rows
from tests.helpers import ROOT, cli
from tests.target import CountingTarget
from tests.webui import UI, charts_drawn, start_ui

TOKEN = "a-fixed-token-for-restarts-0123456789"
CAP = 40


@dataclass
class Setup:
    db: str
    target: CountingTarget  # what runs started here load
    queue: CountingTarget  # a target of known capacity (2 workers, 20 ms a request)


def visit_har(origin: str) -> dict:
    """A visit of three pages, 100 ms apart, as a browser's HAR export would hold it."""
    return {"log": {"version": "1.2", "entries": [{
        "startedDateTime": f"2026-11-24T10:00:00.{i}00Z", "time": 5,
        "request": {"method": "GET", "url": f"{origin}/page/{i}", "httpVersion": "HTTP/1.1", "headers": []},
        "response": {"status": 200, "statusText": "OK", "headers": [{"name": "Content-Type", "value": "application/json"}],
                     "content": {"size": 12, "mimeType": "application/json", "text": '{"ok": true}'}},
    } for i in range(3)]}}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    directory = tmp_path_factory.mktemp("ui-control")
    target, queue = CountingTarget(delay=0.002), CountingTarget(workers=2, service=0.02)
    db = f"sqlite:///{directory / 'replayswarm.db'}"
    har = directory / "visit.har"
    har.write_text(json.dumps(visit_har(target.url)))
    assert cli("import", str(har), "--name", "visit", "--db", db).returncode == 0
    assert cli("convert", "visit", "--name", "visit-set", "--db", db).returncode == 0
    yield Setup(db, target, queue)
    target.close()
    queue.close()


@pytest.fixture
def ui(setup: Setup) -> Iterator[UI]:
    server = start_ui(setup.db, "--allow-target", setup.target.url, "--allow-target", setup.queue.url, "--max-users", str(CAP), "--token", TOKEN)
    yield server
    server.stop()


def fill_run(page: Page, host: str, users: int, label: str) -> None:
    page.select_option("select[name=source]", "visit-set")
    page.fill("input[name=host]", host)
    page.fill("input[name=users]", str(users))
    page.fill("input[name=label]", label)


def started_run(page: Page) -> int:
    page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=60000)
    return int(page.url.rsplit("/", 1)[1])


def stored(db: str, run_id: int) -> dict:
    return json.loads(cli("run", str(run_id), "--json", "--db", db).stdout)


def wait_until(check, timeout: float = 20.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_run_started_from_the_form_goes_live_is_steered_and_stops(ui: UI, setup: Setup, page: Page):
    before = len(setup.target.requests)
    ui.sign_in(page, "/runs/new")
    fill_run(page, setup.target.url, 2, "from the form")
    page.click("#start")
    run_id = started_run(page)
    assert page.locator("#status").inner_text() == "running"
    assert page.locator("#controls .live").is_visible()
    first = int(page.locator("[data-key=requests]").inner_text())
    page.wait_for_function(f"Number(document.querySelector('[data-key=requests]').textContent) > {first}", timeout=15000)
    # More users: the users chart steps up to them.
    page.fill("#controls input[name=users]", "6")
    page.click("#apply-users")
    assert "6 users asked for" in page.locator(".flash").inner_text()
    page.wait_for_function("Math.max(...document.getElementById('chart-users').data[0].y) >= 6", timeout=20000)
    shot = ROOT / "test-artifacts"
    shot.mkdir(exist_ok=True)
    page.screenshot(path=str(shot / "run-live.png"), full_page=True)
    page.click("#stop")
    page.wait_for_function("document.getElementById('status').textContent === 'stopped'", timeout=30000)
    run = stored(setup.db, run_id)
    assert run["status"] == "stopped" and run["label"] == "from the form" and run["source"] == "visit-set"
    # Every request the target served was counted: the run's, and the validation replay's one pass.
    validation = sum(v["steps"] for v in run["config"]["validation"])
    assert len(setup.target.requests) - before == run["total"]["requests"] + validation
    assert max(stored_series(ui, run_id)["users"]) == 6
    assert page.errors == []  # type: ignore[attr-defined]


def stored_series(ui: UI, run_id: int) -> dict:
    return ui.api.get(f"{ui.url}/api/runs/{run_id}", timeout=10).json()["series"]


def test_a_capacity_search_from_the_form_shows_its_pictures(ui: UI, setup: Setup, page: Page):
    ui.sign_in(page, "/runs/new")
    page.select_option("select[name=source]", "visit-set")
    page.fill("input[name=host]", setup.queue.url)
    page.check("input[name=kind][value=capacity]")
    assert page.locator("input[name=users]").is_hidden() and page.locator("input[name=start]").is_visible()
    for name, value in (("start", "4"), ("step", "4"), ("step_duration", "4s"), ("max_users", "12"), ("spawn_rate", "50")):
        page.fill(f"input[name={name}]", value)
    page.fill("textarea[name=slos]", "p95<500ms")
    page.click("#start")
    run_id = started_run(page)
    page.wait_for_function("document.getElementById('status').textContent === 'completed'", timeout=90000)
    charts_drawn(page, 6)
    answer = page.locator("#capacity-answer").inner_text()
    found = stored(setup.db, run_id)["answer"]
    assert f"{found['max_users_without_failures']} users" in answer and "p95<500ms" in answer
    assert page.locator("#capacity-steps tbody tr").count() == len(found["steps"]) >= 3
    assert page.errors == []  # type: ignore[attr-defined]


def test_runs_outlive_the_ui_are_found_again_and_a_cli_run_is_stopped_from_it(ui: UI, setup: Setup, page: Page):
    ui.sign_in(page, "/runs/new")
    fill_run(page, setup.target.url, 2, "outlives the UI")
    page.click("#start")
    from_form = started_run(page)
    played = subprocess.Popen([sys.executable, "-m", "replayswarm", "play", "visit-set", "--host", setup.target.url, "--users", "2",
                               "--duration", "forever", "--quiet", "--db", setup.db], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: rows(setup.db, "SELECT id FROM runs WHERE pid = :pid AND requests > 0", pid=played.pid), what="the CLI run")
        from_cli = rows(setup.db, "SELECT id FROM runs WHERE pid = :pid", pid=played.pid)[0]["id"]
        ui.stop(kill=True)  # the UI dies; its run goes on
        served = len(setup.target.requests)
        wait_until(lambda: len(setup.target.requests) > served + 10, what="load after the UI died")
        again = start_ui(setup.db, "--allow-target", setup.target.url, "--token", TOKEN)
        try:
            again.sign_in(page)
            first_two = page.locator("#runs tbody tr").all()[:2]
            assert {int(r.get_attribute("data-run")) for r in first_two} == {from_form, from_cli}, "running runs come first"
            assert all(r.locator(".live").is_visible() for r in first_two)
            page.click(f"#runs a[href='/runs/{from_cli}']")
            page.click("#stop")
            assert played.wait(20) == 130
            page.wait_for_function("document.getElementById('status').textContent === 'stopped'", timeout=20000)
            # The form's run: its process dies, and the UI shows it crashed, with what it measured.
            pid = rows(setup.db, "SELECT pid FROM runs WHERE id = :id", id=from_form)[0]["pid"]
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: stored(setup.db, from_form)["status"] == "crashed", what="the killed run to show as crashed")
            page.goto(f"{again.url}/runs/{from_form}")
            assert page.locator("#status").inner_text() == "crashed" and page.locator("#crashed").is_visible()
            assert int(page.locator("[data-key=requests]").inner_text()) > 0
        finally:
            again.stop()
    finally:
        if played.poll() is None:
            played.kill()
            played.wait(10)


def test_only_a_signed_in_page_of_the_ui_itself_starts_load_and_only_where_allowed(ui: UI, setup: Setup, page: Page, tmp_path: Path):
    from replayswarm.web import create_app

    runs_before = rows(setup.db, "SELECT count(*) AS n FROM runs")[0]["n"]
    served = len(setup.target.requests)
    # Every route but static assets asks for the token, on loopback too; the token opens them.
    rules = [r for r in create_app(setup.db).url_map.iter_rules() if "GET" in (r.methods or ())]
    arguments = {"run_id": 1, "name": "visit", "filename": "app.js"}
    for rule in rules:
        path = rule.build({k: arguments[k] for k in rule.arguments}, append_unknown=False)[1]
        status = requests.get(ui.url + path, timeout=10, allow_redirects=False).status_code
        assert status == (200 if rule.endpoint in ("static", "plotly_js", "auth.login") else 401), path
        assert ui.api.get(ui.url + path, timeout=10).status_code != 401, path
    assert len(rules) >= 12
    assert requests.post(ui.url + "/runs/new", data={"source": "visit-set", "host": setup.target.url, "users": "1"}, timeout=10).status_code in (401, 403)
    assert ui.api.get(ui.url + "/api/runs", headers={"Authorization": "Bearer not-the-token"}, timeout=10).status_code == 401
    # A page on another local port posts the form with the browser's own cookie: refused.
    attack = tmp_path / "attack"
    attack.mkdir()
    (attack / "index.html").write_text(f"""<form id=f method=post action="{ui.url}/runs/new">
        <input name=source value=visit-set><input name=host value="{setup.target.url}"><input name=users value=5>
        <input name=kind value=play><input name=load value=users></form><script>document.getElementById('f').submit()</script>""")
    server = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: SimpleHTTPRequestHandler(*a, directory=str(attack)))
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        ui.sign_in(page)
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        page.wait_for_url(f"{ui.url}/runs/new", timeout=10000)
        assert "only this UI's pages" in page.locator("body").inner_text()
    finally:
        server.shutdown()
    # A host off the allow-list, and more users than the cap, are refused on the form, saying why.
    page.goto(f"{ui.url}/runs/new")
    fill_run(page, "http://127.0.0.1:9", 2, "elsewhere")
    page.click("#start")
    assert "http://127.0.0.1:9 is not a target this UI may load" in page.locator("#refused").inner_text()
    fill_run(page, setup.target.url, CAP + 1, "too many")
    page.click("#start")
    assert f"over this UI's cap of {CAP} users" in page.locator("#refused").inner_text()
    assert rows(setup.db, "SELECT count(*) AS n FROM runs")[0]["n"] == runs_before
    assert len(setup.target.requests) == served, "nothing was sent"
    # A browser without the token gets the sign-in page, not the form.
    page.context.clear_cookies()
    page.goto(f"{ui.url}/runs/new")
    assert page.locator("#new-run").count() == 0 and "needs the token it printed at start" in page.locator("#refused").inner_text()
    # With no allow-list the UI only looks; replayswarm.toml can hold the list.
    looker = start_ui(setup.db)
    try:
        looker.sign_in(page, "/runs/new")
        assert "only looks" in page.locator("#look-only").inner_text()
        assert page.locator("#new-run").count() == 0
        assert looker.api.post(looker.url + "/runs/new", data={"source": "visit-set", "host": setup.target.url, "users": "1"}, timeout=10).status_code == 403
    finally:
        looker.stop()
    (tmp_path / "replayswarm.toml").write_text(f'[ui]\nallow-target = ["{setup.queue.url}"]\nmax-users = 7\n')
    configured = start_ui(setup.db, cwd=tmp_path)
    configured.stop()
    assert f"runs may load {setup.queue.url} (at most 7 users)" in configured.log[0]
    assert page.errors == []  # type: ignore[attr-defined]
