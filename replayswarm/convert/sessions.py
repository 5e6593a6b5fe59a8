"""Split a recording into the visits of separate people. Pure.

Signals, strongest first: a cookie value that identifies one browser (set by the server or sent
by the client, and unique-looking) ties every flow that carries it together; so does a client
connection (one connection belongs to one browser). Different User-Agents are never merged. A
connection with no such cookie joins the visit whose page it names in its Referer. Finally, a
long idle gap splits a visit in two.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from .recorded import Recorded, same_url

DEFAULT_GAP = 30 * 60.0

_UNIQUE = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[\w\-.%+/=:]{12,}$|^[0-9a-f]{16,}$", re.IGNORECASE)


def looks_unique(value: str) -> bool:
    """A value that names one browser: long and mixed, like a session id or a CSRF secret."""
    return bool(_UNIQUE.match(value))


def request_cookies(flow: Recorded) -> list[tuple[str, str]]:
    pairs = []
    for name, value in flow.request_headers:
        if name.lower() == "cookie":
            for part in value.split(";"):
                key, sep, val = part.strip().partition("=")
                if sep:
                    pairs.append((key, val))
    return pairs


def set_cookies(flow: Recorded) -> list[tuple[str, str]]:
    pairs = []
    for value in flow.response_headers_named("set-cookie"):
        key, sep, val = value.split(";", 1)[0].strip().partition("=")
        if sep and val and val != '""':
            pairs.append((key, val))
    return pairs


class _Groups:
    """Union-find that refuses to merge flows of different User-Agents."""

    def __init__(self, flows: Sequence[Recorded]) -> None:
        self.parent = list(range(len(flows)))
        self.agents: list[set[str]] = [{ua} if (ua := f.header("user-agent")) else set() for f in flows]

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.agents[ra] and self.agents[rb] and not (self.agents[ra] & self.agents[rb]):
            return
        self.parent[rb] = ra
        self.agents[ra] |= self.agents[rb]

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for i in range(len(self.parent)):
            out[self.find(i)].append(i)
        return list(out.values())


def split_sessions(flows: Sequence[Recorded], gap: float = DEFAULT_GAP) -> list[list[Recorded]]:
    ordered = sorted(flows, key=lambda f: (f.started, f.seq))
    groups = _Groups(ordered)
    first_with: dict[object, int] = {}

    def tie(key: object, index: int) -> None:
        if key in first_with:
            groups.union(first_with[key], index)
        else:
            first_with[key] = index

    identified: set[int] = set()
    for i, flow in enumerate(ordered):
        tie(("client", flow.client), i)
        for name, value in request_cookies(flow) + set_cookies(flow):
            if looks_unique(value):
                tie(("cookie", name, value), i)
                identified.add(i)
    _join_by_referer(ordered, groups, identified)

    sessions: list[list[Recorded]] = []
    for members in groups.groups():
        current: list[Recorded] = []
        last_end = None
        for i in sorted(members):
            flow = ordered[i]
            if last_end is not None and flow.started - last_end > gap:
                sessions.append(current)
                current = []
            current.append(flow)
            last_end = max(last_end or flow.ended, flow.ended)
        sessions.append(current)
    return sorted(sessions, key=lambda s: (s[0].started, s[0].seq))


def _join_by_referer(ordered: Sequence[Recorded], groups: _Groups, identified: set[int]) -> None:
    """A connection that carried no identifying cookie joins the visit that showed the page it
    names as Referer (the latest such page before it, by the same User-Agent)."""
    identified_roots = {groups.find(i) for i in identified}
    for root in {groups.find(i) for i in range(len(ordered))} - identified_roots:
        members = [i for i in range(len(ordered)) if groups.find(i) == root]
        first = ordered[members[0]]
        referer = first.header("referer")
        if not referer:
            continue
        candidates = [
            i for i in range(members[0])
            if groups.find(i) != root and same_url(ordered[i].url, referer)
            and ordered[i].header("user-agent") == first.header("user-agent")
        ]
        if candidates:
            groups.union(candidates[-1], members[0])
