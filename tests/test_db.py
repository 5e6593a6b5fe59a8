"""The database: created private, WAL, migrated by Alembic; wrong versions refused clearly."""

from __future__ import annotations

import os
import sqlite3
import stat

from alembic.script import ScriptDirectory

from tests.dbutil import BOTH, execute
from tests.helpers import ROOT, cli

HEAD = ScriptDirectory(str(ROOT / "migrations")).get_current_head()


def test_a_new_database_is_created_private_in_wal_mode_at_the_latest_schema(tmp_path):
    path = tmp_path / "new.db"
    result = cli("recordings", "--db", str(path))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (HEAD,)
    assert {"recordings", "flows", "scenario_sets", "scenarios", "steps"} <= {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_the_default_database_is_replayswarm_db_in_the_working_directory(tmp_path):
    result = cli("recordings", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "replayswarm.db").is_file()


def test_db_option_comes_from_flag_then_env_then_toml(tmp_path):
    (tmp_path / "replayswarm.toml").write_text('db = "from-toml.db"\n')
    assert cli("recordings", cwd=tmp_path).returncode == 0
    assert (tmp_path / "from-toml.db").is_file()
    assert cli("recordings", cwd=tmp_path, env={"REPLAYSWARM_DB": "from-env.db"}).returncode == 0
    assert (tmp_path / "from-env.db").is_file()
    assert cli("recordings", "--db", "from-flag.db", cwd=tmp_path, env={"REPLAYSWARM_DB": "from-env.db"}).returncode == 0
    assert (tmp_path / "from-flag.db").is_file()
    assert not (tmp_path / "replayswarm.db").exists()
    (tmp_path / "replayswarm.toml").write_text("db = [unclosed\n")
    broken = cli("recordings", cwd=tmp_path)
    assert broken.returncode == 2 and broken.stderr.startswith("Error: replayswarm.toml: not valid TOML")


@BOTH
def test_db_upgrade_is_idempotent_and_names_the_revision(db):
    first = cli("db", "upgrade", "--db", db)
    assert first.returncode == 0 and f"schema empty -> {HEAD}" in first.stdout
    again = cli("db", "upgrade", "--db", db)
    assert again.returncode == 0 and f"schema {HEAD}, up to date" in again.stdout


@BOTH
def test_an_older_database_is_upgraded_by_db_upgrade_and_keeps_its_data(db):
    from alembic import command

    from replayswarm.db.engine import make_engine
    from replayswarm.db.migrate import _config

    command.upgrade(_config(make_engine(db)), "0001")
    execute(db, "INSERT INTO recordings (name, source, created, allowed_hosts) VALUES ('kept', 'har', '2026-01-01', '[]')")
    behind = cli("recordings", "--db", db)
    assert behind.returncode == 2 and "run `replayswarm db upgrade`" in behind.stderr
    upgraded = cli("db", "upgrade", "--db", db)
    assert upgraded.returncode == 0 and f"schema 0001 -> {HEAD}" in upgraded.stdout
    assert '"name": "kept"' in cli("recordings", "--json", "--db", db).stdout


@BOTH
def test_a_database_newer_than_the_code_is_refused(db):
    assert cli("db", "upgrade", "--db", db).returncode == 0
    execute(db, "UPDATE alembic_version SET version_num = '9999_from_the_future'")
    for args in (["recordings"], ["db", "upgrade"]):
        result = cli(*args, "--db", db)
        assert result.returncode == 2
        assert result.stderr == (
            f"Error: database {db} has schema 9999_from_the_future, newer than this replayswarm knows: upgrade replayswarm\n"
        )


def test_a_database_that_is_not_replayswarms_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    result = cli("recordings", "--db", str(path))
    assert result.returncode == 2 and "is not a replayswarm database" in result.stderr
    assert cli("recordings", "--db", str(tmp_path / "no" / "such" / "dir.db")).stderr.startswith("Error: cannot create database")
    bad_url = cli("recordings", "--db", "nosuchdialect://x")
    assert bad_url.returncode == 2 and bad_url.stderr.startswith("Error: cannot use database") and bad_url.stderr.count("\n") == 1
