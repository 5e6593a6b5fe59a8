"""Conditional requests: a virtual user's cache is its own. Each iteration is a new visitor with
a cold cache, so the recording person's validators (If-None-Match, If-Modified-Since) are never
sent: the first visit of every user fetches in full, as a new visitor's browser does."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.helpers import cli

ETAG = '"v1"'


class _Revalidating(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        conditional = self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since")
        self.server.seen.append((self.path, conditional))  # type: ignore[attr-defined]
        if conditional:
            self.send_response(304)
            self.send_header("ETag", ETAG)
            self.end_headers()
            return
        body = b"<p>the whole page</p>" * 50
        self.send_response(200)
        self.send_header("ETag", ETAG)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _har(url: str) -> dict:
    def entry(path: str, t: str, conditional: list[dict]) -> dict:
        return {
            "startedDateTime": f"2026-11-30T10:00:0{t}.000Z", "time": 5,
            "request": {"method": "GET", "url": url + path, "httpVersion": "HTTP/1.1",
                        "headers": [{"name": "User-Agent", "value": "Chromium"}, *conditional], "queryString": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 304, "statusText": "Not Modified", "httpVersion": "HTTP/1.1",
                         "headers": [{"name": "ETag", "value": ETAG}], "content": {"size": 0, "mimeType": "text/html"},
                         "redirectURL": "", "headersSize": -1, "bodySize": 0},
            "cache": {}, "timings": {"send": 0, "wait": 5, "receive": 0},
        }
    return {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [
        entry("/page", "0", [{"name": "If-None-Match", "value": ETAG}]),
        entry("/other", "1", [{"name": "If-Modified-Since", "value": "Mon, 30 Nov 2026 09:00:00 GMT"}]),
    ]}}


def test_the_recorded_validators_are_not_sent_and_every_first_visit_fetches_in_full(db, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Revalidating)
    server.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    har = tmp_path / "revalidate.har"
    har.write_text(json.dumps(_har(url)))
    try:
        assert cli("import", str(har), "--name", "cached", "--db", db).returncode == 0
        assert cli("convert", "cached", "--db", db).returncode == 0
        played = cli("play", "cached", "--host", url, "--users", "3", "--iterations", "6", "--think-scale", "0", "--db", db, "--json")
    finally:
        server.shutdown()
        server.server_close()
    assert played.returncode == 0, played.stderr
    summary = json.loads(played.stdout)
    # A 200 where the recording had 304 is what a fresh visitor gets: not a failure.
    assert summary["failures"] == 0 and summary["requests"] == 12
    assert server.seen and all(conditional is None for _, conditional in server.seen)  # type: ignore[attr-defined]
