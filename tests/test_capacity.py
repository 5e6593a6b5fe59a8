"""`replayswarm capacity` against targets whose capacity is known, as real processes: the
knee and the SLO limit where Little's law puts them, the load where a bounded server starts
refusing, the endpoint that breaks first, and a search stopped midway that keeps what it found."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from replayswarm.play.capacity import Search, Step, answer
from tests.dbutil import rows
from tests.helpers import ROOT, cli
from tests.target import CountingTarget, scenario_file

pytestmark = pytest.mark.alone  # accuracy against servers of known capacity: no other test beside it


def fake_step(k: int, users: int, broken: bool, saturated: bool = False) -> Step:
    return Step(k=k, users=users, start_t=0, end_t=1, requests=100, failures=1 if broken else 0, rps=float(min(users, 35) * 10),
                p50_ms=10, p95_ms=20, p99_ms=30, spread=0.01, saturated=saturated, breaches=["failures"] if broken else [])


def test_the_search_climbs_then_bisects_and_never_blames_the_target_for_a_saturated_generator():
    # A target that fails above 35 users: 10, 20, 30, 40 (breaks), then 35, 37 (breaks), 36 (breaks).
    s = Search(start=10, step=10, top=100, resolution=1)
    tried = []
    while (load := s.next_load()) is not None:
        tried.append(load)
        s.steps.append(fake_step(len(tried), load, broken=load > 35))
    assert tried == [10, 20, 30, 40, 35, 37, 36]
    found = answer(s, (), run_id=1, rate=False)
    assert found["max_users_without_failures"] == 35 and found["certainty"]["without_failures"]["uncertainty"] == 1
    assert found["knee_users"] == 35 and found["caveat"] is None
    # The generator ran out of CPU at 30 users: the search stops, and what broke there is not the target's.
    s = Search(start=10, step=10, top=100, resolution=1)
    for k, load in enumerate((10, 20, 30), 1):
        assert s.next_load() == load
        s.steps.append(fake_step(k, load, broken=load == 30, saturated=load == 30))
    assert s.next_load() is None and s.stopped == "saturated"
    found = answer(s, (), run_id=2, rate=False)
    assert found["max_users_without_failures"] == 20 and found["certainty"]["without_failures"]["lower_bound"]
    assert found["first_breaches"] == [] and found["caveat"].startswith("the load generator reached its own limit at 30")


def search(db: str, source: str, url: str, *args: str, timeout: float = 300) -> dict:
    result = cli("capacity", source, "--host", url, "--spawn-rate", "50", "--no-validate", "--json", "--db", db, *args,
                 timeout=timeout)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def near(value: float | None, expected: float, within: float = 0.15) -> bool:
    return value is not None and abs(value - expected) <= within * expected


def test_a_knee_needs_a_ceiling_throughput_that_still_climbs_has_none():
    from replayswarm.play.capacity import knee

    def steps(*pairs: tuple[int, float]) -> list[Step]:
        return [Step(k, users, 0, 4, int(rps * 4), 0, rps, 1, 2, 3, 0.05, False, []) for k, (users, rps) in enumerate(pairs)]

    # A little below the first step's line, and still adding most of a user's worth per user: no knee yet.
    assert knee(steps((2, 3.35), (4, 6.3), (6, 9.0))) == (None, None)
    # Flat from 24 users on (Little's law: 4 workers of 20 ms, 100 ms of thinking): the knee is 24.
    assert knee(steps((12, 100.0), (24, 200.0), (36, 199.0), (48, 200.0))) == (24, 200.0)


def test_the_knee_and_the_slo_limit_are_where_littles_law_puts_them(db, tmp_path):
    # W = 4 workers, S = 20 ms each, think time Z = 100 ms: throughput tops out at W/S = 200/s,
    # and the users' line N/(Z+S) meets it at N* = W(Z+S)/S = 24 users. Past it, a request
    # waits R = N·S/W - Z, so p95 < 100 ms holds up to about W(Z+0.1)/S = 40 users.
    target = CountingTarget(workers=4, service=0.02)
    yaml_file = scenario_file(tmp_path / "known.yaml", target.url, [("known", 1, [("/work", 0.1)])])
    try:
        found, again = (search(db, yaml_file, target.url, "--slo", "p95<100ms", "--start", "12", "--step", "12",
                               "--step-duration", "4s", "--max-users", "60") for _ in range(2))
    finally:
        target.close()
    assert near(found["knee_users"], 24) and near(found["knee_rps"], 200), found
    assert near(found["max_users_within_slo"]["p95<100ms"], 40), found
    # Repeatable: a second search of the same target agrees within 10 %.
    for key in ("knee_users", "knee_rps"):
        assert near(again[key], found[key], 0.10), (key, found[key], again[key])
    assert near(again["max_users_within_slo"]["p95<100ms"], found["max_users_within_slo"]["p95<100ms"], 0.10)
    assert found["max_users_without_failures"] >= 36 and found["caveat"] is None
    steps = rows(db, f"SELECT k, users, breaches FROM run_steps WHERE run_id = {found['run_id']} ORDER BY k")
    assert len(steps) == len(found["steps"]) >= 5
    [run] = rows(db, f"SELECT kind, status FROM runs WHERE id = {found['run_id']}")
    assert run == {"kind": "capacity", "status": "completed"}


def test_the_open_model_finds_the_arrival_rate_a_server_keeps_up_with(db, tmp_path):
    # W = 4 workers of S = 20 ms serve W/S = 200 requests a second; visits arriving faster queue
    # without end, and their latency from when they were due grows through the step.
    target = CountingTarget(workers=4, service=0.02)
    yaml_file = scenario_file(tmp_path / "open.yaml", target.url, [("open", 1, [("/work", 0.0)])])
    try:
        found = search(db, yaml_file, target.url, "--arrival-rate", "80/s", "--step", "60", "--slo", "p95<100ms",
                       "--step-duration", "4s", "--max-rate", "400/s", "--max-users", "400")
    finally:
        target.close()
    assert found["model"] == "open" and near(found["max_users_within_slo"]["p95<100ms"], 200), found


def test_a_server_that_refuses_beyond_c_requests_is_found_and_named(db, tmp_path):
    # W = 4 workers of S = 20 ms behind a queue, and at most C = 30 requests in the house (served
    # or queued); think time Z = 100 ms. Past the knee the server does X = W/S = 200/s and, by
    # Little's law, holds N - X·Z requests on average: refusals start near N = C + X·Z = 50 users
    # (a few before: the house count wavers by a few requests around its mean).
    target = CountingTarget(workers=4, service=0.02, reject_above=30)
    yaml_file = scenario_file(tmp_path / "bounded.yaml", target.url, [("bounded", 1, [("/api/things", 0.1)])])
    try:
        found = search(db, yaml_file, target.url, "--start", "10", "--step", "10", "--step-duration", "4s", "--max-users", "80")
    finally:
        target.close()
    assert near(found["max_users_without_failures"], 50), found
    first = found["first_breaches"][0]
    assert first["endpoint"] == "GET /api/things" and list(first["errors"]) == ["status 503"]
    assert first["samples"]["status 503"].startswith("503 where 200 was recorded")
    shown = cli("run", str(found["run_id"]), "--db", db).stdout  # the answer, as capacity printed it
    assert f"most load without failed requests: {found['max_users_without_failures']} users" in shown


def test_the_endpoint_that_slows_under_load_is_ranked_first(db, tmp_path):
    target = CountingTarget(slow="/login", slow_per=0.01)  # 10 ms more for every request in the house
    yaml_file = scenario_file(tmp_path / "login.yaml", target.url,
                              [("visit", 1, [("/home", 0.05), ("/login", 0.05), ("/items", 0.05)])])
    try:
        found = search(db, yaml_file, target.url, "--slo", "p95<60ms", "--start", "6", "--step", "8",
                       "--step-duration", "4s", "--max-users", "30")
    finally:
        target.close()
    assert found["first_breaches"][0]["endpoint"] == "GET /login", found["first_breaches"]
    assert found["first_breaches"][0]["slo"] == ["p95<60ms"]


def test_bad_input_is_refused_and_a_stopped_search_keeps_its_steps(db, tmp_path):
    target = CountingTarget()
    yaml_file = scenario_file(tmp_path / "s.yaml", target.url, [("s", 1, [("/a", 0.1)])])
    try:
        for args, message in (
            (["--slo", "p95 fast"], "Error: --slo 'p95 fast' is not a threshold"),
            (["--start", "300", "--max-users", "100"], "Error: --start 300 is above --max-users 100"),
            (["--step-duration", "1s"], "Error: --step-duration '1s': a step needs 4s at least"),
            (["--step-duration", "10s", "--max-time", "5s"], "Error: --max-time '5s' is shorter than one step"),
            (["--arrival-rate", "50/s", "--max-rate", "20/s"], "Error: --arrival-rate 50/s is above --max-rate 20/s"),
        ):
            bad = cli("capacity", yaml_file, "--host", target.url, *args, "--db", db)
            assert bad.returncode == 2 and bad.stderr.startswith(message) and bad.stderr.count("\n") == 1, bad.stderr
        assert target.served == 0
        proc = subprocess.Popen([sys.executable, "-m", "replayswarm", "capacity", yaml_file, "--host", target.url,
                                 "--start", "2", "--step", "2", "--step-duration", "4s", "--no-validate", "--json", "--db", db],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not proc.stderr.readline().startswith("step 2:"):
            pass  # one line a step, without a terminal
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        target.close()
    assert proc.returncode == 130, err
    found = json.loads(out)
    assert len(found["steps"]) >= 2 and found["stopped"] == "interrupted"
    assert "stopped" in found["caveat"]
    stored = rows(db, f"SELECT status, answer FROM runs WHERE id = {found['run_id']}")
    assert stored[0]["status"] == "stopped" and json.loads(stored[0]["answer"])["steps"] == found["steps"]
