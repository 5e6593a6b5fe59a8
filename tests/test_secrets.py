"""Secrets planted in every place a request can carry one (headers, cookies, query, every body
format) reach no output: not the scenario file, the CLI, the web UI, nor a report. The database
keeps them (a replay from it needs them), and play still sends them."""

from __future__ import annotations

import base64
import json


from tests.helpers import cli
from tests.target import CountingTarget
from tests.webui import start_ui

PLANTED = {f"planted{n}Secret{n * 7}x" for n in range(1, 12)}
S = sorted(PLANTED, key=lambda s: int(s[7:s.index("S")]))
BOUNDARY = "----plantedBoundary"


def _har(url: str) -> dict:
    def entry(t: int, method: str, path: str, headers: list[tuple[str, str]], body: tuple[str, str] | None = None) -> dict:
        request = {"method": method, "url": url + path, "httpVersion": "HTTP/1.1",
                   "headers": [{"name": k, "value": v} for k, v in [("User-Agent", "Chromium"), *headers]]}
        if body:
            request["postData"] = {"mimeType": body[0], "text": body[1]}
            request["headers"].append({"name": "Content-Type", "value": body[0]})
        return {"startedDateTime": f"2026-11-30T10:00:0{t}.000Z", "time": 5, "request": request,
                "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                             "headers": [{"name": "Content-Type", "value": "application/json"}],
                             "content": {"size": 2, "mimeType": "application/json", "text": "{}"}}}

    basic = base64.b64encode(f"user:{S[3]}".encode()).decode()
    multipart = "".join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                        for k, v in (("api_key", S[9]), ("password", S[10]))) + f"--{BOUNDARY}--\r\n"
    return {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [
        entry(0, "GET", f"/api/things?access_token={S[0]}&api_key={S[1]}&page=2",
              [("X-Api-Key", S[2]), ("Authorization", f"Basic {basic}"), ("Cookie", f"session={S[4]}")]),
        entry(1, "POST", "/api/token", [], ("application/x-www-form-urlencoded", f"client_secret={S[5]}&grant_type=client_credentials")),
        entry(2, "POST", "/api/data", [], ("application/json", json.dumps(
            {"refresh_token": S[6], "nested": {"api_key": S[7]}, "list": [{"password": S[8]}]}))),
        entry(3, "POST", "/api/upload", [], (f"multipart/form-data; boundary={BOUNDARY}", multipart)),
    ]}}


def test_planted_secrets_reach_no_output(db, tmp_path):
    target = CountingTarget()
    har = tmp_path / "secrets.har"
    har.write_text(json.dumps(_har(target.url)))
    outputs: dict[str, str] = {}
    try:
        assert cli("import", str(har), "--name", "keys", "--db", db).returncode == 0
        converted = cli("convert", "keys", "--db", db, "-o", str(tmp_path / "keys.yaml"))
        assert converted.returncode == 0, converted.stderr
        outputs["convert"] = converted.stdout + converted.stderr
        outputs["scenario file"] = (tmp_path / "keys.yaml").read_text()
        for args in (("recording", "keys"), ("recording", "keys", "--json"), ("scenario", "keys", "--json")):
            shown = cli(*args, "--db", db)
            assert shown.returncode == 0, shown.stderr
            outputs[" ".join(args)] = shown.stdout
        played = cli("play", "keys", "--host", target.url, "--users", "1", "--iterations", "2", "--db", db, "--json")
        assert played.returncode == 0, played.stderr
        outputs["play"] = played.stdout + played.stderr
        run = str(json.loads(played.stdout)["run_id"])
        for fmt in ("html", "json"):
            assert cli("report", run, "--format", fmt, "-o", str(tmp_path / f"r.{fmt}"), "--db", db).returncode == 0
            outputs[f"report {fmt}"] = (tmp_path / f"r.{fmt}").read_text()
    finally:
        target.close()
    ui = start_ui(db)
    try:
        for page in ("/recordings/keys", "/scenarios/keys", f"/runs/{run}", f"/api/runs/{run}"):
            answer = ui.api.get(ui.url + page, timeout=10)
            assert answer.status_code == 200, page
            outputs[f"UI {page}"] = answer.text
    finally:
        ui.stop()
    leaks = {name: sorted(s for s in PLANTED if s in text) for name, text in outputs.items()}
    assert not any(leaks.values()), {k: v for k, v in leaks.items() if v}
    # The replay still sent each of them: they were kept where only play reads them.
    assert len(target.requests) == 2 * 4 + 4  # two iterations, and the validation replay's pass
    things = [path for _, path, _ in target.requests if path.startswith("/api/things")]
    assert len(things) == 3 and all(f"access_token={S[0]}&api_key={S[1]}" in path for path in things), things
