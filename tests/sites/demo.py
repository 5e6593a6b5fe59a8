"""`make demo`: the whole pipeline on the bundled notes site.

Serves the site on a free loopback port, starts `replayswarm record` (the real CLI) in front of
it, browses it in headless Chromium as visitors and editors, converts the recording, plays it
against a fresh site, then searches for the breaking point of a site that hashes passwords as
Django does by default. Everything lands in ./replayswarm.db.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.browse import MIXED, browse
from tests.helpers import ROOT, free_port, start_notes_site, wait_for_port


USERS = 50
DURATION = "20s"


def main() -> None:
    work = ROOT / ".demo"
    work.mkdir(exist_ok=True)
    # A replayswarm.db left by an older checkout is brought up to this code's schema, data kept.
    subprocess.run([sys.executable, "-m", "replayswarm", "db", "upgrade"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    site = start_notes_site(work)
    name = time.strftime("demo-%Y%m%d-%H%M%S")
    port = free_port()
    print(f"Demo site on {site.url}; recording {name!r} through a proxy on 127.0.0.1:{port}", flush=True)
    recorder = subprocess.Popen(
        [sys.executable, "-m", "replayswarm", "record", "--name", name, "--listen-port", str(port),
         "--allow", "127.0.0.1", "--confdir", str(work / "mitmproxy")],
        cwd=ROOT,
    )
    try:
        wait_for_port(port, recorder)
        browse(port, site.url, MIXED)
        print(f"  {len(MIXED)} people browsed at the same time: "
              + ", ".join(p.username or p.role.__name__ for p in MIXED), flush=True)
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(60)
        site.stop()
    if recorder.returncode != 0:
        sys.exit(recorder.returncode)
    replayswarm = [sys.executable, "-m", "replayswarm"]
    subprocess.run([*replayswarm, "recordings"], cwd=ROOT, check=True)
    yaml_file = work / f"{name}.yaml"
    subprocess.run([*replayswarm, "convert", name, "-o", str(yaml_file)], cwd=ROOT, check=True)
    subprocess.run([*replayswarm, "scenario", name], cwd=ROOT, check=True)
    # Replay against a fresh instance of the site: new CSRF secrets, new note ids.
    fresh = start_notes_site(work)
    users = work / "users.csv"
    users.write_text("username,password\nalice,alice-pass-123\nbob,bob-pass-123\n")
    print(f"\nPlaying {name!r} with {USERS} users for {DURATION} against a fresh site on {fresh.url}", flush=True)
    try:
        played = subprocess.run(
            [*replayswarm, "play", name, "--host", fresh.url, "--users", str(USERS), "--spawn-rate", "25",
             "--duration", DURATION, "--data", str(users), "--label", "demo", "--tag", "site=notes"],
            cwd=ROOT,
        )
    finally:
        fresh.stop()
    runs = json.loads(subprocess.run([*replayswarm, "runs", "--json"], cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    run_id = runs[-1]["id"]
    # The breaking point, on a site that hashes passwords as Django does by default.
    hashing = start_notes_site(work, real_hashing=True)
    print(f"\nHow many users does it take? A capacity search against {hashing.url} (Django's real password hashing)", flush=True)
    try:
        searched = subprocess.run(
            [*replayswarm, "capacity", name, "--host", hashing.url, "--slo", "p95<800ms", "--slo", "errors<1%",
             "--start", "5", "--step", "10", "--step-duration", "12s", "--max-users", "80", "--max-time", "2m",
             "--think-scale", "0.1", "--spawn-rate", "20", "--data", str(users), "--label", "demo-capacity"],
            cwd=ROOT,
        )
    finally:
        hashing.stop()
    capacity_id = json.loads(subprocess.run([*replayswarm, "runs", "--json"], cwd=ROOT, capture_output=True, text=True, check=True).stdout)[-1]["id"]
    db = Path(ROOT / "replayswarm.db")
    print(f"\nEverything is in {db}; the scenario file is {yaml_file}.\n"
          f"Open the UI on this run:\n"
          f"  .venv/bin/replayswarm ui      # prints http://127.0.0.1:8089/?token=...: open that, then /runs/{run_id}\n"
          f"Or look from the command line:\n"
          f"  .venv/bin/replayswarm recording {name}          # the flows, secrets masked\n"
          f"  .venv/bin/replayswarm scenario {name}           # scenarios, think times, correlations\n"
          f"  .venv/bin/replayswarm run {run_id}                        # the run: endpoints, percentiles, errors\n"
          f"  .venv/bin/replayswarm compare {run_id} <another run>      # did it get slower?\n"
          f"The capacity search is run {capacity_id}: /runs/{capacity_id} in the UI draws it.")
    sys.exit(played.returncode or searched.returncode)


if __name__ == "__main__":
    main()
