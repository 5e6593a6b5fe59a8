"""Correlation: values the server handed out and a later request sent back. Pure.

Walking a session's page steps in order, each response offers candidates (hidden form inputs,
CSRF meta tags, a redirect's Location, ids in a JSON body, token headers); each later request is
searched for them, position by position (path segments, query and form values, JSON values,
headers). A match becomes an extraction on the step that produced the value and a placeholder in
the request. Cookies are never replayed: each virtual user has its own jar, and a header that
echoes a cookie (Django's X-CSRFToken) reads the jar. Cache-busting timestamps are regenerated,
secrets become variables, and dynamic-looking values that cannot be traced are reported.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from ..masking import is_secret_key
from ..scenario.model import CONNECTION_HEADERS, Extract, Request, Resource, Step, Substitution
from ..scenario.template import escape, placeholder
from .names import segment_kind
from .pages import Page
from .recorded import Recorded
from .sessions import looks_unique, request_cookies

# Headers the client or the virtual user's own state provides (cookies come from its jar; a
# fresh visitor has no cached copy to revalidate).
DROPPED_HEADERS = CONNECTION_HEADERS | {"cookie", "proxy-authorization", "if-none-match", "if-modified-since"}
_PASSWORD = re.compile(r"pass(word|wd|phrase)?$|^pwd$|^pin$", re.IGNORECASE)
_USERNAME = re.compile(r"^(user(name)?|login|email|e-mail|account)$", re.IGNORECASE)
_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_META = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_TOKEN_HEADER = re.compile(r"csrf|xsrf|token", re.IGNORECASE)


@dataclass
class Candidate:
    step: int
    extract: Extract  # its var is only a suggestion until the value is used
    kind: str


@dataclass
class Correlated:
    """One session's page steps as replayable steps, and what convert found on the way."""

    steps: list[Step]
    kinds: Counter[str] = field(default_factory=Counter)
    literals: list[str] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # variable → recorded value
    defaults: dict[str, str] = field(default_factory=dict)  # non-secret per-user values


def correlate(pages: Sequence[Page], names: dict[tuple[str, str], str]) -> Correlated:
    return _Correlator(pages, names).run()


class _Correlator:
    def __init__(self, pages: Sequence[Page], names: dict[tuple[str, str], str]) -> None:
        self.pages = pages
        self.names = names
        self.candidates: dict[str, Candidate] = {}
        self.assigned: dict[tuple[int, str], str] = {}  # (step, extraction spec) → var
        self.used_vars: set[str] = set()
        self.result = Correlated(steps=[])

    def run(self) -> Correlated:
        for index, page in enumerate(self.pages):
            self.result.steps.append(self._step(index, page))
            self._harvest(index, page.main)
        return self.result

    # -- requests ----------------------------------------------------------------------------

    def _step(self, index: int, page: Page) -> Step:
        flow = page.main
        self.subs: list[Substitution] = []
        self.cookies = dict(request_cookies(flow))
        name = self.names.get((flow.method, flow.path), f"{flow.method} {flow.path}")
        self.where = name
        path = "/".join(self._slot(unquote_plus(s), s, "path", None) for s in flow.path.split("/"))
        query = self._pairs(flow.query, "query", flow) if flow.query else ""
        url = escape(flow.origin) + path + (f"?{query}" if query else "")
        headers = [(k, self._header(k, v)) for k, v in flow.request_headers if k.lower() not in DROPPED_HEADERS]
        body = self._body(flow)
        return Step(
            name=name,
            request=Request(method=flow.method, url=url, headers=headers, body=body),
            think_time=page.think,
            think_times=[page.think],
            expect_status=flow.status,
            expect_type=flow.media_type or None,
            expect_size=flow.response_size,
            substitute=self.subs,
            resources=[
                Resource(
                    method=r.method,
                    url=escape(r.url),
                    headers=[(k, escape(v)) for k, v in r.request_headers if k.lower() not in DROPPED_HEADERS],
                    expect_status=r.status,
                )
                for r in page.resources
            ],
        )

    def _slot(
        self, value: str, raw: str, where: str, key: str | None,
        url: bool = False, started: float = 0.0, login: bool = False,
    ) -> str:
        """The template text for one value of a request: a placeholder, or the literal.
        `login`: the value sits in a form or JSON body that also carries a password."""
        if key is not None and where in ("query", "form", "json"):
            if _PASSWORD.search(key) and value:
                return self._variable("password" if key.lower() in ("password", "passwd", "pass") else _var_name(key), value, True, where, url)
            if _USERNAME.match(key) and value and login:
                return self._variable("username", value, False, where, url)
        if where == "query" and started and _is_timestamp(value, started):
            self.result.kinds["timestamp"] += 1
            self.subs.append(Substitution(var="__timestamp_ms" if len(value) == 13 else "__timestamp", where=where, kind="timestamp"))
            return placeholder(self.subs[-1].var)
        if value and value in self.candidates:
            candidate = self.candidates[value]
            var = self._use(candidate)
            self.result.kinds[candidate.kind] += 1
            self.subs.append(Substitution(var=var, where=where, kind=candidate.kind))
            return placeholder(var, url)
        cookie = next((n for n, v in self.cookies.items() if v == value and len(value) >= 8), None)
        if cookie is not None and where != "path":
            kind = "csrf" if _TOKEN_HEADER.search(cookie) else "cookie"
            self.result.kinds[kind] += 1
            self.subs.append(Substitution(var=f"cookie:{cookie}", where=where, kind=kind))
            return placeholder(f"cookie:{cookie}", url)
        if value and (looks_unique(value) and where != "path" or key is not None and is_secret_key(key)):
            self.result.literals.append(f"{self.where}: {where} {key or ''} ({len(value)} characters)".replace("  ", " "))
        return escape(raw)

    def _variable(self, var: str, value: str, secret: bool, where: str, url: bool) -> str:
        (self.result.secrets if secret else self.result.defaults)[var] = value
        kind = "secret" if secret else "user"
        self.result.kinds[kind] += 1
        self.subs.append(Substitution(var=var, where=where, kind=kind))
        return placeholder(var, url)

    def _pairs(self, raw: str, where: str, flow: Recorded) -> str:
        login = where == "form" and any(_PASSWORD.search(unquote_plus(p.partition("=")[0])) for p in raw.split("&"))
        parts = []
        for part in raw.split("&"):
            key, sep, value = part.partition("=")
            if not sep:
                parts.append(escape(part))
                continue
            parts.append(escape(key) + "=" + self._slot(unquote_plus(value), value, where, unquote_plus(key), url=True, started=flow.started, login=login))
        return "&".join(parts)

    def _header(self, name: str, value: str) -> str:
        lower = name.lower()
        if lower == "authorization":
            self.result.secrets["authorization"] = value
            self.result.kinds["secret"] += 1
            self.subs.append(Substitution(var="authorization", where="header", kind="secret"))
            return placeholder("authorization")
        if lower in ("referer", "origin"):
            # The page named here may be a created object's: follow its new id.
            return "/".join(
                self._slot(s, s, "header", None) if segment_kind(s) and s in self.candidates else escape(s)
                for s in value.split("/")
            )
        if lower.startswith(("sec-", "accept", "user-agent", "content-type", "cache-control", "pragma", "upgrade-insecure")):
            return escape(value)
        return self._slot(value, value, "header", name)

    def _body(self, flow: Recorded) -> str | None:
        body = flow.request_body
        if body is None:
            return None
        ctype = (flow.header("content-type") or "").split(";")[0].strip().lower()
        if ctype == "application/x-www-form-urlencoded":
            return self._pairs(body, "form", flow)
        if ctype == "application/json" or ctype.endswith("+json"):
            try:
                doc = json.loads(body)
            except ValueError:
                return escape(body)
            return self._json(doc, body)
        return escape(body)

    def _json(self, doc: Any, raw: str) -> str:
        marks: dict[str, str] = {}
        login = isinstance(doc, dict) and any(_PASSWORD.search(str(k)) for k in doc)

        def walk(node: Any, key: str | None) -> Any:
            if isinstance(node, dict):
                return {k: walk(v, str(k)) for k, v in node.items()}
            if isinstance(node, list):
                return [walk(v, key) for v in node]
            if isinstance(node, bool) or node is None:
                return node
            text = str(node)
            slot = self._slot(text, text, "json", key, login=login)
            if slot == escape(text):
                return node
            mark = f"\x00{len(marks)}\x00"
            # A number stays a number: its placeholder goes in unquoted.
            marks[json.dumps(mark)] = f'"{slot}"' if isinstance(node, str) else slot
            return mark

        replaced = walk(doc, None)
        if not marks:
            return escape(raw)
        text = escape(json.dumps(replaced, separators=(",", ":"), ensure_ascii=False))
        for mark, slot in marks.items():
            text = text.replace(mark, slot)
        return text

    # -- responses -----------------------------------------------------------------------------

    def _use(self, candidate: Candidate) -> str:
        spec = (candidate.step, repr(candidate.extract))
        if spec in self.assigned:
            return self.assigned[spec]
        var = candidate.extract.var
        n = 2
        while var in self.used_vars:
            var = f"{candidate.extract.var}_{n}"
            n += 1
        self.used_vars.add(var)
        self.assigned[spec] = var
        step = self.result.steps[candidate.step]
        e = candidate.extract
        step.extract.append(Extract(var=var, source=e.source, name=e.name, regex=e.regex, path=e.path, kind=candidate.kind))
        return var

    def _harvest(self, index: int, flow: Recorded) -> None:
        def offer(value: str, extract: Extract, kind: str) -> None:
            if value:
                self.candidates[value] = Candidate(step=index, extract=extract, kind=kind)

        body = flow.response_body or ""
        if body and flow.media_type in ("text/html", "application/xhtml+xml"):
            for tag in _INPUT.findall(body):
                attrs = _attrs(tag)
                if attrs.get("type", "").lower() == "hidden" and attrs.get("name") and attrs.get("value"):
                    name = attrs["name"]
                    kind = "csrf" if _TOKEN_HEADER.search(name) else "hidden"
                    offer(attrs["value"], Extract(var=_var_name(name), source="body", regex=_attr_regex("input", "name", name, "value")), kind)
            for tag in _META.findall(body):
                attrs = _attrs(tag)
                if _TOKEN_HEADER.search(attrs.get("name", "")) and attrs.get("content"):
                    offer(attrs["content"], Extract(var=_var_name(attrs["name"]), source="body", regex=_attr_regex("meta", "name", attrs["name"], "content")), "csrf")
        location = flow.response_header("location")
        if location:
            segments = location.split("?")[0].split("/")
            for i, segment in enumerate(segments):
                kind = segment_kind(segment)
                if kind:
                    before = next((s for s in reversed(segments[:i]) if s and not segment_kind(s) and "." not in s and ":" not in s), "object")
                    regex = re.escape("/".join(segments[:i]) + "/") + r"([^/?#]+)"
                    offer(segment, Extract(var=_var_name(f"{before}_{kind}"), source="header", name="Location", regex=regex), "id")
        if body and (flow.media_type == "application/json" or flow.media_type.endswith("+json")):
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
            literal = next((s for s in reversed(flow.path.split("/")) if s and not segment_kind(s)), "object")
            for path, key, value in _json_scalars(doc):
                if key.lower() in ("id", "uuid", "pk", "key", "slug") or key.lower().endswith(("_id", "id", "token")):
                    offer(str(value), Extract(var=_var_name(f"{literal}_{key}"), source="json", path=path), "id" if "token" not in key.lower() else "token")
        for name, value in flow.response_headers:
            if _TOKEN_HEADER.search(name) and name.lower() not in ("set-cookie",):
                offer(value, Extract(var=_var_name(name), source="header", name=name), "token")


def _attrs(tag: str) -> dict[str, str]:
    return {m.group(1).lower(): next(g for g in m.groups()[1:] if g is not None) for m in _ATTR.finditer(tag)}


def _attr_regex(tag: str, key: str, name: str, value_attr: str) -> str:
    """Matches the tag whatever the order of its attributes; the value is the first group."""
    return (
        rf"<{tag}\b(?=[^>]*\b{key}\s*=\s*[\"']?{re.escape(name)}[\"'\s>])[^>]*\b{value_attr}\s*=\s*[\"']?([^\"'\s>]*)"
    )


def _json_scalars(doc: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str, Any]]:
    """(dotted path, key, value) of scalars in objects, not inside lists: a list's n-th element
    is a different object on a fresh server."""
    if not isinstance(doc, dict) or depth > 4:
        return []
    found = []
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            found.extend(_json_scalars(value, path + ".", depth + 1))
        elif isinstance(value, (str, int)) and not isinstance(value, bool):
            found.append((path, str(key), value))
    return found


def _var_name(text: str) -> str:
    name = re.sub(r"\W+", "_", text).strip("_").lower() or "value"
    return name if not name[0].isdigit() else f"v_{name}"


def _is_timestamp(value: str, started: float) -> bool:
    if not value.isdigit() or len(value) not in (10, 13):
        return False
    seconds = int(value) / (1000 if len(value) == 13 else 1)
    return abs(seconds - started) < 86400
