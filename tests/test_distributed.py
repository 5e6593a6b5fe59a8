"""One swarm across several worker hosts on Locust's distributed runner: a master and its workers
as separate processes on loopback, against a local target that counts what it served."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml

from tests.dbutil import as_json, rows
from tests.helpers import ROOT, cli, free_port, wait_for_port
from tests.target import CountingTarget

WORKER_LOST_WITHIN = 8.0  # seconds: Locust's heartbeats mark a silent worker missing after about 4


def scenario(path: Path, origin: str) -> str:
    """Two pages, each carrying the user's number and the token of its --data row."""
    headers = [["X-User", "${__user}"], ["X-Row", "${token}"]]
    steps = [{"name": f"GET {p}", "think_time": 0.02, "request": {"method": "GET", "url": origin + p, "headers": headers},
              "expect": {"status": 200}} for p in ("/a", "/b")]
    path.write_text(yaml.safe_dump({"version": 1, "name": "d", "origins": [origin], "scenarios": [{"name": "d", "weight": 1, "steps": steps}]}))
    return str(path)


def worker(port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "replayswarm", "worker", "--master-host", "127.0.0.1", "--master-port", str(port), *extra],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def master(command: str, source: str, port: int, db: str, *extra: str) -> subprocess.Popen:
    if "--data" not in extra:
        extra = (*extra, "--var", "token=shared")
    return subprocess.Popen([sys.executable, "-m", "replayswarm", command, source, "--master", "--master-bind-host", "127.0.0.1",
                             "--master-bind-port", str(port), "--db", db, "--json", "--no-validate", *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(*procs: subprocess.Popen, timeout: float = 90) -> None:
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_for_requests(db: str, at_least: int, timeout: float = 60) -> int:
    """The running run's id, once it counted `at_least` requests (the database may not exist yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = rows(db, "SELECT id FROM runs WHERE requests >= :n", n=at_least)
        except Exception:  # noqa: BLE001  (no tables yet)
            found = []
        if found:
            return int(found[0]["id"])
        time.sleep(0.2)
    raise TimeoutError(f"no run reached {at_least} requests")


def data_file(path: Path, n: int) -> str:
    path.write_text("token\n" + "".join(f"row-{i}\n" for i in range(n)))
    return str(path)


def test_a_master_and_two_workers_count_what_the_target_served_and_share_no_data_row(db, tmp_path):
    target = CountingTarget(delay=0.002)
    port = free_port()
    source = scenario(tmp_path / "d.yaml", target.url)
    early = worker(port)  # started before its master: it waits for it
    time.sleep(1)
    run = master("play", source, port, db, "--host", target.url, "--users", "9", "--spawn-rate", "100", "--duration", "5s",
                 "--expect-workers", "2", "--data", data_file(tmp_path / "rows.csv", 9), "--threshold", "p99<0.001ms")
    late = worker(port, "--processes", "2")
    try:
        out, err = run.communicate(timeout=120)
        finish(early, late)
    finally:
        target.close()
    # Thresholds and exit codes as on one machine: this one cannot hold.
    assert run.returncode == 1, err
    summary = json.loads(out)
    assert [t["held"] for t in summary["thresholds"]] == [False]
    assert early.returncode == 0 and late.returncode == 0, (early.stderr.read(), late.stderr.read())
    assert summary["requests"] == target.served > 300, "every request the target served is counted, once"
    [stored] = rows(db, "SELECT requests, processes, config FROM runs")
    assert stored["requests"] == target.served and stored["processes"] == 3
    # Three worker processes on two hosts, and each --data row went to one user only.
    rows_of_user, users_of_row = defaultdict(set), defaultdict(set)
    for row, user in target.data_rows:
        rows_of_user[user].add(row)
        users_of_row[row].add(user)
    assert len(users_of_row) == 9 and all(len(users) == 1 for users in users_of_row.values()), users_of_row
    assert len(rows_of_user) == 9
    seconds = [r["t"] for r in rows(db, "SELECT t FROM run_buckets WHERE endpoint = '' AND requests > 0 ORDER BY t")]
    assert seconds == list(range(seconds[0], seconds[-1] + 1)), "the per-second series has no gap"
    assert sorted(w["processes"] for w in as_json(stored["config"])["workers"]) == [1, 2]


def test_a_killed_worker_is_noticed_its_numbers_kept_and_the_others_take_its_users(db, tmp_path):
    target = CountingTarget(delay=0.002)
    port = free_port()
    source = scenario(tmp_path / "d.yaml", target.url)
    run = master("play", source, port, db, "--host", target.url, "--users", "8", "--spawn-rate", "100", "--duration", "forever",
                 "--expect-workers", "2", "--data", data_file(tmp_path / "rows.csv", 40))
    doomed, survivor = worker(port), worker(port)
    try:
        run_id = wait_for_requests(db, 100)
        doomed.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        served_at_kill = target.served
        # Live, from anywhere: more users, which the survivor alone now runs.
        time.sleep(WORKER_LOST_WITHIN)
        assert cli("control", str(run_id), "--users", "10", "--db", db).returncode == 0
        time.sleep(3)
        assert cli("control", str(run_id), "--stop", "--db", db).returncode == 0
        out, err = run.communicate(timeout=60)
        finish(survivor)
    finally:
        for p in (run, doomed, survivor):
            if p.poll() is None:
                p.kill()
        target.close()
    assert run.returncode == 130, err
    lost = [line for line in err.splitlines() if "stopped answering" in line]
    assert len(lost) == 1, err
    summary = json.loads(out)
    # Within the lost worker's last report interval (1 s) of what the target served.
    assert summary["requests"] <= target.served
    assert target.served - summary["requests"] < 0.5 * (target.served - served_at_kill) / (time.monotonic() - killed) + 50
    errors = {(e["endpoint"], e["kind"]) for e in json.loads(cli("run", str(summary["run_id"]), "--json", "--db", db).stdout)["errors"]}
    assert ("(workers)", "lost") in errors, "the run is flagged"
    users = [r["users"] for r in rows(db, "SELECT users FROM run_buckets WHERE run_id = :id AND endpoint = '' ORDER BY t", id=summary["run_id"])]
    assert max(users[-4:]) == 10, f"the survivor took over every user, then the raise: {users}"


def test_no_master_a_stranger_a_latecomer_and_a_taken_port_are_one_line_each(db, tmp_path):
    target = CountingTarget()
    source = scenario(tmp_path / "d.yaml", target.url)
    try:
        alone = cli("worker", "--master-host", "127.0.0.1", "--master-port", str(free_port()), "--master-wait", "2s")
        assert alone.returncode == 2 and alone.stderr.count("\n") == 1 and "no replayswarm master answered at 127.0.0.1:" in alone.stderr
        # A worker of another version is refused, and a master whose workers never came writes nothing.
        port = free_port()
        run = master("play", source, port, db, "--host", target.url, "--users", "2", "--duration", "4s", "--expect-workers-max-wait", "6s")
        wait_for_port(port, run)
        stranger = subprocess.Popen([sys.executable, "-m", "tests.cluster_stranger", str(port), "0.0.1"], cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = run.communicate(timeout=60)
        said, _ = stranger.communicate(timeout=30)
        assert run.returncode == 2 and err.splitlines()[-1] == ("Error: 0 of 1 worker host(s) joined within 6 s "
                                                          f"(start them with `replayswarm worker --master-host HOST --master-port {port}`)")
        assert "refused: it runs replayswarm 0.0.1, the master" in err and "run the same version on every machine" in said
        assert rows(db, "SELECT count(*) AS n FROM runs") == [{"n": 0}], "nothing half-written"
        # A worker that comes once the run has started is turned away.
        port = free_port()
        run = master("play", source, port, db, "--host", target.url, "--users", "2", "--duration", "6s")
        first = worker(port)
        wait_for_requests(db, 1)
        latecomer = cli("worker", "--master-host", "127.0.0.1", "--master-port", str(port), "--master-wait", "5s")
        assert latecomer.returncode == 2 and "refused this worker: the run has started" in latecomer.stderr
        assert latecomer.stderr.splitlines()[-1].startswith("Error: ")
        busy = cli("play", source, "--host", target.url, "--users", "1", "--var", "token=t", "--master", "--master-bind-host", "127.0.0.1",
                   "--master-bind-port", str(port), "--db", db)
        assert busy.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr
        finish(run, first)
        assert run.returncode == 0 and first.returncode == 0
    finally:
        target.close()


def test_stages_the_open_model_and_a_capacity_search_run_across_workers(db, tmp_path):
    target = CountingTarget(workers=2, service=0.01)
    port = free_port()
    source = scenario(tmp_path / "d.yaml", target.url)
    search = master("capacity", source, port, db, "--host", target.url, "--start", "2", "--step", "2", "--step-duration", "4s",
                    "--max-users", "4", "--spawn-rate", "50", "--slo", "p95<2s")
    hosts = [worker(port), worker(port)]
    found, err = search.communicate(timeout=120)
    finish(*hosts)
    assert search.returncode == 0, err
    answer = json.loads(found)
    assert answer["max_users_without_failures"] == 4 and len(answer["steps"]) == 2
    port = free_port()
    arrivals = master("play", source, port, db, "--host", target.url, "--arrival-rate", "20/s", "--duration", "4s")
    hosts = [worker(port), worker(port)]
    out, err = arrivals.communicate(timeout=120)
    finish(*hosts)
    target.close()
    assert arrivals.returncode == 0, err
    visits = sum(json.loads(out)["iterations"].values())
    assert 60 <= visits <= 90, f"20 visits a second for 4 s, split over two hosts: {visits}"
