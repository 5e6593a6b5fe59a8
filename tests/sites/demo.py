"""`make demo`: the pipeline so far, on the bundled notes site.

Serves the site on a free loopback port, starts `replayswarm record` (the real CLI) in front of
it, browses it in headless Chromium as a visitor and as an editor, stops the recorder and shows
what landed in ./replayswarm.db.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.browse import MIXED, browse
from tests.helpers import ROOT, free_port, start_notes_site, wait_for_port


def main() -> None:
    work = ROOT / ".demo"
    work.mkdir(exist_ok=True)
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
    db = Path(ROOT / "replayswarm.db")
    print(f"\nRecorded and converted into {db}; the scenario file is {yaml_file}. See them again with:\n"
          f"  .venv/bin/replayswarm recording {name}          # the flows, secrets masked\n"
          f"  .venv/bin/replayswarm scenario {name} --json    # scenarios, think times, correlations")


if __name__ == "__main__":
    main()
