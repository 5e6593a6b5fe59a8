"""Real headless Chromium browsing through the real proxy; the same visit's HAR imports to the same rows."""

from __future__ import annotations

import json

from tests.browse import Person, browse, editor
from tests.dbutil import flows, rows
from tests.helpers import cli

COMPARED = (
    "method", "scheme", "host", "port", "path", "query", "status", "content_type",
    "request_body", "response_body", "response_size", "response_hash", "kind", "replayable",
)
HEADERS = ("cookie", "referer", "content-type", "origin", "x-csrftoken")


def essence(flow: dict) -> tuple:
    headers = {k.lower(): v for k, v in json.loads(flow["request_headers"])}
    return tuple(flow[c] for c in COMPARED) + tuple(headers.get(h) for h in HEADERS)


def test_chromium_visit_is_recorded_with_subresources_and_its_har_imports_the_same(site, db, recorder_factory, tmp_path):
    # --allow keeps the browser's own background requests (updates, safe browsing) out of the recording.
    rec = recorder_factory("browser", "--allow", "127.0.0.1")
    har = tmp_path / "visit.har"
    [note_path] = browse(rec.port, site.url, [Person(editor, "alice", har=har)])
    code, out, err = rec.stop()
    assert code == 0, err

    proxied = flows(db, "browser")
    paths = [f["path"] for f in proxied]
    for asset in ("/static/notes/site.css", "/static/notes/app.js", "/static/notes/logo.svg"):
        assert asset in paths, f"sub-resource {asset} not recorded"
    assert "/api/notes/" in paths
    posts = [(f["path"], f["status"]) for f in proxied if f["method"] == "POST"]
    assert note_path.startswith("/notes/")
    assert posts == [("/accounts/login/", 302), ("/notes/new/", 302), (f"{note_path}edit/", 302), ("/accounts/logout/", 302)]
    assert all(f["scheme"] == "http" and f["host"] == "127.0.0.1" for f in proxied)
    assert all("Chrome" in dict(json.loads(f["request_headers"])).get("User-Agent", "") for f in proxied)
    # The site really holds what the browser did through the proxy.
    [note] = rows(f"sqlite:///{site.db}", "SELECT title, body FROM notes_note WHERE title = 'alice''s list'")
    assert note["body"] == "milk, eggs, bread"

    imported = cli("import", str(har), "--name", "browser-har", "--db", db)
    assert imported.returncode == 0, imported.stderr
    assert f"Imported {len(proxied)} flows" in imported.stdout
    from_har = flows(db, "browser-har")
    assert sorted(map(essence, from_har)) == sorted(map(essence, proxied))
    # Main requests come in the same order.
    mains = lambda fs: [(f["method"], f["path"]) for f in fs if (f["content_type"] or "").startswith("text/html")]
    assert mains(from_har) == mains(proxied)
