"""Search backends: where candidate retrieval (keywords + meaning, filters applied before top-k) runs.

Everything else of a search — query parsing, reference lookup, title matching, expansion terms,
fusion, the second stage, boosts and version grouping — is `index.search`'s and shared by every
backend. A backend is one module with two functions:

    load(units, get_embedder, folder, *, cfg, generation, progress, keywords_ready=None, previous=None) -> Loaded
        Called by `index.build` (writer lock held) with every unit of the store, sorted by id, a
        function that loads the embedding model (exporting it the first time, a minute), and
        the new snapshot folder; writes or updates the backend's index and returns what the
        snapshot records about it (`Loaded.record`, saved in `meta.json` under "backend").
        On a first build it is given `keywords_ready`, to call with the record once keyword
        search works and before any embedding: the build then swaps in a keywords-only snapshot.
        `previous` is the snapshot folder in use, tokenised alike, whose parts it may reuse
        (None: build afresh).
    open(folder, record, catalog, embedder, cfg) -> Retrieval
        Called by the searcher with the snapshot folder and that record; a record marked
        `keywords_only` comes with no embedder (None) and is never asked for `dense`.

`embedded` (the default: bm25s + FAISS files inside the snapshot) and `milvus` (two Milvus
collections, loaded incrementally) implement it; `tests/test_backends.py` is their one contract.
"""
from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Protocol

import numpy as np

from index.catalog import Catalog
from kb.errors import ConfigError

BACKENDS = ("embedded", "milvus")
EMBEDDED = "embedded"


@dataclass(frozen=True, eq=False)
class Scope:
    """What a search may return, in two equivalent forms: `mask` over the snapshot's catalog rows
    (None: every row) for backends that filter rows, and the filter's terms for backends that
    filter by expression. `newest_of`: (document key, version yyyymmdd) of documents named in the
    filter or the question whose newest version is searched whatever its status; `versions_asked`:
    the same of versions the question names (原《行政复议法》, 2017年的…)."""
    mask: np.ndarray | None = None
    statuses: tuple[str, ...] = ()
    doc_keys: tuple[str, ...] = ()
    newest_of: tuple[tuple[str, int], ...] = ()
    levels: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    effective_from: int = 0         # yyyymmdd, 0: no bound
    effective_to: int = 0
    article_ids: tuple[int, ...] = ()   # only these articles (none: no such restriction); as `mask` allows
    versions_asked: tuple[tuple[str, int], ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing can match (a mask without a single allowed row)."""
        return self.mask is not None and not self.mask.any()


@dataclass(frozen=True)
class LexicalQuery:
    """A question for keyword search: our tokens (for backends scoring them) and the normalised
    text (for backends with their own analyzer), plus the expansion terms at `expansion_weight`."""
    text: str
    tokens: tuple[str, ...]
    expansions: tuple[str, ...] = ()
    extra_tokens: tuple[str, ...] = ()
    expansion_weight: float = 0.0


@dataclass(frozen=True)
class Loaded:
    """What `load` did: the snapshot's record of the backend and the time of its two stages."""
    record: dict = field(default_factory=dict)
    tokenize_seconds: float = 0.0
    dense_seconds: float = 0.0
    stages: tuple[str, str] = ("tokenise", "embed + FAISS")     # what the two times measured, in words


class Retrieval(Protocol):
    """Candidate retrieval over one snapshot; rankings are (catalog row, score), best first."""

    def lexical(self, query: LexicalQuery, scope: Scope, n: int) -> list[tuple[int, float]]: ...

    def dense(self, qvec: np.ndarray, scope: Scope, n: int) -> list[tuple[int, float]]: ...


def backend_module(name: str) -> ModuleType:
    """The module of backend `name` (imported on first use: pymilvus only when Milvus is used).

    Raises:
        ConfigError: for an unknown backend name.
    """
    if name not in BACKENDS:
        raise ConfigError(f"setting backend: {name!r} is not one of {', '.join(BACKENDS)}")
    return importlib.import_module(f"index.backends.{name}")


def catalog_rows(catalog: Catalog, found: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """(article id, score) pairs as (catalog row, score), in order; articles the snapshot's
    catalog does not hold are dropped (a shared index may be ahead of a reader's snapshot)."""
    if not found:
        return []
    ids = np.asarray([a for a, _ in found], dtype=np.int64)
    pos = np.clip(np.searchsorted(catalog.ids, ids), 0, max(len(catalog.ids) - 1, 0))
    known = catalog.ids[pos] == ids
    return [(int(row), float(score)) for row, (_, score), ok in zip(pos.tolist(), found, known.tolist()) if ok]
