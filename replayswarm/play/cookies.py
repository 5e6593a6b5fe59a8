"""A virtual user's cookie jar, kept as a browser keeps one (RFC 6265). Pure: no sockets.

The standard library's `http.cookiejar` does the work (domain and path matching, expiry,
deletion, Secure, the order of the Cookie header): a well-kept implementation rather than one of
our own. This module adapts play's own transport to it, and leaves out of each Set-Cookie the
few attributes where `http.cookiejar` follows the older Netscape / RFC 2965 rules rather than
what browsers do (see `_browser_like`).
"""

from __future__ import annotations

import http.cookiejar
import re
import time
from typing import TYPE_CHECKING
from urllib.request import Request

if TYPE_CHECKING:
    from .plan import Target

# One policy for every jar: it holds only settings, and thousands of users share it.
#  - DomainStrictNonDomain: a cookie set without Domain goes back to exactly that host, not to
#    its subdomains (RFC 6265 5.3 step 6, "host-only"); the Netscape default sends it to both.
#  - No RFC 2965 (Set-Cookie2, $Version): no browser implements it.
#  - The policy has no public-suffix list and blocks nothing, so loopback addresses, `localhost`
#    and private names such as `shop.test` keep their cookies (tests/test_cookies.py holds this).
_POLICY = http.cookiejar.DefaultCookiePolicy(
    rfc2965=False,
    strict_ns_domain=http.cookiejar.DefaultCookiePolicy.DomainStrictNonDomain,
)

# Attributes that RFC 6265 does not have and browsers ignore, but http.cookiejar acts on (Port
# would tie the cookie to a port, Version/Discard/Comment come from RFC 2109/2965).
_NOT_RFC6265 = frozenset(("port", "version", "discard", "comment", "commenturl"))
_MAX_AGE = re.compile(r"-?[0-9]+\Z")


class CookieJar:
    """One virtual user's cookies for one visit.

    Thousands of users sit idle with one of these, and each visit starts a new one: the
    standard library's jar (a lock and dicts) is made only when a server first sets a cookie.
    """

    __slots__ = ("_jar", "_url", "_headers", "_until")

    def __init__(self) -> None:
        self._jar: http.cookiejar.CookieJar | None = None
        # Cookie headers already built, per URL, until a response sets a cookie or one held
        # expires: building one walks the jar (~20 µs), and a visit asks for the same few URLs.
        self._headers: dict[str, str | None] = {}
        self._until = 0.0
        # The URL whose cookies `get` reads first: the request being rendered, or the one whose
        # response was just read. None while the URL itself is being rendered.
        self._url: str | None = None

    def aim(self, url: str | None) -> None:
        """Say which request `get` should read cookies for (None: not known yet)."""
        self._url = url

    def update(self, target: Target, uri: str, set_cookie: str | list[str] | None) -> None:
        """Store what a response to `uri` on `target` set (a Set-Cookie value, or the list of
        them when it repeated the header), as the browser would."""
        url = self._url = target.origin + uri
        if not set_cookie:
            return
        lines = [set_cookie] if isinstance(set_cookie, str) else set_cookie
        jar = self._jar
        if jar is None:
            jar = self._jar = http.cookiejar.CookieJar(_POLICY)
        jar.extract_cookies(_Response([_browser_like(line) for line in lines]), Request(url))  # type: ignore[arg-type]
        self._headers.clear()
        self._until = min((c.expires for c in jar if c.expires is not None), default=float("inf"))

    def header(self, target: Target, uri: str) -> str | None:
        """The Cookie header a browser sends with a request for `uri` on `target`, if any.
        Also aims `get` at that request."""
        url = self._url = target.origin + uri
        jar = self._jar
        if jar is None:
            return None
        now = time.time()
        if now < self._until:
            if url in self._headers:
                return self._headers[url]
        else:  # a cookie expired: what was built may hold it
            self._headers.clear()
            self._until = min((c.expires for c in jar if c.expires is not None and c.expires > now), default=float("inf"))
        request = Request(url)
        jar.add_cookie_header(request)
        header = self._headers[url] = request.get_header("Cookie")
        return header

    def get(self, name: str) -> str | None:
        """The value of cookie `name`: the one the aimed-at request carries, since one name may
        be set on several paths or domains; else, when that request carries none, the most
        specific one held (longest path, then longest domain)."""
        jar = self._jar
        if jar is None:
            return None
        if self._url is not None:
            request = Request(self._url)
            jar.add_cookie_header(request)
            # The header is built from parsed name/value pairs, so "; " and the first "=" split
            # it exactly; it lists longer paths first, as RFC 6265 5.4 orders them.
            for pair in (request.get_header("Cookie") or "").split("; "):
                key, sep, value = pair.partition("=")
                if sep and key == name:
                    return value
        now = time.time()
        held = [c for c in jar if c.name == name and not c.is_expired(now)]
        if not held:
            return None
        best = max(held, key=lambda c: (len(c.path), len(c.domain)))
        return best.value if best.value is not None else ""


class _Response:
    """The part of a urllib response that `CookieJar.extract_cookies` reads: `info().get_all`."""

    __slots__ = ("_set_cookie",)

    def __init__(self, set_cookie: list[str]) -> None:
        self._set_cookie = set_cookie

    def info(self) -> _Response:
        return self

    def get_all(self, name: str, default: list[str]) -> list[str]:
        return self._set_cookie if name.lower() == "set-cookie" else default


def _browser_like(line: str) -> str:
    """A Set-Cookie value without the attributes a browser would ignore (RFC 6265 5.2).

    http.cookiejar drops the whole cookie for a Max-Age that is not a number or a Domain or
    Path without a value, takes a Path that does not start with "/" literally (a browser uses
    the default path), and keeps the first of a repeated attribute (a browser, the last).
    """
    first, sep, rest = line.partition(";")
    if not sep:
        return line
    kept: dict[str, str] = {}
    for attribute in rest.split(";"):
        key, _, value = attribute.partition("=")
        key = key.strip().lower()
        value = value.strip()
        if not key or key in _NOT_RFC6265:
            continue
        if key == "max-age" and not _MAX_AGE.match(value):
            continue
        if key == "domain" and not value.lstrip("."):
            continue
        if key == "path" and not value.startswith("/"):
            continue
        kept.pop(key, None)  # the last one counts
        kept[key] = attribute.strip()
    return "; ".join([first, *kept.values()])
