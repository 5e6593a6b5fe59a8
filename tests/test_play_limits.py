"""What play holds on to and what it counts when responses are huge, endless or reset: memory
that does not grow with a body's size, and totals equal to what the target itself served."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from tests.faults import FaultServer
from tests.helpers import ROOT, cli
from tests.target import scenario_file

# Runs play and prints the peak RSS (KiB) of its largest process: play and its worker are both
# waited for inside this wrapper, so RUSAGE_CHILDREN holds exactly them.
_PEAK = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)\n"
)


def play_peak(db: str, source: str, *args: str) -> tuple[int, int, dict]:
    """(peak RSS in MiB, exit code, the run as `replayswarm run --json` shows it)."""
    command = [sys.executable, "-m", "replayswarm", "play", source, "--db", db, "--quiet", "--no-validate", *args]
    out = subprocess.run([sys.executable, "-c", _PEAK, *command], cwd=ROOT, capture_output=True, text=True, timeout=180)
    peak, code = map(int, out.stdout.split())
    [run] = json.loads(cli("runs", "--json", "--db", db).stdout)
    return peak // 1024, code, json.loads(cli("run", str(run["id"]), "--json", "--db", db).stdout)


def kinds(run: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in run["errors"]:  # one row per endpoint and kind
        counts[e["kind"]] = counts.get(e["kind"], 0) + e["count"]
    return counts


def test_huge_responses_are_read_whole_without_being_held(db, tmp_path):
    faults = FaultServer()
    size = 200_000_000
    yaml_file = scenario_file(tmp_path / "big.yaml", faults.url, [("big", 1, [(f"/bytes?n={size}", 0.0)])])
    try:
        peak, code, run = play_peak(db, yaml_file, "--host", faults.url, "--users", "5", "--spawn-rate", "100", "--iterations", "5")
    finally:
        faults.close()
    assert code == 0 and run["requests"] == 5 and run["failures"] == 0
    [endpoint] = run["endpoints"]
    assert endpoint["avg_size"] == size  # every byte arrived and was counted
    # Five users held 200 MB each at once before bodies streamed (about 740 MB).
    assert peak < 150, f"peak RSS {peak} MiB"


def test_an_endless_response_ends_at_the_timeout_as_its_own_failure_kind(db, tmp_path):
    faults = FaultServer()
    yaml_file = scenario_file(tmp_path / "endless.yaml", faults.url, [("endless", 1, [("/flood", 0.0), ("/drip", 0.0), ("/ok", 0.0)])])
    try:
        peak, code, run = play_peak(db, yaml_file, "--host", faults.url, "--users", "3", "--spawn-rate", "100",
                                    "--iterations", "3", "--timeout", "3")
    finally:
        faults.close()
    assert code == 0
    assert kinds(run) == {"body timeout": 6}
    by_name = {e["name"]: e for e in run["endpoints"]}
    assert by_name["GET /ok"]["requests"] == 3 and by_name["GET /ok"]["failures"] == 0
    # Three users drank an endless stream as fast as loopback pours for 3 s each.
    assert peak < 150, f"peak RSS {peak} MiB"


def test_extractions_read_at_most_max_body_and_say_so(db, tmp_path):
    faults = FaultServer()
    yaml_file = tmp_path / "tail.yaml"
    doc = yaml.safe_load(open(scenario_file(yaml_file, faults.url, [("tail", 1, [("/tail?n=3000000", 0.0), ("/ok", 0.0)])])))
    doc["scenarios"][0]["steps"][0]["extract"] = [{"var": "token", "source": "body", "regex": "token=(\\w+)"}]
    yaml_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        cut = cli("play", str(yaml_file), "--host", faults.url, "--users", "1", "--iterations", "1", "--no-validate",
                  "--json", "--db", db)
        whole = cli("play", str(yaml_file), "--host", faults.url, "--users", "1", "--iterations", "1", "--no-validate",
                    "--max-body", "4MiB", "--json", "--db", db)
        bad = cli("play", str(yaml_file), "--host", faults.url, "--users", "1", "--max-body", "lots", "--db", db)
    finally:
        faults.close()
    cut_run = json.loads(cli("run", str(json.loads(cut.stdout)["run_id"]), "--json", "--db", db).stdout)
    [error] = cut_run["errors"]
    assert error["kind"] == "extraction failed" and "its first 1048576 bytes, --max-body" in error["sample"]
    assert json.loads(whole.stdout)["failures"] == 0
    assert bad.returncode == 2 and bad.stderr == "Error: --max-body 'lots' is not a size (like 65536, 512KiB, 1MiB)\n"


def test_a_request_reset_on_a_kept_alive_connection_counts_then_its_retry_counts(db, tmp_path):
    faults = FaultServer()
    yaml_file = scenario_file(tmp_path / "flaky.yaml", faults.url, [("flaky", 1, [("/flaky", 0.0)] * 5 + [("/ok", 0.0)])])
    try:
        _, code, run = play_peak(db, yaml_file, "--host", faults.url, "--users", "8", "--spawn-rate", "100", "--iterations", "80")
    finally:
        faults.close()
    assert code == 0
    # The target's own count: every request it read is counted once, as a success or a reset;
    # a reset on a kept-alive connection was retried (one on a new connection is just a failure).
    assert run["requests"] == faults.served == 80 * 6 + faults.resets - faults.fresh_resets
    assert kinds(run) == {"connection reset": faults.resets} and faults.resets >= 20


LOCKER = (
    "import sqlite3, sys, time\n"
    "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "db.execute('BEGIN IMMEDIATE')\n"
    "print('locked', flush=True)\n"
    "time.sleep(float(sys.argv[2]))\n"
    "db.execute('COMMIT')\n"
)


def hold_write_lock(path: str, seconds: float) -> subprocess.Popen:
    """Another process holding SQLite's write lock for `seconds`: over play's busy timeout (5 s)."""
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, path, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert locker.stdout.readline() == "locked\n"
    return locker


def test_a_database_locked_by_another_process_delays_statistics_but_loses_none(db, tmp_path):
    import time

    from tests.target import CountingTarget

    target = CountingTarget()
    yaml_file = scenario_file(tmp_path / "steady.yaml", target.url, [("steady", 1, [("/a", 0.02)])])
    proc = subprocess.Popen([sys.executable, "-m", "replayswarm", "play", yaml_file, "--host", target.url, "--users", "5",
                             "--spawn-rate", "100", "--duration", "12s", "--no-validate", "--quiet", "--json", "--db", db],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        locker = hold_write_lock(db.removeprefix("sqlite:///"), 8)
        out, err = proc.communicate(timeout=120)
        locker.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        target.close()
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert "the database has taken no statistics for" in err and "every request is stored" in err
    [run] = json.loads(cli("runs", "--json", "--db", db).stdout)
    assert run["status"] == "completed" and run["requests"] == summary["requests"] == target.served > 100


def test_ten_thousand_distinct_sub_resource_urls_keep_the_endpoints_bounded(db, tmp_path):
    from tests.target import CountingTarget

    target = CountingTarget()
    yaml_file = tmp_path / "assets.yaml"
    doc = yaml.safe_load(open(scenario_file(yaml_file, target.url, [("assets", 1, [("/page", 0.0)])])))
    doc["scenarios"][0]["steps"][0]["resources"] = [{"url": f"{target.url}/static/chunk-{i}.js"} for i in range(10_000)]
    yaml_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        result = cli("play", str(yaml_file), "--host", target.url, "--users", "1", "--iterations", "1", "--no-validate",
                     "--json", "--db", db, timeout=300)
    finally:
        target.close()
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["requests"] == target.served == 10_001 and summary["failures"] == 0
    names = {e["name"]: e["requests"] for e in summary["endpoints"]}
    assert len(names) == 1000 + 1 and names["GET (other sub-resources)"] == 10_000 - 999
    assert "Warning: 9001 sub-resource URLs are counted together as '(other sub-resources)'" in result.stderr


def test_load_on_the_origin_the_recording_was_made_on_needs_an_explicit_opt_in(db, tmp_path):
    # A recording of a public site: --host pointing back at it is, as often as not, production.
    origin = "http://shop.example.invalid"
    yaml_file = scenario_file(tmp_path / "prod.yaml", origin, [("shop", 1, [("/", 0.0)])])
    refused = cli("play", yaml_file, "--host", origin, "--users", "1", "--db", db)
    assert refused.returncode == 2
    assert refused.stderr == (f"Error: {origin} is where the recording was made (often production): "
                              "add --allow-recorded-origin to send load there\n")
    allowed = cli("play", yaml_file, "--host", origin, "--users", "1", "--allow-recorded-origin", "--db", db)
    # Past the guard, the name does not resolve: nothing was sent anywhere either way.
    assert allowed.returncode == 2 and allowed.stderr.startswith(f"Error: cannot reach {origin}: host not found")
    assert json.loads(cli("runs", "--json", "--db", db).stdout) == []
