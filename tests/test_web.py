"""The web UI and reports in real headless Chromium, with data from real runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page

from tests.helpers import ROOT, cli, free_port
from tests.target import CountingTarget, scenario_file
from tests.webui import UI, charts_drawn, start_ui

ARTIFACTS = ROOT / "test-artifacts"
XSS = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'


@dataclass
class History:
    db: str
    runs: dict[str, int]


def play(db: str, source: str, *args: str, expect: int = 0) -> int:
    result = cli("play", source, "--db", db, "--json", "--quiet", *args)
    assert result.returncode == expect, result.stderr
    return json.loads(result.stdout)["run_id"]


@pytest.fixture(scope="module")
def history(mixed_recording, tmp_path_factory) -> History:
    """A database with a recording, a scenario set, and runs: a real replay, a fast and a slowed one."""
    from tests.helpers import start_notes_site

    directory = tmp_path_factory.mktemp("history")
    db_file = directory / "replayswarm.db"
    db_file.write_bytes(mixed_recording.db_file.read_bytes())
    db = f"sqlite:///{db_file}"
    assert cli("convert", "mixed", "--name", "mixed-set", "--db", db).returncode == 0
    har = directory / "evil.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "entries": [{
        "startedDateTime": "2026-11-24T10:00:00.000Z", "time": 5,
        "request": {"method": "POST", "url": "http://127.0.0.1:9/search?q=" + requests.utils.quote(XSS), "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "X-Evil", "value": XSS}], "postData": {"mimeType": "text/plain", "text": XSS}},
        "response": {"status": 200, "statusText": "OK", "headers": [{"name": "Content-Type", "value": "text/html"}],
                     "content": {"size": len(XSS), "mimeType": "text/html", "text": XSS}},
    }]}}))
    assert cli("import", str(har), "--name", "evil <script>", "--db", db).returncode == 0
    site = start_notes_site(directory)
    users = directory / "users.csv"
    users.write_text("username,password\nalice,alice-pass-123\nbob,bob-pass-123\n")
    try:
        replay = play(db, "mixed-set", "--host", site.url, "--users", "5", "--iterations", "10", "--think-scale", "0.05",
                      "--data", str(users), "--label", "replay", "--tag", "build=41")
    finally:
        site.stop()
    runs = {"replay": replay}
    for label, delay in (("fast", 0.0), ("slow", 0.04)):
        target = CountingTarget(delay=delay)
        try:
            runs[label] = play(db, scenario_file(directory / "page.yaml", target.url, [("page", 1, [("/page", 0.0)])]),
                               "--host", target.url, "--users", "4", "--iterations", "200", "--label", label,
                               "--threshold", "p95<20ms", expect=0 if label == "fast" else 1)
        finally:
            target.close()
    # Two capacity searches: build 41 with four server workers, build 42 with two.
    for label, workers in (("capacity-41", 4), ("capacity-42", 2)):
        target = CountingTarget(workers=workers, service=0.02)
        try:
            found = cli("capacity", scenario_file(directory / "cap.yaml", target.url, [("cap", 1, [("/work", 0.1)])]),
                        "--host", target.url, "--slo", "p95<100ms", "--start", "8", "--step", "8", "--step-duration", "4s",
                        "--max-users", "32", "--spawn-rate", "50", "--label", label, "--json", "--quiet", "--db", db)
            assert found.returncode == 0, found.stderr
            runs[label] = json.loads(found.stdout)["run_id"]
        finally:
            target.close()
    return History(db=db, runs=runs)


@pytest.fixture(scope="module")
def ui(history: History) -> Iterator[UI]:
    server = start_ui(history.db)
    yield server
    server.stop()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_runs_list_filters_sorts_and_compares_a_slowed_run(ui: UI, history: History, page: Page):
    ui.sign_in(page)
    table = page.locator("#runs tbody tr")
    assert table.count() == len(history.runs) == 5
    assert "build=41" in page.locator("#runs").inner_text()
    shot(page, "runs")
    page.fill("input[name=q]", "slow")
    page.click("text=Filter")
    assert page.locator("#runs tbody tr").count() == 1
    for order in ("desc", "asc"):
        page.goto(ui.url + f"/?sort=p95_ms&order={order}")
        p95 = [float(t) for t in page.locator("#runs tbody tr td:nth-child(10)").all_inner_texts()]
        assert p95 == sorted(p95, reverse=order == "desc") and len(p95) == 5
    page.goto(ui.url + "/")
    page.check(f"input[value='{history.runs['fast']}']")
    page.check(f"input[value='{history.runs['slow']}']")
    page.click("#compare")
    charts_drawn(page, 2)
    verdict = page.locator(".verdict").inner_text()
    assert verdict.startswith("REGRESSION"), verdict
    assert page.locator("td.regression").count() >= 2, "the slowed p95 is highlighted"
    row = page.locator(f"#compare-{history.runs['slow']} tr", has_text="GET /page")
    assert "regression" in row.locator("td >> nth=2").get_attribute("class")
    shot(page, "compare")
    assert page.errors == []  # type: ignore[attr-defined]


def test_run_detail_shows_charts_endpoints_errors_and_configuration(ui: UI, history: History, page: Page):
    run_id = history.runs["replay"]
    ui.sign_in(page, f"/runs/{run_id}")
    charts_drawn(page, 3)
    text = page.locator("main").inner_text()
    for expected in ("POST /accounts/login/", "GET /notes/{id}/edit/", "Aggregated", "No errors.", '"users": 5', "build=41"):
        assert expected in text, expected
    stored = json.loads(cli("run", str(run_id), "--json", "--db", history.db).stdout)
    assert page.locator("[data-key=requests]").inner_text() == str(stored["total"]["requests"])
    shot(page, "run")
    slow = history.runs["slow"]
    page.goto(f"{ui.url}/runs/{slow}")
    assert "p95<20ms: FAILED" in page.locator(".thresholds").inner_text()
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_capacity_run_is_shown_as_pictures_and_two_builds_compare_by_the_load_they_hold(ui: UI, history: History, page: Page):
    weak = history.runs["capacity-42"]
    ui.sign_in(page, f"/runs/{weak}")
    charts_drawn(page, 6)  # throughput, p95 per endpoint and failures against load; and the run's own
    answer = page.locator("#capacity-answer").inner_text()
    stored = json.loads(cli("run", str(weak), "--json", "--db", history.db).stdout)["answer"]
    assert f"Most load within p95<100ms: {stored['max_users_within_slo']['p95<100ms']} users" in answer
    assert "Throughput stops growing near" in answer
    # The knee and the SLO's limit are marked on the charts.
    assert page.locator("#chart-capacity-rps").inner_text().count("knee") == 1
    assert "p95<100ms up to" in page.locator("#chart-capacity-latency").inner_text()
    shot(page, "capacity")
    page.goto(f"{ui.url}/compare?run={history.runs['capacity-41']}&run={weak}")
    verdict = page.locator(f"#verdict-{weak}").inner_text()
    assert verdict.startswith(f"REGRESSION: run {weak} holds fewer users than run {history.runs['capacity-41']}")
    assert page.locator(f"#capacity-compare-{weak}").inner_text().count("fewer") >= 1
    assert page.errors == []  # type: ignore[attr-defined]


def test_recordings_and_scenario_sets_render_with_secrets_masked(ui: UI, page: Page):
    ui.sign_in(page, "/recordings/")
    assert "mixed" in page.locator("#recordings").inner_text()
    page.goto(ui.url + "/recordings/mixed")
    assert page.locator("h2", has_text="Session").count() == 5
    page.locator("details summary", has_text="/accounts/login/").first.click()
    body = page.content()
    assert "alice-pass-123" not in body and "bob-pass-123" not in body
    shot(page, "recording")
    page.goto(ui.url + "/scenarios/")
    page.click("text=mixed-set")
    text = page.locator("main").inner_text()
    assert "weight 3" in text and "weight 2" in text and "csrfmiddlewaretoken" in text and "Location" in text
    shot(page, "scenario")
    assert page.errors == []  # type: ignore[attr-defined]


def test_recorded_markup_is_shown_as_text_and_never_runs(ui: UI, page: Page):
    ui.sign_in(page, "/recordings/")
    page.click("text=evil <script>")
    page.locator("details summary").first.click()
    page.wait_for_timeout(500)
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src=x]").count() == 0
    text = page.locator("main").inner_text()
    assert XSS in text, "the recorded value is shown, as text"
    shot(page, "xss")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_html_report_is_self_contained_and_opens_offline(history: History, page: Page, tmp_path: Path):
    out = tmp_path / "report.html"
    result = cli("report", str(history.runs["slow"]), "--baseline", str(history.runs["fast"]), "-o", str(out), "--db", history.db)
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    # Everything inline: no script or stylesheet is fetched from anywhere.
    assert "<script src" not in html and 'rel="stylesheet"' not in html
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:") else route.continue_())
    page.goto(out.as_uri())
    charts_drawn(page, 5)
    assert page.locator("#verdict").inner_text().startswith("REGRESSION")
    shot(page, "report")
    junit = cli("report", str(history.runs["slow"]), "--format", "junit", "-o", "-", "--db", history.db).stdout
    assert '<testcase classname="replayswarm.thresholds" name="p95&lt;20ms"><failure' in junit
    csv_text = cli("report", str(history.runs["fast"]), "--format", "csv", "-o", "-", "--db", history.db).stdout
    assert csv_text.splitlines()[0].startswith("name,requests,failures") and "GET /page" in csv_text
    data = json.loads(cli("report", str(history.runs["slow"]), "--baseline", str(history.runs["fast"]), "--format", "json", "-o", "-", "--db", history.db).stdout)
    assert data["comparison"]["verdict"].startswith("REGRESSION") and data["run"]["series"]["t"]
    # A capacity run's report carries its pictures and the answer; against the stronger build, a verdict in users.
    weak, strong = history.runs["capacity-42"], history.runs["capacity-41"]
    out = tmp_path / "capacity.html"
    assert cli("report", str(weak), "--baseline", str(strong), "-o", str(out), "--db", history.db).returncode == 0
    page.goto(out.as_uri())
    charts_drawn(page, 3 + 3 + 2)
    assert "Most load within p95<100ms" in page.locator("#capacity-answer").inner_text()
    assert page.locator("#verdict").inner_text().startswith(f"REGRESSION: run {weak} holds fewer users")


def test_the_api_serves_runs_and_comparisons(ui: UI, history: History):
    listed = ui.api.get(ui.url + "/api/runs", timeout=10).json()
    assert {r["label"] for r in listed} >= {"replay", "fast", "slow"}
    one = ui.api.get(f"{ui.url}/api/runs/{history.runs['fast']}", timeout=10).json()
    assert one["total"]["requests"] == 200 and one["series"]["rps"]
    compared = ui.api.get(f"{ui.url}/api/compare?run={history.runs['fast']}&run={history.runs['slow']}", timeout=10).json()
    assert compared["comparisons"][0]["verdict"].startswith("REGRESSION")
    assert ui.api.get(f"{ui.url}/api/runs/99999", timeout=10).status_code == 404


def test_foreign_host_headers_and_open_binds_are_refused(ui: UI, history: History):
    assert requests.get(ui.url + "/", headers={"Host": "attacker.example"}, timeout=10).status_code == 400
    assert ui.api.get(ui.url + "/", headers={"Host": "localhost:1234"}, timeout=10).status_code == 200
    open_bind = cli("ui", "--bind", "0.0.0.0", "--port", str(free_port()), "--db", history.db)
    assert open_bind.returncode == 2 and "add --auth USER:PASSWORD" in open_bind.stderr
    guarded = start_ui(history.db, "--auth", "ops:s3cret")
    try:
        assert requests.get(guarded.url + "/", timeout=10).status_code == 401
        assert requests.get(guarded.url + "/", auth=("ops", "wrong"), timeout=10).status_code == 401
        assert requests.get(guarded.url + "/", auth=("ops", "s3cret"), timeout=10).status_code == 200
    finally:
        guarded.stop()
