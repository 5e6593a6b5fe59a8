"""The convert → play contract: a scenario set as plain dataclasses.

Requests are templates: `${name}` stands for a variable, `${name:url}` for its URL-encoded value,
`$${` for a literal `${`. Variables come from extractions (values the live server hands out),
from the run (`--data users.csv`, `--var`), or are built in (`__timestamp_ms`, `__uuid`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ExtractSource = Literal["body", "header", "json", "cookie", "form"]

# Headers about the connection, not the request: the replaying client writes them itself, so a
# scenario never carries them (convert leaves them out, play ignores them in a hand-edited file).
CONNECTION_HEADERS = frozenset((
    "host", "content-length", "transfer-encoding", "connection", "proxy-connection", "keep-alive", "te", "upgrade",
))


@dataclass
class Extract:
    """Pull a value out of a live response into a variable."""

    var: str
    source: ExtractSource
    # body: a regex whose first group is the value; header: the header name (+ optional regex);
    # json: a dotted path (`id`, `notes.0.id`); cookie: the cookie's name; form: the input's name
    # in the form `form` selects (`id=X`, `name=X`, `action=/path`, `#N`).
    name: str | None = None
    regex: str | None = None
    path: str | None = None
    kind: str = "value"  # what it is, for the convert summary: csrf, id, token, ...
    index: int = 0  # which match of `regex` (0 the first, -1 the last)
    form: str | None = None


@dataclass
class Substitution:
    """Where a variable goes in a request (the template holds the placeholder; this says why)."""

    var: str
    where: str  # path, query, form, json, header
    kind: str = "value"


@dataclass
class Request:
    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None  # a template
    # Bytes sent exactly as recorded (a binary body, or one nothing in it was correlated in).
    body_raw: bytes | None = None
    charset: str | None = None  # how the rendered body is encoded, when not UTF-8
    coding: str | None = None  # a content coding to apply after rendering (gzip, deflate, br)
    # The size of a body the recorder did not keep: play refuses to send something else.
    unrecorded: int | None = None


@dataclass
class Resource:
    """A sub-resource the browser fetched for a page (CSS, JS, images, fonts)."""

    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    expect_status: int | None = None


@dataclass
class Step:
    name: str  # the endpoint name: method + templated path
    request: Request
    think_time: float = 0.0  # seconds before this step: the median of what was observed
    think_times: list[float] = field(default_factory=list)  # every observation, for sampling
    expect_status: int | None = None
    expect_type: str | None = None
    expect_size: int | None = None
    expect_location: str | None = None  # a redirect's target, origin-free, ids templated
    extract: list[Extract] = field(default_factory=list)
    substitute: list[Substitution] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)


@dataclass
class Scenario:
    name: str
    weight: int
    steps: list[Step]
    sessions: int = 1  # how many recorded sessions it stands for


@dataclass
class Variable:
    """A value a scenario needs that is not handed out by the server: a user's login, a secret."""

    name: str
    secret: bool = False
    default: str | None = None  # never set for a secret in a file


@dataclass
class ScenarioSet:
    name: str
    scenarios: list[Scenario]
    variables: list[Variable] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)  # scheme://host:port the recording spoke to
    recording: str | None = None

    def scenario(self, name: str) -> Scenario:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(name)
