"""The lexical (BM25) index over pre-tokenised units, backed by bm25s.

bm25s stores plain arrays (a sparse matrix of precomputed per-term scores) and its vocabulary
as JSON; this wrapper adds the parameters and row count in `lexical.json` so a load can check
it got what the catalog expects. Rows are positions in the build order; the caller maps them
to article ids. Filters are applied as a boolean row mask before the top-k is taken.

The score matrix is computed here from each row's term counts (`TermCounts`, `bm25_matrix`:
pure functions over arrays, the same Lucene-variant scores as bm25s's own indexing, which
counts row by row in Python), and the counts are saved beside it (`term_counts.npz`): BM25 needs
how often each term occurs in a row, not the token order, so a later build takes the rows of
unchanged units from there instead of tokenising them again (`index.backends.embedded`).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kb.errors import SearchIndexError

if TYPE_CHECKING:
    import bm25s

META_FILE = "lexical.json"
COUNTS_FILE = "term_counts.npz"
VOCAB_FILE = "vocab.index.json"     # bm25s's own name for its vocabulary
FORMAT = 1


def top_rows(scores: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
    """The `k` best (row, score) pairs with a positive score, best first; rows outside `mask` never
    qualify, so a filter cannot starve the result."""
    if mask is not None:
        scores = np.where(mask, scores, 0.0)
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > k:
        candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
    order = candidates[np.lexsort((candidates, -scores[candidates]))]
    return [(int(r), float(scores[r])) for r in order]


@dataclass(frozen=True)
class TermCounts:
    """Each row's distinct terms and how often each occurs in it: a sparse rows × vocabulary
    matrix as plain arrays (row `r` holds `terms[offsets[r]:offsets[r + 1]]`, ascending, with
    their counts `tf[...]`). Term ids index `vocab`."""

    vocab: list[str]
    offsets: np.ndarray         # int64, one more than the rows
    terms: np.ndarray           # int32
    tf: np.ndarray              # int32

    @property
    def rows(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_tokens(cls, token_lists: Sequence[Sequence[str]], vocab: Sequence[str] = ()) -> "TermCounts":
        """Count the tokens of each row; term ids continue `vocab` (its terms keep their ids), so
        the rows can be joined with rows counted over `vocab` (`join`)."""
        return cls.from_token_chunks([token_lists], vocab)

    @classmethod
    def from_token_chunks(cls, chunks: Iterable[Sequence[Sequence[str]]], vocab: Sequence[str] = ()) -> "TermCounts":
        """`from_tokens` of the rows of the chunks one after the other, each chunk counted and let
        go before the next is asked for: over the whole corpus the token lists of every row took
        gigabytes at once."""
        ids = {term: i for i, term in enumerate(vocab)}
        offsets, terms, tf = [np.zeros(1, dtype=np.int64)], [], []
        for token_lists in chunks:
            flat = np.fromiter((ids.setdefault(t, len(ids)) for tokens in token_lists for t in tokens), dtype=np.int64)
            lengths = np.fromiter((len(tokens) for tokens in token_lists), dtype=np.int64, count=len(token_lists))
            row_of = np.repeat(np.arange(len(token_lists), dtype=np.int64), lengths)
            pairs, counts = np.unique((row_of << 32) | flat, return_counts=True)     # sorted by row, then term
            offsets.append(offsets[-1][-1] + np.cumsum(np.bincount(pairs >> 32, minlength=len(token_lists))))
            terms.append((pairs & 0xFFFFFFFF).astype(np.int32))
            tf.append(counts.astype(np.int32))
        return cls(list(ids), np.concatenate(offsets), np.concatenate(terms or [np.zeros(0, np.int32)]),
                   np.concatenate(tf or [np.zeros(0, np.int32)]))

    def take(self, rows: np.ndarray) -> "TermCounts":
        """These rows, in this order (a row may come twice)."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, lengths = self.offsets[rows], self.offsets[rows + 1] - self.offsets[rows]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        at = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1], dtype=np.int64)
        return TermCounts(self.vocab, offsets, self.terms[at], self.tf[at])

    def join(self, more: "TermCounts") -> "TermCounts":
        """The rows of both, `more` after these; `more`'s vocabulary begins with this one's."""
        if more.vocab[:len(self.vocab)] != self.vocab:
            raise ValueError("the rows to join were not counted over this vocabulary")
        return TermCounts(more.vocab, np.concatenate([self.offsets[:-1], more.offsets + self.offsets[-1]]),
                          np.concatenate([self.terms, more.terms]), np.concatenate([self.tf, more.tf]))

    def compact(self) -> "TermCounts":
        """The same rows over only the terms some row holds (in the same order)."""
        used = np.zeros(len(self.vocab), dtype=bool)
        used[self.terms] = True
        if used.all():
            return self
        new_id = np.cumsum(used, dtype=np.int64) - 1
        kept = np.flatnonzero(used)
        return TermCounts([self.vocab[i] for i in kept.tolist()], self.offsets,
                          new_id[self.terms].astype(np.int32), self.tf)

    def save(self, path: Path) -> None:
        """Write the arrays (the vocabulary is the caller's: bm25s's vocabulary file)."""
        np.savez(path, offsets=self.offsets, terms=self.terms, tf=self.tf)

    @classmethod
    def load(cls, folder: Path) -> "TermCounts":
        """The counts a `LexicalIndex.save` wrote into `folder`.

        Raises:
            OSError, ValueError, KeyError, zipfile.BadZipFile (`kb.files.ARRAY_FILE_ERRORS`): if
                they are missing or unreadable.
        """
        with np.load(folder / COUNTS_FILE, allow_pickle=False) as arrays:
            offsets, terms, tf = arrays["offsets"], arrays["terms"], arrays["tf"]
        ids = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
        vocab = [""] * (int(terms.max(initial=-1)) + 1)
        for term, i in ids.items():
            if i < len(vocab):
                vocab[i] = term
        return cls(vocab, offsets, terms, tf)


def bm25_matrix(counts: TermCounts, k1: float, b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The BM25 score of each (row, term) pair as a CSC matrix over the vocabulary (data, row
    indices, column pointers): bm25s's Lucene variant, idf(t) · tf / (tf + k1 · (1 − b + b · len/avglen))
    with idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5)), a row's length being its token count.
    The rows come by term through scipy's CSR → CSC conversion, a counting pass: over the whole
    corpus (7.6 million pairs) the matrix took 0.2 s where sorting the pairs took it to 1.0 s."""
    from scipy.sparse import csr_matrix

    rows, n_terms = counts.rows, len(counts.vocab)
    row_sizes = np.diff(counts.offsets)
    length = np.bincount(np.repeat(np.arange(rows), row_sizes), weights=counts.tf, minlength=rows)
    average = float(length.mean()) if rows else 1.0
    df = np.bincount(counts.terms, minlength=n_terms)
    idf = np.log(1 + (rows - df + 0.5) / (df + 0.5)).astype(np.float32)
    tf = counts.tf.astype(np.float64)
    norm = np.repeat(k1 * ((1 - b) + b * length / (average or 1.0)), row_sizes)
    scores = (idf[counts.terms] * (tf / (norm + tf))).astype(np.float32)
    by_term = csr_matrix((scores, counts.terms, counts.offsets), shape=(rows, n_terms)).tocsc()
    return by_term.data, by_term.indices.astype(np.int32), by_term.indptr.astype(np.int64)


class LexicalIndex:
    """BM25 scores for token lists; build with `build`, persist with `save`/`load`."""

    def __init__(self, retriever: "bm25s.BM25", rows: int, counts: TermCounts | None = None) -> None:
        self._retriever = retriever
        self.rows = rows
        self.counts = counts            # what it was built from (None when loaded)

    @classmethod
    def build(cls, token_lists: Sequence[list[str]], *, k1: float = 1.5, b: float = 0.75) -> "LexicalIndex":
        """Index one token list per row (an empty list is a row that matches nothing)."""
        return cls.from_counts(TermCounts.from_tokens(token_lists), k1=k1, b=b)

    @classmethod
    def from_counts(cls, counts: TermCounts, *, k1: float = 1.5, b: float = 0.75) -> "LexicalIndex":
        """Index rows given as term counts (terms no row holds are dropped)."""
        import bm25s

        # bm25s sets its own logger to DEBUG when imported; once anything has given the root logger a
        # handler (a library's logging.warning does), its debug chatter would reach the user's terminal
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        counts = counts.compact()
        data, indices, indptr = bm25_matrix(counts, k1, b)
        retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        # what bm25s's own `index` sets, an empty token last as it adds one
        retriever.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": counts.rows}
        retriever.nonoccurrence_array = None        # only bm25l and bm25+ have one
        retriever.vocab_dict = {term: i for i, term in enumerate(counts.vocab)}
        retriever.vocab_dict.setdefault("", len(counts.vocab))
        retriever.unique_token_ids_set = set(retriever.vocab_dict.values())
        return cls(retriever, counts.rows, counts)

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every row for the query tokens (repeated tokens count again)."""
        ids = self._retriever.get_tokens_ids(list(tokens))
        if not ids:
            return np.zeros(self.rows, dtype=np.float32)
        return self._retriever.get_scores_from_ids(ids)

    def known(self, tokens: Sequence[str]) -> list[str]:
        """The tokens that occur somewhere in the index (the others cannot match anything)."""
        vocab = self._retriever.vocab_dict
        return [t for t in tokens if t in vocab]

    def save(self, folder: Path) -> None:
        """Write the index into `folder` (a new, empty folder the caller swaps in atomically)."""
        folder.mkdir(parents=True, exist_ok=True)
        self._retriever.save(str(folder), show_progress=False)
        if self.counts is not None:
            self.counts.save(folder / COUNTS_FILE)
        params = {"format": FORMAT, "rows": self.rows, "k1": self._retriever.k1, "b": self._retriever.b}
        (folder / META_FILE).write_text(json.dumps(params), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, *, rows: int, rebuild_hint: str) -> "LexicalIndex":
        """Load an index saved by `save`, memory-mapped.

        Raises:
            SearchIndexError: if it is missing, unreadable, of another format, or its row count is
                not `rows`; the message ends with `rebuild_hint`.
        """
        import bm25s

        try:
            params = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            if params.get("format") != FORMAT:
                raise SearchIndexError(f"{folder}: lexical index format {params.get('format')} is not "
                                       f"{FORMAT}; rebuild it: {rebuild_hint}")
            retriever = bm25s.BM25.load(str(folder), mmap=True, show_progress=False, verbosity=0)
        except (OSError, ValueError, KeyError) as err:
            raise SearchIndexError(f"{folder}: cannot read the lexical index ({err}); "
                                   f"rebuild it: {rebuild_hint}") from None
        if params["rows"] != rows:
            raise SearchIndexError(f"{folder}: lexical index has {params['rows']} rows, the catalog "
                                   f"{rows}; rebuild it: {rebuild_hint}")
        return cls(retriever, rows)
