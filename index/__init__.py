"""Hybrid search over the knowledge base: BM25 (jieba + bm25s) fused with dense embeddings (FAISS).

Public API:
    search(query, k=10, filters=None, *, kb=None) -> list[Hit]
    article(doc, label, *, kb=None) -> Hit
    neighbours(article_id, before=1, after=1, *, kb=None) -> (list[Hit], list[Hit])
    Searcher(kb_dir, cfg)   — loads everything once (the app caches it); same methods
    Filters, Hit, VersionRef
    build(kb_dir, cfg=None, progress=True) -> BuildReport
    build_in_background(kb_dir, quiet=False) -> subprocess.Popen, once search works

The functions are imported eagerly on purpose: `search` and `build` are also the names of
submodules, and binding the functions here makes `from index import search, build` always
yield the functions. Heavy libraries (jieba, bm25s, torch, faiss) load only when first used.
"""
from index.build import BuildReport, build, build_in_background
from index.search import Filters, Hit, Searcher, VersionRef, article, neighbours, search

__all__ = ["BuildReport", "Filters", "Hit", "Searcher", "VersionRef", "article", "build", "build_in_background",
           "neighbours", "search"]
