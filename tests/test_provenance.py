"""Visit splitting and correlation by provenance, on plain data: the kinds of fault real
applications showed (issue 9), each as the smallest recording that has it."""

from __future__ import annotations

import json

from replayswarm.convert import Options, convert
from replayswarm.convert.recorded import Recorded
from replayswarm.convert.sessions import split_visits
from replayswarm.convert.provenance import Index
from replayswarm.scenario.extract import apply
from tests.test_convert_cores import flow

TOKEN_A, TOKEN_B = "Kq3Zr8Tn5Vw2Xy7Ab4Cd", "Lm9Pq2Rs6Tu1Vw8Xy3Za"


def front_page(token: str, extra: str = "") -> str:
    return (
        '<form action="/search" id="search"><input type="hidden" name="@action" value="search">'
        '<input name="q"></form>'
        f'<form method="post" action="http://127.0.0.1:8000/"><input type="hidden" name="@csrf" value="{token}">'
        '<input type="hidden" name="@action" value="login">'
        '<input type="text" name="__login_name"><input type="password" name="__login_password">'
        f'<input type="submit" name="login" value="Login"></form>{extra}'
    )


def login(seq: int, t: float, client: str, token: str, user: str = "alice") -> Recorded:
    return flow(seq, t, "/", client=client, method="POST", request_type="application/x-www-form-urlencoded",
                request_body=f"%40csrf={token}&%40action=login&__login_name={user}&__login_password=pw-{user}&login=Login",
                status=302, location="http://127.0.0.1:8000/", set_cookie=f"session=S{token}")


def visits(flows: list[Recorded]) -> list[list[int]]:
    split = split_visits(flows, index=Index(flows))
    return [[f.seq for f in s] for s in split.sessions]


def test_the_anonymous_front_page_joins_the_login_sent_on_another_connection():
    flows = [
        flow(1, 0.0, "/", client="c1", body=front_page(TOKEN_A)),
        flow(2, 0.05, "/style.css", client="c2", ctype="text/css", headers=(("Referer", "http://127.0.0.1:8000/"), ("Sec-Fetch-Dest", "style"))),
        login(3, 2.0, "c3", TOKEN_A),  # a connection opened later: nothing but the token ties it
        flow(4, 2.2, "/issue", client="c3", cookie=f"session=S{TOKEN_A}"),
    ]
    assert visits(flows) == [[1, 2, 3, 4]]


def test_two_anonymous_people_loading_the_same_pages_come_apart():
    flows = [
        flow(1, 0.0, "/", client="a1", body=front_page(TOKEN_A)),
        flow(2, 0.02, "/app.js", client="a2", ctype="text/javascript", headers=(("Referer", "http://127.0.0.1:8000/"), ("Sec-Fetch-Dest", "script"))),
        flow(3, 0.15, "/", client="b1", body=front_page(TOKEN_B)),
        flow(4, 0.17, "/app.js", client="b2", ctype="text/javascript", headers=(("Referer", "http://127.0.0.1:8000/"), ("Sec-Fetch-Dest", "script"))),
        login(5, 1.0, "a3", TOKEN_A, "alice"),
        login(6, 1.1, "b3", TOKEN_B, "bob"),
    ]
    assert visits(flows) == [[1, 2, 5], [3, 4, 6]]


def test_tokens_come_from_their_own_form_constants_stay_literal_and_credentials_follow_the_password_input():
    flows = [
        flow(1, 0.0, "/", body=front_page(TOKEN_A)),
        flow(2, 1.0, "/search", query="%40action=search&q=x", body=front_page(TOKEN_B)),
        login(3, 2.0, "c1", TOKEN_B),
    ]
    result = convert(flows, "login", Options())
    [scenario] = result.scenario_set.scenarios
    search, post = scenario.steps[1], scenario.steps[2]
    # `@action=search` is the same wherever it appears: part of the page, not the server's.
    assert search.request.url.endswith("?%40action=search&q=x")
    assert post.request.body == "%40csrf=${csrf:url}&%40action=login&__login_name=${username:url}&__login_password=${password:url}&login=Login"
    [extract] = search.extract
    assert (extract.source, extract.name, extract.form) == ("form", "@csrf", "action=/")
    assert apply(extract, {}, lambda: front_page("Fresh123Token456xyzAB"), lambda _: None) == "Fresh123Token456xyzAB"
    assert result.secrets[scenario.name] == {"password": "pw-alice"}
    assert "pw-alice" not in json.dumps([v.__dict__ for v in result.scenario_set.variables])


def test_an_absolute_redirect_gives_an_origin_free_rule_and_a_prefixed_id():
    flows = [
        flow(1, 0.0, "/issue", method="POST", request_type="application/x-www-form-urlencoded", request_body="title=t",
             status=302, location="http://127.0.0.1:8000/issue7"),
        flow(2, 0.5, "/issue7", body='<p>issue 7</p><form><input type="hidden" name="issue_count" value="7"></form>'),
        flow(3, 1.0, "/issue7", method="POST", request_type="application/x-www-form-urlencoded",
             request_body="issue=7&msg=hello", status=302, location="http://127.0.0.1:8000/issue7"),
    ]
    result = convert(flows, "ids", Options())
    create, show, comment = result.scenario_set.scenarios[0].steps
    by_var = {e.var: e for e in create.extract}
    # The redirect is followed where the live answer points, as a browser does.
    assert show.request.url == "http://127.0.0.1:8000/${location}"
    # Every rule matches the new id whatever origin the target answers with.
    for var, extract in by_var.items():
        value = apply(extract, {"location": "https://staging.example:9443/issue12"}, lambda: "", lambda _: None)
        assert value in ("issue12", "12"), (var, extract)
    # The id posted in the comment comes from the created object's redirect, not the equal count.
    assert "issue=${" in comment.request.body
    posted_var = comment.request.body.split("${", 1)[1].split("}")[0].split(":")[0]
    assert posted_var in by_var and by_var[posted_var].source == "header"


def test_ids_from_links_and_json_lists_are_taken_by_position():
    page = '<ul><li><a href="/items/3/">a</a></li><li><a href="/items/57/">b</a></li></ul>'
    flows = [
        flow(1, 0.0, "/items/", body=page),
        flow(2, 1.0, "/items/57/"),
        flow(3, 2.0, "/api/items/", ctype="application/json", body=json.dumps({"items": [{"id": 901}, {"id": 902}]})),
        flow(4, 3.0, "/api/items/902/", ctype="application/json", body="{}"),
    ]
    result = convert(flows, "links", Options())
    listing, item, api, detail = result.scenario_set.scenarios[0].steps
    [link] = listing.extract
    assert (link.source, link.index) == ("body", 1)
    assert apply(link, {}, lambda: page.replace("/items/3/", "/items/11/").replace("/items/57/", "/items/12/"), lambda _: None) == "12"
    assert item.request.url == "http://127.0.0.1:8000/items/${" + link.var + "}/"
    [listed] = api.extract
    assert (listed.source, listed.path) == ("json", "items.1.id")
    assert "${" + listed.var + "}" in detail.request.url


def test_a_count_that_equals_a_page_number_is_not_correlated():
    flows = [
        flow(1, 0.0, "/", body='<form><input type="hidden" name="count" value="2"></form>'),
        flow(2, 1.0, "/page/2/"),
    ]
    [scenario] = convert(flows, "short", Options()).scenario_set.scenarios
    assert scenario.steps[1].request.url.endswith("/page/2/") and not scenario.steps[0].extract


def test_a_bearer_token_from_a_json_login_is_correlated_and_never_written():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlMTIz"
    flows = [
        flow(1, 0.0, "/api/token", method="POST", request_type="application/json",
             request_body=json.dumps({"username": "alice", "password": "pw"}), ctype="application/json",
             body=json.dumps({"access_token": jwt})),
        flow(2, 1.0, "/api/items", headers=(("Authorization", f"Bearer {jwt}"),), ctype="application/json", body="[]"),
    ]
    result = convert(flows, "spa", Options())
    token, items = result.scenario_set.scenarios[0].steps
    [extract] = token.extract
    assert (extract.source, extract.path) == ("json", "access_token")
    assert ("Authorization", "Bearer ${" + extract.var + "}") in items.request.headers
    assert jwt not in json.dumps(result.secrets)


def test_a_short_value_a_validation_replay_saw_change_is_correlated():
    from replayswarm.convert.provenance import varying

    doc = json.dumps({"title": "t", "version": 3})
    flows = [
        flow(1, 0.0, "/api/doc", ctype="application/json", body=doc),
        flow(2, 1.0, "/api/doc", method="PUT", request_type="application/json", request_body='{"base": 3, "title": "u"}',
             ctype="application/json", body="{}"),
    ]
    before = convert(flows, "doc", Options()).scenario_set.scenarios[0].steps[1]
    assert before.request.body == '{"base": 3, "title": "u"}'  # a 3 that nothing vouches for stays literal
    seen = varying(flows[0], {"content-type": "application/json"}, doc.replace("3", "5"), ["http://127.0.0.1:8000"])
    assert seen == {"3"}
    after = convert(flows, "doc", Options(varies=frozenset(seen))).scenario_set.scenarios[0].steps
    assert after[1].request.body == '{"base":${doc_version},"title":"u"}'
    assert [(e.source, e.path) for e in after[0].extract] == [("json", "version")]


def test_multipart_fields_are_correlated_and_file_parts_kept_byte_for_byte():
    page = f'<form method="post" action="/upload" enctype="multipart/form-data"><input type="hidden" name="csrf" value="{TOKEN_A}"><input type="file" name="doc"></form>'
    boundary = "----WebKitFormBoundaryQ2x9"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{TOKEN_A}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n"
            f"line one ${{not a var}}\r\n{TOKEN_A} inside the file stays\r\n"
            f"--{boundary}--\r\n")
    flows = [
        flow(1, 0.0, "/upload", body=page),
        flow(2, 1.0, "/upload", method="POST", request_type=f"multipart/form-data; boundary={boundary}", request_body=body,
             status=302, location="/done"),
    ]
    steps = convert(flows, "upload", Options()).scenario_set.scenarios[0].steps
    from replayswarm.scenario.template import render

    sent = render(steps[1].request.body, {"csrf": "FRESH"})
    assert sent == body.replace(f"\r\n\r\n{TOKEN_A}\r\n", "\r\n\r\nFRESH\r\n", 1)
    assert f"{TOKEN_A} inside the file stays" in sent and "${not a var}" in sent
    assert [(e.source, e.name) for e in steps[0].extract] == [("form", "csrf")]


def test_credentials_no_response_handed_out_never_reach_the_scenario_file():
    from replayswarm.scenario.yamlfile import dump

    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.U2lnbmVkQnlTb21lb25l"
    planted = {"key-in-header-1", "tok-in-query-22", "key-in-query-333", "secret-in-json-4444", "refresh-in-json-55555", jwt}
    flows = [
        flow(1, 0.0, "/api/things", query="access_token=tok-in-query-22&api_key=key-in-query-333&page=2",
             headers=(("X-Api-Key", "key-in-header-1"),), ctype="application/json", body="[]"),
        flow(2, 1.0, "/oauth/token", method="POST", request_type="application/json", ctype="application/json", body="{}",
             request_body=json.dumps({"client_secret": "secret-in-json-4444", "refresh_token": "refresh-in-json-55555", "assertion": jwt})),
    ]
    result = convert(flows, "keys", Options())
    text = dump(result.scenario_set)
    assert not [s for s in planted if s in text], text
    assert set(result.secrets[result.scenario_set.scenarios[0].name].values()) == planted


def test_the_recorded_origin_written_in_a_request_names_the_target_and_the_user_is_the_virtual_one():
    from replayswarm.play.plan import compile_plan, map_origins

    page = front_page(TOKEN_A, extra='<form action="/issue7" method="post"><input name="nosy" value="alice"></form>')
    flows = [
        flow(1, 0.0, "/", body=page),
        login(2, 1.0, "c1", TOKEN_A),
        flow(3, 2.0, "/issue7", body=page.replace(TOKEN_A, TOKEN_B)),
        flow(4, 3.0, "/issue7", method="POST", request_type="application/x-www-form-urlencoded",
             request_body="nosy=alice&came_from=http%3A%2F%2F127.0.0.1%3A8000%2Fissue7", status=302, location="/issue7"),
    ]
    scenario_set = convert(flows, "who", Options()).scenario_set
    edit = scenario_set.scenarios[0].steps[3]
    assert edit.request.body.startswith("nosy=${username:url}&")  # a nosy list names whoever replays
    plan = compile_plan(scenario_set, map_origins(scenario_set.origins, "http://localhost:9999", ()))
    body = plan.scenarios[0].steps[3].request.body
    assert body is not None and body.parts[-1].endswith("came_from=http%3A%2F%2Flocalhost%3A9999%2Fissue7")


def test_bodies_come_back_byte_for_byte_around_their_fields():
    from replayswarm.convert.bodies import parse
    from replayswarm.scenario.template import escape

    cases = {
        "application/x-www-form-urlencoded": "a=1&b=two+words&flag&c=%24%7Bx%7D",
        "application/json": '{"n": 7, "s": "x", "list": [1, {"id": 2}], "t": true, "nil": null}',
        "multipart/form-data; boundary=XyZ": '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\none\r\n'
                                             '--XyZ\r\nContent-Disposition: form-data; name="f"; filename="x.bin"\r\n\r\n\x00\x01${y}\r\n--XyZ--\r\n',
    }
    for ctype, body in cases.items():
        parsed = parse(body, ctype)
        assert parsed is not None, ctype
        assert parsed.rebuild([escape(f.raw) for f in parsed.fields]) == escape(body), ctype
    json_body = parse(cases["application/json"], "application/json")
    assert [(f.key, f.value) for f in json_body.fields] == [("n", "7"), ("s", "x"), ("list", "1"), ("id", "2")]
    assert json_body.rebuild(["${n}", '"${s}"'[1:-1], "1", "${id}"]) == '{"n":${n},"s":"${s}","list":[1,{"id":${id}}],"t":true,"nil":null}'
    multipart = parse(cases["multipart/form-data; boundary=XyZ"], "multipart/form-data; boundary=XyZ")
    assert [f.key for f in multipart.fields] == ["a"]  # the file part is no field: kept exactly
    assert parse("not json", "application/json") is None and parse("plain", "text/plain") is None


def test_a_pause_longer_than_max_think_is_clamped_and_reported():
    flows = [flow(1, 0.0, "/"), flow(2, 600.0, "/later/"), flow(3, 602.0, "/next/")]
    result = convert(flows, "lunch", Options(max_think=120.0))
    steps = result.scenario_set.scenarios[0].steps
    assert [s.think_time for s in steps] == [0.0, 120.0, 1.95]
    assert result.summary.clamped == 1
