"""Pure cores of the record stage: bodies, taps, allow patterns, masking."""

from __future__ import annotations

import hashlib
import re

from replayswarm.masking import MASK, mask_body, mask_header, mask_query
from replayswarm.hosts import host_pattern, is_loopback, is_loopback_name
from replayswarm.record.capture import Body, BodyTap, normalize_http_version


def test_text_bodies_are_kept_and_binary_ones_only_sized_and_hashed():
    assert Body.of(b'{"a": 1}', "application/json").text == '{"a": 1}'
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    body = Body.of(png, "image/png")
    assert body.text is None and body.size == len(png) and body.sha256 == hashlib.sha256(png).hexdigest()
    assert Body.of("héllo".encode("latin-1"), "text/plain; charset=latin-1").text == "héllo"
    assert Body.of(b"x" * 11, "text/plain", cap=10).text is None
    assert Body.of(b"", "text/html") == Body()


def test_a_tap_passes_every_chunk_and_keeps_at_most_its_cap():
    tap = BodyTap(keep=8)
    assert tap(b"abcd") == b"abcd" and tap.kept == b"abcd"
    assert tap(b"efghij") == b"efghij"
    assert tap.kept is None and tap.overflowed
    assert tap.body() == Body(size=10, sha256=hashlib.sha256(b"abcdefghij").hexdigest())


def test_allow_patterns_match_host_and_port():
    match = lambda allowed, target: re.match(host_pattern(allowed), target) is not None
    assert match("example.com", "example.com:443")
    assert not match("example.com", "evil-example.com:443")
    assert match("example.com:8443", "example.com:8443") and not match("example.com:8443", "example.com:443")
    assert match("*.example.com", "api.example.com:443") and not match("*.example.com", "example.org:443")


def test_loopback_is_recognised_in_every_spelling():
    assert is_loopback("127.0.0.1") and is_loopback("127.8.9.10") and is_loopback("::1") and is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("10.0.0.1") and not is_loopback("example.com")
    assert is_loopback_name("localhost") and is_loopback_name("[::1]")


def test_http_versions_from_browsers_and_mitmproxy_agree():
    assert {normalize_http_version(v) for v in ("h2", "HTTP/2", "http/2.0", "HTTP/2.0")} == {"HTTP/2.0"}
    assert normalize_http_version("HTTP/1.1") == "HTTP/1.1"


def test_secrets_are_masked_wherever_they_hide():
    assert mask_header("Cookie", "a=1; sessionid=xyz") == f"a={MASK}; sessionid={MASK}"
    assert mask_header("Authorization", "Basic dXNlcjpwdw==") == f"Basic {MASK}"
    assert mask_header("Accept", "text/html") == "text/html"
    assert mask_query("q=shoes&api_key=k1&page=2") == f"q=shoes&api_key={MASK}&page=2"
    assert mask_body('{"user": {"password": "p", "name": "n"}}', "application/json") == f'{{"user": {{"password": "{MASK}", "name": "n"}}}}'
    html = '<input value="tok-123" type="hidden" name="csrfmiddlewaretoken"><input type="password" name="pw" value="p1">'
    masked = mask_body(html, "text/html; charset=utf-8")
    assert "tok-123" not in masked and "p1" not in masked
    form = '--b\r\nContent-Disposition: form-data; name="password"\r\n\r\nhunter2\r\n--b--'
    assert "hunter2" not in mask_body(form, "multipart/form-data; boundary=b")


def test_header_bytes_that_are_not_utf8_are_kept_as_latin1_text():
    from mitmproxy.test import tflow

    from replayswarm.record.flows import exchange_from_flow

    flow = tflow.tflow(resp=True)
    flow.response.headers.fields = ((b"Content-Type", b"text/plain; name=caf\xe9"), (b"X-Ok", "café".encode()))
    row = exchange_from_flow(flow).row(1)
    assert row["content_type"] == "text/plain; name=café"
    assert ["X-Ok", "café"] in row["response_headers"]
    row["content_type"].encode("utf-8")  # storable
