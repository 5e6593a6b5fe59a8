"""Endpoint names: method plus templated path (`GET /notes/{id}/`), the unit of statistics. Pure."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from ..scenario.extract import strip_origin

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


_WORD_ID = re.compile(r"^([A-Za-z][A-Za-z_-]{2,}?)(\d+)$")


def template_segment(segment: str, numbered: frozenset[str] = frozenset()) -> str:
    """`57` → `{id}`; a word followed by digits, as some applications name objects (`issue7`),
    keeps its word (`issue{id}`) when that word is seen with other numbers too (`numbered`):
    `latin1` or `oauth2` stay as they are."""
    kind = segment_kind(segment)
    if kind:
        return "{" + kind + "}"
    m = _WORD_ID.match(segment)
    return m.group(1) + "{id}" if m and m.group(1) in numbered else segment


def template_path(path: str, numbered: frozenset[str] = frozenset()) -> str:
    return "/".join(template_segment(s, numbered) for s in path.split("/"))


def numbered_words(paths: Iterable[str]) -> frozenset[str]:
    """Words that path segments carry with more than one number (`issue7`, `issue12`)."""
    numbers: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        for segment in path.split("/"):
            m = _WORD_ID.match(segment)
            if m:
                numbers[m.group(1)].add(m.group(2))
    return frozenset(word for word, seen in numbers.items() if len(seen) > 1)


def location_shape(location: str | None) -> str | None:
    """A redirect's target as validation compares it: path without origin, ids templated."""
    if not location:
        return None
    path = strip_origin(location).split("?")[0].split("#")[0]
    # Here `issue7` is always an id: the redirect after a create points at a new one.
    return "/".join(template_segment(s, frozenset(m.group(1) for m in [_WORD_ID.match(s)] if m)) for s in path.split("/"))


def endpoint_names(requests: Iterable[tuple[str, str]], assets: Iterable[tuple[str, str]] = ()) -> dict[tuple[str, str], str]:
    """(method, path) → endpoint name. Segments that look like ids become `{id}`, `{uuid}`, ...;
    a position that varies across otherwise equal paths becomes `{param}`. Assets keep their
    paths: `/static/app.js` and `/static/site.css` are different things."""
    requests = set(requests)
    numbered = numbered_words(p for _, p in requests)
    templated = {(m, p): template_path(p, numbered) for m, p in requests}
    by_shape: dict[tuple[str, int, int, str], set[str]] = defaultdict(set)
    for (method, _), tpl in templated.items():
        segments = tpl.split("/")
        for i, segment in enumerate(segments):
            if "{" in segment:
                continue
            rest = "/".join(segments[:i] + ["*"] + segments[i + 1:])
            by_shape[(method, len(segments), i, rest)].add(segment)
    names = {}
    for (method, path), tpl in templated.items():
        segments = tpl.split("/")
        for i, segment in enumerate(segments):
            if "{" in segment or not segment:
                continue
            rest = "/".join(segments[:i] + ["*"] + segments[i + 1:])
            # A site's top-level pages are different pages, not one page with a parameter.
            if i > 1 and len(by_shape[(method, len(segments), i, rest)]) >= VARIES_AT:
                segments[i] = "{param}"
        names[(method, path)] = f"{method} {'/'.join(segments)}"
    for method, path in assets:
        names[(method, path)] = f"{method} {path}"
    return names
