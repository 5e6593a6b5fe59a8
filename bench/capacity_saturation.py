"""Does a capacity search know when the generator, not the target, is the limit?

nginx on core 0 serves a 1 KB page far faster than one Python core can ask for it. A capacity
search pinned to core 1, its users thinking 10 ms (about 100 requests a second each), raises users
until something gives: it must be the generator's CPU, so the search must stop at the first saturated step, flag it, and give its
figures as lower bounds instead of calling the target broken. Reported: the steps (load, req/s,
p95, saturated), where it stopped and the caveat. Also, against the same nginx, the req/s of the
last unsaturated step beside the one that saturated: the answer is taken before the generator
distorts it.

Run from the repository root:  .venv/bin/python bench/capacity_saturation.py [--start 40 --step 40 --max-users 800]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from harness import LOAD_CORE, REPLAYSWARM, ROOT, TARGET_CORE, page_html, page_scenario, pinned, start_nginx

RESULTS = ROOT / "bench" / "results" / "capacity_saturation.json"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--start", type=int, default=40)
    p.add_argument("--step", type=int, default=40)
    p.add_argument("--max-users", type=int, default=800)
    p.add_argument("--step-duration", default="6s")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="replayswarm-capsat-") as tmp_name:
        tmp = Path(tmp_name)
        target = start_nginx(tmp, TARGET_CORE, {"index.html": page_html()})
        try:
            scenario = tmp / "page.yaml"
            scenario.write_text(page_scenario(target.url, "page", [0.01]))
            argv = pinned(LOAD_CORE, [REPLAYSWARM, "capacity", str(scenario), "--host", target.url, "--start", str(args.start),
                                      "--step", str(args.step), "--step-duration", args.step_duration, "--max-users",
                                      str(args.max_users), "--spawn-rate", "500", "--slo", "p95<500ms", "--no-validate",
                                      "--json", "--db", f"sqlite:///{tmp}/capsat.db"])
            started = time.monotonic()
            done = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=ROOT)
            found = json.loads(done.stdout)
        finally:
            target.stop()
    steps = sorted(found["steps"], key=lambda s: s["users"])
    print(f"nginx on core {TARGET_CORE}, capacity search on core {LOAD_CORE}, 10 ms think time; {time.monotonic() - started:.0f} s")
    print(f"   {'users':>6} {'req/s':>8} {'p95 ms':>8}  saturated")
    for s in steps:
        print(f"   {s['users']:>6} {s['rps']:>8.0f} {s['p95_ms']:>8.1f}  {'yes' if s['saturated'] else ''}")
    print(f"   stopped: {found['stopped']}; caveat: {found['caveat']}")
    print(f"   answer: without failures {found['max_users_without_failures']} users; knee {found['knee_users']}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")


if __name__ == "__main__":
    main()
