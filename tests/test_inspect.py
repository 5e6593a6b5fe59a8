"""`recordings` and `recording`: what was recorded, with every secret masked."""

from __future__ import annotations

import json

import requests

from tests.dbutil import rows
from tests.helpers import cli
from tests.test_record_proxy import login_and_create


def test_recordings_and_a_recording_show_flows_with_secrets_masked(site, db, recorder_factory):
    rec = recorder_factory("alice-edits")
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"http": rec.proxy}
    login_and_create(s, site.url)
    s.get(f"{site.url}/api/notes/?token=qwerty-secret&page=2", headers={"Authorization": "Bearer abc.def.ghi"})
    assert rec.stop()[0] == 0
    cookies = s.cookies.get_dict()

    listed = cli("recordings", "--json", "--db", db)
    assert listed.returncode == 0, listed.stderr
    [summary] = json.loads(listed.stdout)
    assert summary["name"] == "alice-edits" and summary["source"] == "proxy"
    assert summary["flows"] == 5 and summary["hosts"] == ["127.0.0.1"] and summary["created"]

    shown = cli("recording", "alice-edits", "--json", "--db", db)
    assert shown.returncode == 0, shown.stderr
    for secret in ("alice-pass-123", "qwerty-secret", "abc.def.ghi", cookies["sessionid"], cookies["csrftoken"]):
        assert secret not in shown.stdout, f"{secret!r} shown unmasked"
    doc = json.loads(shown.stdout)
    login = doc["flows"][1]
    assert login["method"] == "POST" and "username=alice" in login["request_body"]
    assert "password=********" in login["request_body"]
    assert any(k == "Set-Cookie" and v.startswith("sessionid=********") for k, v in login["response_headers"])
    api = doc["flows"][-1]
    assert api["url"].endswith("/api/notes/?token=********&page=2")
    assert ["Authorization", "Bearer ********"] in api["request_headers"]
    # The database itself keeps the real values: a replay may need them.
    assert any("alice-pass-123" in (r["request_body"] or "") for r in rows(db, "SELECT request_body FROM flows"))

    table = cli("recording", "alice-edits", "--db", db)
    assert table.returncode == 0
    assert "POST" in table.stdout and "/accounts/login/" in table.stdout and "alice-pass-123" not in table.stdout
    plain = cli("recordings", "--db", db)
    assert "alice-edits" in plain.stdout and "127.0.0.1" in plain.stdout


def test_deleting_a_recording_removes_its_flows(site, db, recorder_factory):
    rec = recorder_factory("gone")
    requests.get(f"{site.url}/", proxies={"http": rec.proxy})
    rec.stop()
    assert rows(db, "SELECT count(*) AS n FROM flows") == [{"n": 1}]
    deleted = cli("recording", "gone", "--delete", "--db", db)
    assert deleted.returncode == 0 and "Deleted recording 'gone' and its 1 flows" in deleted.stdout
    assert rows(db, "SELECT count(*) AS n FROM flows") == [{"n": 0}]
    assert json.loads(cli("recordings", "--json", "--db", db).stdout) == []
    missing = cli("recording", "gone", "--db", db)
    assert missing.returncode == 2 and missing.stderr == "Error: no recording named 'gone' (see `replayswarm recordings`)\n"
