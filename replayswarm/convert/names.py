"""Endpoint names: method plus templated path (`GET /notes/{id}/`), the unit of statistics. Pure."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

_ID = re.compile(r"^\d+$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_HASH = re.compile(r"^[0-9a-f]{16,}$", re.IGNORECASE)
_TOKEN = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-]{20,}$")

# A position whose values differ this often, with every other segment equal, is a parameter.
VARIES_AT = 4


def segment_kind(segment: str) -> str | None:
    if _ID.match(segment):
        return "id"
    if _UUID.match(segment):
        return "uuid"
    if _HASH.match(segment):
        return "hash"
    if _TOKEN.match(segment):
        return "token"
    return None


def template_path(path: str) -> str:
    return "/".join("{" + kind + "}" if (kind := segment_kind(s)) else s for s in path.split("/"))


def endpoint_names(requests: Iterable[tuple[str, str]], assets: Iterable[tuple[str, str]] = ()) -> dict[tuple[str, str], str]:
    """(method, path) → endpoint name. Segments that look like ids become `{id}`, `{uuid}`, ...;
    a position that varies across otherwise equal paths becomes `{param}`. Assets keep their
    paths: `/static/app.js` and `/static/site.css` are different things."""
    requests = set(requests)
    templated = {(m, p): template_path(p) for m, p in requests}
    by_shape: dict[tuple[str, int, int, str], set[str]] = defaultdict(set)
    for (method, _), tpl in templated.items():
        segments = tpl.split("/")
        for i, segment in enumerate(segments):
            if segment.startswith("{"):
                continue
            rest = "/".join(segments[:i] + ["*"] + segments[i + 1:])
            by_shape[(method, len(segments), i, rest)].add(segment)
    names = {}
    for (method, path), tpl in templated.items():
        segments = tpl.split("/")
        for i, segment in enumerate(segments):
            if segment.startswith("{") or not segment:
                continue
            rest = "/".join(segments[:i] + ["*"] + segments[i + 1:])
            if len(by_shape[(method, len(segments), i, rest)]) >= VARIES_AT:
                segments[i] = "{param}"
        names[(method, path)] = f"{method} {'/'.join(segments)}"
    for method, path in assets:
        names[(method, path)] = f"{method} {path}"
    return names
