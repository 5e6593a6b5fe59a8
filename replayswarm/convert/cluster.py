"""Sessions that do the same thing become one weighted scenario. Pure.

Two sessions are alike when their sequences of endpoint names are (difflib ratio ≥ similarity);
each group is represented by its most typical member (the one most like the others), and the
think times of every member are gathered onto the representative's steps, aligned by endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher

DEFAULT_SIMILARITY = 0.8


def similarity(a: Sequence[str], b: Sequence[str]) -> float:
    return SequenceMatcher(None, list(a), list(b), autojunk=False).ratio()


def cluster(signatures: Sequence[Sequence[str]], threshold: float = DEFAULT_SIMILARITY) -> list[list[int]]:
    """Groups of session indices; each group's first index is its representative."""
    groups: list[list[int]] = []
    for i, signature in enumerate(signatures):
        scores = [similarity(signature, signatures[g[0]]) for g in groups]
        best = max(range(len(groups)), key=scores.__getitem__, default=None)
        if best is not None and scores[best] >= threshold:
            groups[best].append(i)
        else:
            groups.append([i])
    return [_medoid_first(g, signatures) for g in groups]


def _medoid_first(group: list[int], signatures: Sequence[Sequence[str]]) -> list[int]:
    if len(group) <= 2:
        return group
    medoid = max(group, key=lambda i: (sum(similarity(signatures[i], signatures[j]) for j in group), -i))
    return [medoid] + [i for i in group if i != medoid]


def align(representative: Sequence[str], member: Sequence[str]) -> list[tuple[int, int]]:
    """(index in representative, index in member) of the steps that match."""
    pairs = []
    for block in SequenceMatcher(None, list(representative), list(member), autojunk=False).get_matching_blocks():
        pairs.extend((block.a + k, block.b + k) for k in range(block.size))
    return pairs
