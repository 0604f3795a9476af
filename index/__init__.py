"""Hybrid search over the knowledge base: BM25 (jieba + bm25s) fused with dense embeddings (FAISS).

Public API:
    search(query, k=10, filters=None, *, kb=None) -> list[Hit]
    article(doc, label, *, kb=None) -> Hit
    neighbours(article_id, before=1, after=1, *, kb=None) -> (list[Hit], list[Hit])
    Searcher(kb_dir, cfg)   — loads everything once (the app caches it); same methods
    Filters, Hit, VersionRef
    build(kb_dir, cfg=None, progress=True) -> BuildReport

Names are resolved lazily, so `import index` loads no model or index.
"""
from importlib import import_module

_EXPORTS = {
    **{name: "index.search" for name in ("search", "article", "neighbours", "Searcher", "Filters", "Hit",
                                         "VersionRef")},
    "build": "index.build", "BuildReport": "index.build",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'index' has no attribute {name!r}")
