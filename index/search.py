"""The searcher: query understanding, lexical + dense retrieval, fusion, filters, hits.

`Searcher(kb_dir)` loads the catalog, the snapshot's search backend (`index.backends`: the BM25
and FAISS indexes of the embedded default, or the Milvus collections the snapshot records) and
the embedding model once; `search()` then answers in tens of milliseconds. Steps of one search:

1. `index.query.parse_query`: article references, named documents, expansion terms.
2. Filters become a `Scope`: a row mask (embedded) and the same terms for a Milvus expression,
   applied by the backend before top-k.
3. BM25 over the question (+ expansion terms at a lower weight) and dense search over the
   question's embedding each give a ranking from the backend; `index.fuse.rrf` fuses them.
4. Articles of documents named in the question and of the preferred region (and national
   rules) get a score boost, and so do those of a place whose rules the question asks for
   (上海对…怎么规定), its own as a named document's; explicit references are pinned first.
5. Versions of one article are grouped (the current one shown, the others listed).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import functools
import re
import threading
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from index.adapter import configured_adapter
from index.backends import LexicalQuery, Scope, backend_module
from index.build import backend_record, current_folder, read_meta, rebuild_hint
from index.catalog import STATUSES, Catalog, date_text, load_repealed
from index.collections import load_collections
from index.dense import searching
from index.eval import ArticleKey
from index.fuse import boost, group_versions, pin_first, rrf, show_each
from index.prior import configured_prior
from index.query import (DivisionReference, NamedVersion, ParsedQuery, Reference, TitleMatcher, division_of,
                         division_path, load_expansions, parse_query)
from index.rerank import RERANKED_RRF_K, Candidate, candidate_features, configured_reranker
from index.tokenize import Tokenizer, normalise
from index.units import UnitTable
from ingest.records import STATUS_LABELS
from kb.chinese import (NUMBERED_LABEL, article_label, book_title, chinese_brackets, int_to_cn, parse_article_label,
                        title_key)
from kb.citations import ABBREVIATIONS, alias_index, documents_named, held_part, missing_part, version_asked
from kb.errors import QueryError, SearchIndexError
from kb.lock import holder
from kb.places import HOME, HOME_PROVINCE, NATIONAL, PlaceMatcher, concerns, province_of
from kb.settings import Config, load_config

MATCH_REFERENCE, MATCH_DOC_NUMBER, MATCH_KEYWORDS, MATCH_MEANING = "reference", "doc_number", "keywords", "meaning"


@dataclass(frozen=True)
class Filters:
    """Restrictions applied before ranking. Empty tuples mean "no restriction".

    `documents`: titles or title keys (any version, any alias such as 民法典); `regions`: a region
    matches itself and the places inside it ("四川省" matches "四川省成都市"); `statuses`:
    current only by default; dates (YYYY, YYYY-MM or YYYY-MM-DD) bound the effective date (or,
    where none is known, the version date; units with no date at all fail an upper bound).
    `prefer_region`: rank this region's rules (and national ones, and a city's province's) higher;
    None = the `region` setting, "" = no preference. `prefer_collection`: rank the documents of this collection
    (`index.collections`) higher; None = the `collection` setting, "none" = no preference.
    """
    documents: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ("current",)
    date_from: str = ""
    date_to: str = ""
    prefer_region: str | None = None
    prefer_collection: str | None = None

    def __post_init__(self) -> None:
        # accept lists (e.g. from a multi-select) but stay hashable: masks are cached per Filters
        for name in ("documents", "levels", "regions", "statuses"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@dataclass(frozen=True)
class VersionRef:
    """Another version of a hit's article."""
    article_id: int
    version_date: str
    status: str


@dataclass(frozen=True)
class _RowVersion:
    """A catalog row as `kb.citations.version_asked` sees its version (no history events: the
    index keeps none)."""
    row: int
    version_date: str
    status: str
    years: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    article_id: int
    kind: str                       # "article" | "section"
    title: str
    subtitle: str
    doc_key: str
    label: str                      # 第十条之一, or a section heading
    article_no: int | None
    suffix: int
    path: tuple[str, ...]
    text: str
    paragraphs: tuple[str, ...]
    status: str
    level: str
    region: str
    issuer: str
    doc_number: str
    effective: str
    version_date: str
    source: str
    relpath: str                    # source path relative to the folder it was ingested from
    document_id: int
    version_id: int
    score: float
    match: tuple[str, ...] = ()     # "reference" / "doc_number" (its 文号 asked for) / "keywords" / "meaning"
    matched_terms: tuple[str, ...] = ()
    other_versions: tuple[VersionRef, ...] = field(default=())
    version_event: str = ""         # "amended" / "revised": the change that made this version, "" if original
    version_event_date: str = ""
    paragraph: int = 0              # the 款 a reference asked for (第三十五条第二款 → 2), 0: none
    item: int = 0                   # the 项 it asked for (第三十一条第六项 → 6; of `paragraph`, or of the first 款 with 项)

    @property
    def citation(self) -> str:
        """《title》label, the standard way to cite it."""
        return f"{book_title(self.title)}{self.label}"


@dataclass(frozen=True)
class Tuning:
    """Ranking parameters: settings rows of kb/settings.py. Keywords weigh 1 in the fusion;
    `dense_weight` 0 turns dense search off."""
    candidates: int
    rrf_k: float
    dense_weight: float
    expansion_weight: float
    title_boost: float
    region_boost: float
    collection_boost: float

    @classmethod
    def from_config(cls, cfg: Config) -> "Tuning":
        return cls(cfg.candidates, cfg.rrf_k, cfg.dense_weight, cfg.expansion_weight, cfg.title_boost,
                   cfg.region_boost, cfg.collection_boost)


# A question, or a clause pasted to find its like, is far shorter, and the encoder reads only its
# first ~500 tokens; a 100,000-character paste held a search for 2.2 s on 2,133 articles (keywords
# and the second stage's overlaps grow with its length). Longer queries are cut, and said to be.
MAX_QUERY_CHARS = 1_000


def matched_terms(terms: Sequence[str], text: str) -> tuple[str, ...]:
    """The query terms found in `text` (normalised), longest first, then in the order of the text;
    without terms inside longer matched ones, without one-character terms when the query has
    longer ones (a lone 人 or 法 occurs in nearly every article, and marking each of them hides the
    words that matched), and without the pieces the tokeniser cuts from a numbered label of the
    query (第三十六条 → 第三十, 十六条, 第二 …), which mark unrelated numbers: 第二十六条."""
    haystack = unicodedata.normalize("NFKC", text).lower()
    shortest = 2 if any(len(t) > 1 for t in terms) else 1
    labels = [t for t in terms if NUMBERED_LABEL.fullmatch(t)]
    # longest first, then in the order of the text: the same order whatever the hash seed
    found = sorted({t for t in terms if len(t) >= shortest and t in haystack
                    and not any(t != label and t in label for label in labels)},
                   key=lambda t: (-len(t), haystack.index(t)))
    kept: list[str] = []
    for term in found:
        if not any(term in longer for longer in kept):
            kept.append(term)
    return tuple(kept)


def _numbered_parts(headings: Sequence[Sequence[str]]) -> dict[str, str]:
    """The parts of a text split into files (民法典's 总则, 物权编 …: the first of each article's
    headings) that name no number of their own, each headed with its number as the text numbers its
    编 (第一编 总则 … 第七编 侵权责任编; 附则 has none), so 第五编第二章 finds 婚姻家庭编's 第二章.
    Nothing for a text whose parts number themselves, or with one part."""
    parts = [p for p in dict.fromkeys(h[0] for h in headings) if p and p != "附则"]
    if len(parts) < 2 or any(division_of(p) for p in parts):
        return {}
    return {p: f"第{int_to_cn(n)}编 {p}" for n, p in enumerate(parts, start=1)}


class Searcher:
    """Everything needed to answer searches over one knowledge base, loaded once."""

    def __init__(self, kb_dir: str | Path | None = None, cfg: Config | None = None) -> None:
        """Load the snapshot CURRENT names: the last complete build, however far the store has
        moved on since (`behind()` tells how far). A snapshot removed by a writer while it was
        being loaded is given up for the one CURRENT names then, once.

        Raises:
            StoreError: if the knowledge base is missing.
            SearchIndexError: if the index is missing, incomplete or does not match the model.
            ConfigError: if the embedding model cannot be loaded (a keywords-only snapshot loads none).
            BackendError: if the snapshot's search backend (Milvus) cannot be reached.
        """
        from ingest.store import open_store

        # A search's matrix products are small (the adapter, the prior's questions), and numpy's
        # OpenBLAS threads spin-wait on a core after each one, where the dense scan's second
        # range wanted to run: one BLAS thread in a process that searches. Learning, which
        # multiplies big matrices, sets its own (`index.learn.fit.learning_threads`).
        threadpool_limits(1, user_api="blas")
        self.cfg = cfg or load_config(kb=None if kb_dir is None else str(kb_dir))
        self.kb_dir = Path(kb_dir if kb_dir is not None else self.cfg.kb)
        self.tuning = Tuning.from_config(self.cfg)
        with open_store(self.kb_dir):       # a missing knowledge base is said as such
            pass
        folder = current_folder(self.kb_dir)
        try:
            self._load_snapshot(folder)
        except SearchIndexError:
            if current_folder(self.kb_dir) == folder:
                raise
            self._load_snapshot(current_folder(self.kb_dir))
        if self.keywords_only:      # no meaning side, nor the second stage that weighs it
            self.tuning = dataclasses.replace(self.tuning, dense_weight=0.0)
            self.adapter, self.reranker, self.prior = None, None, None
        else:
            self.adapter = configured_adapter(self.cfg.query_adapter, self.embedder.model_id)
            self.reranker = configured_reranker(self.cfg.reranker, self.embedder.model_id)
            self.prior = configured_prior(self.cfg.question_prior, self.embedder.model_id)
        self._positions: np.ndarray | None = None
        self.tokenizer = Tokenizer()
        self._doc_keys = np.array([d.key for d in self.catalog.documents], dtype=object)
        # the common short names (治安法, 刑诉法) of the laws held, as 引用核对 reads them
        held = set(self._doc_keys.tolist())
        self.titles = TitleMatcher(self.catalog.titles(), [(a, t) for a, t in ABBREVIATIONS.items() if t in held])
        self.repealed_titles = TitleMatcher(self.repealed)
        self._regions = frozenset(d.region for d in self.catalog.documents)
        self.places = PlaceMatcher([*self._regions, self.cfg.region])
        self.expansions = load_expansions()
        self._versions_of: dict[int, list[int]] | None = None
        self._alias_docs: dict[str, list[int]] | None = None
        # Cached per searcher, not per class: a class-level cache held every searcher it had seen,
        # with its index, after `searcher_for` let it go. `parse` is asked twice per question in
        # the app (its notices, then its hits).
        self.scope = functools.lru_cache(maxsize=32)(self._scope)
        self.parse = functools.lru_cache(maxsize=64)(self._parse)

    def _load_snapshot(self, folder: Path) -> None:
        """Raises:
            SearchIndexError: if a part of the snapshot in `folder` is missing or unreadable.
            ConfigError: if the embedding model cannot be loaded (not asked of a keywords-only snapshot).
            BackendError: if the snapshot's Milvus collections cannot be reached."""
        from index.embed import load_embedder

        hint = rebuild_hint(self.kb_dir)
        self.folder = folder
        self.meta = read_meta(folder, self.kb_dir)
        self.catalog = Catalog.load(folder, hint)
        self.repealed = load_repealed(folder)
        record = backend_record(self.meta)
        # a first build's snapshot before its embedding is done (`index.build`): keywords alone,
        # and no model to load (on a new machine its build may be exporting it right now)
        self.keywords_only = bool(record.get("keywords_only"))
        self.embedder = None if self.keywords_only else load_embedder(self.cfg)
        self.backend = backend_module(record["name"]).open(folder, record, self.catalog, self.embedder, self.cfg)
        self.units = UnitTable(folder, hint)

    def behind(self) -> int:
        """How many committed store changes the snapshot does not reflect (0: up to date).

        Raises:
            StoreError: if the knowledge base cannot be read.
        """
        from ingest.store import open_store

        with open_store(self.kb_dir) as store:
            return max(store.generation() - int(self.meta["generation"]), 0)

    def staleness(self) -> str:
        """One line for the user when the snapshot is behind the store or has keywords only (a
        first build still embedding), else "": a writer is rebuilding it, or the command that does.

        Raises:
            StoreError: if the knowledge base cannot be read.
        """
        behind = self.behind()
        if not behind and not self.keywords_only:
            return ""
        doing = "正在重建" if holder(self.kb_dir) is not None else f"需要重建：{rebuild_hint(self.kb_dir)}"
        if self.keywords_only:
            return f"索引的语义部分尚未建成，检索暂只按关键词，{doing}"
        return f"索引落后于知识库 {behind} 次更新，{doing}（检索暂用上次建立的索引）"

    # ---- filters -------------------------------------------------------------------------
    def documents_matching(self, names: Sequence[str]) -> np.ndarray:
        """Document indexes named by titles, keys or aliases.

        Raises:
            QueryError: if a name matches no document.
        """
        if self._alias_docs is None:
            self._alias_docs = alias_index((d.title, d.key) for d in self.catalog.documents)
        return np.array(sorted(documents_named(names, self._alias_docs)), dtype=np.int32)

    def _scope(self, filters: Filters, named: tuple[int, ...] = (), versions: tuple[tuple[int, int], ...] = ()
               ) -> Scope:
        """What `filters` let a search return: the row mask of the catalog (None when nothing is
        excluded) and the same restriction in terms a backend's expression can say. A document
        asked for by name — in the filter, or in the question (`named`: document indexes) — is
        searched even when none of its versions has an allowed status (《信访条例》, replaced in
        2022): its newest version, as for references. So is a version the question names
        (`versions`: document index, version yyyymmdd; 原《行政复议法》).

        Raises:
            QueryError: for an unknown document, status or level, or a bad date.
        """
        cat = self.catalog
        keep = np.ones(len(cat), dtype=bool)
        unknown = set(filters.statuses) - set(STATUSES)
        if unknown:
            raise QueryError(f"unknown status {sorted(unknown)[0]!r}: use one of {', '.join(STATUSES)}")
        if filters.statuses:
            keep &= np.isin(cat.status, [STATUSES.index(s) for s in filters.statuses])
        doc_ok = np.ones(len(cat.documents), dtype=bool)
        doc_keys: list[str] = []
        asked_for = list(named)
        if filters.documents:
            doc_ok[:] = False
            in_filter = self.documents_matching(filters.documents)
            doc_ok[in_filter] = True
            doc_keys = sorted({cat.documents[d].key for d in in_filter.tolist()})
            asked_for += in_filter.tolist()
        if filters.levels:
            doc_ok &= np.array([d.level in filters.levels for d in cat.documents], dtype=bool)
        if filters.regions:
            doc_ok &= np.array([any(d.region.startswith(r) for r in filters.regions) for d in cat.documents],
                               dtype=bool)
        newest_of: list[tuple[str, int]] = []
        for d in dict.fromkeys(d for d in asked_for if doc_ok[d]):
            rows = cat.doc == d
            if not (keep & rows).any():
                newest = cat.version[rows].max()
                keep |= rows & (cat.version == newest)
                newest_of.append((cat.documents[d].key, int(newest)))
        asked: list[tuple[str, int]] = []
        for d, version in versions:
            rows = (cat.doc == d) & (cat.version == version)
            if doc_ok[d] and not keep[rows].all():
                keep |= rows
                asked.append((cat.documents[d].key, version))
        keep &= doc_ok[cat.doc]
        start = bound_number(filters.date_from, end=False) if filters.date_from else 0
        end = bound_number(filters.date_to, end=True) if filters.date_to else 0
        if start:
            keep &= cat.effective >= start
        if end:
            keep &= (cat.effective > 0) & (cat.effective <= end)
        return Scope(None if keep.all() else keep, tuple(filters.statuses), tuple(doc_keys), tuple(newest_of),
                     tuple(filters.levels), tuple(filters.regions), start, end, versions_asked=tuple(asked))

    def question_scope(self, parsed: ParsedQuery, filters: Filters) -> Scope:
        """The scope of `filters` for this question: with the documents it names, whatever their status.
        Only documents the filters' scope leaves out are handed on, so the cached scope of the
        filters serves every other question (a new entry per named document cost ~0.8 ms).

        Raises:
            QueryError: as `scope`.
        """
        scope = self.scope(filters)
        if scope.mask is None or not parsed.mentioned:
            return scope
        left_out = tuple(d for d in self.documents_keyed(parsed.mentioned).tolist()
                         if not scope.mask[self.catalog.doc == d].any())
        versions = tuple((int(self.catalog.doc[r]), int(self.catalog.version[r]))
                         for _, r in self.versions_named(parsed) if not scope.mask[r])
        return self.scope(filters, left_out, versions) if left_out or versions else scope

    def versions_named(self, parsed: ParsedQuery) -> list[tuple[NamedVersion, int]]:
        """The versions the question names (原《行政复议法》, 2017年修正的…), each by a catalog row of it."""
        cat = self.catalog
        found = []
        for named in parsed.versions:
            for d in self.documents_keyed(named.doc_keys).tolist():
                row = self._version_asked(named, self._one_row_per_version(np.flatnonzero(cat.doc == d)))
                if row is not None:
                    found.append((named, row))
        return found

    def _one_row_per_version(self, rows: np.ndarray) -> list[int]:
        return rows[np.unique(self.catalog.version[rows], return_index=True)[1]].tolist()

    # ---- ranking -------------------------------------------------------------------------
    def _parse(self, query: str, filters: Filters) -> ParsedQuery:
        """The question understood (references, named documents, expansions), once per question and
        filters: the app asks `notices` and `search` about the same question one after the other.

        Raises:
            QueryError: for an empty query or an unknown document in the filter.
        """
        parsed = parse_query(query.strip()[:MAX_QUERY_CHARS], self.titles, self.expansions, self.places,
                             self.repealed_titles)
        if filters.documents and any(not r.doc_keys for r in (*parsed.references, *parsed.divisions)):
            keys = tuple(sorted({self.catalog.documents[i].key for i in self.documents_matching(filters.documents)}))
            parsed = parsed.resolve(keys)
        return parsed

    def lexical_query(self, parsed: ParsedQuery, *, expanded: bool = True) -> LexicalQuery:
        """The keyword side of a parsed question, for the backend: its tokens, and its expansion
        terms and their tokens (none unless `expanded`)."""
        expansions = parsed.expansions if expanded else ()
        extra = tuple(t for term in expansions for t in self.tokenizer.tokens(term))
        return LexicalQuery(normalise(parsed.scored_text), tuple(self.tokenizer.tokens(parsed.scored_text)),
                            tuple(normalise(e) for e in expansions), extra, self.tuning.expansion_weight)

    def lexical_ranking(self, query: LexicalQuery, scope: Scope, n: int) -> list[tuple[int, float]]:
        """Best rows by BM25 of the question plus down-weighted expansion terms (the backend's)."""
        if scope.empty:
            return []
        return self.backend.lexical(query, scope, n)

    def dense_ranking(self, qvec: np.ndarray, scope: Scope, n: int) -> list[tuple[int, float]]:
        """Best rows by embedding similarity to the base query vector `qvec` (the adapter applied
        here), the filter applied by the backend before top-k."""
        if self.adapter is not None:
            qvec = self.adapter.apply(qvec)
        if scope.empty:
            return []
        return self.backend.dense(qvec, scope, n)

    def reference_rows(self, refs: Sequence[Reference], filters: Filters) -> list[int]:
        """Rows answering explicit references: the version the reference names (（2016年）, 原…),
        else the version allowed by the status filter, else the best."""
        cat = self.catalog
        rows: list[int] = []
        for ref in refs:
            if not ref.doc_keys:
                continue
            candidates = self._article_rows(ref)
            asked = self._version_asked(ref, candidates)
            allowed = [r for r in candidates if STATUSES[cat.status[r]] in filters.statuses] or candidates
            if asked is not None:
                rows.append(asked)
            elif allowed:
                rows.append(min(allowed, key=lambda r: (int(cat.status[r]), -int(cat.effective[r]))))
        return rows

    def doc_number_rows(self, numbers: Sequence[str], filters: Filters) -> list[int]:
        """The first rows of the documents a question names by 文号 (国办发〔2013〕1号), the longest
        stored number it ends with first; of each document the version the status filter allows,
        else its newest."""
        if not numbers:
            return []
        cat, stored = self.catalog, self.units.first_units_by_doc_number()
        found = sorted(((len(number), unit_id) for asked in numbers for number, ids in stored.items()
                        if asked.endswith(number) for unit_id in ids), reverse=True)
        by_document: dict[int, list[int]] = {}
        for row in cat.rows_of([unit_id for _, unit_id in found]).tolist():
            by_document.setdefault(int(cat.doc[row]), []).append(row)
        rows = []
        for candidates in by_document.values():
            allowed = [r for r in candidates if STATUSES[cat.status[r]] in filters.statuses] or candidates
            rows.append(max(allowed, key=lambda r: int(cat.version[r])))
        return rows

    def _version_asked(self, ref: Reference | DivisionReference | NamedVersion, rows: Sequence[int]) -> int | None:
        """Of `rows`, one per version (of an article, or of a document), the one the reference's
        version hint asks for (`kb.citations.version_asked`; an index keeps no history, so by
        version dates alone)."""
        if not (ref.year or ref.earlier):
            return None
        cat = self.catalog
        versions = [_RowVersion(r, date_text(int(cat.version[r])), STATUSES[int(cat.status[r])])
                    for r in sorted(rows, key=lambda r: -int(cat.version[r]))]
        asked = version_asked(versions, ref.year, ref.earlier)
        return asked.row if asked is not None else None

    def division_matches(self, ref: DivisionReference, filters: Filters) -> dict[tuple[str, ...], list[int]]:
        """The parts, chapters or sections `ref` names, by (document title, headings down to the
        one named), each with its article rows in order: of the version `ref` names (2017年的…),
        else of each named document's newest version the status filter allows, else of its
        newest. "民法典第四章" names seven, one per 编."""
        cat = self.catalog
        found: dict[tuple[str, ...], list[int]] = {}
        for d in self.documents_keyed(ref.doc_keys).tolist():
            rows = self._article_rows_of_version(d, ref, filters)
            headed = self.units.headed_texts(cat.ids[rows].tolist())
            headings = [headed.get(int(cat.ids[r]), (("",), ""))[0] or ("",) for r in rows]
            numbered = _numbered_parts(headings)
            for r, (part, *below) in zip(rows, headings):
                if ref.part and part.removesuffix("编") != ref.part.removesuffix("编"):
                    continue
                path = division_path((numbered.get(part, part), *below), ref.divisions)
                if path is not None:
                    found.setdefault((cat.documents[d].title, *path), []).append(r)
        return found

    def _article_rows_of_version(self, d: int, named: NamedVersion | DivisionReference, filters: Filters) -> list[int]:
        """The article rows of document `d`, in order, of the version `named` asks for (2017年的…),
        else of its newest version the status filter allows, else of its newest."""
        cat = self.catalog
        allowed = [STATUSES.index(s) for s in filters.statuses]
        rows = np.flatnonzero((cat.doc == d) & (cat.no > 0))
        asked = self._version_asked(named, self._one_row_per_version(rows))
        pool = rows[np.isin(cat.status[rows], allowed)] if allowed else rows
        pool = pool if len(pool) else rows
        if asked is not None:
            pool = rows[cat.version[rows] == cat.version[asked]]
        rows = pool[cat.version[pool] == cat.version[pool].max()] if len(pool) else pool
        return sorted(rows.tolist(), key=lambda r: (int(cat.no[r]), int(cat.suffix[r])))

    def outline(self, d: int, named: NamedVersion, filters: Filters) -> list[tuple[str, list[int]]]:
        """The top divisions of document `d` (its files' parts, as 民法典's 物权编, else its first
        headings: 编, else 章, and an unnumbered 附则; the version as for `division_matches`), each
        with its article rows in order; one ("", rows) for a text not divided."""
        rows = self._article_rows_of_version(d, named, filters)
        headed = self.units.headed_texts(self.catalog.ids[rows].tolist())
        parts: dict[str, list[int]] = {}
        for r in rows:
            subtitle, *headings = headed.get(int(self.catalog.ids[r]), (("",), ""))[0]
            parts.setdefault(subtitle or next(iter(headings), ""), []).append(r)
        return list(parts.items())

    def division_rows(self, refs: Sequence[DivisionReference], filters: Filters) -> list[int]:
        """Rows of the articles of the parts, chapters or sections asked for, in order; one that
        names several (民法典第四章) is left to the notice."""
        rows: list[int] = []
        for ref in refs:
            found = self.division_matches(ref, filters) if ref.doc_keys else {}
            if len(found) == 1:
                rows += next(iter(found.values()))
        return rows

    def documents_keyed(self, keys: Sequence[str]) -> np.ndarray:
        """Catalog document indexes of the documents with these title keys (e.g. those a reference names)."""
        return np.flatnonzero(np.isin(self._doc_keys, list(keys)))

    def _article_rows(self, ref: Reference) -> list[int]:
        cat = self.catalog
        docs = self.documents_keyed(ref.doc_keys)
        rows = np.flatnonzero((cat.no == ref.no) & (cat.suffix == ref.suffix) & np.isin(cat.doc, docs))
        return rows.tolist()

    def notices(self, query: str, filters: Filters | None = None) -> list[str]:
        """What the knowledge base cannot answer of what `query` asks for by name, one line each:
        a document named in 《》 that it does not hold ("知识库中没有《民法典》"), an article its
        document does not have ("《信访工作条例》没有第九百条（共50条）") or of no document named
        ("第三十五条" alone: which document's is not known), a name typed one character off and
        read as the one it holds ("知识库中没有“人民调节法”：按《人民调解法》检索"), the rules of a place it
        holds none of ("四川对重复信访怎么规定" → "知识库中没有四川省的地方规定"), a chapter its
        document does not have or has several of (民法典第四章). The search still answers with the
        articles it has; these lines say why the one asked for is not among them. Also said: a
        text named that is not in force and is listed anyway (老的信访条例), and the articles of a
        chapter asked for ("《信访工作条例》第四章 信访事项的办理：第二十七条至第三十七条，共11条").
        First, if the query is longer than `MAX_QUERY_CHARS`, that only its beginning was searched.

        Raises:
            QueryError: for an empty query or an invalid filter.
        """
        filters = filters or Filters()
        parsed = self.parse(query, filters)
        length = len(query.strip())
        out = [f"问题过长（{length}字）：只按前{MAX_QUERY_CHARS}字检索"] if length > MAX_QUERY_CHARS else []
        out += [f"知识库中没有“{chinese_brackets(typed)}”：按{book_title(known)}检索" for typed, known in parsed.corrected]
        for name in parsed.unknown:
            gone = self.repealed.get(title_key(name))
            out.append(f"知识库中没有{book_title(chinese_brackets(name))}"
                       + (f"：它已于{gone.since}被{book_title(gone.by)}废止" if gone else ""))
        out += [f"知识库中没有{place}的地方规定" for place in self.places_asked(parsed, filters)
                if not self.holds_rules_of(place)]
        if {HOME, HOME_PROVINCE} & set(parsed.places) and not self.region_setting(filters):
            out.append("问题问的是本地的规定：请在“地区偏好”中选择所在地区（或设置 region），以便优先显示")
        cat = self.catalog
        scope = self.question_scope(parsed, filters)
        allowed = "、".join(STATUS_LABELS[s] for s in scope.statuses)
        only_named = named_only(scope)
        for key, version in scope.newest_of:
            if key in only_named:
                rows = np.isin(cat.doc, self.documents_keyed([key])) & (cat.version == version)
                d, status = int(cat.doc[rows][0]), STATUSES[int(cat.status[rows][0])]
                out.append(f"问题提到的{book_title(cat.documents[d].title)}没有{allowed}的版本：一并列出其最新文本"
                           f"（{STATUS_LABELS[status]}）")
        # a version named for an article or chapter (《…》（2016年）第四条) is said of those, below
        numbered = {(r.doc_keys, r.year, r.earlier) for r in (*parsed.references, *parsed.divisions)}
        for named, row in self.versions_named(parsed):
            d, version = int(cat.doc[row]), int(cat.version[row])
            if (cat.documents[d].key, version) in scope.versions_asked and (
                    (named.doc_keys, named.year, named.earlier) not in numbered):
                asked = f"{named.year}年的版本" if named.year else "原来的版本"
                shown = "，现行条文在前，原来的条文见“其他版本”" if parsed.asks_current else ""
                out.append(f"问题提到{book_title(cat.documents[d].title)}{asked}：一并检索其{date_text(version)}的文本"
                           f"（{STATUS_LABELS[STATUSES[int(cat.status[row])]]}）{shown}")
        bare = [article_label(r.no, r.suffix) for r in parsed.references if not r.doc_keys and not r.unknown]
        bare += [d.label for d in parsed.divisions if not d.doc_keys]
        if bare:
            more = "等" if len(bare) > 2 else ""
            out.append(f"“{'、'.join(bare[:2])}”{more}没有指明是哪部法规的：请在前面写上法规名称，"
                       "或在“法规”筛选中选定一部（命令行：--doc）")
        for division in (d for d in parsed.divisions if d.doc_keys):
            found = self.division_matches(division, filters)
            titles = "、".join(book_title(cat.documents[d].title) for d in self.documents_keyed(division.doc_keys))
            if not found:
                out.append(f"{titles}没有{division.label}")
            elif len(found) > 1:
                out.append(f"{titles}有{len(found)}个{division.label}：请在“法规浏览”中选看")
            else:
                (title, *headings), rows = next(iter(found.items()))
                first, last = (article_label(int(cat.no[r]), int(cat.suffix[r])) for r in (rows[0], rows[-1]))
                span = f"{first}至{last}，共{len(rows)}条" if len(rows) > 1 else first
                version = f"（{date_text(int(cat.version[rows[0]]))}版本）" if division.year or division.earlier else ""
                out.append(f"{book_title(title)}{version}{' '.join(h for h in headings if h)}：{span}")
        if parsed.asks_outline:
            out += self._outline_notices(parsed, filters)
        for ref in parsed.references:
            rows = self._article_rows(ref) if ref.doc_keys else []
            asked = self._version_asked(ref, rows) if ref.year else None
            if asked is not None and date_text(int(cat.version[asked]))[:4] != ref.year:
                out.append(f"{book_title(cat.documents[int(cat.doc[asked])].title)}没有{ref.year}年的版本："
                           f"{article_label(ref.no, ref.suffix)}按{date_text(int(cat.version[asked]))}的版本列出")
            shown = self.reference_rows([ref], filters) if rows and (ref.paragraph or ref.item) else []
            for unit in self.units.by_ids(cat.ids[shown].tolist()).values():
                missing = missing_part(unit.label, unit.paragraphs, ref.paragraph, ref.item)
                if missing:
                    out.append(f"{book_title(unit.title)}{missing}")
            if ref.doc_keys and not rows:
                docs = self.documents_keyed(ref.doc_keys)
                titles = "、".join(book_title(cat.documents[d].title) for d in docs)
                in_force = np.isin(cat.doc, docs) & (cat.status == 0) & (cat.no > 0)
                count = f"（共{int(in_force.sum())}条）" if len(docs) == 1 and in_force.any() else ""
                out.append(f"{titles}没有{article_label(ref.no, ref.suffix)}{count}")
        return list(dict.fromkeys(out))

    def _outline_notices(self, parsed: ParsedQuery, filters: Filters) -> list[str]:
        """"《信访工作条例》共50条，分6章：第一章 总则（第一条至第六条）；…" for each document a
        question asks the layout of (信访工作条例有几章, …一共多少条)."""
        cat, out = self.catalog, []
        for d in self.documents_keyed(parsed.mentioned).tolist():
            key = cat.documents[d].key
            named = next((n for n in parsed.versions if key in n.doc_keys), NamedVersion((key,)))
            parts = self.outline(d, named, filters)
            if not parts:
                continue
            rows = [r for _, part in parts for r in part]
            version = f"（{date_text(int(cat.version[rows[0]]))}版本）" if named.year or named.earlier else ""
            inserted = int((cat.suffix[rows] > 0).sum())
            count = f"{book_title(cat.documents[d].title)}{version}共{len(rows)}条" + (
                f"（含{inserted}条“之一”等增补条文）" if inserted else "")
            if len(parts) == 1 and not parts[0][0]:
                out.append(f"{count}，不分章节")
                continue
            spans = []
            for heading, part in parts:
                first, last = (article_label(int(cat.no[r]), int(cat.suffix[r])) for r in (part[0], part[-1]))
                spans.append(f"{heading or '其他'}（{first}至{last}）" if len(part) > 1 else f"{heading or '其他'}（{first}）")
            kinds = {kind for kind, _ in filter(None, (division_of(h) for h, _ in parts))}
            numbered = sum(1 for h, _ in parts if division_of(h))
            # 附则 stands unnumbered after the 章 of many texts: 6章 and 附则 are "分7部分"
            kind = kinds.pop() if len(kinds) == 1 and numbered == len(parts) else "部分"
            out.append(f"{count}，分{len(parts)}{kind}：{'；'.join(spans)}")
        return out

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        """Best `k` hits for a question or a reference.

        Raises:
            QueryError: for an empty query, an invalid k or an invalid filter.
        """
        k = self.cfg.top_k if k is None else k
        if k < 1:
            raise QueryError(f"k must be at least 1, got {k}")
        with searching():           # so that a scan splits over the cores only when no other search runs
            return self._search(query, k, filters or Filters())

    def _search(self, query: str, k: int, filters: Filters) -> list[Hit]:
        parsed = self.parse(query, filters)
        scope = self.question_scope(parsed, filters)
        # documents searched only because the question names them (《信访条例》 when only texts in
        # force are): shown on the first page beside the texts in force, not raised above them, for
        # people call the text in force by its old name too (2022年那个新的信访条例)
        by_name_only = named_only(scope)
        n = max(k, self.tuning.candidates)
        t = self.tuning
        query_terms = self.lexical_query(parsed)
        lexical = self.lexical_ranking(query_terms, scope, n)
        qvec = self.embedder.encode_query(parsed.scored_text) if t.dense_weight or self.reranker is not None else None
        dense = self.dense_ranking(qvec, scope, n) if t.dense_weight else []
        fused = rrf([[r for r, _ in lexical], [r for r, _ in dense]], [1.0, t.dense_weight], t.rrf_k)
        preferred = self.preferred_regions(parsed, filters)
        if self.reranker is not None:
            fused = self.rerank(parsed, qvec, fused, lexical, dense,
                                *self.prior_votes(qvec, fused[:self.reranker.depth], preferred))
        fused = boost(fused, self._boosts(fused, parsed, preferred, filters, by_name_only))
        referenced = self.reference_rows(parsed.references, filters) + self.division_rows(parsed.divisions, filters)
        numbered = self.doc_number_rows(parsed.doc_numbers, filters)
        pinned = referenced + numbered
        fused = pin_first(pinned, fused)
        asked = [] if parsed.asks_current else self._rows_of_versions(fused, self.versions_named(parsed))
        grouped = self._group(fused, {*pinned, *asked})
        grouped = self._show_each_named(grouped, parsed, filters, k, by_name_only)[:k]
        why = {MATCH_REFERENCE: set(referenced), MATCH_DOC_NUMBER: set(numbered),
               MATCH_KEYWORDS: {r for r, _ in lexical}, MATCH_MEANING: {r for r, _ in dense}}
        return self._hits(grouped, why, [*query_terms.tokens, *query_terms.extra_tokens],
                          self._parts_asked(parsed, filters))

    def _parts_asked(self, parsed: ParsedQuery, filters: Filters) -> dict[int, tuple[int, int]]:
        """Row → the 款 and 项 its reference asks for (第三十六条第二款, 第三十一条第六项), of the
        references that ask one."""
        return {row: (ref.paragraph, ref.item) for ref in parsed.references if ref.paragraph or ref.item
                for row in self.reference_rows([ref], filters)}

    def preferred_regions(self, parsed: ParsedQuery, filters: Filters) -> tuple[str, ...]:
        """The places whose rules (and national ones) rank higher for this question: the preferred
        region (`filters.prefer_region`, else the `region` setting) and the places whose rules the
        question asks for, if the knowledge base holds local rules of them. Those are added, not
        put in the preference's stead; a place the question only names is not one of them: "我能
        不能直接去北京上访" asks about petitioning the centre, not about 北京's rules."""
        setting = self.region_setting(filters)
        named = self.local_places_asked(parsed, filters)
        return tuple(dict.fromkeys([setting, *named] if setting else named))

    def region_setting(self, filters: Filters) -> str:
        """The region the user prefers: `filters.prefer_region`, else the `region` setting."""
        return self.cfg.region if filters.prefer_region is None else filters.prefer_region

    def places_asked(self, parsed: ParsedQuery, filters: Filters) -> tuple[str, ...]:
        """The regions whose rules the question asks for, the asker's own (本市, 我省) read as the
        preferred region and its province; without a preferred region those are left out."""
        setting = self.region_setting(filters)
        home = {HOME: setting, HOME_PROVINCE: province_of(setting) or setting}
        return tuple(dict.fromkeys(filter(None, (home.get(p, p) for p in parsed.places))))

    def local_places_asked(self, parsed: ParsedQuery, filters: Filters) -> list[str]:
        """The `places_asked` that the knowledge base holds local rules of: those whose rules rank first."""
        return [p for p in self.places_asked(parsed, filters) if self.holds_rules_of(p)]

    def holds_rules_of(self, place: str) -> bool:
        """Whether the knowledge base holds local (not national) rules that hold in `place`."""
        return any(region != NATIONAL and concerns(region, place) for region in self._regions)

    def prior_votes(self, qvec: np.ndarray, fused: Sequence[tuple[int, float]], preferred: Sequence[str]
                    ) -> tuple[dict[str, float], dict[ArticleKey, float]]:
        """The question prior's votes for the question (document key → vote, article key → vote);
        `fused`: the candidates the second stage reorders; `preferred`: `preferred_regions`.
        The questions it learned from are answered by national texts, so on its own it would count
        against every local rule; the preferred places' rules among the candidates get the
        strongest vote any document gets, so preferring a region keeps its rules in reach."""
        if self.prior is None:
            return {}, {}
        votes, article_votes = self.prior.votes_for(qvec)
        if preferred and votes:
            strongest = max(votes.values())
            for row, _ in fused:
                doc = self.catalog.documents[self.catalog.doc[row]]
                if doc.region != NATIONAL and any(concerns(doc.region, p) for p in preferred):
                    votes[doc.key] = strongest
        return votes, article_votes

    def rerank(self, parsed: ParsedQuery, qvec: np.ndarray, fused: Sequence[tuple[int, float]],
               lexical: Sequence[tuple[int, float]], dense: Sequence[tuple[int, float]], votes: Mapping[str, float],
               article_votes: Mapping[ArticleKey, float]) -> list[tuple[int, float]]:
        """The second stage: the best fused rows (the reranker's `depth`) in its order, then the
        rest; scored by RRF over this one ranking (1 / (`RERANKED_RRF_K` + rank)), so the boosts act
        on them as on fused ones. `qvec`: the question's base vector (before the adapter);
        `votes` and `article_votes`: the prior's (document key / article key → vote) for the question."""
        depth = self.reranker.depth
        head = [r for r, _ in fused[:depth]]
        order = self.reranker.order(self.features(parsed, qvec, head, lexical, dense, votes, article_votes))
        rows = [head[i] for i in order] + [r for r, _ in fused[depth:]]
        return rrf([rows], k=RERANKED_RRF_K)

    def features(self, parsed: ParsedQuery, qvec: np.ndarray, rows: Sequence[int],
                 lexical: Sequence[tuple[int, float]], dense: Sequence[tuple[int, float]],
                 votes: Mapping[str, float], article_votes: Mapping[ArticleKey, float]) -> np.ndarray:
        """`index.rerank` features of candidate `rows` (best fused first) for a parsed question
        and its base vector `qvec`; `votes` and `article_votes` are the prior's (document key /
        article key → vote)."""
        cat = self.catalog
        lexical_at = {r: (rank, score) for rank, (r, score) in enumerate(lexical, start=1)}
        dense_at = {r: (rank, score) for rank, (r, score) in enumerate(dense, start=1)}
        base_at = dict(self.base_dense_scores(qvec, rows))
        at = np.asarray(rows, dtype=np.int64)
        ids, docs, numbers, suffixes = (cat.ids[at].tolist(), cat.doc[at].tolist(), cat.no[at].tolist(),
                                        cat.suffix[at].tolist())
        texts = self.units.headed_texts(ids)
        mentioned = set(parsed.mentioned)
        positions = self.positions()[at].tolist()
        candidates = []
        for i, r in enumerate(rows):
            headings, text = texts.get(ids[i], ((), ""))
            doc = cat.documents[docs[i]]
            lex_rank, lex_score = lexical_at.get(r, (None, 0.0))
            den_rank, den_score = dense_at.get(r, (None, 0.0))
            candidates.append(Candidate(docs[i], lex_rank, float(lex_score), den_rank, float(den_score),
                                        doc.title, headings, text, positions[i], doc.key in mentioned,
                                        votes.get(doc.key, 0.0),
                                        article_votes.get((doc.key, numbers[i], suffixes[i]), 0.0),
                                        base_at.get(r, 0.0)))
        return candidate_features(parsed.text, candidates)

    def base_dense_scores(self, qvec: np.ndarray, rows: Sequence[int]) -> list[tuple[int, float]]:
        """(row, best passage's inner product with `qvec` as it is, no adapter) of those of `rows`
        that have passages: the dense search restricted to them."""
        if not len(rows):
            return []
        mask = np.zeros(len(self.catalog), dtype=bool)
        mask[np.asarray(rows, dtype=np.int64)] = True
        return self.backend.dense(qvec, Scope(mask, article_ids=tuple(self.catalog.ids[mask].tolist())), len(rows))

    def positions(self) -> np.ndarray:
        """Per row, where the article stands in its version: 0 first … 1 last (0 for sections)."""
        if self._positions is None:
            cat = self.catalog
            version_key = cat.doc.astype(np.int64) * 100_000_000 + cat.version
            last: dict[int, int] = {}
            for key, no in zip(version_key.tolist(), cat.no.tolist()):
                last[key] = max(last.get(key, 0), no)
            tops = np.array([last[key] for key in version_key.tolist()], dtype=np.float32)
            self._positions = np.where(cat.no > 0, cat.no / np.maximum(tops, 1), 0).astype(np.float32)
        return self._positions

    def collection_documents(self, name: str | None) -> frozenset[int]:
        """Document indexes of the collection a search prefers (`Filters.prefer_collection`; None =
        the `collection` setting, which defaults to the knowledge base's default collection).
        Names in the collection that match no document are ignored here (the app lists them).

        Raises:
            QueryError: for an unknown collection name.
            ConfigError: if the collections file is unreadable.
        """
        collections = load_collections(self.kb_dir)
        chosen = collections.chosen(self.cfg.collection if name is None else name)
        if not chosen:
            return frozenset()
        found: set[int] = set()
        for doc in collections.members[chosen]:
            with contextlib.suppress(QueryError):
                found.update(self.documents_matching([doc]).tolist())
        return frozenset(found)

    def _boosts(self, fused: Sequence[tuple[int, float]], parsed: ParsedQuery, preferred: Sequence[str],
                filters: Filters, by_name_only: Collection[str] = ()) -> dict[int, float]:
        """Score factors by row: named documents' (but those `by_name_only`, searched only because
        they are named) and the own rules of places whose rules the question asks for
        (`title_boost`), the `preferred` places' rules and national ones (`region_boost`), the
        collection's."""
        cat, t = self.catalog, self.tuning
        asked = self.local_places_asked(parsed, filters)
        collection = self.collection_documents(filters.prefer_collection) if t.collection_boost != 1 else frozenset()
        mentioned = set(parsed.mentioned) - set(by_name_only)
        rows = [r for r, _ in fused]
        of_doc: dict[int, float] = {}
        factors: dict[int, float] = {}
        for row, d in zip(rows, cat.doc[np.asarray(rows, dtype=np.int64)].tolist()):
            if d not in of_doc:
                doc = cat.documents[d]
                local_asked = doc.region != NATIONAL and any(concerns(doc.region, p) for p in asked)
                factor = t.title_boost if doc.key in mentioned or local_asked else 1.0
                if any(concerns(doc.region, p) for p in preferred):
                    factor *= t.region_boost
                if d in collection:
                    factor *= t.collection_boost
                of_doc[d] = factor
            if of_doc[d] != 1.0:
                factors[row] = of_doc[d]
        return factors

    def _rows_of_versions(self, fused: Sequence[tuple[int, float]], versions: Sequence[tuple[NamedVersion, int]]
                          ) -> list[int]:
        """The rows of `fused` in the `versions` (`versions_named`: each by a row of it)."""
        if not versions:
            return []
        cat = self.catalog
        asked = {(int(cat.doc[r]), int(cat.version[r])) for _, r in versions}
        return [r for r, _ in fused if (int(cat.doc[r]), int(cat.version[r])) in asked]

    def _group(self, fused: Sequence[tuple[int, float]], shown: Collection[int] = ()
               ) -> list[tuple[int, float, list[int]]]:
        """Versions of one article as one hit, showing the version in force first, or the one the
        question asked for (`shown`: 《…》（2016年）第四条 shows the 2016 text, 原《…》 its older text)."""
        cat = self.catalog
        rows = [r for r, _ in fused]
        at = np.asarray(rows, dtype=np.int64)
        group_of = dict(zip(rows, cat.group[at].tolist()))
        preference = dict(zip(rows, cat.status[at].tolist()))
        preference.update((r, -1) for r in shown)
        return group_versions(fused, group_of, preference)

    def _show_each_named(self, grouped: list[tuple[int, float, list[int]]], parsed: ParsedQuery,
                         filters: Filters, k: int, by_name_only: Collection[str] = ()) -> list[tuple[int, float, list[int]]]:
        """A user who names several documents (in the question or the document filter), e.g. to
        compare 《信访条例》 with 《信访工作条例》, sees each of them in the first `k` hits, not only the
        one whose articles score best; one who asks for a place's rules sees the national ones
        beside them (上海's 信访条例 fills a page, and 《信访工作条例》 stands above it); one who names
        a text no longer in force (`by_name_only`: 老的信访条例…) sees it and the texts in force."""
        named = [set(self.documents_matching([name]).tolist()) for name in filters.documents]
        named += [set(self.documents_keyed([key]).tolist()) for key in parsed.mentioned]
        places = self.local_places_asked(parsed, filters)
        if places:
            regions = [d.region for d in self.catalog.documents]
            named += [{i for i, r in enumerate(regions) if r != NATIONAL and concerns(r, p)} for p in places]
            named.append({i for i, r in enumerate(regions) if r == NATIONAL})
        if by_name_only:
            named.append({i for i, d in enumerate(self.catalog.documents) if d.key not in by_name_only})
        if len(named) < 2:
            return grouped
        docs = self.catalog.doc
        labels = [next((i for i, group in enumerate(named) if int(docs[row]) in group), None) for row, _, _ in grouped]
        return show_each(grouped, labels, k)

    def versions_of(self, row: int) -> list[int]:
        """All rows that are versions of the same article as `row` (itself included)."""
        if self._versions_of is None:
            groups: dict[int, list[int]] = {}
            for r, g in enumerate(self.catalog.group.tolist()):
                groups.setdefault(g, []).append(r)
            self._versions_of = groups
        return self._versions_of[int(self.catalog.group[row])]

    # ---- hits ----------------------------------------------------------------------------
    def _hits(self, grouped: Sequence[tuple[int, float, list[int]]], why: dict[str, set[int]],
              terms: Sequence[str], parts: Mapping[int, tuple[int, int]] | None = None) -> list[Hit]:
        cat = self.catalog
        rows = [r for r, _, _ in grouped]
        units = self.units.by_ids(cat.ids[rows].tolist())      # from the snapshot: what the rows indexed
        hits = []
        for row, score, _ in grouped:
            u = units.get(int(cat.ids[row]))
            if u is None:
                continue
            others = tuple(VersionRef(int(cat.ids[r]), date_text(int(cat.version[r])), STATUSES[cat.status[r]])
                           for r in self.versions_of(row) if r != row)
            hits.append(self._hit(u, score, tuple(m for m, members in why.items() if row in members),
                                  matched_terms(terms, " ".join((u.title, *u.path, u.text))), others,
                                  (parts or {}).get(row, (0, 0))))
        return hits

    @staticmethod
    def _hit(u, score: float, match: tuple[str, ...], terms: tuple[str, ...],
             others: tuple[VersionRef, ...], part: tuple[int, int] = (0, 0)) -> Hit:
        # a 款 or 项 the article lacks is said by a notice, not marked
        paragraph, item = held_part(u.label, u.paragraphs, *part)
        return Hit(u.id, u.kind, u.title, u.subtitle, u.doc_key, u.label, u.no, u.suffix, u.path, u.text,
                   u.paragraphs, u.status, u.doc_level, u.region, u.issuer, u.doc_number, u.effective,
                   u.version_date, u.source, u.relpath, u.document_id, u.version_id, score, match, terms, others,
                   u.version_event, u.version_event_date, paragraph, item)

    def article(self, doc: str, label: str) -> Hit:
        """One article by document name (title, key or short name) and label ("第三十六条", "第36条"),
        current version first.

        Raises:
            QueryError: if the document or the article does not exist, or the label is malformed.
        """
        try:
            no, suffix = parse_article_label(label)
        except ValueError:
            raise QueryError(f"bad article label {label!r}: use a form such as 第三十六条 or 第36条") from None
        keys = tuple(sorted({self.catalog.documents[i].key for i in self.documents_matching([doc])}))
        rows = self.reference_rows([Reference(keys, no, suffix)], Filters())
        if not rows:
            raise QueryError(f"{book_title(doc)} has no {label}")
        return self._hits([(rows[0], 1.0, [])], {MATCH_REFERENCE: set(rows)}, [])[0]

    def neighbours(self, article_id: int, before: int = 1, after: int = 1) -> tuple[list[Hit], list[Hit]]:
        """The units just before and after an article in its version, as hits (score 0).

        Raises:
            QueryError: if the article does not exist.
        """
        from ingest.store import open_store

        with open_store(self.kb_dir) as store, store.consistent():
            if store.article(article_id) is None:
                raise QueryError(f"no article with id {article_id} in {self.kb_dir}")
            prev, nxt = store.neighbours(article_id, before, after)
        as_hits = lambda units: [self._hit(u, 0.0, (), (), ()) for u in units]  # noqa: E731
        return as_hits(prev), as_hits(nxt)


def named_only(scope: Scope) -> frozenset[str]:
    """Keys of the documents `scope` searches only because the question names them: no version
    has a status its filter allows, and the document filter does not name them."""
    return frozenset(key for key, _ in scope.newest_of) - set(scope.doc_keys)


def bound_number(bound: str, *, end: bool) -> int:
    """A YYYY / YYYY-MM / YYYY-MM-DD bound as yyyymmdd: its first day, or its last when `end`.

    Raises:
        QueryError: if `bound` has another form, or names a month or day that does not exist.
    """
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", bound.strip())
    if not m:
        raise QueryError(f"bad date {bound!r}: use YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    if month and not 1 <= int(month) <= 12:
        raise QueryError(f"bad date {bound!r}: no such month")
    if day:
        try:
            _dt.date(year, int(month), int(day))
        except ValueError:
            raise QueryError(f"bad date {bound!r}: no such day") from None
    month_value = int(month) if month else (12 if end else 1)
    day_value = int(day) if day else (31 if end else 1)
    return year * 10000 + month_value * 100 + day_value


_searchers: dict[tuple[str | None, Config | None], Searcher] = {}
_searchers_guard = threading.Lock()
SEARCHERS_KEPT = 2


def searcher_for(kb: str | None = None, cfg: Config | None = None) -> Searcher:
    """The process-wide Searcher of a knowledge base (default: the `kb` setting) and settings.

    Loaded once, by one thread while the others wait for it, and loaded anew when a writer has
    swapped in a new snapshot since.

    Raises:
        StoreError, SearchIndexError, ConfigError: as `Searcher`.
    """
    key = (kb, cfg)
    with _searchers_guard:
        cached = _searchers.pop(key, None)
        if cached is None or current_folder(cached.kb_dir) != cached.folder:
            cached = Searcher(kb, cfg)
        _searchers[key] = cached                    # most recently used last
        while len(_searchers) > SEARCHERS_KEPT:
            del _searchers[next(iter(_searchers))]
        return cached


def search(query: str, k: int = 10, filters: Filters | None = None, *, kb: str | None = None) -> list[Hit]:
    """Search the knowledge base `kb` (default: the `kb` setting). See `Searcher.search`.

    Raises:
        StoreError, SearchIndexError, ConfigError: if the knowledge base or index cannot be loaded.
        QueryError: for an empty query or an invalid filter.
    """
    return searcher_for(kb).search(query, k, filters)


def article(doc: str, label: str, *, kb: str | None = None) -> Hit:
    """One article by document name and label. See `Searcher.article`.

    Raises:
        StoreError, SearchIndexError, ConfigError: if the knowledge base or index cannot be loaded.
        QueryError: if the document or article does not exist.
    """
    return searcher_for(kb).article(doc, label)


def neighbours(article_id: int, before: int = 1, after: int = 1, *, kb: str | None = None
               ) -> tuple[list[Hit], list[Hit]]:
    """Articles around `article_id`. See `Searcher.neighbours`.

    Raises:
        StoreError, SearchIndexError, ConfigError: if the knowledge base or index cannot be loaded.
        QueryError: if the article does not exist.
    """
    return searcher_for(kb).neighbours(article_id, before, after)
