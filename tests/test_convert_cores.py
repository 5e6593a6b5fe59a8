"""The pure cores of convert, on plain data: sessions, names, clustering, correlation."""

from __future__ import annotations

import json

from replayswarm.convert import Options, convert
from replayswarm.convert.cluster import cluster
from replayswarm.convert.names import endpoint_names, template_path
from replayswarm.convert.recorded import Recorded
from replayswarm.convert.sessions import split_sessions
from replayswarm.scenario.template import MissingVariable, escape, render

T0 = 1_795_000_000.0


def flow(seq: int, t: float, path: str, *, client: str = "c1", method: str = "GET", cookie: str | None = None,
         set_cookie: str | None = None, ua: str = "UA", status: int = 200, ctype: str = "text/html",
         body: str | None = None, request_body: str | None = None, request_type: str | None = None,
         location: str | None = None, headers: tuple = (), query: str = "") -> Recorded:
    req = [("User-Agent", ua), *headers]
    if cookie:
        req.append(("Cookie", cookie))
    if request_type:
        req.append(("Content-Type", request_type))
    resp = [("Content-Type", ctype)]
    if set_cookie:
        resp.append(("Set-Cookie", set_cookie + "; Path=/"))
    if location:
        resp.append(("Location", location))
    return Recorded(seq=seq, client=client, started=T0 + t, ended=T0 + t + 0.05, method=method, scheme="http",
                    host="127.0.0.1", port=8000, path=path, query=query, request_headers=tuple(req),
                    request_body=request_body, status=status, response_headers=tuple(resp), response_body=body,
                    response_size=len(body or ""), content_type=ctype)


def test_interleaved_people_are_split_by_cookie_lineage_connection_and_idle_gaps():
    a, b = "sid=aaaa1111bbbb2222", "sid=cccc3333dddd4444"
    flows = [
        flow(1, 0.0, "/", client="c1", set_cookie=a),
        flow(2, 0.1, "/", client="c2", set_cookie=b),
        flow(3, 1.0, "/notes/", client="c3", cookie=a),  # a new connection, but a's cookie
        flow(4, 1.1, "/notes/", client="c4", cookie=b),
        flow(5, 2.0, "/notes/1/", client="c1", cookie=a),
        flow(6, 2.1, "/other/", client="c5", ua="Firefox"),  # a different browser, no cookie
        flow(7, 4000.0, "/notes/2/", client="c3", cookie=a),  # the same browser an hour later
    ]
    sessions = split_sessions(flows, gap=1800)
    assert [[f.seq for f in s] for s in sessions] == [[1, 3, 5], [2, 4], [6], [7]]


def test_endpoint_names_template_ids_and_varying_segments_but_not_assets():
    assert template_path("/notes/42/edit/") == "/notes/{id}/edit/"
    assert template_path("/u/3f2b8c1e-1c2d-4e5f-8a9b-0c1d2e3f4a5b") == "/u/{uuid}"
    requests = [("GET", f"/users/{n}/") for n in ("alice", "bob", "carol", "dave")] + [("GET", "/notes/new/"), ("GET", "/notes/7/")]
    names = endpoint_names(requests, assets=[("GET", "/static/a.css"), ("GET", "/static/b.css"), ("GET", "/static/c.js"), ("GET", "/static/d.png")])
    assert names[("GET", "/users/bob/")] == "GET /users/{param}/"
    assert names[("GET", "/notes/new/")] == "GET /notes/new/"
    assert names[("GET", "/notes/7/")] == "GET /notes/{id}/"
    assert names[("GET", "/static/c.js")] == "GET /static/c.js"


def test_similar_sessions_cluster_and_different_ones_do_not():
    browse = ["GET /", "GET /notes/", "GET /notes/{id}/"]
    edit = ["GET /", "GET /accounts/login/", "POST /accounts/login/", "POST /notes/new/", "GET /notes/{id}/"]
    groups = cluster([browse, edit, browse + ["GET /notes/{id}/"], edit, browse])
    assert sorted(map(sorted, groups)) == [[0, 2, 4], [1, 3]]


def test_a_json_id_a_cookie_echoed_in_a_header_and_a_password_are_correlated():
    csrf = "csrftoken=Zx81bQ2pLmN0vR7sT4uW"
    flows = [
        flow(1, 0.0, "/api/login/", method="POST", request_type="application/json",
             request_body=json.dumps({"user": "alice", "password": "s3cret!"}), ctype="application/json",
             body='{"ok": true}', set_cookie=csrf),
        flow(2, 1.0, "/api/notes/", method="POST", request_type="application/json", cookie=csrf,
             headers=(("X-CSRFToken", "Zx81bQ2pLmN0vR7sT4uW"),), request_body='{"title": "t"}',
             ctype="application/json", status=201, body='{"id": 4711, "title": "t"}'),
        flow(3, 2.0, "/api/notes/4711/", cookie=csrf, ctype="application/json", body='{"id": 4711}',
             query=f"_={int((T0 + 2) * 1000)}"),
    ]
    result = convert(flows, "api", Options())
    [scenario] = result.scenario_set.scenarios
    login, create, read = scenario.steps
    assert login.request.body == '{"user":"${username}","password":"${password}"}'
    assert result.secrets[scenario.name] == {"password": "s3cret!"}
    assert ("X-CSRFToken", "${cookie:csrftoken}") in create.request.headers
    [extract] = create.extract
    assert (extract.source, extract.path, extract.kind) == ("json", "id", "id")
    assert read.request.url == "http://127.0.0.1:8000/api/notes/${" + extract.var + "}/?_=${__timestamp_ms}"
    assert read.name == "GET /api/notes/{id}/"
    assert result.summary.correlations == {"csrf": 1, "id": 1, "secret": 1, "timestamp": 1, "user": 1}
    assert [v.name for v in result.scenario_set.variables] == ["password", "username"]


def test_untraceable_dynamic_values_stay_literal_and_are_reported():
    flows = [
        flow(1, 0.0, "/"),
        flow(2, 1.0, "/search/", query="q=shoes&nonce=Q9x7Lk2mP4vB8nR1tY6w"),
    ]
    result = convert(flows, "lit", Options())
    assert result.scenario_set.scenarios[0].steps[1].request.url.endswith("q=shoes&nonce=Q9x7Lk2mP4vB8nR1tY6w")
    assert result.summary.literals == ["browse home + search: GET /search/: query nonce (20 characters): handed out by no earlier response of the visit"]


def test_templates_render_variables_and_keep_literal_dollar_braces():
    assert render("a=${x:url}&b=${y}", {"x": "a b&c", "y": "1"}) == "a=a+b%26c&b=1"
    assert render(escape("price ${not_a_var}"), {}) == "price ${not_a_var}"
    try:
        render("${missing}", {})
        raise AssertionError("a missing variable must be reported")
    except MissingVariable as exc:
        assert exc.args[0] == "missing"


def test_random_tokens_look_unique_with_or_without_digits_and_words_do_not():
    from replayswarm.convert.recorded import looks_unique

    # secrets.token_urlsafe(24) draws no digit about once in 230 tokens: still a token.
    assert looks_unique("et-LJLyiQRRbmWcPlGVyjfBVTaKAayyG") and looks_unique("hSgInvQ_qx8zDwBSRU34nfDwa-wbm86Q")
    assert looks_unique("3f9a0c1e77b24d1e")
    for word in ("AbstractSingletonProxyFactoryBean", "XMLHttpRequestHeaders", "hello-world-this-is-a-slug", "carol"):
        assert not looks_unique(word), word
