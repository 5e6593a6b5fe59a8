"""A virtual user's cookie jar: what the server set, sent back to the same host. Pure."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime


class CookieJar:
    __slots__ = ("_by_host",)

    def __init__(self) -> None:
        self._by_host: dict[str, dict[str, str]] = {}

    def update(self, host: str, set_cookie: str | list[str] | None) -> None:
        if not set_cookie:
            return
        jar = self._by_host.setdefault(host, {})
        for header in set_cookie if isinstance(set_cookie, list) else [set_cookie]:
            name, value, expired = _parse(header)
            if not name:
                continue
            if expired:
                jar.pop(name, None)
            else:
                jar[name] = value

    def header(self, host: str) -> str | None:
        jar = self._by_host.get(host)
        if not jar:
            return None
        return "; ".join(f"{k}={v}" for k, v in jar.items())

    def get(self, name: str) -> str | None:
        for jar in self._by_host.values():
            if name in jar:
                return jar[name]
        return None


def _parse(header: str) -> tuple[str, str, bool]:
    first, *attributes = header.split(";")
    name, _, value = first.strip().partition("=")
    expired = False
    for attribute in attributes:
        key, _, val = attribute.strip().partition("=")
        key = key.lower()
        if key == "max-age":
            try:
                expired = int(val) <= 0
            except ValueError:
                pass
        elif key == "expires":
            try:
                expired = parsedate_to_datetime(val).timestamp() < time.time()
            except (TypeError, ValueError):
                pass
    return name.strip(), value.strip().strip('"'), expired
