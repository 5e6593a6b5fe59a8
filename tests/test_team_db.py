"""One database for a team: a recorder, a play run and the UI at once, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from tests.dbutil import BOTH, flows, rows
from tests.helpers import ROOT, cli
from tests.target import CountingTarget, scenario_file
from tests.test_record_proxy import session_through
from tests.webui import start_ui


@BOTH
def test_a_recorder_a_run_and_the_ui_work_at_once_on_one_database(site, db, recorder_factory, tmp_path):
    target = CountingTarget(delay=0.002)
    yaml_file = scenario_file(tmp_path / "team.yaml", target.url, [("team", 1, [("/a", 0.02), ("/b", 0.02)])])
    rec = recorder_factory("together")
    ui = start_ui(db)
    played = subprocess.Popen([sys.executable, "-m", "replayswarm", "play", yaml_file, "--host", target.url, "--users", "6",
                               "--duration", "6s", "--processes", "2", "--json", "--quiet", "--no-validate", "--db", db],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    browser = session_through(rec.proxy)
    fetched = 0
    looked: set[int] = set()
    try:
        while played.poll() is None:
            # Someone browses through the recorder while the run streams and someone watches it.
            assert browser.get(f"{site.url}/notes/", timeout=10).status_code == 200
            fetched += 1
            listed = ui.api.get(f"{ui.url}/api/runs", timeout=10)
            assert listed.status_code == 200
            for run in listed.json():
                assert ui.api.get(f"{ui.url}/api/runs/{run['id']}", timeout=10).status_code == 200
                looked.add(run["requests"])
            time.sleep(0.1)
        out, err = played.communicate(timeout=30)
        code, _, rec_err = rec.stop(signal.SIGINT)
        assert code == 0, rec_err
        assert played.returncode == 0, err
        summary = json.loads(out)
        # Every number adds up: the run's to what the target served, the recording's to what was browsed.
        assert summary["requests"] == target.served > 100
        assert len(looked) > 2, "the UI saw the run's numbers grow while it went"
        assert len(flows(db, "together")) == fetched > 5
        [buckets] = rows(db, "SELECT sum(requests) AS n FROM run_buckets WHERE run_id = :id AND endpoint = ''", id=summary["run_id"])
        assert buckets["n"] == target.served
        run_page = ui.api.get(f"{ui.url}/runs/{summary['run_id']}", timeout=10)
        assert run_page.status_code == 200 and "GET /a" in run_page.text
        assert ui.api.get(f"{ui.url}/recordings/together", timeout=10).status_code == 200
    finally:
        if played.poll() is None:
            played.kill()
        ui.stop()
        target.close()
    report = json.loads(cli("report", str(summary["run_id"]), "--format", "json", "-o", "-", "--db", db).stdout)
    assert report["run"]["total"]["requests"] == target.served
    html = tmp_path / "report.html"
    assert cli("report", str(summary["run_id"]), "-o", str(html), "--db", db).returncode == 0 and "GET /b" in html.read_text()
