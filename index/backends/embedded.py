"""The embedded backend (the default): a bm25s index and a FAISS index inside the snapshot folder.

No server: a build tokenises every unit (`index.tokenize`, on worker processes) and embeds the
passages missing from the embedding cache; the searcher memory-maps the BM25 matrix and loads
FAISS. Filters are a row mask (BM25) and an article allow-list inside FAISS, before top-k.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.backends import Loaded, LexicalQuery, Scope, catalog_rows
from index.build import DENSE_DIR, LEXICAL_DIR, rebuild_hint, tokenize_units, unit_headings
from index.catalog import Catalog
from index.embed import Embedder
from index.lexical import LexicalIndex, top_rows
from index.tokenize import Tokenizer
from kb.settings import Config

NAME = "embedded"


def load(units: Sequence, get_embedder: Callable[[], Embedder], folder: Path, *, cfg: Config, generation: int,
         progress: bool, keywords_ready: Callable[[dict], None] | None = None) -> Loaded:
    """Write the lexical and dense indexes of `units` into the snapshot `folder`; `keywords_ready`
    is called with the record once the lexical index is written, before the model is asked for.

    Raises:
        ConfigError: if the embedding cache or a word list cannot be used, or `workers` is invalid.
        BackendError: if the Ray cluster of the `workers` setting cannot be reached.
        OSError: if `folder` cannot be written.
    """
    from index.dense import build_dense
    from index.distributed import passage_encoder

    t = time.perf_counter()
    tokens = tokenize_units(Tokenizer(), [(u.text, unit_headings(u)) for u in units], progress=progress)
    tokenize_seconds = time.perf_counter() - t
    LexicalIndex.build(tokens).save(folder / LEXICAL_DIR)
    del tokens
    if keywords_ready is not None:
        keywords_ready({"name": NAME})
    t = time.perf_counter()
    with passage_encoder(get_embedder(), cfg) as encoder:
        build_dense(units, encoder, folder / DENSE_DIR, cfg=cfg, generation=generation, progress=progress)
    return Loaded({"name": NAME}, tokenize_seconds, time.perf_counter() - t)


class EmbeddedRetrieval:
    """BM25 rows and FAISS articles of one snapshot (no FAISS index in a keywords-only one)."""

    def __init__(self, lexical: LexicalIndex, dense, catalog: Catalog) -> None:
        self.lexical_index = lexical
        self.dense_index = dense
        self.catalog = catalog

    def lexical(self, query: LexicalQuery, scope: Scope, n: int) -> list[tuple[int, float]]:
        """Best rows by BM25 of the question's tokens plus down-weighted expansion tokens."""
        scores = self.lexical_index.scores(query.tokens)
        if query.extra_tokens and query.expansion_weight:
            scores = scores + query.expansion_weight * self.lexical_index.scores(query.extra_tokens)
        return top_rows(scores, n, scope.mask)

    def dense(self, qvec: np.ndarray, scope: Scope, n: int) -> list[tuple[int, float]]:
        """Best rows by embedding similarity, the filter applied inside FAISS."""
        allowed = None if scope.mask is None else self.catalog.ids[scope.mask]
        if allowed is not None and len(allowed) == 0:
            return []
        return catalog_rows(self.catalog, self.dense_index.search(qvec, n, allowed))


def open(folder: Path, record: dict, catalog: Catalog, embedder, cfg: Config) -> EmbeddedRetrieval:  # noqa: A001
    """The snapshot's own indexes.

    Raises:
        SearchIndexError: if a part is missing, unreadable or does not match the catalog or model.
    """
    from index.dense import DenseIndex

    hint = rebuild_hint(folder.parent.parent)
    dense = None if record.get("keywords_only") else DenseIndex.load(folder / DENSE_DIR, embedder.model_id,
                                                                      len(catalog), hint)
    return EmbeddedRetrieval(LexicalIndex.load(folder / LEXICAL_DIR, rows=len(catalog), rebuild_hint=hint),
                             dense, catalog)
