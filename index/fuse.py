"""Fusion of rankings and grouping of versions, pure functions over ids and scores.

Reciprocal-rank fusion (RRF) combines the lexical and dense rankings without having to make
BM25 scores and cosine similarities comparable: an item's fused score is
Σ weight_i / (k + rank_i) over the rankings that contain it. `k` and the weights are settings
measured in `bench/search_bench.py`.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

Id = TypeVar("Id", bound=Hashable)
T = TypeVar("T")


def rrf(rankings: Sequence[Sequence[Id]], weights: Sequence[float] | None = None,
        k: float = 60.0) -> list[tuple[Id, float]]:
    """Reciprocal-rank fusion of best-first rankings; ties keep first-seen order.

    Raises:
        ValueError: if `weights` and `rankings` differ in length or `k` is negative.
    """
    weights = [1.0] * len(rankings) if weights is None else list(weights)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(rankings)} rankings but {len(weights)} weights")
    if k < 0:
        raise ValueError(f"RRF k must be >= 0, got {k}")
    fused: dict[Id, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda kv: -kv[1])


def boost(ranked: Sequence[tuple[Id, float]], factors: Mapping[Id, float]) -> list[tuple[Id, float]]:
    """Multiply the scores of some items (e.g. articles of a document named in the query), re-sort."""
    scored = [(item, score * factors.get(item, 1.0)) for item, score in ranked]
    return sorted(scored, key=lambda kv: -kv[1])


def pin_first(pinned: Sequence[Id], ranked: Sequence[tuple[Id, float]]) -> list[tuple[Id, float]]:
    """Put `pinned` items (answers to an explicit reference) first, in their order, above every
    score; the rest keep their order without duplicates."""
    top = ranked[0][1] if ranked else 0.0
    head = [(item, top + len(pinned) - i) for i, item in enumerate(dict.fromkeys(pinned))]
    seen = {item for item, _ in head}
    return head + [(item, score) for item, score in ranked if item not in seen]


def group_versions(ranked: Sequence[tuple[Id, float]], group_of: Mapping[Id, Hashable],
                   preference: Mapping[Id, int]) -> list[tuple[Id, float, list[Id]]]:
    """Collapse versions of one article into one result.

    `group_of` maps an item to its group (same document and article number, any version);
    the result keeps the group's best score at the position of its best-ranked member and
    shows the member with the lowest `preference` (0 = current version), listing the others.
    """
    groups: dict[Hashable, list[Id]] = {}
    best: dict[Hashable, float] = {}
    order: list[Hashable] = []
    for item, score in ranked:
        g = group_of.get(item, ("item", item))
        if g not in groups:
            groups[g], best[g] = [], score
            order.append(g)
        groups[g].append(item)
    out = []
    for g in order:
        members = groups[g]
        shown = min(members, key=lambda m: (preference.get(m, 0), members.index(m)))
        out.append((shown, best[g], [m for m in members if m != shown]))
    return out


def show_each(ranked: Sequence[T], labels: Sequence[Hashable | None], k: int) -> list[T]:
    """Reorder best-first `ranked` so that its first `k` hold the best item of every label that
    has one (e.g. each of several documents a user names), where room can be made: an item
    is moved up in place of the lowest-ranked one that is unlabelled (None) or whose label is
    already shown more than once. The first `k` keep their rank order, so moved-up items come
    last on the page; the rest follow in order. `labels[i]` labels `ranked[i]`."""
    head = list(range(min(k, len(ranked))))
    shown = {labels[i] for i in head}
    missing: dict[Hashable, int] = {}
    for i in range(len(head), len(ranked)):
        if labels[i] is not None and labels[i] not in shown:
            missing.setdefault(labels[i], i)
    for i in missing.values():
        counts: dict[Hashable | None, int] = {}
        for j in head:
            counts[labels[j]] = counts.get(labels[j], 0) + 1
        room = [j for j in head if labels[j] is None or counts[labels[j]] > 1]
        if not room:
            break
        head.remove(max(room))
        head.append(i)
    head.sort()
    kept = set(head)
    return [ranked[i] for i in head] + [item for i, item in enumerate(ranked) if i not in kept]
