"""Ingestion: Chinese policy texts in, structured documents out, stored in the knowledge base.

Public API: `parse_file(path) -> Document` (no storage), `run(paths, kb_dir) -> Summary`
(incremental, atomic ingest), `open_store(kb_dir)` (read access for search and the app).
Names are resolved lazily, so importing one submodule does not load the others.
"""
from importlib import import_module

_EXPORTS = {
    "parse_file": "ingest.parse", "document_to_json": "ingest.parse", "SUPPORTED_EXTENSIONS": "ingest.parse",
    "run": "ingest.batch", "FileOutcome": "ingest.batch",
    "open_store": "ingest.store", "StoredArticle": "ingest.store", "StoredDocument": "ingest.store",
    "StoredVersion": "ingest.store",
    **{name: "ingest.records" for name in ("LEVELS", "STATUS_LABELS", "Article", "DateEvent", "Document",
                                            "DocumentMeta", "Node", "Section", "Summary")},
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ingest' has no attribute {name!r}")
