"""Article-by-article comparison of two versions of a document (新旧对照), by text similarity.

Articles are renumbered between versions (and a renamed successor such as 《信访工作条例》
reorganises its predecessor 《信访条例》), so articles are paired by what they say, never by
their number:

1. similarity: cosine of TF-IDF weighted character-bigram vectors (punctuation and spaces
   dropped), which needs no tokenizer and tolerates rewording;
2. pairing: one-to-one, most similar pairs first, above `MATCH_THRESHOLD`;
3. order: the longest run of pairs in the same order on both sides reads as the backbone;
   other pairs are flagged `moved`;
4. each pair is `unchanged` (same text up to whitespace) or `reworded`, with a character-level
   diff; unpaired articles are `added` / `removed`, with the most similar article on the other
   side (if any) as a hint, which shows where a text was split or merged.

Everything here is pure: lists of texts in, a `Comparison` out.
"""
from __future__ import annotations

import bisect
import difflib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

MATCH_THRESHOLD = 0.3     # cosine below which two articles are not versions of each other
HINT_THRESHOLD = 0.25     # an unpaired article names its nearest counterpart above this
MIN_EQUAL_RUN = 2         # shorter common runs inside a change are folded into it (readable diffs)

_NOT_TEXT = re.compile(r"[\W_]+")
KINDS = ("unchanged", "reworded", "added", "removed")


class Unit(Protocol):
    """An article or section: `ingest.store.StoredArticle` fits."""
    label: str
    text: str


@dataclass(frozen=True)
class Segment:
    op: str              # "equal" | "delete" | "insert"
    text: str


@dataclass(frozen=True)
class Side:
    index: int           # position in the version's list of articles
    label: str
    text: str


@dataclass(frozen=True)
class Row:
    kind: str                            # one of KINDS
    old: Side | None
    new: Side | None
    similarity: float = 0.0              # of the pair, or of the hint for added/removed rows
    moved: bool = False                  # paired out of the common order
    diff: tuple[Segment, ...] = ()       # character-level, for paired rows
    hint: Side | None = None             # added/removed: the most similar article on the other side


@dataclass(frozen=True)
class Comparison:
    rows: tuple[Row, ...]

    def counts(self) -> dict[str, int]:
        """Number of rows of each kind (all of KINDS present), plus "moved"."""
        counts = dict.fromkeys(KINDS, 0)
        for row in self.rows:
            counts[row.kind] += 1
        counts["moved"] = sum(row.moved for row in self.rows)
        return counts

    def of_kind(self, kind: str) -> list[Row]:
        return [row for row in self.rows if row.kind == kind]


def _bigrams(text: str) -> Counter:
    chars = _NOT_TEXT.sub("", text)
    if len(chars) == 1:
        return Counter([chars])
    return Counter(chars[i:i + 2] for i in range(len(chars) - 1))


def similarity_matrix(old: Sequence[str], new: Sequence[str]) -> np.ndarray:
    """Cosine similarities (len(old) × len(new), float32) of TF-IDF character-bigram vectors.

    IDF is taken over both versions together, so wording every article shares (本条例, 应当)
    counts little. Sparse vectors (scipy) keep a 1,260-article code fast.
    """
    from scipy.sparse import csr_matrix

    grams = [_bigrams(t) for t in list(old) + list(new)]
    if not old or not new:
        return np.zeros((len(old), len(new)), dtype=np.float32)
    vocabulary: dict[str, int] = {}
    rows, cols, counts = [], [], []
    for r, g in enumerate(grams):
        for gram, count in g.items():
            rows.append(r)
            cols.append(vocabulary.setdefault(gram, len(vocabulary)))
            counts.append(count)
    cols_arr = np.array(cols, dtype=np.int64)
    df = np.bincount(cols_arr, minlength=len(vocabulary))
    idf = np.log((1 + len(grams)) / (1 + df)) + 1.0
    values = (1.0 + np.log(np.array(counts, dtype=np.float64))) * idf[cols_arr]
    matrix = csr_matrix((values, (np.array(rows), cols_arr)), shape=(len(grams), len(vocabulary)))
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    matrix = csr_matrix(matrix.multiply(1.0 / norms[:, None]))
    sim = (matrix[:len(old)] @ matrix[len(old):].T).toarray()
    return sim.astype(np.float32)


def match_pairs(sim: np.ndarray, threshold: float = MATCH_THRESHOLD) -> list[tuple[int, int]]:
    """One-to-one pairs (old, new) taken greedily from the most similar down to `threshold`.

    Ties are broken in favour of pairs at the same relative position in both versions.
    Returned sorted by the new index.
    """
    n, m = sim.shape
    olds, news = np.nonzero(sim >= threshold)
    candidates = sorted(zip(olds.tolist(), news.tolist()),
                        key=lambda p: (-float(sim[p]), abs(p[0] / max(n, 1) - p[1] / max(m, 1))))
    used_old, used_new, pairs = set(), set(), []
    for i, j in candidates:
        if i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            pairs.append((i, j))
    return sorted(pairs, key=lambda p: p[1])


def in_order(pairs: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
    """The largest subset of pairs (sorted by new index) whose old indices also increase:
    the common backbone of both versions. Pairs outside it were moved."""
    tails: list[int] = []          # tails[k]: smallest old index ending an increasing run of length k+1
    tail_at: list[int] = []        # position in `pairs` of that tail
    parent = [-1] * len(pairs)
    for pos, (old, _new) in enumerate(pairs):
        k = bisect.bisect_left(tails, old)
        if k == len(tails):
            tails.append(old)
            tail_at.append(pos)
        else:
            tails[k], tail_at[k] = old, pos
        parent[pos] = tail_at[k - 1] if k else -1
    keep, pos = set(), tail_at[-1] if tail_at else -1
    while pos >= 0:
        keep.add(pairs[pos])
        pos = parent[pos]
    return keep


def char_diff(old: str, new: str) -> tuple[Segment, ...]:
    """Character-level changes from `old` to `new` as equal / delete / insert segments.

    Common runs shorter than `MIN_EQUAL_RUN` between two changes are folded into the change, so
    a reworded phrase reads as one deletion and one insertion instead of confetti.
    """
    chunks: list[tuple[str, str]] = []      # (old part, new part); equal chunks have both the same
    equal: list[bool] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        chunks.append((old[i1:i2], new[j1:j2]))
        equal.append(op == "equal")
    merged: list[tuple[bool, str, str]] = []
    for k, ((a, b), is_equal) in enumerate(zip(chunks, equal)):
        between_changes = 0 < k < len(chunks) - 1 and not equal[k - 1] and not equal[k + 1]
        if is_equal and not (between_changes and len(a) < MIN_EQUAL_RUN):
            merged.append((True, a, b))
        elif merged and not merged[-1][0]:
            _, pa, pb = merged.pop()
            merged.append((False, pa + a, pb + b))
        else:
            merged.append((False, a, b))
    segments: list[Segment] = []
    for is_equal, a, b in merged:
        if is_equal:
            segments.append(Segment("equal", a))
            continue
        if a:
            segments.append(Segment("delete", a))
        if b:
            segments.append(Segment("insert", b))
    return tuple(segments)


def _same_text(a: str, b: str) -> bool:
    return re.sub(r"\s+", "", a) == re.sub(r"\s+", "", b)


def _text(unit: Unit) -> str:
    return unit.text or unit.label


def compare(old: Sequence[Unit], new: Sequence[Unit], *, threshold: float = MATCH_THRESHOLD) -> Comparison:
    """Align the articles of an old and a new version by text similarity.

    Rows follow the new version's order; a removed article sits after the row of the last
    article before it that stayed in order, so each row reads in the context of its neighbours.
    """
    sim = similarity_matrix([_text(u) for u in old], [_text(u) for u in new])
    pairs = match_pairs(sim, threshold)
    backbone = in_order(pairs)
    old_side = [Side(i, u.label, _text(u)) for i, u in enumerate(old)]
    new_side = [Side(j, u.label, _text(u)) for j, u in enumerate(new)]
    paired_new = {j: i for i, j in pairs}
    paired_old = set(paired_new.values())

    def hint(scores: np.ndarray, sides: list[Side]) -> tuple[Side | None, float]:
        if scores.size == 0:
            return None, 0.0
        best = int(scores.argmax())
        return (sides[best], float(scores[best])) if scores[best] >= HINT_THRESHOLD else (None, 0.0)

    keyed: list[tuple[tuple[int, int, int], Row]] = []
    for j, side in enumerate(new_side):
        if j in paired_new:
            i = paired_new[j]
            kind = "unchanged" if _same_text(old_side[i].text, side.text) else "reworded"
            row = Row(kind, old_side[i], side, float(sim[i, j]), (i, j) not in backbone,
                      char_diff(old_side[i].text, side.text))
        else:
            near, score = hint(sim[:, j], old_side)
            row = Row("added", None, side, score, hint=near)
        keyed.append(((j, 0, 0), row))
    anchors = sorted(backbone)            # by old index; new indices increase along it too
    for i, side in enumerate(old_side):
        if i in paired_old:
            continue
        k = bisect.bisect_left(anchors, (i, -1))
        anchor_new = anchors[k - 1][1] if k else -1
        near, score = hint(sim[i, :], new_side)
        keyed.append(((anchor_new, 1, i), Row("removed", side, None, score, hint=near)))
    keyed.sort(key=lambda kr: kr[0])
    return Comparison(tuple(row for _, row in keyed))
