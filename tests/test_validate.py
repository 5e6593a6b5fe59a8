"""The validation replay: one user, one pass of each scenario, compared with the recording."""

from __future__ import annotations

import json
import re

from tests.helpers import cli, start_notes_site

STALE_TOKEN = "Zq8Lk2Mn4Pb6Rt1Vx3Wy5Ac7De9Fg0Hj2Kl4Mn6Pq8Rs0Tu2Vw4Xy6Za8Bc0De2f"


def test_a_faithful_set_validates_and_a_literal_token_is_named_and_not_swarmed(mixed_db, tmp_path):
    out = tmp_path / "set.yaml"
    assert cli("convert", "mixed", "--name", "v", "-o", str(out), "--db", mixed_db).returncode == 0
    fresh = start_notes_site(tmp_path)
    try:
        ok = cli("validate", "v", "--host", fresh.url, "--db", mixed_db, "--json")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        verdicts = json.loads(ok.stdout)
        assert len(verdicts) == 2 and all(v["passed"] for v in verdicts)
        assert {v["steps"] for v in verdicts} == {4, 14}

        # The login's token, as a hand-edited file might send it: the recorded, stale value.
        text = out.read_text()
        login = text.index("name: POST /accounts/login/")
        body = re.compile(r"csrfmiddlewaretoken=\$\{[\w:]+\}")
        assert body.search(text, login)
        broken = tmp_path / "broken.yaml"
        broken.write_text(text[:login] + body.sub(f"csrfmiddlewaretoken={STALE_TOKEN}", text[login:], count=1))
        users = ["--var", "username=alice", "--var", "password=alice-pass-123"]
        failed = cli("validate", str(broken), "--host", fresh.url, "--db", mixed_db, *users)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "FAILED  login + new + edit + logout" in failed.stdout
        assert "first divergence: POST /accounts/login/: status 403 where 302 was recorded" in failed.stdout
        assert "likely cause: form value csrfmiddlewaretoken=Zq8L… (64 characters) of POST /accounts/login/ is sent as recorded" in failed.stdout

        # play validates first: the broken scenario is not swarmed, the other one is, and why is said.
        played = cli("play", str(broken), "--host", fresh.url, "--users", "2", "--iterations", "4", "--think-scale", "0",
                     "--db", mixed_db, "--json", *users)
        assert played.returncode == 0, played.stderr
        assert "sends a token-like value as recorded: form value csrfmiddlewaretoken=Zq8L…" in played.stderr
        assert "failed validation and is not played: POST /accounts/login/: status 403" in played.stderr
        summary = json.loads(played.stdout)
        assert list(summary["iterations"]) == ["browse home + notes"] and summary["failures"] == 0
    finally:
        fresh.stop()
