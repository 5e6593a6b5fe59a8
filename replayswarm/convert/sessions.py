"""Split a recording into the visits of separate people, from every piece of evidence. Pure.

Evidence, strongest first:
- a client connection belongs to one browser;
- a cookie value that names one browser (long and mixed), whether the browser sent it or was
  handed it;
- value provenance: a request that sends back a rare value which one browser alone had been
  handed (a form token, a nonce) belongs to that browser. This is what joins the anonymous
  first pages of a visit to its logged-in rest, across connections;
- navigation: a connection whose first request names a page in its Referer belongs to the
  browser that had received that page: a navigation follows a response that had ended before
  it started, a sub-resource one that had at least begun. When several browsers had that page, the latest to receive it wins and
  the visit is counted as uncertain.
Different User-Agents are never joined. Finally, a long idle gap splits a visit in two.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .pages import is_subresource
from .provenance import Offer, sent_values, strong
from .recorded import Recorded, looks_unique, request_cookies, set_cookies

DEFAULT_GAP = 30 * 60.0


@dataclass
class Split:
    sessions: list[list[Recorded]]
    uncertain: int = 0  # visits whose boundaries rest on ambiguous evidence
    explain: list[str] = field(default_factory=list)  # why each visit was joined or cut


class _Groups:
    """Union-find over flows that refuses to merge two browsers and remembers why each merge
    happened. Two browsers: different User-Agents, or two values of one cookie alive at the same
    time (one browser holds one value at a time; a value it replaces ends before the next)."""

    def __init__(self, flows: Sequence[Recorded]) -> None:
        self.parent = list(range(len(flows)))
        self.agents: list[set[str]] = [{ua} if (ua := f.header("user-agent")) else set() for f in flows]
        # cookie name → value → (first, last) time the browser sent it
        self.cookies: list[dict[str, dict[str, tuple[float, float]]]] = [_sent(f) for f in flows]
        self.reasons: list[tuple[int, str]] = []  # (a flow of the merged group, why)

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int, why: str) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if self.agents[ra] and self.agents[rb] and not (self.agents[ra] & self.agents[rb]):
            return False
        if _overlap(self.cookies[ra], self.cookies[rb]):
            return False
        self.parent[rb] = ra
        self.agents[ra] |= self.agents[rb]
        for name, values in self.cookies[rb].items():
            mine = self.cookies[ra].setdefault(name, {})
            for value, (first, last) in values.items():
                seen = mine.get(value, (first, last))
                mine[value] = (min(seen[0], first), max(seen[1], last))
        self.reasons.append((a, why))
        return True

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for i in range(len(self.parent)):
            out[self.find(i)].append(i)
        return list(out.values())


def _called(flow: Recorded) -> bool:
    """A request a page's script made (fetch, XMLHttpRequest), not a navigation."""
    return (flow.header("sec-fetch-dest") or "").lower() == "empty" or flow.header("x-requested-with") is not None


def _what(flow: Recorded) -> str:
    """What a page load asks for once: a sub-resource's URL, a script call's path (its query
    often carries a cache-buster)."""
    return flow.url.split("#")[0] if is_subresource(flow) else flow.origin + flow.path


def _sent(flow: Recorded) -> dict[str, dict[str, tuple[float, float]]]:
    return {name: {value: (flow.started, flow.started)} for name, value in request_cookies(flow) if looks_unique(value)}


def _overlap(a: dict[str, dict[str, tuple[float, float]]], b: dict[str, dict[str, tuple[float, float]]]) -> bool:
    """Two values of one cookie sent at interleaved times: two browsers."""
    for name in a.keys() & b.keys():
        for value, (first, last) in a[name].items():
            for other, (start, end) in b[name].items():
                if other != value and first <= end and start <= last:
                    return True
    return False


def split_sessions(flows: Sequence[Recorded], gap: float = DEFAULT_GAP, offered: Mapping[int, list[Offer]] | None = None) -> list[list[Recorded]]:
    return split_visits(flows, gap, offered).sessions


def split_visits(flows: Sequence[Recorded], gap: float = DEFAULT_GAP, offered: Mapping[int, list[Offer]] | None = None) -> Split:
    """`offered`: the provenance index, flow seq → what its response handed out."""
    ordered = sorted(flows, key=lambda f: (f.started, f.seq))
    groups = _Groups(ordered)
    first_with: dict[object, int] = {}

    def tie(key: object, index: int, why: str) -> None:
        if key in first_with:
            groups.union(first_with[key], index, why)
        else:
            first_with[key] = index

    for i, flow in enumerate(ordered):
        tie(("client", flow.client), i, "same connection")
        for name, value in request_cookies(flow) + set_cookies(flow):
            if looks_unique(value):
                tie(("cookie", name, value), i, f"cookie {name}")
    if offered is not None:
        _join_by_provenance(ordered, groups, offered)
    uncertain = _join_by_referer(ordered, groups)

    sessions: list[list[Recorded]] = []
    explain: list[str] = []
    why_by_root: dict[int, Counter[str]] = defaultdict(Counter)
    for member, why in groups.reasons:
        why_by_root[groups.find(member)][why] += 1
    for members in sorted(groups.groups(), key=min):
        current: list[Recorded] = []
        last_end = None
        reasons = ", ".join(f"{why} ×{n}" for why, n in why_by_root[groups.find(members[0])].most_common()) or "a single connection"
        for i in sorted(members):
            flow = ordered[i]
            if last_end is not None and flow.started - last_end > gap:
                sessions.append(current)
                explain.append(f"flows #{current[0].seq}…#{current[-1].seq} ({len(current)}) joined by {reasons}; cut after {flow.started - last_end:.0f} s idle")
                current = []
            current.append(flow)
            last_end = max(last_end or flow.ended, flow.ended)
        sessions.append(current)
        explain.append(f"flows #{current[0].seq}…#{current[-1].seq} ({len(current)}) joined by {reasons}")
    order = sorted(range(len(sessions)), key=lambda k: (sessions[k][0].started, sessions[k][0].seq))
    return Split(sessions=[sessions[k] for k in order], uncertain=uncertain, explain=[explain[k] for k in order])


def _join_by_provenance(ordered: Sequence[Recorded], groups: _Groups, offered: Mapping[int, list[Offer]]) -> None:
    """A request that sends back a rare value which one browser alone had been handed joins it."""
    handed: dict[str, list[int]] = defaultdict(list)
    for i, flow in enumerate(ordered):
        for offer in offered.get(flow.seq, ()):
            if offer.role != "cookie" and strong(offer.value):
                handed[offer.value].append(i)
    if not handed:
        return
    for i, flow in enumerate(ordered):
        for value in set(sent_values(flow)):
            sources = handed.get(value)
            if not sources:
                continue
            earlier = {groups.find(j) for j in sources if j != i and ordered[j].ended <= flow.started}
            if len(earlier) == 1:
                groups.union(next(iter(earlier)), i, "a value it was handed")


def _join_by_referer(ordered: Sequence[Recorded], groups: _Groups) -> int:
    """A connection whose first request names a page its browser never showed joins the browser
    that showed it last before the request. Returns how many joins had more than one candidate.

    A browser fetches a page's CSS or script once per load, and its script calls the same API
    path once: a browser that already asked for it since it showed the page is not the one
    asking again on a new connection. And a sub-resource follows a page whose answer had ended,
    or failing that at least begun."""
    pages: dict[str, list[int]] = defaultdict(list)
    fetched: dict[str, list[int]] = defaultdict(list)
    first_of: dict[str, int] = {}
    for i, flow in enumerate(ordered):
        if is_subresource(flow) or _called(flow):
            fetched[_what(flow)].append(i)
        else:
            pages[flow.url.split("#")[0]].append(i)
        first_of.setdefault(flow.client, i)

    def fetched_since(page: int, url: str, asking: int) -> bool:
        root = groups.find(page)
        return any(k != asking and ordered[k].started >= ordered[page].started and groups.find(k) == root for k in fetched[url])

    uncertain = 0
    for i in sorted(first_of.values()):
        flow = ordered[i]
        referer = (flow.header("referer") or "").split("#")[0]
        if not referer or referer not in pages:
            continue
        root = groups.find(i)
        earlier = [j for j in pages[referer] if j != i and ordered[j].started <= flow.started]
        if not earlier or any(groups.find(j) == root and ordered[j].ended <= flow.started for j in earlier):
            continue
        agent = flow.header("user-agent")
        earlier = [j for j in earlier if groups.find(j) != root and (agent is None or ordered[j].header("user-agent") in (None, agent))]
        subresource = is_subresource(flow)
        if subresource or _called(flow):
            earlier = [j for j in earlier if not fetched_since(j, _what(flow), i)]
        shown = [j for j in earlier if ordered[j].ended <= flow.started] or (earlier if subresource else [])
        if not shown:
            continue
        best = max(shown, key=lambda j: (ordered[j].ended, j))
        if len({groups.find(j) for j in shown}) > 1:
            uncertain += 1
        groups.union(best, i, "Referer")
    return uncertain
