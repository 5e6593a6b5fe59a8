"""Sessions that do the same thing become one weighted scenario. Pure.

Two sessions are alike when their sequences of endpoint names are (difflib ratio ≥ similarity);
each group is represented by its most typical member (the one most like the others), and the
think times of every member are gathered onto the representative's steps, aligned by endpoint.
Identical sequences are compared once: a long recording repeats the same few visits many times.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher

DEFAULT_SIMILARITY = 0.8


def similarity(a: Sequence[str], b: Sequence[str]) -> float:
    return SequenceMatcher(None, list(a), list(b), autojunk=False).ratio()


def cluster(signatures: Sequence[Sequence[str]], threshold: float = DEFAULT_SIMILARITY) -> list[list[int]]:
    """Groups of session indices; each group's first index is its representative."""
    same: dict[tuple[str, ...], list[int]] = {}  # a sequence → the sessions that made it
    for i, signature in enumerate(signatures):
        same.setdefault(tuple(signature), []).append(i)
    groups: list[list[tuple[str, ...]]] = []
    for signature in same:  # in order of first appearance
        scores = [similarity(signature, g[0]) for g in groups]
        best = max(range(len(groups)), key=scores.__getitem__, default=None)
        if best is not None and scores[best] >= threshold:
            groups[best].append(signature)
        else:
            groups.append([signature])
    return [_medoid_first(g, same) for g in groups]


def _medoid_first(group: list[tuple[str, ...]], same: dict[tuple[str, ...], list[int]]) -> list[int]:
    """The group's sessions, its most typical one first (most alike to all, each session
    counted; the earliest wins a tie)."""
    members = sorted(i for signature in group for i in same[signature])
    if len(members) <= 2:
        return members
    medoid = max(group, key=lambda s: (sum(similarity(s, t) * len(same[t]) for t in group), -same[s][0]))
    first = same[medoid][0]
    return [first] + [i for i in members if i != first]


def align(representative: Sequence[str], member: Sequence[str]) -> list[tuple[int, int]]:
    """(index in representative, index in member) of the steps that match."""
    pairs = []
    for block in SequenceMatcher(None, list(representative), list(member), autojunk=False).get_matching_blocks():
        pairs.extend((block.a + k, block.b + k) for k in range(block.size))
    return pairs
