"""Correlation: values the server handed out and a later request sent back. Pure.

Walking a visit's page steps in order, every value a request sends (path segments, query, form
and JSON values, headers) is looked up in the provenance index of the responses before it: the
place it was handed out gives the rule that pulls it from the live response, and the request
gets a placeholder. Which offer counts is decided by what the value is:
- a rare value (a token, a nonce) comes from the latest response that carried it: one-time
  tokens are taken fresh for every use;
- a short value (an id of 7) comes only from a role that fits (the redirect to a created object,
  the link or form action the request followed, the id field of a JSON object) and, for links,
  from a place whose name matches the request's (`/notes/57/` for `/notes/{id}/edit/`);
- a value a form offers identically wherever it appears is a constant and stays literal.
Credentials are found by what the recorded form says (its `type="password"` input and the text
input beside it), not by field names; cookies are never replayed (each virtual user has its own
jar, and a header that echoes a cookie reads the jar). Cache-busting timestamps are regenerated.
Values that look dynamic but that no response handed out are reported as left literal.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin

from ..masking import is_secret_key
from ..record.capture import charset as charset_of
from ..scenario.extract import ANY_ORIGIN, Form, forms, strip_origin
from ..scenario.model import CONNECTION_HEADERS, Extract, Request, Resource, Step, Substitution
from ..scenario.template import escape, placeholder
from .bodies import parse, urlencoded
from .names import location_shape
from .pages import Page
from .provenance import RANK, WORD_DIGITS, Index, Offer, id_like, place, rule, strong, text_offer
from .recorded import Recorded, request_cookies

# Headers the client or the virtual user's own state provides (cookies come from its jar; a
# fresh visitor has no cached copy to revalidate).
DROPPED_HEADERS = CONNECTION_HEADERS | {"cookie", "proxy-authorization", "if-none-match", "if-modified-since"}
_PASSWORD = re.compile(r"pass(word|wd|phrase)?$|^pwd$|^pin$", re.IGNORECASE)
_USERNAME = re.compile(r"^(user(name)?|login|email|e-mail|account)$", re.IGNORECASE)
_TOKEN_HEADER = re.compile(r"csrf|xsrf|token", re.IGNORECASE)
_JWT = re.compile(r"^eyJ[\w-]+\.[\w-]+\.[\w-]*$")
_TEXT_INPUTS = ("text", "email", "tel", "")
# Roles that may vouch for a short id (a form value is judged by its form instead).
_ID_ROLES = ("created", "redirect", "action", "link", "json")


@dataclass
class Correlated:
    """One session's page steps as replayable steps, and what convert found on the way."""

    steps: list[Step]
    kinds: Counter[str] = field(default_factory=Counter)
    literals: list[str] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # variable → recorded value
    defaults: dict[str, str] = field(default_factory=dict)  # non-secret per-user values


@dataclass(frozen=True)
class Evidence:
    """What the whole recording says, beyond one visit."""

    index: Index
    origins: Sequence[str] = ()
    varies: frozenset[str] = frozenset()  # values a validation replay saw change


def correlate(pages: Sequence[Page], names: dict[tuple[str, str], str], evidence: Evidence | None = None) -> Correlated:
    return _Correlator(pages, names, evidence or Evidence(index=Index([p.main for p in pages]))).run()


@dataclass(frozen=True)
class _Seen:
    step: int
    offer: Offer


class _Correlator:
    def __init__(self, pages: Sequence[Page], names: dict[tuple[str, str], str], evidence: Evidence) -> None:
        self.pages = pages
        self.names = names
        self.evidence = evidence
        self.seen: dict[str, list[_Seen]] = defaultdict(list)  # value → where earlier responses offered it
        self.forms: list[tuple[int, Recorded, list[Form]]] = []  # earlier HTML pages' forms
        self.assigned: dict[tuple[int, str], str] = {}  # (step, rule) → var
        self.used_vars: set[str] = set()
        self.result = Correlated(steps=[])

    def run(self) -> Correlated:
        for index, page in enumerate(self.pages):
            self.result.steps.append(self._step(index, page))
            self._harvest(index, page.main)
        return self.result

    def _harvest(self, index: int, flow: Recorded) -> None:
        for offer in self.evidence.index.offers(flow.seq):
            self.seen[offer.value].append(_Seen(index, offer))
        if flow.response_body and flow.media_type in ("text/html", "application/xhtml+xml"):
            found = forms(flow.response_body)
            if found:
                self.forms.append((index, flow, found))

    # -- requests ----------------------------------------------------------------------------

    def _step(self, index: int, page: Page) -> Step:
        flow = page.main
        self.subs: list[Substitution] = []
        self.cookies = dict(request_cookies(flow))
        self.where = self.names.get((flow.method, flow.path), f"{flow.method} {flow.path}")
        self.flow = flow
        referer = (flow.header("referer") or "").split("#")[0]
        self.came_from = next((k for k in range(index - 1, -1, -1) if self.pages[k].main.url == referer), None)
        followed = self._redirect(index, flow)
        if followed is not None:
            url = escape(flow.origin) + followed
        else:
            segments = flow.path.split("/")
            path = "/".join(self._segment(segments, i) for i in range(len(segments)))
            query = self._query(flow.query) if flow.query else ""
            url = escape(flow.origin) + path + (f"?{query}" if query else "")
        headers = [(k, self._header(k, v)) for k, v in flow.request_headers if k.lower() not in DROPPED_HEADERS]
        return Step(
            name=self.where,
            request=self._request(flow, url, headers),
            think_time=page.think,
            think_times=[page.think],
            expect_status=flow.status,
            expect_type=flow.media_type or None,
            expect_size=flow.response_size,
            expect_location=location_shape(flow.response_header("location")),
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

    def _redirect(self, index: int, flow: Recorded) -> str | None:
        """A browser follows the redirect it got: a request for exactly where the previous
        step's answer pointed takes its whole path and query from the live `Location`."""
        if index == 0 or flow.method != "GET":
            return None
        previous = self.pages[index - 1].main
        location = previous.response_header("location")
        if not location or not 300 <= (previous.status or 0) < 400:
            return None
        target = urljoin(previous.path, strip_origin(location)).split("#")[0]
        if not target.startswith("/") or target != flow.path + (f"?{flow.query}" if flow.query else ""):
            return None
        extract = Extract(var="", source="header", name="Location", regex="^" + ANY_ORIGIN + "/([^#]*)")
        offer = Offer(target[1:], "followed", "location", extract)
        if rule(offer, previous, self.evidence.origins) is None:
            return None
        var = self._use(index - 1, offer, extract, "redirect")
        self.result.kinds["redirect"] += 1
        self.subs.append(Substitution(var=var, where="path", kind="redirect"))
        return "/" + placeholder(var)

    def _segment(self, segments: list[str], i: int) -> str:
        """A path segment: all of it correlated (`issue7`, `57`), or its digits (`issue{id}`)."""
        raw = segments[i]
        if not raw:
            return ""
        key = next((unquote(s) for s in reversed(segments[:i]) if s and not id_like(unquote(s))), None)
        whole = self._traced(unquote(raw), "path", key, url=False)
        if whole is not None:
            return whole
        m = WORD_DIGITS.match(raw)
        if m:
            digits = self._traced(m.group(2), "path", m.group(1), url=False)
            if digits is not None:
                return escape(m.group(1)) + digits
        return escape(raw)

    def _query(self, query: str) -> str:
        parsed = urlencoded(query)
        return parsed.rebuild([self._slot(f.value, f.raw, "query", f.key, url=True) for f in parsed.fields])

    def _slot(self, value: str, raw: str, where: str, key: str | None, url: bool = False, role: str | None = None) -> str:
        """The template text for one value of a request: a placeholder, or the literal."""
        if value and role is not None:
            return self._variable(role, value, role.startswith("password"), where, url)
        if value and key is not None and where in ("query", "form", "json", "multipart") and _PASSWORD.search(key):
            return self._variable("password" if key.lower() in ("password", "passwd", "pass") else _var_name(key), value, True, where, url)
        if where == "query" and _is_timestamp(value, self.flow.started):
            var = "__timestamp_ms" if len(value) == 13 else "__timestamp"
            self.result.kinds["timestamp"] += 1
            self.subs.append(Substitution(var=var, where=where, kind="timestamp"))
            return placeholder(var)
        traced = self._traced(value, where, key, url)
        if traced is not None:
            return traced
        if value and value == self.result.defaults.get("username") and where in ("query", "form", "json", "multipart"):
            # The person who logged in, named again (a nosy list, an assignee): the virtual user.
            return self._variable("username", value, False, where, url)
        cookie = next((n for n, v in self.cookies.items() if v == value and len(value) >= 8), None)
        if cookie is not None and where != "path":
            kind = "csrf" if _TOKEN_HEADER.search(cookie) else "cookie"
            self.result.kinds[kind] += 1
            self.subs.append(Substitution(var=f"cookie:{cookie}", where=where, kind=kind))
            return placeholder(f"cookie:{cookie}", url)
        if value and key is not None and (is_secret_key(key) or _JWT.match(value)):
            # A credential no response handed out (an API key, a client secret): never in a file.
            self.result.literals.append(f"{self.where}: {where} {key} ({len(value)} characters): handed out by no response, made the secret variable {_var_name(key)!r}")
            return self._variable(_var_name(key), value, True, where, url)
        if value and strong(value) and where != "path":
            self.result.literals.append(f"{self.where}: {where} {key or ''} ({len(value)} characters): handed out by no earlier response of the visit".replace("  ", " "))
        return escape(raw)

    def _traced(self, value: str, where: str, key: str | None, url: bool) -> str | None:
        """A placeholder for `value` if an earlier response handed it out in a fitting place."""
        if not value:
            return None
        chosen = self._source(value, key)
        if chosen is None:
            return None
        step, offer, extract = chosen
        if offer.role == "cookie":
            var = f"cookie:{offer.key}"
            kind = "csrf" if _TOKEN_HEADER.search(offer.key) else "cookie"
        else:
            kind = _kind(offer, value)
            var = self._use(step, offer, extract, kind)
        self.result.kinds[kind] += 1
        self.subs.append(Substitution(var=var, where=where, kind=kind))
        return placeholder(var, url)

    def _source(self, value: str, key: str | None) -> tuple[int, Offer, Extract] | None:
        rare = strong(value)
        seen = [s for s in self.seen.get(value, ()) if self._fits(s.offer, value, key, rare, self.pages[s.step].main)]
        if not seen and rare:
            # Anywhere in a response, found by the text around it (a script's variable).
            for step in range(len(self.result.steps) - 1, -1, -1):
                offer = text_offer(self.pages[step].main, value)
                if offer is not None:
                    seen = [_Seen(step, offer)]
                    break
        # Rare values: the latest response (one-time tokens), and in it the form this request
        # posts. Short values: a created object's redirect, then the page the request came from
        # (the link followed), then the best role (never a count that happens to match).
        path = self.flow.path

        def order(s: _Seen) -> tuple[int, ...]:
            offer = s.offer
            if rare:
                return (-s.step, offer.scope != path, RANK[offer.role])
            followed = s.step == self.came_from and offer.role in ("link", "action", "form")
            return (offer.role != "created", not followed, RANK[offer.role], -s.step)

        for s in sorted(seen, key=order):
            if s.offer.role == "cookie":
                return s.step, s.offer, Extract(var="", source="cookie", name=s.offer.key)
            extract = rule(s.offer, self.pages[s.step].main, self.evidence.origins)
            if extract is not None:
                return s.step, s.offer, extract
        return None

    def _fits(self, offer: Offer, value: str, key: str | None, rare: bool, origin: Recorded) -> bool:
        if value in self.evidence.varies and offer.role != "text":
            # Seen to change on a live replay: whatever its shape, the server hands it out.
            return offer.role not in ("form", "link", "action", "redirect") or key == offer.key
        if (place(offer), offer.key, value) in self.evidence.index.constants:
            return False
        if rare:
            return True
        if offer.role == "form":
            # What a form holds, posted back under its own name to where the form posts: what
            # the browser sends is what the live form holds (an edit-collision timestamp, a
            # prefilled field). Never another form's input of that name, nor a link's query.
            return key == offer.key and (offer.scope or "").split(" ")[0] == self.flow.path
        if offer.role not in _ID_ROLES or not id_like(value):
            return False
        if offer.role == "created":
            # The new object's id, sent where that kind of object is named (`/notes/57/`,
            # `issue=7`, `note_id`), never as a priority that happens to be 3.
            return key is None or _same_thing(key, offer.key) or (offer.key.lower() in ("id", "pk", "uuid") and _same_thing(key, _word(origin)))
        if offer.role in ("link", "action", "redirect"):
            # `/notes/57/` vouches for `/notes/57/edit/`, not for a page number of 57.
            return key is not None and key == offer.key
        if offer.role == "json":
            # The id of a listed object, for a request about that kind of object (`items.1.id`
            # for `/items/{id}/`), never a status id that happens to equal a priority.
            path = offer.extract.path if offer.extract is not None and offer.extract.path else ""
            return key is not None and any(_same_thing(key, name) for name in (offer.key, *path.split(".")))
        return True

    def _variable(self, var: str, value: str, secret: bool, where: str, url: bool) -> str:
        """A value the run provides; one name per value (an API key in the query and another in
        the body are two variables)."""
        store = self.result.secrets if secret else self.result.defaults
        name, n = var, 2
        while store.get(name, value) != value:
            name, n = f"{var}_{n}", n + 1
        store[name] = value
        var = name
        kind = "secret" if secret else "user"
        self.result.kinds[kind] += 1
        self.subs.append(Substitution(var=var, where=where, kind=kind))
        return placeholder(var, url)

    def _header(self, name: str, value: str) -> str:
        lower = name.lower()
        if lower == "authorization":
            scheme, sep, credential = value.partition(" ")
            traced = self._traced(credential, "header", None, False) if sep else None
            if traced is not None:
                return escape(scheme) + " " + traced
            return self._variable("authorization", value, True, "header", False)
        if lower in ("referer", "origin"):
            # The page named here may be a created object's: follow its new id.
            segments = value.split("/")
            return "/".join(self._segment(segments, i) if i >= 3 else escape(s) for i, s in enumerate(segments))
        if lower.startswith(("sec-", "accept", "user-agent", "content-type", "cache-control", "pragma", "upgrade-insecure")):
            return escape(value)
        return self._slot(value, value, "header", name)

    def _request(self, flow: Recorded, url: str, headers: list[tuple[str, str]]) -> Request:
        """The request with its body: a template of the recorded text, or the exact recorded
        bytes when it is binary or nothing in it was correlated, never something else."""
        request = Request(method=flow.method, url=url, headers=headers)
        ctype = flow.header("content-type") or ""
        if flow.request_body is None and flow.request_raw is not None and ctype.lower().startswith("multipart/form-data"):
            # An upload with a binary file: its fields are still correlated, and Latin-1 maps
            # every byte to one character and back, so the file parts stay byte for byte.
            text = flow.request_raw.decode("latin-1")
            template = self._fields(text, ctype)
            if template != escape(text):
                request.body, request.charset = template, "latin-1"
                return request
        if flow.request_body is None:
            if flow.request_raw is not None:
                request.body_raw = flow.request_raw
            elif flow.request_size:
                request.unrecorded = flow.request_size
                self.result.literals.append(f"{self.where}: a {flow.request_size}-byte body the recorder did not keep (over its cap): play will not send it")
            return request
        template = self._fields(flow.request_body, ctype)
        if flow.request_raw is not None and template == escape(flow.request_body):
            request.body_raw = flow.request_raw
            return request
        request.body = template
        if flow.request_raw is not None:
            charset = charset_of(flow.header("content-type")).lower()
            request.charset = None if charset == "utf-8" else charset
            coding = (flow.header("content-encoding") or "").strip().lower()
            request.coding = coding if coding not in ("", "identity") else None
        return request

    def _fields(self, body: str, content_type: str) -> str:
        """A body's template: each field traced, the rest as recorded (convert/bodies.py)."""
        parsed = parse(body, content_type)
        if parsed is None:
            media = content_type.split(";")[0].strip().lower()
            if media in ("application/x-www-form-urlencoded", "multipart/form-data", "application/json") or media.endswith("+json"):
                self.result.literals.append(f"{self.where}: a {media} body that does not parse, replayed as recorded")
            return escape(body)
        names = [f.key for f in parsed.fields]
        roles = self._credentials(self.flow, names) if parsed.kind != "json" else _json_login(names)
        return parsed.rebuild([self._slot(f.value, f.raw, parsed.kind, f.key, url=f.url, role=roles.get(f.key)) for f in parsed.fields])

    def _credentials(self, flow: Recorded, names: list[str]) -> dict[str, str]:
        """Field name → `username` / `password` for a post of a recorded login form: the form
        with a `type="password"` input whose action is this request's path and whose fields
        were posted. Its text input is the user, never a submit button or a hidden input."""
        posted = set(names)
        for _, page, page_forms in reversed(self.forms):
            for form in page_forms:
                action = urljoin(page.path, strip_origin(form.action)).split("?")[0]
                if action != flow.path or not posted >= {f.name for f in form.fields if f.type == "password"}:
                    continue
                passwords = [f.name for f in form.fields if f.type == "password" and f.name in posted]
                if not passwords:
                    continue
                roles = {name: "password" if n == 0 else f"password_{n + 1}" for n, name in enumerate(passwords)}
                user = next((f.name for f in form.fields if f.tag == "input" and f.type in _TEXT_INPUTS and f.name in posted), None)
                if user is not None:
                    roles[user] = "username"
                return roles
        if any(_PASSWORD.search(name) for name in posted):
            user = next((name for name in posted if _USERNAME.match(name)), None)
            return {user: "username"} if user else {}
        return {}

    # -- responses -----------------------------------------------------------------------------

    def _use(self, step: int, offer: Offer, extract: Extract, kind: str) -> str:
        """The variable that the extraction of `extract` at `step` fills (added once)."""
        spec = (step, repr((extract.source, extract.name, extract.regex, extract.path, extract.index, extract.form)))
        if spec in self.assigned:
            return self.assigned[spec]
        base = _var_name(_hint(offer, self.pages[step].main))
        var, n = base, 2
        while var in self.used_vars:
            var = f"{base}_{n}"
            n += 1
        self.used_vars.add(var)
        self.assigned[spec] = var
        self.result.steps[step].extract.append(Extract(
            var=var, source=extract.source, name=extract.name, regex=extract.regex, path=extract.path,
            kind=kind, index=extract.index, form=extract.form,
        ))
        return var


def _same_thing(a: str, b: str) -> bool:
    """`issue`, `issues`, `issue_id`, `issueId` and `@issue` name the same kind of object."""
    def norm(name: str) -> str:
        name = re.sub(r"[^a-z0-9]", "", name.lower())
        name = re.sub(r"(id|pk)$", "", name) or name
        return name[:-1] if name.endswith("s") else name
    return norm(a) == norm(b)


def _word(flow: Recorded) -> str:
    """What a request's path names: `notes` for `POST /api/notes/`."""
    return next((s for s in reversed(flow.path.split("/")) if s and not id_like(s)), "object")


def _json_login(names: list[str]) -> dict[str, str]:
    """A JSON body that carries a password is a login: its user field is the user."""
    if not any(_PASSWORD.search(name) for name in names):
        return {}
    return {name: "username" for name in names if _USERNAME.match(name)}


def _hint(offer: Offer, flow: Recorded) -> str:
    """A variable's name: `notes_id` for the id in `/notes/57/` or in the JSON answer of
    `POST /api/notes/`, the input's name for a form value."""
    if offer.role == "followed":
        return "location"
    word = WORD_DIGITS.match(offer.value)
    if word:  # `issue7`: an issue's id
        return f"{word.group(1).rstrip('_-')}_id"
    if offer.role in ("created", "redirect", "link", "action") and offer.extract is not None and offer.extract.source == "header":
        return f"{offer.key}_id"
    if offer.extract is not None and offer.extract.source == "json":
        return f"{_word(flow)}_{offer.key}"
    if offer.role in ("link", "action"):
        return f"{offer.key}_id"
    return offer.key


def _kind(offer: Offer, value: str) -> str:
    if _TOKEN_HEADER.search(offer.key) or offer.role == "meta":
        return "csrf" if re.search("csrf|xsrf|authenticity", offer.key, re.IGNORECASE) else "token"
    if offer.role in ("created", "redirect", "link", "action") or (offer.role == "json" and not strong(value)):
        return "id"
    if offer.role == "form":
        return "hidden"
    return "token" if strong(value) else "value"


def _var_name(text: str) -> str:
    name = re.sub(r"\W+", "_", text).strip("_").lower() or "value"
    return name if not name[0].isdigit() else f"v_{name}"


def _is_timestamp(value: str, started: float) -> bool:
    if not value.isdigit() or len(value) not in (10, 13):
        return False
    seconds = int(value) / (1000 if len(value) == 13 else 1)
    return abs(seconds - started) < 86400
