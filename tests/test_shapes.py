"""Load shapes and live control, as real processes against a real target: stages ramp users up
and down, a run is steered from another process, and the open model keeps time honestly."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.dbutil import rows
from tests.helpers import ROOT, cli
from tests.target import CountingTarget, scenario_file

pytestmark = pytest.mark.alone  # seconds of stages and a stall are measured: no other test beside them


def buckets(db: str, run_id: int) -> list[dict]:
    return rows(db, f"SELECT t, users, target_users, requests FROM run_buckets WHERE run_id = {run_id} AND endpoint = '' ORDER BY t")


def test_stages_ramp_users_up_and_down_and_every_second_keeps_target_and_actual(db, tmp_path):
    target = CountingTarget()
    yaml_file = scenario_file(tmp_path / "ramp.yaml", target.url, [("ramp", 1, [("/a", 0.1)])])
    try:
        result = cli("play", yaml_file, "--host", target.url, "--stages", "3s:6,3s:6,2s:2,2s:2", "--no-validate",
                     "--json", "--db", db, timeout=120)
    finally:
        target.close()
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["requests"] == target.served > 100
    seconds = buckets(db, summary["run_id"])
    by_t = {b["t"]: b for b in seconds}
    # The shape: 0 → 6 over 3 s, 6 held for 3 s, down to 2 over 2 s, 2 held; every second says so.
    # (A bucket is a wall-clock second: it holds the target at its end.)
    assert 1 <= by_t[1]["target_users"] <= 4 and [by_t[t]["target_users"] for t in (4, 5, 9)] == [6, 6, 2]
    assert max(b["users"] for b in seconds) == 6
    assert by_t[4]["users"] == by_t[5]["users"] == 6 and by_t[9]["users"] == 2
    assert len(seconds) >= 10 and [b["t"] for b in seconds] == list(range(seconds[0]["t"], seconds[-1]["t"] + 1))


def test_a_run_that_runs_until_stopped_is_steered_from_another_process(db, tmp_path):
    target = CountingTarget()
    yaml_file = scenario_file(tmp_path / "steer.yaml", target.url, [("steer", 1, [("/a", 0.1)])])
    proc = subprocess.Popen([sys.executable, "-m", "replayswarm", "play", yaml_file, "--host", target.url, "--users", "2",
                             "--spawn-rate", "50", "--duration", "forever", "--processes", "2", "--no-validate", "--quiet",
                             "--json", "--db", db], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run_id = _running(db)
        assert _users_reach(db, run_id, 2)
        up = cli("control", str(run_id), "--users", "9", "--db", db)
        assert up.returncode == 0, up.stderr
        assert _users_reach(db, run_id, 9)
        assert cli("control", str(run_id), "--users", "3", "--db", db).returncode == 0
        assert _users_reach(db, run_id, 3, down=True)
        stopped = cli("control", str(run_id), "--stop", "--db", db)
        assert stopped.returncode == 0
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        target.close()
    assert proc.returncode == 130, err
    summary = json.loads(out)
    assert summary["status"] == "stopped" and summary["requests"] == target.served
    assert "9 users requested (replayswarm control)" in err
    again = cli("control", str(run_id), "--users", "5", "--db", db)
    assert again.returncode == 2 and again.stderr == f"Error: run {run_id} is stopped, not running\n"
    both = cli("control", str(run_id), "--users", "5", "--stop", "--db", db)
    assert both.returncode == 2 and both.stderr == "Error: control takes --users N or --stop, not both\n"


def _running(db: str, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = rows(db, "SELECT id FROM runs WHERE status = 'running'")
        except Exception:  # the database is being created
            found = []
        if found:
            return found[0]["id"]
        time.sleep(0.2)
    raise AssertionError("no run started")


def _users_reach(db: str, run_id: int, users: int, down: bool = False, timeout: float = 20) -> bool:
    """The run's latest written second has this many users (as the workers report them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seconds = buckets(db, run_id)
        # The last second may be partial; the one before it is whole.
        if len(seconds) >= 2 and seconds[-2]["users"] == users and seconds[-2]["target_users"] == users:
            return True
        time.sleep(0.5)
    return False


def test_the_open_model_shows_a_stall_the_closed_model_hides(db, tmp_path):
    """Coordinated omission: a closed-model user waits out a stall and sends nothing meanwhile,
    so the stall is one slow request among many; in the open model every visit due during it
    counts its wait."""
    results = {}
    for model, args in (("open", ["--arrival-rate", "20/s", "--max-users", "200"]), ("closed", ["--users", "1"])):
        target = CountingTarget()
        yaml_file = scenario_file(tmp_path / f"{model}.yaml", target.url, [(model, 1, [("/a", 0.05)])])
        proc = subprocess.Popen([sys.executable, "-m", "replayswarm", "play", yaml_file, "--host", target.url, *args,
                                 "--duration", "8s", "--no-validate", "--quiet", "--json", "--db", db],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(3.5)
            target.stall(2.0)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            target.close()
        assert proc.returncode == 0, err
        results[model] = json.loads(out)
    opened, closed = results["open"], results["closed"]
    assert "dropped_visits" not in opened  # 200 users were enough: every visit due was started
    assert opened["due_p99_ms"] >= 1000 and opened["requests"] >= 130  # 20 visits a second were due all along
    assert opened["p50_ms"] < 100  # most requests themselves were quick
    assert "due_p99_ms" not in closed and closed["p99_ms"] < 1000  # one slow request among ~120
