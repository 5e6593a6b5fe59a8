"""Provenance: every value a response handed out, and where it sits. Pure.

One question drives both visit splitting and correlation: where did a value that a request sent
come from? A response offers values in places (a redirect's Location, a form's inputs, a link,
a meta tag, a JSON field, a header, a cookie); each offer knows how to build a rule that pulls
the same place out of a live response, and a rule is only used once it has been applied to the
recorded response and gave back exactly the recorded value.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus, urljoin

from ..scenario.extract import ANY_ORIGIN, ORIGIN, Form, apply, attributes, forms, strip_origin
from ..scenario.model import Extract
from .recorded import Recorded, looks_unique, set_cookies

# Roles, best evidence first: a value's source is the response that handed it out in a role
# that fits, not whichever response offered the same text last.
ROLES = ("created", "form", "meta", "header", "cookie", "json", "redirect", "action", "link", "text")
RANK = {role: i for i, role in enumerate(ROLES)}

_HTML = ("text/html", "application/xhtml+xml")
_META = re.compile(r"<meta\b([^>]*)>", re.IGNORECASE)
_URL_ATTR = re.compile(r"""\b(href|action|src|data-[\w-]+)\s*=\s*(["'])([^"'<>]*)\2""", re.IGNORECASE)
_TOKEN_NAME = re.compile(r"csrf|xsrf|token|nonce|authenticity", re.IGNORECASE)
WORD_DIGITS = re.compile(r"^([A-Za-z_-]*?[A-Za-z_-])(\d+)$")  # `issue7`: a word, then an id
_DIGITS = re.compile(r"^\d+$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def id_like(value: str) -> bool:
    """Digits, a UUID, a hash, a word followed by digits (`issue7`), a slug with digits."""
    return bool(_DIGITS.match(value) or _UUID.match(value) or WORD_DIGITS.match(value) or looks_unique(value))


def strong(value: str) -> bool:
    """Rare enough that two responses handing it out by chance is implausible."""
    return looks_unique(value) or bool(_UUID.match(value))


@dataclass(frozen=True)
class Offer:
    """A value one response handed out: what, in which role, under which name, and where."""

    value: str
    role: str
    key: str  # the name it had there (input name, JSON key, path word): a hint for the variable
    extract: Extract | None = None  # a structured rule (form, meta, header, json, cookie)
    span: tuple[int, int] | None = None  # its place in the body, for a text-boundary rule
    scope: str | None = None  # a form value's form: where it posts (path, no origin), which one


def offers(flow: Recorded) -> list[Offer]:
    """Every value `flow`'s response handed out, best role first within each place."""
    found: list[Offer] = []
    created = flow.method not in ("GET", "HEAD", "OPTIONS")
    location = flow.response_header("location")
    if location:
        found.extend(_url_offers(location, "created" if created else "redirect", header="Location"))
    for name, value in flow.response_headers:
        lower = name.lower()
        if lower not in ("set-cookie", "location") and _TOKEN_NAME.search(name) and value:
            found.append(Offer(value, "header", name, Extract(var="", source="header", name=name)))
    for name, value in set_cookies(flow):
        found.append(Offer(value, "cookie", name, Extract(var="", source="cookie", name=name)))
    body = flow.response_body
    if not body:
        return found
    if flow.media_type in _HTML:
        found.extend(_html_offers(body, flow.path))
    elif flow.media_type == "application/json" or flow.media_type.endswith("+json"):
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        role = "created" if created else "json"
        for path, key, value in json_scalars(doc):
            found.append(Offer(value, role if _is_id_key(key) else "json", key, Extract(var="", source="json", path=path)))
    return found


def _is_id_key(key: str) -> bool:
    lower = key.lower()
    return lower in ("id", "uuid", "pk", "key", "slug") or lower.endswith(("_id", "id"))


def _url_offers(url: str, role: str, header: str | None = None, at: int | None = None) -> Iterator[Offer]:
    """Ids in a URL's path segments (and the digits of `issue7`), and id-like values in its
    query. From a header, with a rule on that header; from a body (`at`: where `url` starts in
    it), with the exact place of each value, for a rule from the text around it."""
    m = ORIGIN.match(url)
    origin = m.end() if m else 0
    path, _, query = url[origin:].partition("?")
    segments = path.split("/")
    offset = origin
    for i, raw in enumerate(segments):
        start, offset = offset, offset + len(raw) + 1
        segment = unquote(raw)
        if not segment or not id_like(segment):
            continue
        before = "/".join(segments[:i]) + "/"
        word = next((s for s in reversed(segments[:i]) if s and not id_like(s)), "object")
        m = WORD_DIGITS.match(segment)
        if header:
            regex = "^" + ANY_ORIGIN + re.escape(before) + r"([^/?#]+)"
            yield Offer(segment, role, word, Extract(var="", source="header", name=header, regex=regex))
            if m:
                digits = "^" + ANY_ORIGIN + re.escape(before + m.group(1)) + r"(\d+)"
                yield Offer(m.group(2), role, m.group(1), Extract(var="", source="header", name=header, regex=digits))
        elif at is not None and raw == segment:
            yield Offer(segment, role, word, span=(at + start, at + start + len(raw)))
            if m:
                yield Offer(m.group(2), role, m.group(1), span=(at + start + len(m.group(1)), at + start + len(raw)))
    offset = origin + len(path) + 1
    for pair in re.split(r"(&(?:amp;)?)", query):
        start, offset = offset, offset + len(pair)
        key, sep, raw = pair.partition("=")
        value = unquote_plus(raw)
        if not sep or not id_like(value) or pair.startswith("&"):
            continue
        name = unquote_plus(key)
        if header:
            regex = "^" + ANY_ORIGIN + r"[^?#]*\?(?:[^#]*&)?" + re.escape(key) + r"=([^&#]+)"
            yield Offer(value, role, name, Extract(var="", source="header", name=header, regex=regex))
        elif at is not None and raw == value:
            begin = at + start + len(key) + 1
            yield Offer(value, role, name, span=(begin, begin + len(raw)))


def _html_offers(body: str, page: str) -> Iterator[Offer]:
    page_forms = forms(body)
    for form in page_forms:
        selector = form_selector(page_forms, form)
        # A form without an action posts to its own page.
        scope = urljoin(page, strip_origin(form.action)).split("?")[0] + " " + selector
        for field in form.fields:
            if field.value and field.type not in ("submit", "button", "checkbox", "radio", "image", "reset"):
                extract = Extract(var="", source="form", form=selector, name=field.name)
                yield Offer(field.value, "form", field.name, extract, scope=scope)
    for m in _META.finditer(body):
        attrs = attributes(m.group(1))
        name = attrs.get("name") or attrs.get("property") or ""
        if name and attrs.get("content") and _TOKEN_NAME.search(name):
            regex = rf"<meta\b(?=[^>]*\b(?:name|property)\s*=\s*[\"']?{re.escape(name)}[\"'\s>])[^>]*\bcontent\s*=\s*[\"']?([^\"'>]*)"
            yield Offer(attrs["content"], "meta", name, Extract(var="", source="body", regex=regex))
    for m in _URL_ATTR.finditer(body):
        attr = m.group(1).lower()
        role = "action" if attr == "action" else "link"
        value = m.group(3)
        if attr.startswith("data-") and "/" not in value:
            if id_like(value):
                yield Offer(value, "text", attr[5:], span=(m.start(3), m.end(3)))
            continue
        yield from _url_offers(value, role, at=m.start(3))


def form_selector(page_forms: Sequence[Form], form: Form) -> str:
    """The steadiest way to name a form on its page: its id or name, else its action (unless it
    holds an id, which a fresh server changes), else its position."""
    for key in ("id", "name"):
        value = form.attrs.get(key)
        if value and sum(f.attrs.get(key) == value for f in page_forms) == 1:
            return f"{key}={value}"
    action = strip_origin(form.action) if form.action else ""
    if action and not any(_DIGITS.search(s) for s in re.split(r"[/?&=]", action) if s and id_like(s)):
        if sum(strip_origin(f.action) == action for f in page_forms) == 1:
            return f"action={action}"
    return f"#{form.position}"


def json_scalars(doc: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str, str]]:
    """(dotted path, key, value as text) of every scalar, lists included (`notes.2.id`)."""
    if depth > 8:
        return []
    found: list[tuple[str, str, str]] = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        path = f"{prefix}{key}"
        if isinstance(value, (dict, list)):
            found.extend(json_scalars(value, path + ".", depth + 1))
        elif isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            found.append((path, str(key), str(value)))
    return found


class Index:
    """The provenance of a whole recording, kept small: which flows handed out each rare value
    (what visit splitting asks), which form and link values never vary (what correlation asks),
    and any flow's offers on demand (correlation reads those of a few visits only)."""

    def __init__(self, flows: Sequence[Recorded]) -> None:
        self.flows = {f.seq: f for f in flows}
        self.handed: dict[str, list[int]] = defaultdict(list)  # rare value → seqs, in time order
        seen: dict[tuple[str, str], str | None] = {}  # (place, name) → its one value, None once it varied
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for flow in sorted(flows, key=lambda f: (f.started, f.seq)):
            for offer in offers(flow):
                if offer.role != "cookie" and strong(offer.value):
                    handed = self.handed[offer.value]
                    if not handed or handed[-1] != flow.seq:
                        handed.append(flow.seq)
                if offer.role in ("form", "link", "action"):
                    where = (place(offer), offer.key)
                    counts[where] += 1
                    seen[where] = offer.value if seen.get(where, offer.value) == offer.value else None
        # A value offered identically in one place at least twice is part of the page.
        self.constants = frozenset((*where, v) for where, v in seen.items() if v is not None and counts[where] >= 2)
        self._offers: dict[int, list[Offer]] = {}

    def offers(self, seq: int) -> list[Offer]:
        found = self._offers.get(seq)
        if found is None:
            flow = self.flows.get(seq)
            found = self._offers[seq] = offers(flow) if flow is not None else []
        return found


def place(offer: Offer) -> str:
    """Where an offer sits, for telling constants: its form (action and selector), or links."""
    return offer.scope or offer.role


# -- rules -------------------------------------------------------------------------------------


def rule(offer: Offer, flow: Recorded, origins: Sequence[str]) -> Extract | None:
    """A rule that yields `offer.value` from `flow`'s recorded response, or None when none does."""
    extract = offer.extract
    if extract is None and offer.span is not None:
        extract = boundary_rule(flow.response_body or "", offer.value, offer.span, origins)
    if extract is None or extract.source == "cookie":
        return extract
    headers: dict[str, str | list[str]] = {}
    for name, value in flow.response_headers:
        headers[name.lower()] = value
    if apply(extract, headers, lambda: flow.response_body or "", lambda _: None) != offer.value:
        return None
    return extract


def boundary_rule(body: str, value: str, within: tuple[int, int], origins: Sequence[str]) -> Extract | None:
    """A body regex from the text around `value` (first found inside `within`): the text before
    it back to a tag or attribute boundary, the character after it, and which match it is.
    The recorded origins in that text match any origin."""
    start = body.find(value, within[0], within[1])
    if start < 0:
        return None
    end = start + len(value)
    left = body[max(0, start - 40):start]
    cut = max((i for i, c in enumerate(left) if c in " \t\r\n<>,;{" and len(left) - i > 4), default=-1)
    left = left[cut + 1:]
    pattern = re.escape(left)
    for origin in sorted(origins, key=len, reverse=True):
        pattern = pattern.replace(re.escape(origin), ANY_ORIGIN)
    after = body[end:end + 1]
    # The value's shape bounds the capture: an id is digits; nothing spans a tag or a quote.
    capture = r"(\d+)" if value.isdigit() else r"([^\"'<>\s]+?)" if after else r"([^\"'<>\s]+)$"
    regex = pattern + capture + re.escape(after)
    try:
        spans = [m.span(1) for m in re.finditer(regex, body)]
    except re.error:
        return None
    if (start, end) not in spans:
        return None
    return Extract(var="", source="body", regex=regex, index=spans.index((start, end)))


def text_offer(flow: Recorded, value: str) -> Offer | None:
    """The fallback: `value` anywhere in the response body, found by its surrounding text."""
    body = flow.response_body or ""
    start = body.find(value)
    if start < 0:
        return None
    return Offer(value, "text", "value", span=(start, start + len(value)))


def varying(recorded: Recorded, live_headers: Mapping[str, str | list[str]], live_body: str, origins: Sequence[str]) -> set[str]:
    """The values of `recorded`'s response that the same place of a live answer to the same
    request holds differently: evidence, from a validation replay, that they vary."""
    found = set()
    for offer in offers(recorded):
        extract = rule(offer, recorded, origins)
        if extract is None or extract.source == "cookie":
            continue
        live = apply(extract, live_headers, lambda: live_body, lambda _: None)
        if live is not None and live != offer.value:
            found.add(offer.value)
    return found


# -- what requests sent ------------------------------------------------------------------------


def sent_values(flow: Recorded) -> Iterator[str]:
    """Every value a request sent back: path segments (and the digits of `issue7`), query and
    form values, JSON scalars, and the values of non-standard headers."""
    for raw in flow.path.split("/"):
        if raw:
            yield unquote(raw)
    for _, value in parse_qsl(flow.query, keep_blank_values=False):
        yield value
    body = flow.request_body
    if body:
        ctype = (flow.header("content-type") or "").split(";")[0].strip().lower()
        if ctype == "application/x-www-form-urlencoded":
            for part in body.split("&"):
                yield unquote_plus(part.partition("=")[2])
        elif ctype == "application/json" or ctype.endswith("+json"):
            try:
                yield from (v for _, _, v in json_scalars(json.loads(body)))
            except ValueError:
                pass
    for name, value in flow.request_headers:
        if name.lower().startswith("x-"):
            yield value

