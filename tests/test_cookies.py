"""A virtual user's cookie jar behaves as a browser's (RFC 6265), on plain data: no sockets."""

from __future__ import annotations

import time

import pytest

from replayswarm.play.cookies import CookieJar
from replayswarm.play.plan import Target

SHOP = Target("http", "shop.test", 80)
WWW = Target("http", "www.shop.test", 80)
DEEP = Target("http", "a.b.shop.test", 80)
OTHER = Target("http", "othershop.test", 80)
SECURE_SHOP = Target("https", "shop.test", 443)
LOOPBACK = Target("http", "127.0.0.1", 8000)


def jar_with(target: Target, uri: str, *set_cookie: str) -> CookieJar:
    jar = CookieJar()
    jar.update(target, uri, list(set_cookie))
    return jar


def names(jar: CookieJar, target: Target, uri: str) -> list[str]:
    header = jar.header(target, uri)
    return [pair.split("=", 1)[0] for pair in header.split("; ")] if header else []


def test_a_new_jar_sends_nothing_and_knows_nothing():
    jar = CookieJar()
    assert jar.header(SHOP, "/") is None and jar.get("sid") is None
    jar.update(SHOP, "/", None)
    assert jar.header(SHOP, "/") is None


# -- 5.1.4 paths ---------------------------------------------------------------------------------

def test_path_matches_itself_and_what_lies_under_it_only():
    jar = jar_with(SHOP, "/app1/", "sid=1; Path=/app1")
    for sent in ("/app1", "/app1/", "/app1/account", "/app1/a/b?x=1"):
        assert jar.header(SHOP, sent) == "sid=1", sent
    for not_sent in ("/", "/app", "/app10", "/app10/x", "/other/app1"):
        assert jar.header(SHOP, not_sent) is None, not_sent


def test_a_path_ending_in_a_slash_matches_below_it():
    jar = jar_with(SHOP, "/", "sid=1; Path=/docs/")
    assert jar.header(SHOP, "/docs/x") == "sid=1" and jar.header(SHOP, "/docs") is None


@pytest.mark.parametrize(("set_at", "sent_to", "not_sent_to"), [
    ("/a/b/c", "/a/b/x", "/a/x"),  # default path: up to, not including, the last "/" (5.1.4)
    ("/login", "/anything", None),  # one "/" only: the default path is "/"
    ("/a/b/", "/a/b/x", "/a/x"),
])
def test_the_default_path_is_the_request_paths_directory(set_at, sent_to, not_sent_to):
    jar = jar_with(SHOP, set_at + "?q=1", "sid=1")
    assert jar.header(SHOP, sent_to) == "sid=1"
    if not_sent_to:
        assert jar.header(SHOP, not_sent_to) is None


def test_a_path_attribute_that_is_not_absolute_is_ignored():
    # 5.2.4: a Path not starting with "/" gives the default path, as if it were absent.
    jar = jar_with(SHOP, "/a/b", "sid=1; Path=relative")
    assert jar.header(SHOP, "/a/x") == "sid=1" and jar.header(SHOP, "/") is None


# -- 5.1.3 domains -------------------------------------------------------------------------------

def test_a_domain_cookie_goes_to_the_domain_and_its_subdomains():
    jar = jar_with(WWW, "/", "sid=1; Domain=shop.test; Path=/")
    for target in (SHOP, WWW, DEEP):
        assert jar.header(target, "/") == "sid=1", target
    assert jar.header(OTHER, "/") is None  # a suffix of the name, not a subdomain


def test_a_leading_dot_and_letter_case_do_not_matter_in_domain():
    jar = jar_with(WWW, "/", "sid=1; Domain=.SHOP.Test; Path=/")
    assert jar.header(SHOP, "/") == "sid=1" and jar.header(DEEP, "/") == "sid=1"


def test_a_cookie_without_domain_is_host_only():
    jar = jar_with(SHOP, "/", "sid=1; Path=/")
    assert jar.header(SHOP, "/") == "sid=1"
    assert jar.header(WWW, "/") is None and jar.header(OTHER, "/") is None


@pytest.mark.parametrize("domain", ["other.test", "www.shop.test.evil", "test", ".test"])
def test_a_domain_that_does_not_cover_the_host_is_refused(domain):
    jar = jar_with(WWW, "/", f"sid=1; Domain={domain}; Path=/")
    assert all(jar.header(t, "/") is None for t in (SHOP, WWW, OTHER, Target("http", "other.test", 80)))


def test_an_empty_domain_attribute_is_ignored():
    # 5.2.3: an empty Domain is ignored; the cookie stays, host-only.
    jar = jar_with(SHOP, "/", "sid=1; Domain=; Path=/")
    assert jar.header(SHOP, "/") == "sid=1" and jar.header(WWW, "/") is None


@pytest.mark.parametrize("target", [
    LOOPBACK, Target("http", "localhost", 8000), Target("http", "10.1.2.3", 80), SHOP, Target("http", "shop.test", 8080),
])
def test_loopback_ip_and_private_names_keep_their_cookies(target):
    jar = jar_with(target, "/login", "sid=1; Path=/", "lb=2")
    assert jar.header(target, "/account") == "sid=1; lb=2"
    assert jar.get("sid") == "1"


def test_cookies_do_not_depend_on_the_port():
    # 8.5: cookies do not isolate by port.
    jar = jar_with(LOOPBACK, "/", "sid=1; Path=/")
    assert jar.header(Target("http", "127.0.0.1", 9000), "/") == "sid=1"


# -- 5.2.1 / 5.2.2 / 5.3 expiry and deletion -----------------------------------------------------

def test_max_age_wins_over_expires_whichever_comes_first():
    past, future = "Wed, 01 Jan 2003 00:00:00 GMT", "Wed, 01 Jan 2099 00:00:00 GMT"
    kept = jar_with(SHOP, "/", f"a=1; Expires={past}; Max-Age=3600; Path=/", f"b=2; Max-Age=3600; Expires={past}; Path=/")
    assert kept.header(SHOP, "/") == "a=1; b=2"
    gone = jar_with(SHOP, "/", f"a=1; Expires={future}; Max-Age=0; Path=/", f"b=2; Max-Age=0; Expires={future}; Path=/")
    assert gone.header(SHOP, "/") is None


def test_max_age_zero_or_negative_deletes_only_that_cookie():
    jar = jar_with(SHOP, "/app1/", "sid=1; Path=/", "sid=2; Path=/app1", "other=3; Path=/")
    jar.update(SHOP, "/app1/", "sid=x; Max-Age=0; Path=/app1")
    assert jar.header(SHOP, "/app1/x") == "sid=1; other=3"
    jar.update(SHOP, "/", "other=; Max-Age=-1; Path=/")
    assert jar.header(SHOP, "/app1/x") == "sid=1"


def test_an_expires_date_in_the_past_deletes():
    jar = jar_with(SHOP, "/", "sid=1; Path=/")
    jar.update(SHOP, "/logout", "sid=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/")
    assert jar.header(SHOP, "/") is None and jar.get("sid") is None


def test_a_cookie_is_not_sent_once_it_has_expired(monkeypatch):
    jar = jar_with(SHOP, "/", "short=1; Max-Age=60; Path=/", "session=2; Path=/")
    assert jar.header(SHOP, "/") == "short=1; session=2"
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert jar.header(SHOP, "/") == "session=2"
    assert jar.get("short") is None


def test_a_max_age_that_is_not_a_number_is_ignored_not_the_cookie():
    # 5.2.2: a Max-Age whose value does not start with a digit or "-" is ignored.
    jar = jar_with(SHOP, "/", "sid=1; Max-Age=soon; Path=/")
    assert jar.header(SHOP, "/") == "sid=1"


def test_an_unparsable_expires_is_ignored():
    jar = jar_with(SHOP, "/", "sid=1; Expires=someday; Path=/")
    assert jar.header(SHOP, "/") == "sid=1"


def test_a_new_value_replaces_the_cookie_of_the_same_name_domain_and_path():
    jar = jar_with(SHOP, "/", "sid=1; Path=/")
    jar.update(SHOP, "/login", "sid=2; Path=/")
    assert jar.header(SHOP, "/") == "sid=2" and jar.get("sid") == "2"


def test_the_last_of_a_repeated_attribute_counts():
    jar = jar_with(SHOP, "/", "sid=1; Path=/nowhere; Path=/")
    assert jar.header(SHOP, "/x") == "sid=1"


def test_attributes_browsers_do_not_know_change_nothing():
    # Port, Version, Discard, Comment are RFC 2965's: a browser ignores them.
    jar = jar_with(LOOPBACK, "/", 'sid=1; Port="80"; Version=1; Comment=x; Path=/')
    assert jar.header(LOOPBACK, "/") == "sid=1"


# -- 5.4 Secure ----------------------------------------------------------------------------------

def test_a_secure_cookie_goes_over_https_only():
    jar = jar_with(SECURE_SHOP, "/", "sid=1; Secure; Path=/", "plain=2; Path=/")
    assert jar.header(SECURE_SHOP, "/") == "sid=1; plain=2"
    assert jar.header(SHOP, "/") == "plain=2"


# -- 4.1.1 values ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ['"H4sI+0a1b2c3/def=="', '""', "a=b=c", "x%20y", "%22q%22"])
def test_a_value_comes_back_exactly_as_set(value):
    jar = jar_with(SHOP, "/", f"AWSALB={value}; Path=/")
    assert jar.header(SHOP, "/") == f"AWSALB={value}"
    assert jar.get("AWSALB") == value


def test_a_set_cookie_header_per_cookie():
    jar = jar_with(SHOP, "/", "a=1; Path=/", "b=2; Path=/; HttpOnly; SameSite=Lax")
    assert jar.header(SHOP, "/") == "a=1; b=2"


# -- one name, several paths --------------------------------------------------------------------

def test_the_same_name_on_two_paths_goes_to_its_own_path_only():
    jar = jar_with(SHOP, "/app1/", "JSESSIONID=one; Path=/app1; HttpOnly")
    jar.update(SHOP, "/app2/", "JSESSIONID=two; Path=/app2; HttpOnly")
    assert jar.header(SHOP, "/app1/account") == "JSESSIONID=one"
    assert jar.header(SHOP, "/app2/account") == "JSESSIONID=two"
    assert jar.header(SHOP, "/") is None


def test_longer_paths_come_first_when_both_match():
    jar = jar_with(SHOP, "/", "sid=root; Path=/")
    jar.update(SHOP, "/app1/", "sid=app; Path=/app1")
    assert jar.header(SHOP, "/app1/x") == "sid=app; sid=root"
    assert jar.header(SHOP, "/x") == "sid=root"


def test_get_reads_the_cookie_the_aimed_request_carries_else_the_most_specific():
    jar = jar_with(SHOP, "/", "sid=root; Path=/")
    jar.update(SHOP, "/app2/", "sid=two; Path=/app2")
    jar.update(SHOP, "/app1/", "sid=one; Path=/app1")
    # After a reply: that request's cookie (what a cookie extraction right after it wants).
    assert jar.get("sid") == "one"
    jar.header(SHOP, "/app2/page")
    assert jar.get("sid") == "two"
    jar.header(SHOP, "/elsewhere")
    assert jar.get("sid") == "root"
    jar.aim(None)  # no request known: the most specific held
    assert jar.get("sid") in ("one", "two")
    jar.header(OTHER, "/")  # carries no sid at all
    assert jar.get("sid") in ("one", "two")
    assert jar.get("nothing") is None


def test_a_built_header_is_reused_until_a_cookie_changes_or_expires():
    target = Target("http", "127.0.0.1", 8000)
    jar = jar_with(target, "/", "a=1; Path=/", "short=2; Max-Age=1; Path=/")
    assert names(jar, target, "/x") == ["a", "short"]
    jar.update(target, "/", "a=; Max-Age=0; Path=/")  # deleted by the server
    assert names(jar, target, "/x") == ["short"]
    time.sleep(1.1)
    assert names(jar, target, "/x") == []
