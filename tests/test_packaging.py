"""What a new user meets first: the import line between stages, and a wheel that works alone."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

from tests.helpers import ROOT

CHECK = """
import sys
import replayswarm, replayswarm.cli, replayswarm.record.store, replayswarm.record.har, replayswarm.masking
import replayswarm.convert.shell, replayswarm.play.runner, replayswarm.play.console, replayswarm.runs, replayswarm.compare
import replayswarm.play.cluster, replayswarm.play.remote
try:
    replayswarm.cli.cli.main(["--help"], prog_name="replayswarm", standalone_mode=False)
    replayswarm.cli.cli.main(["record", "--help"], prog_name="replayswarm", standalone_mode=False)
except SystemExit:
    pass
heavy = sorted(m for m in ("gevent", "mitmproxy", "flask", "locust", "zmq") if m in sys.modules)
print("heavy:", heavy)
"""


def test_importing_replayswarm_and_help_import_neither_gevent_nor_mitmproxy_nor_locust():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "Usage: replayswarm record" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "heavy: []"


def test_a_wheel_installs_into_a_fresh_venv_and_migrates_a_database(tmp_path: Path):
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        capture_output=True, text=True,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = dist.glob("replayswarm-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    pip = subprocess.run(
        [str(env_dir / "bin" / "pip"), "install", "--quiet", str(wheel)], capture_output=True, text=True
    )
    assert pip.returncode == 0, pip.stderr
    db = tmp_path / "fresh.db"
    # Run from an unrelated directory so nothing can come from the checkout.
    upgrade = subprocess.run(
        [str(env_dir / "bin" / "replayswarm"), "db", "upgrade", "--db", str(db)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    assert "schema empty -> " in upgrade.stdout
    listed = subprocess.run(
        [str(env_dir / "bin" / "replayswarm"), "recordings", "--json", "--db", str(db)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert (listed.returncode, listed.stdout.strip()) == (0, "[]")
    where = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", "import replayswarm.resources as r; print(r.migrations_dir(), r.ui_dir())"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert where.stdout.count(str(env_dir)) == 2, f"migrations and UI must come from inside the wheel: {where.stdout}"
