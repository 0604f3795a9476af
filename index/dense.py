"""The dense index: FAISS inner-product search over passage vectors, answered per article.

Interface with `index.build`:
    build_dense(units, embedder, out_dir, *, cfg=None, cache=None, index_type=None,
                generation=0, progress=True) -> DenseMeta
        `units` are article-like records with `id`, `title`, `subtitle`, `path`, `label` and
        `paragraphs` (e.g. `ingest.store.StoredArticle`; sections work the same way). Each unit
        becomes one or more passages (`index.embed`); vectors come from the embedding cache or are
        embedded and cached.
    DenseIndex.load(folder, model_id, articles=None, rebuild_hint=...) -> DenseIndex
    DenseIndex.search(qvec, k, allowed=None) -> [(article_id, score)], best first

A dense folder holds `vectors.faiss` (FAISS ids are passage positions), `passages.npy` (the
article id of each passage), `keys.npy` (a digest of each passage's text), `plans.npz` (the
passages of each unit, `PassagePlan`) and `dense.json` (`DenseMeta`, written last: its presence
means the folder is complete). Every index file is written beside its target and renamed into place.

Index types (setting `dense_index`): `flat` (exact; the default up to `quantize_threshold`
passages), `sq8` (exhaustive scan of 8-bit codes, 4× smaller, near-exact; the default up to
`ann_threshold`) and `hnsw` (a graph over the same 8-bit codes, approximate, chosen by `auto`
above that: a scan's time grows with the passages, a graph walk's hardly). A filter is an
allow-list of article ids applied inside FAISS before top-k (an `IDSelectorBitmap` over
passages), so a filter never starves the results. `hnsw` walks its graph only when the filter
allows `WALK_MIN_SHARE` of the passages or more, and scans its codes as `sq8` does where it
allows fewer or where the walk met too few allowed passages behind the filter. Wherever a filter
allows at most `EXACT_MAX_PASSAGES`, those passages are scored one by one. An article's score is
the best score of its passages. The exhaustive scan (`flat`, `sq8`) of a search alone in its
process (`searching`), over `PARALLEL_MIN_PASSAGES` allowed passages or more, is split into one
contiguous range of passages per core (`search_parts`), scanned at once on threads and merged:
the same hits, the FAISS step in about two thirds of the time on 2 cores.

An update grows the previous index instead of building it again (`build_dense(previous=...)`):
`keys.npy` holds a digest of each passage's text, so a passage of the new units takes the place of
an old one with the same text (`match_passages`; its article id may be new, as a re-ingested
file's are), and only the rest are added; a passage no unit has any more stays in the index as a
dead one (article id -1), never returned, until dead ones reach `MAX_DEAD_SHARE` and the index is
built afresh. Building the HNSW graph of the whole corpus again took most of the 138 s of
embedding and FAISS that adding one file took before.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from index.cache import EmbeddingCache, cached_vectors
from index.embed import one_line, passage_head
from kb.errors import ConfigError, SearchIndexError
from kb.files import ARRAY_FILE_ERRORS, write_atomically
from kb.settings import Config, load_config
from kb.workers import usable_cores

if TYPE_CHECKING:
    from index.embed import Embedder

DENSE_FORMAT = 1
INDEX_FILE = "vectors.faiss"
PASSAGES_FILE = "passages.npy"
KEYS_FILE = "keys.npy"
PLANS_FILE = "plans.npz"
META_FILE = "dense.json"
KEY_BYTES = 16
# How units become passages; change it whenever `passage_lists` or the embedder's splitting would
# cut a unit otherwise, so that the plans an earlier build saved (`PLANS_FILE`) are not used
PASSAGE_RECIPE = 1
# Dead passages are still scanned (flat, sq8) or walked past (hnsw); past this share of the index an
# update builds it afresh rather than growing it
MAX_DEAD_SHARE = 0.2
INDEX_TYPES = ("auto", "flat", "sq8", "hnsw")
# hnsw keeps 8-bit codes too: over the whole corpus the same quality as float32 nodes (train-fit
# figures within 0.002) in 193 MB instead of 533 MB
FAISS_FACTORY = {"flat": "Flat", "sq8": "SQ8", "hnsw": "HNSW32,SQ8"}
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
SEARCH_THREADS = 1                  # OpenMP threads of one FAISS call (see DenseIndex.__init__)
PARALLEL_MIN_PASSAGES = 20_000      # below this, handing a range to a thread costs more than it saves
MAX_SEARCH_PARTS = 4
# A filter that allows at most this many passages is scored passage by passage, not by a scan of
# every code that skips the others: the second stage's plain-model scores of its 200 candidates
# (~450 passages) took 0.6 ms so against 2.5 ms by a scan of the whole corpus's 8-bit codes, while
# 2,000 passages took 3.9 ms so (one slow AVX2 core).
EXACT_MAX_PASSAGES = 1_000
# A scan with an allow-list scores only the allowed codes, so its time follows them, while a graph
# walk behind a filter strays through passages it may not return: over the whole corpus (294,732
# passages, slowest machine) a walk allowing 2.4% (the superseded texts) took 10.7 ms at p50
# against a scan's 3.9, one allowing 22% (texts up to 2005) 3.2 ms against 10.8.
WALK_MIN_SHARE = 0.1
DEFAULT_REBUILD_HINT = "python -m index build --kb DIR"


class DenseUnit(Protocol):
    id: int
    title: str
    paragraphs: Sequence[str]
    status: str                  # "current", "superseded", …


@dataclass(frozen=True)
class DenseMeta:
    model_id: str
    model: str
    dim: int
    articles: int
    passages: int
    index_type: str
    generation: int
    built_at: str
    seconds: float
    embedded: int = 0            # passages embedded by this build (the rest came from the cache)
    format: int = DENSE_FORMAT
    dead: int = 0                # passages of no article any more, kept in a grown index
    added: int = -1              # passages a grown index added to the previous one (-1: built afresh)


# ---- pure parts -------------------------------------------------------------------------------

def choose_index_type(requested: str, passages: int, ann_threshold: int, quantize_threshold: int | None = None) -> str:
    """The concrete index type: `auto` is flat up to `quantize_threshold` passages (None: no
    quantised step), sq8 up to `ann_threshold`, hnsw above.

    A single-query search scans every vector on one core, so it takes as long as reading them:
    over the whole lawrefbook corpus (152,169 passages) 29–31 ms for float32 and 13–15 ms for
    8-bit codes on one machine, whose top 200 shared 99% of the exact ones. The graph walk does
    not grow so: over 294,732 passages on the slowest machine seen, 4 ms against the split scan's
    21 ms, with 99% of the scan's top 10 passages (docs/search-quality.md).

    Raises:
        ValueError: for an unknown type.
    """
    if requested not in INDEX_TYPES:
        raise ValueError(f"dense index type {requested!r} is not one of {', '.join(INDEX_TYPES)}")
    if requested == "auto":
        if passages > ann_threshold:
            return "hnsw"
        return "sq8" if quantize_threshold is not None and passages > quantize_threshold else "flat"
    return requested


_searches_lock = threading.Lock()
_searches = 0                       # whole searches running in this process (`searching`)


@contextlib.contextmanager
def searching() -> Iterator[None]:
    """Mark a whole search (question encoding, BM25, FAISS, second stage) as running in this
    process, for as long as the `with` block lasts.

    A scan is split over the cores only while no other search runs: counting scans alone let a
    search split while another one was encoding or reranking on the second core, and two users
    searching without pause answered 6–10% fewer searches a second than with no split at all."""
    global _searches
    with _searches_lock:
        _searches += 1
    try:
        yield
    finally:
        with _searches_lock:
            _searches -= 1


def search_parts(passages: int, index_type: str) -> int:
    """Into how many passage ranges one search of an index is split, each scanned on a thread of
    its own: one per core (at most `MAX_SEARCH_PARTS`) for an exhaustive scan of
    `PARALLEL_MIN_PASSAGES` or more; 1 for small indexes and for `hnsw`, whose graph walk is no scan."""
    if index_type == "hnsw" or passages < PARALLEL_MIN_PASSAGES:
        return 1
    return min(usable_cores(), MAX_SEARCH_PARTS)


def best_per_article(positions: np.ndarray, scores: np.ndarray, passage_articles: np.ndarray,
                     k: int) -> list[tuple[int, float]]:
    """The first `k` distinct articles of passage hits sorted best first (so each article gets its
    best passage's score). Negative positions (FAISS's "no result") and dead passages are ignored."""
    out: list[tuple[int, float]] = []
    seen: set[int] = set()
    for position, score in zip(positions.tolist(), scores.tolist()):
        if position < 0:
            continue
        article = int(passage_articles[position])
        if article >= 0 and article not in seen:       # -1: a dead passage of a grown index
            seen.add(article)
            out.append((article, float(score)))
            if len(out) == k:
                break
    return out


def clause_threshold(cfg: Config) -> int | None:
    """The fewest characters of an article whose 款 are passages too (setting `clause_min_chars`),
    or None where setting `clause_passages` is off: what `unit_passages` takes as `clauses`."""
    return cfg.clause_min_chars if cfg.clause_passages else None


def by_clause(unit: DenseUnit, clauses: int | None) -> bool:
    """Whether each 款 of the unit is a passage too (see `unit_passages`)."""
    return (clauses is not None and unit.status == "current" and len(unit.paragraphs) >= 2
            and sum(map(len, unit.paragraphs)) >= clauses)


def passage_lists(units: Sequence[DenseUnit], embedder: "Embedder", *, clauses: int | None) -> list[list[str]]:
    """The passage texts of each unit (see `unit_passages`)."""
    heads = [passage_head(unit.title) for unit in units]
    whole = embedder.passages_of([(head, unit.paragraphs) for head, unit in zip(heads, units)])
    more = [by_clause(unit, clauses) for unit in units]
    clause_pieces = iter(embedder.passages_of([(head, [paragraph]) for head, unit, m in zip(heads, units, more)
                                               if m for paragraph in unit.paragraphs]))
    # a 款 that was a passage of its own already (a long article's run of one) is not repeated
    return [list(dict.fromkeys(pieces + [p for _ in unit.paragraphs for p in next(clause_pieces)])) if m else pieces
            for unit, pieces, m in zip(units, whole, more)]


def unit_passages(units: Sequence[DenseUnit], embedder: "Embedder", *,
                  clauses: int | None) -> tuple[list[str], np.ndarray]:
    """Passage texts of all units and the article id of each passage.

    With `clauses` a number of characters (`clause_threshold`), each 款 of a current article with
    two or more and at least that many characters is also a passage of its own: the vector of a
    four-款 article stands for all its clauses at once, and a question about one of them (15 days
    to tell, 5 working days to object) meets it only weakly. Held-out over the whole corpus,
    petition Recall@10 0.729 → 0.764 (docs/search-quality.md). Leaving out the 款 of articles under 150
    characters takes a first build's passages from 294,732 to 226,970, and costs the petition
    questions some of that gain (held-out Recall@10 0.859 → 0.848; docs/search-quality.md), so by default
    (threshold 0) every such article has them."""
    lists = passage_lists(units, embedder, clauses=clauses)
    texts = [text for pieces in lists for text in pieces]
    return texts, np.repeat(np.asarray([unit.id for unit in units], dtype=np.int64), [len(p) for p in lists])


def unit_digests(units: Sequence[DenseUnit], clauses: int | None) -> list[bytes]:
    """A digest of what each unit's passages are made of (title, paragraphs, whether its 款 are
    passages too), under `PASSAGE_RECIPE`."""
    return digest_list(text_digests("\0".join([f"{PASSAGE_RECIPE}/{by_clause(unit, clauses):d}", unit.title,
                                                *unit.paragraphs]) for unit in units))


def text_digests(texts: Iterable[str]) -> np.ndarray:
    """A digest (a row of `KEY_BYTES` bytes) of each text: how a build knows what the snapshot
    before it holds already (passages here, units' lexical rows in `index.backends.embedded`)."""
    joined = b"".join(hashlib.sha1(text.encode("utf-8")).digest()[:KEY_BYTES] for text in texts)
    return np.frombuffer(joined, dtype=np.uint8).reshape(-1, KEY_BYTES)


def digest_list(rows: np.ndarray) -> list[bytes]:
    """Rows of `text_digests` as bytes, to key a dict with."""
    return rows.view(f"V{KEY_BYTES}").ravel().tolist()


def match_passages(old_keys: np.ndarray, old_owners: np.ndarray, keys: np.ndarray,
                   owners: np.ndarray) -> np.ndarray:
    """For each new passage (key, article id), the position of an old passage with the same key
    whose place it takes, or -1; no old position is taken twice. One of the same article is taken
    first, then any other (a re-ingested article gets a new id, a dead passage may come back); in
    both rounds the new passages, in order, take the lowest positions left."""
    old_words, words = (np.ascontiguousarray(k, dtype=np.uint8).view(np.int64) for k in (old_keys, keys))
    place = _take_in_order(np.column_stack([old_words, old_owners]), np.column_stack([words, owners]))
    left = np.flatnonzero(place < 0)
    # the positions not taken, ascending (a mask: np.setdiff1d took 0.24–0.53 s over 295,000 passages)
    untaken = np.ones(len(old_keys), dtype=bool)
    untaken[place[place >= 0]] = False
    free = np.flatnonzero(untaken)
    taken = _take_in_order(old_words[free], words[left])
    place[left[taken >= 0]] = free[taken[taken >= 0]]
    return place


def _take_in_order(old_labels: np.ndarray, new_labels: np.ndarray) -> np.ndarray:
    """For each new row, the old row with an equal label (a row of `old_labels`) that it takes, or
    -1: the k-th new row of a label takes the k-th old row of that label, as when each new row in
    turn takes the lowest one left. (Vectorised: the loop in Python it replaces took 0.8 s of an
    update of the whole corpus's 295,000 passages, this takes 0.3–0.4 s.)"""
    if not len(old_labels) or not len(new_labels):
        return np.full(len(new_labels), -1, dtype=np.int64)
    labels = np.concatenate([old_labels, new_labels])
    is_old = np.r_[np.ones(len(old_labels), dtype=bool), np.zeros(len(new_labels), dtype=bool)]
    # equal labels together, the old rows of a label first, each side in row order (lexsort is stable)
    order = np.lexsort((~is_old, *labels.T[::-1]))
    ordered = labels[order]
    starts = np.r_[True, np.any(ordered[1:] != ordered[:-1], axis=1)]
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)[group]                     # where each row's label begins in `order`
    olds = np.bincount(group[is_old[order]], minlength=group[-1] + 1)[group]     # its label's old rows
    at = np.flatnonzero(~is_old[order])                       # the new rows' places in `order`
    rank = at - first[at] - olds[at]                          # a new row's rank among its label's new rows
    taken = rank < olds[at]
    place = np.full(len(new_labels), -1, dtype=np.int64)
    place[order[at[taken]] - len(old_labels)] = order[first[at[taken]] + rank[taken]]
    return place


# ---- the index --------------------------------------------------------------------------------

def _faiss_index(vectors: np.ndarray, index_type: str):
    import faiss

    faiss.omp_set_num_threads(usable_cores())      # building (hnsw) is parallel work, unlike a search
    index = faiss.index_factory(vectors.shape[1], FAISS_FACTORY[index_type], faiss.METRIC_INNER_PRODUCT)
    if index_type == "hnsw":
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    if not index.is_trained and len(vectors):   # sq8 learns its value ranges
        index.train(vectors)
    index.add(vectors)
    return index


class DenseIndex:
    """Passage vectors in FAISS plus the passage → article map."""

    def __init__(self, index, passage_articles: np.ndarray, index_type: str, keys: np.ndarray | None = None):
        import faiss

        # FAISS shares one query among OpenMP threads badly: with 2 of them on 2 busy cores a flat
        # search of 168k passages took 75 ms, with one 19 ms. A search is split into passage
        # ranges on threads of our own instead (`search_parts`; bench/embed_bench.py prints both).
        faiss.omp_set_num_threads(SEARCH_THREADS)
        self.index = index
        self.passage_articles = np.asarray(passage_articles, dtype=np.int64)    # -1: a dead passage
        self.keys = keys                                    # `text_digests` of the texts, when known
        self._article_bound = int(self.passage_articles.max(initial=-1)) + 1    # article ids are below it
        self.index_type = index_type
        self.search_parts = search_parts(self.passages, index_type)
        self._pool: ThreadPoolExecutor | None = None       # made on the first split search
        self._pool_lock = threading.Lock()
        self._scanning = 0                                  # searches scanning now

    @classmethod
    def from_vectors(cls, vectors: np.ndarray, passage_articles: np.ndarray, index_type: str = "flat",
                     keys: np.ndarray | None = None) -> "DenseIndex":
        """Index unit-length vectors, one per passage, with the article id of each; `index_type`
        is a concrete type (`flat`, `sq8`, `hnsw`).

        Raises:
            ValueError: for an unknown index type or vectors and ids of different lengths.
        """
        if len(vectors) != len(passage_articles):
            raise ValueError(f"{len(vectors)} vectors but {len(passage_articles)} article ids")
        if index_type not in FAISS_FACTORY:
            raise ValueError(f"dense index type {index_type!r} is not one of {', '.join(FAISS_FACTORY)}")
        return cls(_faiss_index(np.ascontiguousarray(vectors, dtype=np.float32), index_type), passage_articles,
                   index_type, keys)

    @property
    def passages(self) -> int:
        return int(self.index.ntotal)

    def live_passages(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the passages that belong to an article, and their article ids."""
        positions = np.flatnonzero(self.passage_articles >= 0)
        return positions, self.passage_articles[positions]

    def fits(self, vectors: np.ndarray) -> bool:
        """Whether 8-bit codes (sq8, hnsw) would hold these vectors as they hold the others: each
        value within the range its dimension's codes were trained on, give or take one step.
        A value beyond is clipped to the range's end and would score wrongly; always true for flat."""
        if self.index_type == "flat" or not len(vectors):
            return True
        import faiss

        codes = faiss.downcast_index(self.index.storage) if self.index_type == "hnsw" else self.index
        trained = faiss.vector_to_array(codes.sq.trained)           # the low ends, then the widths
        low, width = trained[:codes.d], trained[codes.d:]
        step = width / 255
        return bool(((vectors >= low - step) & (vectors <= low + width + step)).all())

    def grow(self, place: np.ndarray, owners: np.ndarray, keys: np.ndarray,
             vectors: np.ndarray) -> "DenseIndex":
        """This index with its passages given new owners: new passage `i` takes position
        `place[i]`, or is added with its vector (the rows of `vectors`, in order, for the passages
        placed at -1); positions no passage takes become dead. The FAISS index is grown in place,
        so this one is not to be used afterwards."""
        import faiss

        added = place < 0
        articles = np.full(self.passages, -1, dtype=np.int64)
        articles[place[~added]] = owners[~added]
        if len(vectors):
            faiss.omp_set_num_threads(usable_cores())      # inserting into a graph is parallel work
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
            faiss.omp_set_num_threads(SEARCH_THREADS)
        return DenseIndex(self.index, np.concatenate([articles, owners[added]]), self.index_type,
                          np.concatenate([self.keys, keys[added]]))

    def save(self, folder: str | Path, meta: DenseMeta) -> None:
        """Write the index files and then `dense.json`.

        Raises:
            OSError: if the folder cannot be written.
        """
        import faiss

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        def index_writer(p: Path) -> None:
            # through a Python file: FAISS takes a path only as UTF-8 text, and the folder's name
            # may be in other bytes
            with open(p, "wb") as fh:
                faiss.write_index(self.index, faiss.PyCallbackIOWriter(fh.write))

        write_atomically(folder / INDEX_FILE, index_writer)

        def array_writer(array: np.ndarray):
            def write(p: Path) -> None:
                with open(p, "wb") as fh:     # a file object, so that np.save adds no ".npy" to the temp name
                    np.save(fh, array)
            return write

        write_atomically(folder / PASSAGES_FILE, array_writer(self.passage_articles))
        if self.keys is not None:
            write_atomically(folder / KEYS_FILE, array_writer(self.keys))
        write_atomically(folder / META_FILE, lambda p: p.write_text(
            json.dumps(asdict(meta), ensure_ascii=False, indent=1), encoding="utf-8"))

    @classmethod
    def load(cls, folder: str | Path, model_id: str, articles: int | None = None,
             rebuild_hint: str = DEFAULT_REBUILD_HINT) -> "DenseIndex":
        """Load a dense folder, refusing one built with another model, format or article count.

        Raises:
            SearchIndexError: if files are missing or unreadable, or the model id, format or the
                expected number of articles do not match; the message ends with `rebuild_hint`.
        """
        import faiss

        folder = Path(folder)
        meta = read_dense_meta(folder, rebuild_hint)
        if meta.model_id != model_id:
            raise SearchIndexError(f"{folder}: dense index was built with model {meta.model_id}, "
                                   f"not {model_id}; rebuild it: {rebuild_hint}")
        if articles is not None and meta.articles != articles:
            raise SearchIndexError(f"{folder}: dense index holds {meta.articles} articles, the knowledge base "
                                   f"{articles}; rebuild it: {rebuild_hint}")
        try:
            with open(folder / INDEX_FILE, "rb") as fh:       # as `save` writes it
                index = faiss.read_index(faiss.PyCallbackIOReader(fh.read))
            passage_articles = np.load(folder / PASSAGES_FILE)
        except (OSError, RuntimeError, ValueError) as err:   # faiss reports a bad file as RuntimeError
            raise SearchIndexError(f"{folder}: dense index unreadable ({one_line(err)}); "
                                   f"rebuild it: {rebuild_hint}") from None
        if not (index.ntotal == len(passage_articles) == meta.passages) or index.d != meta.dim:
            raise SearchIndexError(f"{folder}: dense index files disagree with {META_FILE}; rebuild it: {rebuild_hint}")
        return cls(index, passage_articles, meta.index_type)

    def _allowed_passages(self, allowed: np.ndarray | None) -> np.ndarray | None:
        """Per passage, whether its article is among the `allowed` ids (None: no filter). A table
        by article id: half the time of `np.isin`, which sorts both sides on every search."""
        if allowed is None:
            return None
        allowed = np.asarray(allowed, dtype=np.int64)
        table = np.zeros(self._article_bound + 1, dtype=bool)     # the last entry, never set, for dead passages (-1)
        table[allowed[(allowed >= 0) & (allowed < self._article_bound)]] = True
        return table[self.passage_articles]

    def search(self, qvec: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The `k` best articles for a unit-length query vector, best first, as (article id, score).

        `allowed` (article ids) restricts the search before top-k: with enough allowed articles
        the result always has `k` of them.
        """
        mask = self._allowed_passages(allowed)
        available = self.passages if mask is None else int(mask.sum())
        if k <= 0 or available == 0:
            return []
        query = np.ascontiguousarray(qvec, dtype=np.float32).reshape(1, -1)
        if mask is not None and available <= EXACT_MAX_PASSAGES:
            return self._exact_search(query, np.flatnonzero(mask), k)
        bitmap = None if mask is None else np.packbits(mask, bitorder="little")
        fetch = min(available, 2 * k)          # most articles have one passage; widen when not enough
        while True:
            scores, positions = self._scan(query, fetch, bitmap, available)
            hits = best_per_article(positions, scores, self.passage_articles, k)
            if len(hits) == k or fetch == available:
                return hits
            fetch = min(available, fetch * 4)

    def _scan(self, query: np.ndarray, fetch: int, bitmap: np.ndarray | None,
              available: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and positions of the `fetch` best passages the packed allow-list `bitmap`
        (None: all) lets through (`available` of them), best first."""
        import faiss

        codes = self.index
        if self.index_type == "hnsw":
            if bitmap is None or available >= WALK_MIN_SHARE * self.passages:
                selector = None if bitmap is None else faiss.IDSelectorBitmap(bitmap)
                scores, positions = self.index.search(query, fetch, params=faiss.SearchParametersHNSW(
                    sel=selector, efSearch=max(HNSW_EF_SEARCH, fetch)))
                found = positions[0] >= 0
                if bitmap is None or found.sum() == fetch:
                    return scores[0][found], positions[0][found]
            # the graph's nodes hold the codes of a flat or sq8 index, which a scan reads as theirs
            codes = faiss.downcast_index(self.index.storage)

        with self._pool_lock:
            # Split only a search alone, over many passages: beside another search both cores are
            # busy anyway and the hand-offs cost, and a narrow filter leaves too little to scan.
            # Alone means no other scan of this index and no other search of this process
            # (`searching`; a caller of this index outside a search counts as none).
            alone = self._scanning == 0 and _searches <= 1 and available >= PARALLEL_MIN_PASSAGES
            ranges = self._ranges() if alone else [(0, self.passages)]
            self._scanning += 1
        try:
            return self._scan_ranges(query, fetch, bitmap, ranges, codes)
        finally:
            with self._pool_lock:
                self._scanning -= 1

    def _scan_ranges(self, query: np.ndarray, fetch: int, bitmap: np.ndarray | None,
                     ranges: list[tuple[int, int]], codes) -> tuple[np.ndarray, np.ndarray]:
        """Scan the FAISS index `codes` (a flat or sq8 one) over the passage `ranges`, one thread each."""
        import faiss

        whole = len(ranges) == 1

        def scan(start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
            if bitmap is None:
                selector = None if whole else faiss.IDSelectorRange(start, end)
            else:        # the allow-list cut to this range (ranges start on a byte: `_ranges`)
                part = bitmap
                if not whole:
                    part = np.zeros_like(bitmap)
                    part[start // 8:(end + 7) // 8] = bitmap[start // 8:(end + 7) // 8]
                selector = faiss.IDSelectorBitmap(part)      # `part` stays referenced until the search returns
            params = None if selector is None else faiss.SearchParameters(sel=selector)
            scores, positions = codes.search(query, fetch, params=params)
            return scores[0], positions[0]

        if whole:
            parts = [scan(*ranges[0])]
        else:   # every range on the pool: with one of them on the calling thread a search took longer than unsplit
            futures = [self._scan_pool().submit(scan, *bounds) for bounds in ranges]
            parts = [future.result() for future in futures]
        scores = np.concatenate([p[0] for p in parts])
        positions = np.concatenate([p[1] for p in parts])
        found = positions >= 0
        scores, positions = scores[found], positions[found]
        order = np.argsort(-scores, kind="stable")[:fetch]       # ties: the lower range first, as in one scan
        return scores[order], positions[order]

    def _scan_pool(self) -> ThreadPoolExecutor:
        import faiss

        with self._pool_lock:           # searchers are shared by the app's sessions: one pool
            if self._pool is None:
                # OpenMP's thread count is per thread: a new thread starts at one per core, and a
                # flat scan of a range then took 54–66 ms instead of 18
                self._pool = ThreadPoolExecutor(max(self.search_parts, 1), thread_name_prefix="dense-scan",
                                                initializer=faiss.omp_set_num_threads, initargs=(SEARCH_THREADS,))
            return self._pool

    def _ranges(self) -> list[tuple[int, int]]:
        """`search_parts` contiguous passage ranges covering the index, each starting on a multiple of 8."""
        n, parts = self.passages, max(1, self.search_parts)
        starts = [(n * i // parts) // 8 * 8 for i in range(parts)]
        return [(start, end) for start, end in zip(starts, starts[1:] + [n]) if end > start]

    def _exact_search(self, query: np.ndarray, positions: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Score the given passages one by one: narrow filters (`EXACT_MAX_PASSAGES`)."""
        scores = self.index.reconstruct_batch(positions) @ query[0]
        order = np.argsort(-scores, kind="stable")
        return best_per_article(positions[order], scores[order], self.passage_articles, k)


def read_dense_meta(folder: Path, rebuild_hint: str = DEFAULT_REBUILD_HINT) -> DenseMeta:
    """Raises:
        SearchIndexError: if `dense.json` is missing, unreadable or of another format."""
    try:
        raw = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        if raw.get("format") != DENSE_FORMAT:
            raise SearchIndexError(f"{folder}: dense index format {raw.get('format')} is not {DENSE_FORMAT}; "
                                   f"rebuild it: {rebuild_hint}")
        return DenseMeta(**raw)
    except FileNotFoundError:
        raise SearchIndexError(f"{folder}: no dense index; build it: {rebuild_hint}") from None
    except (OSError, ValueError, TypeError) as err:
        raise SearchIndexError(f"{folder / META_FILE}: unreadable ({type(err).__name__}); "
                               f"rebuild it: {rebuild_hint}") from None


class PassagePlan:
    """The passages of a build's units, as keys (`text_digests`) in unit order, with their texts
    worked out only where needed. Splitting units into passages counts tokens with the model's
    tokenizer, 37 s over the whole corpus; a unit whose digest (`unit_digests`) the previous
    build's plans hold has the same passages, whose keys are all an update needs of them."""

    def __init__(self, units: Sequence[DenseUnit], embedder: "Embedder", clauses: int | None,
                 known: dict[bytes, np.ndarray]) -> None:
        self.units, self.embedder, self.clauses = units, embedder, clauses
        self.digests = unit_digests(units, clauses)
        self.texts: list[list[str] | None] = [None] * len(units)
        self._work_out([i for i, d in enumerate(self.digests) if d not in known])
        unit_keys = [known[d] if texts is None else text_digests(texts) for d, texts in zip(self.digests, self.texts)]
        self.lengths = np.array([len(k) for k in unit_keys], dtype=np.int64)
        self.keys = np.concatenate(unit_keys) if unit_keys else text_digests([])
        self.owners = np.repeat(np.asarray([u.id for u in units], dtype=np.int64), self.lengths)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    def _work_out(self, indices: list[int]) -> None:
        pieces = passage_lists([self.units[i] for i in indices], self.embedder, clauses=self.clauses)
        for i, texts in zip(indices, pieces):
            self.texts[i] = texts

    def texts_of(self, passages: np.ndarray) -> list[str]:
        """The texts of these passages (positions in `keys`)."""
        of_unit = np.searchsorted(self.starts, passages, side="right") - 1
        self._work_out(sorted({int(u) for u in of_unit if self.texts[u] is None}))
        return [self.texts[u][p - self.starts[u]] for p, u in zip(passages.tolist(), of_unit.tolist())]

    def save(self, path: Path) -> None:
        """Write each distinct digest with its passages' keys."""
        unit_of = dict(zip(self.digests, range(len(self.digests))))     # units sharing a digest share passages
        units = np.fromiter(unit_of.values(), dtype=np.int64, count=len(unit_of))
        rows = np.concatenate([np.arange(self.starts[u], self.starts[u] + self.lengths[u]) for u in units.tolist()]
                              or [np.zeros(0, dtype=np.int64)])
        with open(path, "wb") as fh:
            np.savez(fh, recipe=np.array(PASSAGE_RECIPE),
                     digests=np.frombuffer(b"".join(unit_of), dtype=np.uint8).reshape(-1, KEY_BYTES),
                     lengths=self.lengths[units], keys=self.keys[rows])


def known_plans(folder: Path) -> dict[bytes, np.ndarray]:
    """The passage keys of each unit digest a previous build saved in `folder` (none where it saved
    none, under another recipe, or they cannot be read)."""
    try:
        with np.load(folder / PLANS_FILE, allow_pickle=False) as saved:
            if int(saved["recipe"]) != PASSAGE_RECIPE:
                return {}
            digests, lengths, keys = saved["digests"], saved["lengths"], saved["keys"]
    except ARRAY_FILE_ERRORS:
        return {}
    bounds = np.concatenate([[0], np.cumsum(lengths)]).tolist()
    return {digest: keys[a:b] for digest, a, b in zip(digest_list(digests), bounds, bounds[1:])}


def _previous_meta(previous: Path | None) -> DenseMeta | None:
    try:
        return None if previous is None else read_dense_meta(previous)
    except SearchIndexError:
        return None


def _previous_dense(previous: Path, meta: DenseMeta, index_type: str) -> DenseIndex | None:
    """The dense index of `previous` (a dense folder, `meta` its record) with its passage keys, if
    it can be grown: of this index type, keys kept (an index written before they were has none), readable."""
    if meta.index_type != index_type:
        return None
    try:
        dense = DenseIndex.load(previous, meta.model_id)
        dense.keys = np.load(previous / KEYS_FILE, allow_pickle=False)
    except (SearchIndexError, OSError, ValueError):
        return None
    return dense if dense.keys.shape == (dense.passages, KEY_BYTES) else None


def _grown(dense: DenseIndex, plan: PassagePlan, embedder: "Embedder", cache: EmbeddingCache,
           progress: bool) -> tuple[DenseIndex | None, int, int]:
    """`dense` grown to the passages of `plan` (None where too many passages would be dead, or the
    new vectors do not fit its 8-bit codes: `DenseIndex.fits`), how many passages were embedded
    (also when the new vectors did not fit: they are in the cache now, and a build afresh would
    not count them) and how many added."""
    place = match_passages(dense.keys, dense.passage_articles, plan.keys, plan.owners)
    added = np.flatnonzero(place < 0)
    if dense.passages - (len(place) - len(added)) > MAX_DEAD_SHARE * (dense.passages + len(added)):
        return None, 0, 0
    vectors, embedded = cached_vectors(plan.texts_of(added), embedder, cache, progress=progress)
    if not dense.fits(vectors):
        return None, embedded, 0
    return dense.grow(place, plan.owners, plan.keys, vectors), embedded, len(added)


def build_dense(units: Sequence[DenseUnit], embedder: "Embedder", out_dir: str | Path, *,
                cfg: Config | None = None, cache: EmbeddingCache | None = None, index_type: str | None = None,
                generation: int = 0, progress: bool = True, previous: Path | None = None) -> DenseMeta:
    """Embed (or fetch from the cache) every passage of `units`, build the FAISS index, save it;
    or grow the index of the dense folder `previous` where it can be (see the module).

    Raises:
        ConfigError: if the embedding cache cannot be opened, read or written, or the index
            type setting is unknown.
        OSError: if `out_dir` cannot be written.
    """
    start = time.perf_counter()
    cfg = cfg or load_config()
    before = _previous_meta(previous)
    same_model = before is not None and before.model_id == embedder.model_id
    plan = PassagePlan(units, embedder, clause_threshold(cfg), known_plans(previous) if same_model else {})
    try:
        concrete = choose_index_type(index_type or cfg.dense_index, len(plan.keys), cfg.ann_threshold,
                                     cfg.quantize_threshold)
    except ValueError as err:
        raise ConfigError(f"setting dense_index: {err}") from None
    own_cache = cache is None
    if cache is None:
        cache = EmbeddingCache.open(cfg.cache_dir)
    try:
        old = _previous_dense(previous, before, concrete) if same_model else None
        grown, embedded, added = (None, 0, 0) if old is None else _grown(old, plan, embedder, cache, progress)
        if grown is None:
            vectors, fresh = cached_vectors(plan.texts_of(np.arange(len(plan.keys))), embedder, cache,
                                            progress=progress)
            dense = DenseIndex.from_vectors(vectors, plan.owners, concrete, plan.keys)
            embedded, added = embedded + fresh, -1
            del vectors
        else:
            dense = grown
    finally:
        if own_cache:
            cache.close()
    meta = DenseMeta(model_id=embedder.model_id, model=embedder.name, dim=embedder.dim,
                     articles=len(units), passages=dense.passages, index_type=concrete, generation=generation,
                     built_at=time.strftime("%Y-%m-%dT%H:%M:%S"), seconds=round(time.perf_counter() - start, 2),
                     embedded=embedded, dead=int((dense.passage_articles < 0).sum()), added=added)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    plan.save(Path(out_dir) / PLANS_FILE)
    dense.save(out_dir, meta)
    return meta
