"""The lexical (BM25) index over pre-tokenised units, backed by bm25s.

bm25s stores plain arrays (a sparse matrix of precomputed per-term scores) and its vocabulary
as JSON; this wrapper adds the parameters and row count in `lexical.json` so a load can check
it got what the catalog expects. Rows are positions in the build order; the caller maps them
to article ids. Filters are applied as a boolean row mask before the top-k is taken.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kb.errors import SearchIndexError

if TYPE_CHECKING:
    import bm25s

META_FILE = "lexical.json"
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


class LexicalIndex:
    """BM25 scores for token lists; build with `build`, persist with `save`/`load`."""

    def __init__(self, retriever: "bm25s.BM25", rows: int) -> None:
        self._retriever = retriever
        self.rows = rows

    @classmethod
    def build(cls, token_lists: Sequence[list[str]], *, k1: float = 1.5, b: float = 0.75) -> "LexicalIndex":
        """Index one token list per row (an empty list is a row that matches nothing)."""
        import bm25s

        # bm25s sets its own logger to DEBUG when imported; once anything has given the root logger a
        # handler (a library's logging.warning does), its debug chatter would reach the user's terminal
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        retriever.index([list(t) for t in token_lists], show_progress=False)
        return cls(retriever, len(token_lists))

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
