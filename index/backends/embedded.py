"""The embedded backend (the default): a bm25s index and a FAISS index inside the snapshot folder.

No server: a build tokenises the units (`index.tokenize`, on worker processes) and embeds the
passages missing from the embedding cache; the searcher memory-maps the BM25 matrix and loads
FAISS. Filters are a row mask (BM25) and an article allow-list inside FAISS, before top-k.

A build given the snapshot in use (`previous`) updates rather than redoes: a unit whose text and
headings are unchanged (`unit_keys`, a digest of both) takes its term counts from that snapshot's
lexical rows instead of being tokenised again, and the dense index grows from the previous one
(`index.dense.build_dense`). Over the whole corpus, tokenising took 125 s of the 295 s an update
adding one file took before.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.backends import Loaded, LexicalQuery, Scope, catalog_rows
from index.build import DENSE_DIR, LEXICAL_DIR, rebuild_hint, tokenized_chunks, unit_headings
from index.catalog import Catalog
from index.dense import KEY_BYTES, digest_list, text_digests
from index.embed import Embedder
from index.lexical import LexicalIndex, TermCounts, top_rows
from index.tokenize import Tokenizer
from kb.files import ARRAY_FILE_ERRORS
from kb.settings import Config

NAME = "embedded"
UNIT_KEYS_FILE = "unit_keys.npy"         # in the lexical folder: the `unit_keys` of its rows


def unit_keys(fields: Sequence[tuple[str, list[str]]]) -> np.ndarray:
    """One digest per (text, headings) pair (`text_digests`): what its lexical row is made of."""
    return text_digests("\0".join([text, *headings]) for text, headings in fields)


def _previous_rows(folder: Path | None) -> tuple[TermCounts, np.ndarray]:
    """The term counts and unit keys of a previous snapshot's lexical rows; no rows where it has
    none to give (none given, or one written before they were kept, or unreadable)."""
    none = (TermCounts.from_tokens([]), text_digests([]))
    if folder is None:
        return none
    try:
        counts = TermCounts.load(folder / LEXICAL_DIR)
        keys = np.load(folder / LEXICAL_DIR / UNIT_KEYS_FILE, allow_pickle=False)
    except ARRAY_FILE_ERRORS:
        return none
    return (counts, keys) if keys.shape == (counts.rows, KEY_BYTES) else none


def lexical_rows(fields: Sequence[tuple[str, list[str]]], previous: Path | None, *,
                 progress: bool) -> tuple[TermCounts, np.ndarray, int]:
    """The term counts of every (text, headings) pair, in order, their keys, and how many were
    tokenised: a pair whose key a row of the `previous` snapshot has takes that row's counts."""
    keys = unit_keys(fields)
    counts, old_keys = _previous_rows(previous)
    row_of = {key: row for row, key in enumerate(digest_list(old_keys))}
    found = np.fromiter((row_of.get(key, -1) for key in digest_list(keys)), dtype=np.int64, count=len(fields))
    missing = np.flatnonzero(found < 0)
    fresh = TermCounts.from_token_chunks(tokenized_chunks(Tokenizer(), [fields[i] for i in missing.tolist()],
                                                          progress=progress), counts.vocab)
    found[missing] = counts.rows + np.arange(len(missing))
    return counts.join(fresh).take(found), keys, len(missing)


def load(units: Sequence, get_embedder: Callable[[], Embedder], folder: Path, *, cfg: Config, generation: int,
         progress: bool, keywords_ready: Callable[[dict], None] | None = None,
         previous: Path | None = None) -> Loaded:
    """Write the lexical and dense indexes of `units` into the snapshot `folder`, reusing what
    the `previous` snapshot holds of them; `keywords_ready` is called with the record once the
    lexical index is written, before the model is asked for.

    Raises:
        ConfigError: if the embedding cache or a word list cannot be used, or `workers` is invalid.
        BackendError: if the Ray cluster of the `workers` setting cannot be reached.
        OSError: if `folder` cannot be written.
    """
    from index.dense import build_dense
    from index.distributed import passage_encoder

    t = time.perf_counter()
    counts, keys, tokenised = lexical_rows([(u.text, unit_headings(u)) for u in units], previous, progress=progress)
    tokenize_seconds = time.perf_counter() - t
    LexicalIndex.from_counts(counts).save(folder / LEXICAL_DIR)
    np.save(folder / LEXICAL_DIR / UNIT_KEYS_FILE, keys)
    del counts
    if keywords_ready is not None:
        keywords_ready({"name": NAME})
    t = time.perf_counter()
    with passage_encoder(get_embedder(), cfg) as encoder:
        dense = build_dense(units, encoder, folder / DENSE_DIR, cfg=cfg, generation=generation, progress=progress,
                            previous=None if previous is None else previous / DENSE_DIR)
    return Loaded({"name": NAME}, tokenize_seconds, time.perf_counter() - t,
                  (f"tokenise {tokenised} of {len(units)} units", f"embed {dense.embedded} of {dense.passages} "
                   f"passages + {'grow FAISS' if dense.added >= 0 else 'FAISS'}"))


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
