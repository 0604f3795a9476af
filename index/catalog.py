"""The catalog: per-unit facts the searcher filters and groups on, as compact arrays.

One row per indexed unit (article or outline section), rows sorted by article id; the lexical
index uses the same rows. Document-level facts (title, level, region) sit in a small table the
rows point into. Built from the store by `index.build`, saved as `catalog.npz` + `catalog.json`;
beside them `repealed.json`, the titles stored texts declare repealed and the store lacks, so a
question naming one (婚姻法第三十二条) is told where it went.
"""
from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from index.compare import MATCH_THRESHOLD, match_pairs, similarity_matrix
from kb.chinese import title_key
from kb.errors import SearchIndexError
from kb.files import ARRAY_FILE_ERRORS

STATUSES = ("current", "superseded", "repealed", "pending")
ARRAYS = "catalog.npz"
TABLE = "catalog.json"
REPEALED = "repealed.json"      # titles declared repealed that the knowledge base does not hold
MATCHES = "matches.json"        # older versions' articles matched to the newest version's (`newest_counterparts`)


class UnitFacts(Protocol):
    """The attributes of a stored article the catalog needs (ingest.store.StoredArticle has them)."""
    id: int
    kind: str
    no: int | None
    suffix: int
    label: str
    document_id: int
    doc_key: str
    title: str
    doc_level: str
    region: str
    status: str
    version_date: str
    effective: str
    version_id: int
    text: str


@dataclass(frozen=True)
class Repeal:
    """A title a stored text declares repealed whose own text is not stored: 婚姻法, by 民法典."""
    since: str          # "2021-01-01"
    by: str             # the repealing text's title


def save_repealed(folder: Path, rows: Iterable[tuple[str, str, str]]) -> None:
    """Write (title key, since, repealing title) rows (`Store.repealed_not_held`) into a snapshot."""
    (folder / REPEALED).write_text(json.dumps([list(r) for r in rows], ensure_ascii=False), encoding="utf-8")


def load_repealed(folder: Path) -> dict[str, Repeal]:
    """Title key → its `Repeal`, as `save_repealed` wrote them; empty for a snapshot built before
    they were written.

    Raises:
        SearchIndexError: if the file is there and unreadable.
    """
    try:
        return {key: Repeal(since, by) for key, since, by in json.loads((folder / REPEALED).read_text(encoding="utf-8"))}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError) as err:
        raise SearchIndexError(f"{folder / REPEALED}: cannot read the repealed titles ({err})") from None


@functools.lru_cache(maxsize=65536)     # two per unit for a catalog, and a version's units share them
def date_number(date: str) -> int:
    """"2022-05-01" → 20220501, "2022" → 20220000, "" → 0 (unknown)."""
    digits = "".join(ch for ch in date if ch.isdigit())[:8]
    return int(digits.ljust(8, "0")) if digits else 0


def date_text(number: int) -> str:
    """20220501 → "2022-05-01"; 0 → ""."""
    if not number:
        return ""
    text = f"{number:08d}"
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"


@dataclass(frozen=True)
class Document:
    key: str
    title: str
    level: str
    region: str


@dataclass
class Catalog:
    ids: np.ndarray          # int64 article ids, ascending
    doc: np.ndarray          # int32 index into `documents`
    group: np.ndarray        # int32: rows with equal group are versions of one article
    status: np.ndarray       # int8 index into STATUSES
    effective: np.ndarray    # int32 yyyymmdd of the version's effective date (or version date), 0 unknown
    version: np.ndarray      # int32 yyyymmdd of the version date, 0 unknown
    no: np.ndarray           # int32 article number, -1 for outline sections
    suffix: np.ndarray       # int16 之N suffix
    documents: list[Document]

    _ARRAYS = ("ids", "doc", "group", "status", "effective", "version", "no", "suffix")

    def __len__(self) -> int:
        return len(self.ids)

    def rows_of(self, article_ids: Sequence[int]) -> np.ndarray:
        """Rows of the given article ids (ids not in the catalog are dropped)."""
        ids = np.asarray(article_ids, dtype=np.int64)
        pos = np.searchsorted(self.ids, ids)
        pos = np.clip(pos, 0, max(len(self.ids) - 1, 0))
        return pos[self.ids[pos] == ids] if len(self.ids) else pos[:0]

    def titles(self) -> list[str]:
        return [d.title for d in self.documents]

    def save(self, folder: Path) -> None:
        np.savez(folder / ARRAYS, **{name: getattr(self, name) for name in self._ARRAYS})
        table = [[d.key, d.title, d.level, d.region] for d in self.documents]
        (folder / TABLE).write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, rebuild_hint: str) -> "Catalog":
        """Raises:
            SearchIndexError: if the catalog files are missing or unreadable."""
        try:
            arrays = np.load(folder / ARRAYS)
            table = json.loads((folder / TABLE).read_text(encoding="utf-8"))
            return cls(*(arrays[name] for name in cls._ARRAYS), [Document(*row) for row in table])
        except (*ARRAY_FILE_ERRORS, TypeError) as err:
            raise SearchIndexError(f"{folder}: cannot read the index catalog ({err}); "
                                   f"rebuild it: {rebuild_hint}") from None

    @classmethod
    def from_units(cls, units: Iterable[UnitFacts], newest: Mapping[int, int] | None = None) -> "Catalog":
        """Build from stored units; they must come sorted by id. `newest` is what
        `newest_counterparts` gives for them (worked out here if not given)."""
        documents: dict[int, int] = {}
        doc_rows: list[Document] = []
        units = list(units)
        if newest is None:
            newest, _ = newest_counterparts(units)
        by_id = {u.id: u for u in units}
        groups: dict[tuple, int] = {}
        ids, doc, group, status, effective, version, no, suffix = [], [], [], [], [], [], [], []
        for u in units:
            if u.document_id not in documents:
                documents[u.document_id] = len(doc_rows)
                doc_rows.append(Document(u.doc_key or title_key(u.title), u.title, u.doc_level, u.region))
            d = documents[u.document_id]
            # versions of one article: an older article joins the newest version's article whose
            # text it matches (articles are renumbered between versions); sections share a heading
            if u.kind == "article":
                anchor = by_id[newest[u.id]] if u.id in newest else u
                g = (d, anchor.kind, anchor.version_id, anchor.no, anchor.suffix)
            else:
                g = (d, u.kind, u.label)
            ids.append(u.id)
            doc.append(d)
            group.append(groups.setdefault(g, len(groups)))
            status.append(STATUSES.index(u.status) if u.status in STATUSES else 0)
            effective.append(date_number(u.effective) or date_number(u.version_date))
            version.append(date_number(u.version_date))
            no.append(u.no if u.kind == "article" and u.no is not None else -1)
            suffix.append(u.suffix)
        return cls(np.asarray(ids, dtype=np.int64), np.asarray(doc, dtype=np.int32),
                   np.asarray(group, dtype=np.int32), np.asarray(status, dtype=np.int8),
                   np.asarray(effective, dtype=np.int32), np.asarray(version, dtype=np.int32),
                   np.asarray(no, dtype=np.int32), np.asarray(suffix, dtype=np.int16), doc_rows)


# what the matches of a saved `matches.json` were made by: matches made otherwise are not reused
_MATCH_METHOD = f"bigram-tfidf/{MATCH_THRESHOLD}"


def newest_counterparts(units: Sequence[UnitFacts], known: Mapping[str, list[list[int]]] | None = None
                        ) -> tuple[dict[int, int], dict[str, list[list[int]]]]:
    """For each article of an older version of a document, the article of the document's newest
    version with the same text (by `index.compare` similarity, one-to-one), by unit id.
    Articles of the newest version map to themselves; unmatched older ones are absent.

    Also returns the matches (positions in the two versions) by a digest of the two versions'
    article texts, which is all they depend on, and takes those of an earlier call as `known`:
    matching every document's versions again took 1.2–1.4 s of each update of the whole corpus,
    taking them 0.3 s.
    """
    known = known or {}
    versions: dict[int, dict[tuple[str, int], list[UnitFacts]]] = {}
    for u in units:
        if u.kind == "article":
            versions.setdefault(u.document_id, {}).setdefault((u.version_date, u.version_id), []).append(u)
    out: dict[int, int] = {}
    matches: dict[str, list[list[int]]] = {}
    for by_version in versions.values():
        newest = by_version.pop(max(by_version))
        out.update((u.id, u.id) for u in newest)
        newest_texts = [u.text for u in newest]
        newest_digest = _texts_digest(newest_texts)
        for older in by_version.values():
            older_texts = [u.text for u in older]
            key = hashlib.blake2b(_texts_digest(older_texts) + newest_digest, digest_size=16).hexdigest()
            pairs = known.get(key)
            if not _valid_pairs(pairs, len(older), len(newest)):
                pairs = [[i, j] for i, j in match_pairs(similarity_matrix(older_texts, newest_texts))]
            matches[key] = pairs
            out.update((older[i].id, newest[j].id) for i, j in pairs)
    return out, matches


def _valid_pairs(pairs: object, older: int, newest: int) -> bool:
    # a damaged matches file costs a match worked out again, never a wrong group
    return isinstance(pairs, list) and all(
        isinstance(p, list) and len(p) == 2 and all(type(x) is int for x in p)
        and 0 <= p[0] < older and 0 <= p[1] < newest for p in pairs)


def _texts_digest(texts: Sequence[str]) -> bytes:
    return hashlib.blake2b(json.dumps([_MATCH_METHOD, *texts], ensure_ascii=False).encode(), digest_size=16).digest()


def save_matches(folder: Path, matches: Mapping[str, list[list[int]]]) -> None:
    """Write the matches `newest_counterparts` returned into a snapshot."""
    (folder / MATCHES).write_text(json.dumps(matches, separators=(",", ":")), encoding="utf-8")


def load_matches(folder: Path | None) -> dict[str, list[list[int]]]:
    """The matches a snapshot saved; none where it has none to give (no snapshot, one written
    before they were kept, or an unreadable file: they are only worked out again)."""
    if folder is None:
        return {}
    try:
        matches = json.loads((folder / MATCHES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return matches if isinstance(matches, dict) else {}
