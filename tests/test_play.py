"""`replayswarm play` as a real process against real local targets."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import defaultdict

import pytest

from tests.dbutil import BOTH, execute, rows
from tests.faults import FaultServer
from tests.helpers import ROOT, cli, free_port, start_notes_site
from tests.target import CountingTarget, scenario_file


def play(db: str, source: str, *args: str, timeout: float = 180, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    result = cli("play", source, "--db", db, "--json", *args, timeout=timeout, env=env)
    try:
        return result, json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"exit {result.returncode}: {result.stdout}\n{result.stderr}") from None


def test_recorded_logins_and_edits_replay_against_a_fresh_site_without_failures(mixed_db, tmp_path):
    assert cli("convert", "mixed", "--name", "mixed-set", "--db", mixed_db).returncode == 0
    fresh = start_notes_site(tmp_path)  # a new server: new CSRF secrets, new note ids
    users = tmp_path / "users.csv"
    users.write_text("username,password\nalice,alice-pass-123\nbob,bob-pass-123\n")
    try:
        result, summary = play(mixed_db, "mixed-set", "--host", fresh.url, "--users", "20", "--spawn-rate", "40",
                               "--iterations", "40", "--think-scale", "0.05", "--data", str(users))
    finally:
        fresh.stop()
    assert result.returncode == 0, result.stderr
    assert summary["status"] == "completed" and summary["failures"] == 0, summary
    assert summary["requests"] > 200
    names = {e["name"] for e in summary["endpoints"]}
    assert {"POST /accounts/login/", "POST /notes/new/", "POST /notes/{id}/edit/", "GET /notes/{id}/edit/"} <= names
    iterations = summary["iterations"]
    editors = next(n for name, n in iterations.items() if "login" in name)
    # The site's own database: every editing iteration created a note and edited it, and so did
    # the validation replay before the swarm (one pass of each scenario, not counted in the run).
    [made] = rows(f"sqlite:///{fresh.db}", "SELECT count(*) AS n, sum(edited IS NOT NULL) AS edited, "
                  "count(DISTINCT owner_id) AS owners FROM notes_note WHERE title LIKE '%''s list'")
    assert made["n"] == editors + 1 and made["edited"] == editors + 1 and made["owners"] == 2
    # What the CLI printed is what the database holds.
    run = json.loads(cli("run", str(summary["run_id"]), "--json", "--db", mixed_db).stdout)
    assert (run["requests"], run["failures"]) == (summary["requests"], summary["failures"])
    # Answers look like the recording's, but for lists that grow as the replay adds notes.
    deviating = {e["name"] for e in run["endpoints"] if e["deviations"]}
    assert deviating <= {"GET /api/notes/", "GET /notes/", "GET /mine/"}, deviating
    assert {e["name"]: e["requests"] for e in run["endpoints"]} == {e["name"]: e["requests"] for e in summary["endpoints"]}
    assert run["total"]["p95_ms"] == summary["p95_ms"]


def test_a_recording_plays_directly_with_its_recorded_logins(mixed_db, tmp_path):
    fresh = start_notes_site(tmp_path)
    try:
        result, summary = play(mixed_db, "mixed", "--host", fresh.url, "--users", "5", "--iterations", "10", "--think-scale", "0.05")
    finally:
        fresh.stop()
    assert result.returncode == 0, result.stderr
    assert summary["failures"] == 0 and summary["requests"] > 30
    assert rows(mixed_db, "SELECT source, set_id FROM runs") == [{"source": "mixed", "set_id": None}]


def test_faults_are_counted_by_kind_and_no_user_dies(db, tmp_path):
    faults = FaultServer()
    paths = ["/ok", "/reset", "/cut", "/500", "/hang", "/gzip-cut"]
    yaml_file = scenario_file(tmp_path / "faults.yaml", faults.url, [("faults", 1, [(p, 0.0) for p in paths])])
    # Each step's failure must not end the iteration: these are GETs without extractions.
    started = time.monotonic()
    try:
        result, summary = play(db, yaml_file, "--host", faults.url, "--users", "4", "--spawn-rate", "100",
                               "--duration", "4s", "--timeout", "0.5", "--stop-timeout", "1", "--no-validate")
    finally:
        faults.close()
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 4 + 1 + 8, f"run took {elapsed:.1f}s"
    errors = {(e["endpoint"], e["kind"]) for e in json.loads(cli("run", str(summary["run_id"]), "--json", "--db", db).stdout)["errors"]}
    assert ("GET /reset", "connection reset") in errors
    assert ("GET /500", "status 500") in errors
    assert ("GET /hang", "timeout") in errors
    assert ("GET /gzip-cut", "decode error") in errors
    assert any(e[0] == "GET /cut" and e[1] in ("truncated body", "connection reset", "bad response") for e in errors)
    by_name = {e["name"]: e for e in summary["endpoints"]}
    assert by_name["GET /ok"]["failures"] == 0
    # Every user went round again and again: none died of a fault.
    assert summary["iterations"]["faults"] >= 4 * 3


def test_every_body_framing_is_read_whole_and_closed_connections_are_reopened(db, tmp_path):
    faults = FaultServer()
    # /drop closes the connection after answering: the next step finds it closed and must
    # go on a new one without a failure, as a browser does.
    paths = ["/bytes?n=300000", "/drop", "/chunked?n=200001", "/drop", "/eof?n=70000", "/ok"]
    yaml_file = scenario_file(tmp_path / "framing.yaml", faults.url, [("framing", 1, [(p, 0.0) for p in paths])])
    try:
        result, summary = play(db, yaml_file, "--host", faults.url, "--users", "3", "--iterations", "12", "--no-validate")
    finally:
        faults.close()
    assert result.returncode == 0, result.stderr
    assert summary["failures"] == 0, summary["errors"] if "errors" in summary else summary
    by_name = {e["name"]: e for e in summary["endpoints"]}
    assert by_name["GET /bytes"]["avg_size"] == 300000
    assert by_name["GET /chunked"]["avg_size"] == 200001
    assert by_name["GET /eof"]["avg_size"] == 70000
    assert sum(e["requests"] for e in summary["endpoints"]) == 12 * len(paths) == faults.served


def test_https_targets_are_verified_unless_told_otherwise(db, tmp_path):
    from tests.tls import TLSServer

    server = TLSServer(tmp_path)
    url = f"https://localhost:{server.port}"
    yaml_file = scenario_file(tmp_path / "tls.yaml", url, [("tls", 1, [("/secure", 0.0)])])
    try:
        untrusted, summary = play(db, yaml_file, "--host", url, "--users", "1", "--iterations", "2", "--no-validate")
        assert summary["failures"] == 2
        errors = json.loads(cli("run", str(summary["run_id"]), "--json", "--db", db).stdout)["errors"]
        assert {e["kind"] for e in errors} == {"tls: unknown certificate authority"} and "certificate" in errors[0]["sample"].lower()
        insecure, summary = play(db, yaml_file, "--host", url, "--users", "2", "--iterations", "6", "--insecure")
        assert insecure.returncode == 0 and summary["failures"] == 0 and summary["requests"] == 6
        shown = cli("run", str(summary["run_id"]), "--db", db).stdout
        assert "TLS not verified (--insecure)" in shown.splitlines()[0]
        trusted, summary = play(db, yaml_file, "--host", url, "--users", "2", "--iterations", "6", env={"SSL_CERT_FILE": str(server.cert)})
        assert trusted.returncode == 0 and summary["failures"] == 0
        assert [r["config"] for r in rows(db, "SELECT json_extract(config, '$.insecure') AS config FROM runs")] == [0, 1, 0]
    finally:
        server.close()


def test_think_times_and_scenario_shares_follow_the_recording(db, tmp_path):
    target = CountingTarget()
    thinks = [0.0, 0.3, 0.6, 0.2]
    yaml_file = scenario_file(tmp_path / "paced.yaml", target.url, [
        ("paced", 1, [(f"/step{i}", t) for i, t in enumerate(thinks)]),
    ])
    try:
        result, summary = play(db, yaml_file, "--host", target.url, "--users", "5", "--spawn-rate", "50",
                               "--iterations", "15", "--think-scale", "1", "--no-validate")
    finally:
        target.close()
    assert result.returncode == 0, result.stderr
    by_user: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for when, path, user in target.requests:
        by_user[user].append((when, path))
    gaps: dict[str, list[float]] = defaultdict(list)
    for requests in by_user.values():
        requests.sort()
        for (t0, _), (t1, path) in zip(requests, requests[1:]):
            if path != "/step0":
                gaps[path].append(t1 - t0)
    for i, think in enumerate(thinks[1:], 1):
        median = statistics.median(gaps[f"/step{i}"])
        assert abs(median - think) <= 0.1 * think, f"/step{i}: median think {median:.3f}s, recorded {think}s"

    target = CountingTarget()
    weighted = scenario_file(tmp_path / "weighted.yaml", target.url, [
        ("often", 3, [("/a", 0.0)]), ("sometimes", 2, [("/b", 0.0)]), ("rarely", 1, [("/c", 0.0)]),
    ])
    try:
        result, summary = play(db, weighted, "--host", target.url, "--users", "7", "--spawn-rate", "100", "--iterations", "600", "--no-validate")
    finally:
        target.close()
    shares = {k: v / sum(summary["iterations"].values()) for k, v in summary["iterations"].items()}
    for name, weight in (("often", 3), ("sometimes", 2), ("rarely", 1)):
        assert abs(shares[name] - weight / 6) <= 0.02, shares
    assert sum(summary["iterations"].values()) == 600 == target.served


@BOTH
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_run_keeps_everything_measured(db, tmp_path, sig):
    target = CountingTarget(delay=0.01)
    yaml_file = scenario_file(tmp_path / "long.yaml", target.url, [("loop", 1, [("/x", 0.05), ("/y", 0.05)])])
    proc = subprocess.Popen(
        [sys.executable, "-m", "replayswarm", "play", yaml_file, "--host", target.url, "--users", "10",
         "--spawn-rate", "100", "--duration", "60s", "--db", db, "--json", "--no-validate"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(4)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        target.close()
    assert proc.returncode == 130, err
    summary = json.loads(out)
    assert summary["status"] == "stopped"
    [run] = rows(db, "SELECT status, requests, ended FROM runs")
    assert run["status"] == "stopped" and run["ended"] is not None
    assert run["requests"] == summary["requests"] == target.served > 50


@BOTH
def test_two_processes_split_the_users_and_their_totals_add_up(db, tmp_path):
    target = CountingTarget()
    yaml_file = scenario_file(tmp_path / "two.yaml", target.url, [("a", 1, [("/a", 0.01), ("/b", 0.01)])])
    try:
        result, summary = play(db, yaml_file, "--host", target.url, "--users", "8", "--spawn-rate", "100",
                               "--duration", "4s", "--processes", "2", "--no-validate")
    finally:
        target.close()
    assert result.returncode == 0, result.stderr
    assert summary["requests"] == target.served > 100
    [run] = rows(db, "SELECT processes, requests FROM runs")
    assert run == {"processes": 2, "requests": target.served}
    per_second = rows(db, "SELECT sum(requests) AS n, max(users) AS users FROM run_buckets WHERE endpoint = ''")
    assert per_second[0]["n"] == target.served and per_second[0]["users"] == 8


@BOTH
def test_thresholds_decide_the_exit_code(db, tmp_path):
    target = CountingTarget()
    yaml_file = scenario_file(tmp_path / "t.yaml", target.url, [("t", 1, [("/a", 0.0)])])
    common = ["--host", target.url, "--users", "2", "--iterations", "50", "--quiet", "--db", db]
    try:
        held = cli("play", yaml_file, *common, "--threshold", "p95<5s", "--threshold", "errors<1%", "--threshold", "GET /a:rps>1")
        failed = cli("play", yaml_file, *common, "--threshold", "p99<0.001ms", "--threshold", "errors<1%")
    finally:
        target.close()
    assert held.returncode == 0, held.stderr
    assert "threshold p95<5s: held" in held.stdout
    assert failed.returncode == 1
    assert "threshold p99<0.001ms: FAILED" in failed.stdout and "threshold errors<1%: held" in failed.stdout

    target = CountingTarget()
    started = time.monotonic()
    try:
        aborted = cli("play", yaml_file, "--host", target.url, "--users", "2", "--duration", "60s", "--quiet", "--db", db,
                      "--threshold", "p99<0.001ms", "--abort-on-threshold")
    finally:
        target.close()
    assert aborted.returncode == 1 and time.monotonic() - started < 30
    assert "stopping the run (--abort-on-threshold)" in aborted.stderr
    assert rows(db, "SELECT status FROM runs ORDER BY id DESC LIMIT 1") == [{"status": "failed"}]


@BOTH
def test_comparing_against_a_slowed_target_shows_the_regression(db, tmp_path):
    runs = []
    for delay in (0.0, 0.05):
        target = CountingTarget(delay=delay)
        yaml_file = scenario_file(tmp_path / "c.yaml", target.url, [("c", 1, [("/page", 0.0)])])
        try:
            _, summary = play(db, yaml_file, "--host", target.url, "--users", "4", "--iterations", "200", "--label", f"delay {delay}")
        finally:
            target.close()
        runs.append(summary["run_id"])
    result = json.loads(cli("compare", *map(str, runs), "--json", "--db", db).stdout)
    assert result["verdict"].startswith("REGRESSION")
    assert {"endpoint": "GET /page", "metric": "p95_ms"} in result["regressions"] and result["saturated"] == []
    # A run whose generator ran out of CPU is flagged wherever it is compared.
    execute(db, "UPDATE runs SET saturated = true WHERE id = :id", id=runs[1])
    flagged = cli("compare", *map(str, runs), "--db", db).stdout
    assert f"caution: run {runs[1]}'s load generator was saturated" in flagged
    listed = json.loads(cli("runs", "--json", "--db", db).stdout)
    assert [r["label"] for r in listed] == ["delay 0.0", "delay 0.05"]


@BOTH
def test_bad_input_is_refused_before_a_run_exists(db, tmp_path):
    target = CountingTarget()
    good = scenario_file(tmp_path / "g.yaml", target.url, [("g", 1, [("/a", 0.0)])])
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nscenarios:\n  - name: [\n")
    closed = f"http://127.0.0.1:{free_port()}"
    cases = {
        "unknown source": (["no-such-set", "--host", target.url, "--users", "1"], "unknown SOURCE 'no-such-set'"),
        "unresolvable host": ([good, "--host", "http://no-such-host.invalid", "--users", "1"], "cannot reach http://no-such-host.invalid"),
        "refused host": ([good, "--host", closed, "--users", "1"], f"cannot reach {closed}"),
        "no users": ([good, "--host", target.url, "--users", "0"], "0 is not a number of users"),
        "negative users": ([good, "--host", target.url, "--users", "-1"], "-1 is not a number of users"),
        "bad threshold": ([good, "--host", target.url, "--users", "1", "--threshold", "p95 fast"], "--threshold 'p95 fast' is not a threshold"),
        "unknown endpoint": ([good, "--host", target.url, "--users", "1", "--threshold", "GET /nope:p95<1s"], "no endpoint named 'GET /nope'"),
        "broken yaml": ([str(broken), "--host", target.url, "--users", "1"], f"{broken}:"),
        "no host": ([good, "--users", "1"], "play needs --host URL"),
        "bad think": ([good, "--host", target.url, "--users", "1", "--think", "3-1"], "--think '3-1'"),
        "malformed stages": ([good, "--host", target.url, "--stages", "30s:fifty"], "--stages '30s:fifty': 'fifty' is not a number of users"),
        "mixed stages": ([good, "--host", target.url, "--stages", "10s:5,10s:3/s"], "stages are all users or all rates"),
        "bad rate": ([good, "--host", target.url, "--arrival-rate", "fast"], "--arrival-rate 'fast' is not a rate"),
        "two shapes": ([good, "--host", target.url, "--users", "3", "--stages", "10s:5"], "--users and --stages both shape the load"),
        "step without a top": ([good, "--host", target.url, "--step", "5/10s"], "--step needs --max-users"),
    }
    try:
        for label, (args, message) in cases.items():
            result = cli("play", *args, "--db", db)
            assert result.returncode == 2, f"{label}: {result.returncode} {result.stderr}"
            assert message in result.stderr and result.stderr.count("\n") == 1, f"{label}: {result.stderr!r}"
    finally:
        target.close()
    assert rows(db, "SELECT count(*) AS n FROM runs") == [{"n": 0}]
    assert target.served == 0


def test_content_codings_are_asked_for_as_recorded_and_decoded_or_failed(db, tmp_path):
    faults = FaultServer()
    recorded = "gzip, deflate, br, zstd"
    steps = "".join(
        f"""      - name: GET /{name}
        request:
          method: GET
          url: {faults.url}/{name}
          headers: [[Accept-Encoding, "{recorded}"]]
        expect: {{status: 200}}
        extract: [{{var: t_{n}, source: body, regex: 'token=(\\w+)'}}]
""" for n, name in enumerate(("br", "zstd", "br-garbage")))
    yaml_file = tmp_path / "codings.yaml"
    yaml_file.write_text(f"version: 1\norigins: [{faults.url}]\nscenarios:\n  - name: codings\n    weight: 1\n    steps:\n{steps}")
    try:
        result, summary = play(db, str(yaml_file), "--host", faults.url, "--users", "1", "--iterations", "3", "--no-validate")
    finally:
        faults.close()
    assert result.returncode == 0, result.stderr
    assert set(faults.accept_encodings) == {recorded}
    by_name = {e["name"]: e for e in summary["endpoints"]}
    assert by_name["GET /br"]["failures"] == by_name["GET /zstd"]["failures"] == 0
    assert by_name["GET /br-garbage"]["failures"] == 3
    errors = json.loads(cli("run", str(summary["run_id"]), "--json", "--db", db).stdout)["errors"]
    assert {(e["endpoint"], e["kind"]) for e in errors} == {("GET /br-garbage", "decode error")}


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _flushed(db: str) -> bool:
    try:
        return bool(rows(db, "SELECT requests FROM runs WHERE requests > 0"))
    except Exception:  # the database or its tables are not there yet
        return False


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("processes", ["1", "2"])
def test_workers_stop_at_once_when_play_is_killed(db, tmp_path, processes):
    target = CountingTarget(delay=0.005)
    yaml_file = scenario_file(tmp_path / "loop.yaml", target.url, [("loop", 1, [("/x", 0.01)])])
    proc = subprocess.Popen(
        [sys.executable, "-m", "replayswarm", "play", yaml_file, "--host", target.url, "--users", "10", "--spawn-rate", "100",
         "--duration", "60s", "--processes", processes, "--no-validate", "--quiet", "--db", db],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _flushed(db):
            time.sleep(0.2)  # until the run has flushed what it measured at least once
        workers = _children(proc.pid)
        assert len(workers) == int(processes) and target.served >= 10
        proc.kill()  # kill -9: the parent cannot tell anyone anything
        proc.wait()
        time.sleep(2)
        served = target.served
        time.sleep(2)
        assert target.served == served, "workers went on sending after their parent died"
        assert not [w for w in workers if _alive(w)]
        # The run is shown as crashed, with what it had flushed.
        [run] = json.loads(cli("runs", "--json", "--db", db).stdout)
        assert run["status"] == "crashed" and 0 < run["requests"] <= served and run["ended"] is not None
    finally:
        if proc.poll() is None:
            proc.kill()
        target.close()


def test_requests_in_flight_at_the_stop_are_counted_as_interrupted(db, tmp_path):
    faults = FaultServer()
    yaml_file = scenario_file(tmp_path / "hang.yaml", faults.url, [("hang", 1, [("/hang", 0.0)])])
    try:
        result, summary = play(db, yaml_file, "--host", faults.url, "--users", "3", "--spawn-rate", "100", "--duration", "2s",
                               "--timeout", "30", "--stop-timeout", "0.5", "--no-validate")
    finally:
        faults.close()
    assert result.returncode == 0, result.stderr
    assert summary["requests"] == summary["failures"] == faults.served == 3
    errors = json.loads(cli("run", str(summary["run_id"]), "--json", "--db", db).stdout)["errors"]
    assert [(e["kind"], e["count"]) for e in errors] == [("interrupted", 3)]


def test_an_exception_inside_a_virtual_user_is_counted_told_once_and_fails_the_run(db, tmp_path):
    target = CountingTarget()
    # A body that cannot be written in its charset: replayswarm's own failure, not the target's.
    yaml_file = tmp_path / "broken.yaml"
    yaml_file.write_text(f"""version: 1
origins: [{target.url}]
scenarios:
  - name: broken
    weight: 1
    steps:
      - name: POST /x
        request: {{method: POST, url: '{target.url}/x', body: "café", charset: ascii}}
""")
    try:
        result, summary = play(db, str(yaml_file), "--host", target.url, "--users", "2", "--iterations", "6", "--no-validate")
    finally:
        target.close()
    assert result.returncode == 1 and summary["status"] == "failed"
    assert summary["requests"] == summary["failures"] == 6 and target.served == 0
    assert result.stderr.count("Traceback") == 1  # told once, with where it happened


@pytest.mark.parametrize(("ip", "expired", "kind"), [(False, False, "tls: hostname mismatch"), (True, True, "tls: certificate expired")])
def test_tls_failures_are_told_apart(db, tmp_path, ip, expired, kind):
    from tests.tls import TLSServer

    server = TLSServer(tmp_path, ip=ip, expired=expired)
    url = f"https://127.0.0.1:{server.port}"  # the certificate names localhost, and 127.0.0.1 only if `ip`
    yaml_file = scenario_file(tmp_path / "tls.yaml", url, [("tls", 1, [("/secure", 0.0)])])
    try:
        _, summary = play(db, yaml_file, "--host", url, "--users", "1", "--iterations", "2", "--no-validate",
                          env={"SSL_CERT_FILE": str(server.cert)})
    finally:
        server.close()
    errors = json.loads(cli("run", str(summary["run_id"]), "--json", "--db", db).stdout)["errors"]
    assert [(e["kind"], e["count"]) for e in errors] == [(kind, 2)]


def test_a_file_limit_too_small_for_the_users_is_refused_before_anything_is_sent(db, tmp_path):
    import resource

    target = CountingTarget()
    yaml_file = scenario_file(tmp_path / "many.yaml", target.url, [("many", 1, [("/a", 0.0)])])

    def small_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    try:
        result = subprocess.run([sys.executable, "-m", "replayswarm", "play", yaml_file, "--host", target.url, "--users", "500",
                                 "--duration", "5s", "--db", db], cwd=ROOT, capture_output=True, text=True, timeout=60,
                                preexec_fn=small_limit)
    finally:
        target.close()
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Error: --users 500 needs about 564 open files") and "the limit here is 256" in result.stderr
    assert result.stderr.count("\n") == 1 and target.served == 0
    assert rows(db, "SELECT count(*) AS n FROM runs") == [{"n": 0}]


def test_max_rps_caps_the_total_rate_across_processes(db, tmp_path):
    target = CountingTarget()
    yaml_file = scenario_file(tmp_path / "fast.yaml", target.url, [("fast", 1, [("/a", 0.0)])])
    try:
        result, summary = play(db, yaml_file, "--host", target.url, "--users", "10", "--spawn-rate", "100", "--duration", "5s",
                               "--processes", "2", "--max-rps", "60", "--no-validate")
    finally:
        target.close()
    assert result.returncode == 0, result.stderr
    times = sorted(when for when, _, _ in target.requests)
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 60 * 0.95 <= rate <= 60 * 1.05, rate


def test_a_target_that_fails_everything_stops_the_run_by_itself(db, tmp_path):
    faults = FaultServer()
    yaml_file = scenario_file(tmp_path / "down.yaml", faults.url, [("down", 1, [("/500", 0.0)])])
    started = time.monotonic()
    try:
        result, summary = play(db, yaml_file, "--host", faults.url, "--users", "2", "--duration", "60s",
                               "--abort-on-errors", "90%/3s", "--no-validate")
    finally:
        faults.close()
    assert result.returncode == 1 and summary["status"] == "failed"
    assert time.monotonic() - started < 20
    assert "90% or more of requests failed for 3 s: stopping the run (--abort-on-errors)" in result.stderr
    bad = cli("play", yaml_file, "--host", faults.url, "--users", "1", "--abort-on-errors", "200%/3s", "--db", db)
    assert bad.returncode == 2 and bad.stderr.startswith("Error: --abort-on-errors '200%/3s'")
