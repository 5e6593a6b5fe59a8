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
  it started, a sub-resource one that had at least begun, and a page load fetches each of its
  scripts, styles and API paths once; a browser opens its new connections in the same burst as
  the sub-resource requests it makes on the ones it has. When several browsers had that page, the latest to
  receive it wins and the visit is counted as uncertain.
Two browsers are never joined: different User-Agents, or two values of one cookie alive at the
same time. Finally, a long idle gap splits a visit in two.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from .pages import is_subresource
from .provenance import Index, sent_values
from .recorded import Recorded, looks_unique, request_cookies, set_cookies

DEFAULT_GAP = 30 * 60.0
_LOOK_BACK = 64  # candidate pages examined for a Referer, latest first


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
        # Per browser: the pages it was shown (URL → first end) and what its pages fetched
        # (URL or API path → latest start), merged with it, so no question scans a recording.
        self.shown: list[dict[str, float]] = [{} if is_subresource(f) or _called(f) else {f.url.split("#")[0]: f.ended} for f in flows]
        self.asked: list[dict[str, float]] = [{_what(f): f.started} if is_subresource(f) or _called(f) else {} for f in flows]
        # When each browser asked for sub-resources: a browser opens its new connections in
        # the same burst as the requests it makes on the ones it has.
        self.bursts: list[list[float]] = [[f.started] if is_subresource(f) else [] for f in flows]
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
        if len(self.shown[ra]) + len(self.asked[ra]) < len(self.shown[rb]) + len(self.asked[rb]):
            ra, rb = rb, ra  # the smaller group joins the larger: merging stays cheap
        self.parent[rb] = ra
        self.agents[ra] |= self.agents[rb]
        for url, ended in self.shown[rb].items():
            self.shown[ra][url] = min(ended, self.shown[ra].get(url, ended))
        for what, started in self.asked[rb].items():
            self.asked[ra][what] = max(started, self.asked[ra].get(what, started))
        self.bursts[ra] = sorted(self.bursts[ra] + self.bursts[rb])
        self.shown[rb], self.asked[rb], self.bursts[rb] = {}, {}, []
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


def _gap(times: list[float], moment: float) -> float:
    """How far `moment` is from the nearest of `times` (sorted); infinite when there are none."""
    k = bisect_right(times, moment)
    return min((abs(times[i] - moment) for i in (k - 1, k) if 0 <= i < len(times)), default=float("inf"))


def _latest(pages: list[tuple[float, int]], until: float, n: int) -> list[int]:
    """The pages (sorted by time) at or before `until`, latest first, at most _LOOK_BACK."""
    end = bisect_right(pages, (until, n))
    return [j for _, j in reversed(pages[max(0, end - _LOOK_BACK):end])]


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


def split_sessions(flows: Sequence[Recorded], gap: float = DEFAULT_GAP, index: Index | None = None) -> list[list[Recorded]]:
    return split_visits(flows, gap, index).sessions


def split_visits(flows: Sequence[Recorded], gap: float = DEFAULT_GAP, index: Index | None = None) -> Split:
    """`index`: the recording's provenance (without it, values handed out tie nothing)."""
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
    if index is not None:
        _join_by_provenance(ordered, groups, index)
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


def _join_by_provenance(ordered: Sequence[Recorded], groups: _Groups, index: Index) -> None:
    """A request that sends back a rare value which one browser alone had been handed joins it."""
    position = {flow.seq: i for i, flow in enumerate(ordered)}
    handed = {value: [position[seq] for seq in seqs if seq in position] for value, seqs in index.handed.items()}
    for i, flow in enumerate(ordered):
        for value in set(sent_values(flow)):
            sources = handed.get(value)
            if not sources:
                continue
            # The latest few that had been handed it decide: a value on thousands of pages is
            # either one browser's (they are all one group) or ties nothing.
            before = [j for j in sources[max(0, bisect_right(sources, i) - _LOOK_BACK):bisect_right(sources, i)] if j != i]
            earlier = {groups.find(j) for j in before if ordered[j].ended <= flow.started}
            if len(earlier) == 1:
                groups.union(next(iter(earlier)), i, "a value it was handed")


def _join_by_referer(ordered: Sequence[Recorded], groups: _Groups) -> int:
    """A connection whose first request names a page its browser never showed joins the browser
    that showed it last before the request. Returns how many joins had more than one candidate.

    A browser fetches a page's CSS or script once per load, and its script calls the same API
    path once: a browser that already asked for it since it showed the page is not the one
    asking again on a new connection. And a sub-resource follows a page whose answer had ended,
    or failing that at least begun."""
    by_end: dict[str, list[tuple[float, int]]] = defaultdict(list)
    by_start: dict[str, list[tuple[float, int]]] = defaultdict(list)
    first_of: dict[str, int] = {}
    for i, flow in enumerate(ordered):
        if not (is_subresource(flow) or _called(flow)):
            url = flow.url.split("#")[0]
            by_end[url].append((flow.ended, i))
            by_start[url].append((flow.started, i))
        first_of.setdefault(flow.client, i)
    for pages in by_end.values():
        pages.sort()
    uncertain = 0
    for i in sorted(first_of.values()):
        flow = ordered[i]
        referer = (flow.header("referer") or "").split("#")[0]
        if not referer or referer not in by_end:
            continue
        root = groups.find(i)
        if groups.shown[root].get(referer, float("inf")) <= flow.started:
            continue  # its own browser showed that page
        once = _what(flow) if is_subresource(flow) or _called(flow) else None
        agent = flow.header("user-agent")

        def fits(j: int) -> bool:
            other = groups.find(j)
            return other != root and (agent is None or ordered[j].header("user-agent") in (None, agent)) and (
                once is None or groups.asked[other].get(once, float("-inf")) < ordered[j].started)

        # The latest pages first; looking further back than a few browsers finds nothing new.
        shown = [j for j in _latest(by_end[referer], flow.started, len(ordered)) if fits(j)]
        if not shown and once is not None:  # a sub-resource asked for while its page still arrives
            shown = [j for j in _latest(by_start[referer], flow.started, len(ordered)) if fits(j)]
        if not shown:
            continue
        best = min(shown, key=lambda j: _gap(groups.bursts[groups.find(j)], flow.started)) if is_subresource(flow) else shown[0]
        if len({groups.find(j) for j in shown[:2]}) > 1:
            uncertain += 1
        groups.union(best, i, "Referer")
    return uncertain
