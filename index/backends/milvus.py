"""The Milvus backend: the knowledge base's units in two Milvus collections, through `pymilvus`.

- `<base>_articles`: one row per unit (primary key = article id, stable across builds): its
  normalised text and headings, turned into a BM25 sparse field by Milvus's own jieba analyzer
  (search mode, our user dictionary on top of jieba's, our stop words and punctuation dropped),
  plus the scalar fields filters use (doc_key, level, region, status, effective, version).
- `<base>_passages`: one row per passage (key = article id × `MAX_PIECES` + piece) with its
  vector (inner product; FLAT, HNSW or IVF_SQ8 after the `dense_index` setting) and the same
  scalar fields; a search groups by article (`group_by_field`), so an article scores its best passage.

A build loads incrementally: each row carries a digest of what it holds, so only new or changed
rows are upserted (and only their missing passages embedded) and rows of units no longer in the
store are deleted. The snapshot records the address, the collections and what the build did.
Filters become one scalar expression applied by Milvus before top-k. Keyword and meaning
rankings are two searches, fused by our own code (`index.fuse`), as for the embedded backend:
the second stage needs each ranking's ranks and scores, which Milvus's `hybrid_search` fuses away.

Features relied on (all in Milvus 2.5+; milvus-lite 3.2 implements them in Python): VARCHAR
fields with `enable_analyzer` and a `jieba` tokenizer with `mode` and `dict` plus a `stop`
filter; a BM25 function into a SPARSE_FLOAT_VECTOR with SPARSE_INVERTED_INDEX (metric BM25,
`bm25_k1`, `bm25_b`); FLOAT_VECTOR with FLAT / HNSW / IVF_SQ8 and metric IP; `group_by_field`
search; boolean expressions with `in`, `like "prefix%"`, comparisons; upsert, delete by ids,
flush, query iterators.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.backends import Loaded, LexicalQuery, Scope, catalog_rows
from index.build import rebuild_hint, unit_headings
from index.catalog import STATUSES, Catalog
from index.dense import choose_index_type, clause_threshold, unit_passages
from index.embed import Embedder
from index.tokenize import STOP_WORDS, USER_DICT, normalise, read_word_list
from kb.errors import BackendError, ConfigError, SearchIndexError
from kb.settings import Config

NAME = "milvus"
MAX_PIECES = 1 << 12            # passages per article a primary key can tell apart
MAX_TEXT_BYTES = 60_000         # below Milvus's VARCHAR limit of 65,535 bytes
BATCH = 500                     # rows per upsert request
TIMEOUT = 20.0                  # seconds a request (and the first connection) may take
BM25_K1, BM25_B = 1.5, 0.75     # as the embedded bm25s index
HNSW = {"M": 32, "efConstruction": 80}
HNSW_EF_SEARCH = 128
IVF_NLIST, IVF_NPROBE = 256, 32
DENSE_INDEXES = {"flat": ("FLAT", {}), "hnsw": ("HNSW", HNSW), "sq8": ("IVF_SQ8", {"nlist": IVF_NLIST})}
# tokens our tokenizer drops for holding no letter, digit or CJK character; jieba emits them
PUNCTUATION = list("，。、；：？！“”‘’（）《》〈〉【】〔〕［］—…·,.;:?!\"'()[]<>-_/%&*+=|~`@#$^{}\\")


def _client(uri: str, token: str = ""):
    """A connected MilvusClient; `token` ("user:password" or an API key) for a Milvus with
    authentication (the `milvus_token` setting; never recorded in a snapshot).

    Raises:
        ConfigError: if `uri` is empty.
        BackendError: if Milvus is unreachable at `uri`.
    """
    if not uri:
        raise ConfigError("setting milvus_uri is empty: give the Milvus address, e.g. "
                          "--milvus-uri http://127.0.0.1:19530")
    import logging

    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    # its query iterator warns on every call that milvus-lite has no MVCC timestamp to give
    logging.getLogger("pymilvus").setLevel(logging.ERROR)
    try:
        return MilvusClient(uri=uri, token=token, timeout=TIMEOUT)
    except (MilvusException, OSError) as err:
        raise BackendError(f"Milvus unreachable at {uri} ({_reason(err)})") from None


def _reason(err: BaseException) -> str:
    message = getattr(err, "message", "") or str(err) or type(err).__name__
    return " ".join(message.split())[:200]


class _Calls:
    """pymilvus failures as one-line BackendErrors naming the address and the operation."""

    def __init__(self, uri: str, doing: str) -> None:
        self.uri, self.doing = uri, doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, err, tb) -> None:
        from pymilvus.exceptions import MilvusException

        if isinstance(err, (MilvusException, OSError)):
            raise BackendError(f"Milvus at {self.uri}: {self.doing} failed ({_reason(err)})") from None


def collection_base(kb_dir: Path) -> str:
    """Collection names of a knowledge base: one per folder, stable across builds."""
    return "policykb_" + hashlib.sha1(str(kb_dir.resolve()).encode("utf-8")).hexdigest()[:12]


def analyzer_params() -> dict:
    """Milvus's jieba analyzer set up like our tokenizer (`index.tokenize`): search mode, jieba's
    dictionary plus ours, our stop words and punctuation removed.

    Raises:
        ConfigError: if a word list cannot be read.
    """
    words = [normalise(fields[0]) for fields in read_word_list(USER_DICT)]
    stop = [fields[0] for fields in read_word_list(STOP_WORDS)] + PUNCTUATION
    return {"tokenizer": {"type": "jieba", "mode": "search", "dict": ["_default_", *words]},
            "filter": [{"type": "stop", "stop_words": stop}]}


def _schema(client, dim: int | None):
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("digest", DataType.VARCHAR, max_length=40)
    schema.add_field("doc_key", DataType.VARCHAR, max_length=1024)
    schema.add_field("level", DataType.VARCHAR, max_length=256)
    schema.add_field("region", DataType.VARCHAR, max_length=256)
    schema.add_field("status", DataType.VARCHAR, max_length=16)
    schema.add_field("effective", DataType.INT64)
    schema.add_field("version", DataType.INT64)
    if dim is None:
        schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                         analyzer_params=analyzer_params())
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                     output_field_names=["sparse"]))
    else:
        schema.add_field("article_id", DataType.INT64)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    return schema


def _ensure_collection(client, name: str, dim: int | None, index_type: str) -> str:
    """Create collection `name` if missing (articles when `dim` is None, else passages of `dim`),
    recreating a passages collection of another dimension; the dense index type it has."""
    if client.has_collection(name):
        fields = {f["name"]: f for f in client.describe_collection(name)["fields"]}
        same_dim = dim is None or int(fields.get("vec", {}).get("params", {}).get("dim", -1)) == dim
        if same_dim:
            return _index_type_of(client, name, index_type)
        client.drop_collection(name)
    params = client.prepare_index_params()
    if dim is None:
        params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
    else:
        kind, options = DENSE_INDEXES[index_type]
        params.add_index(field_name="vec", index_type=kind, metric_type="IP", params=options)
    client.create_collection(name, schema=_schema(client, dim), index_params=params, consistency_level="Strong")
    return index_type


def _index_type_of(client, name: str, fallback: str) -> str:
    """Our name of the dense index type of an existing collection (fallback for articles)."""
    for index in client.list_indexes(name, field_name="vec"):
        kind = client.describe_index(name, index).get("index_type", "")
        for ours, (theirs, _) in DENSE_INDEXES.items():
            if kind == theirs:
                return ours
    return fallback


def _digest(*parts: object) -> str:
    return hashlib.sha1("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()


def _scalars(catalog: Catalog, row: int) -> dict:
    doc = catalog.documents[catalog.doc[row]]
    return {"doc_key": doc.key, "level": doc.level, "region": doc.region, "status": STATUSES[catalog.status[row]],
            "effective": int(catalog.effective[row]), "version": int(catalog.version[row])}


def _clip(text: str) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= MAX_TEXT_BYTES else data[:MAX_TEXT_BYTES].decode("utf-8", "ignore")


def _stored_digests(client, name: str) -> dict[int, str]:
    """Primary key → digest of every row of collection `name`."""
    found: dict[int, str] = {}
    iterator = client.query_iterator(name, batch_size=5000, filter="", output_fields=["digest"])
    try:
        while batch := iterator.next():
            found.update((int(row["id"]), row["digest"]) for row in batch)
    finally:
        iterator.close()
    return found


def _sync(client, name: str, rows: Sequence[dict], stored: dict[int, str], what: str, progress: bool,
          vectors_of=None) -> tuple[int, int]:
    """Upsert the rows whose digest `stored` lacks (with `vectors_of(rows)` filling their vectors)
    and delete the stored keys not among `rows`; (upserted, deleted)."""
    from tqdm import tqdm

    changed = [r for r in rows if stored.get(r["id"]) != r["digest"]]
    if vectors_of is not None and changed:
        for row, vector in zip(changed, vectors_of(changed)):
            row["vec"] = vector.tolist()
    with tqdm(total=len(changed), unit="row", desc=f"milvus {what}", disable=not progress or not changed) as bar:
        for start in range(0, len(changed), BATCH):
            client.upsert(name, changed[start:start + BATCH])
            bar.update(len(changed[start:start + BATCH]))
    gone = sorted(set(stored) - {r["id"] for r in rows})
    for start in range(0, len(gone), BATCH):
        client.delete(name, ids=gone[start:start + BATCH])
    return len(changed), len(gone)


def load(units: Sequence, get_embedder: Callable[[], Embedder], folder: Path, *, cfg: Config, generation: int,
         progress: bool, keywords_ready: Callable[[dict], None] | None = None, previous: Path | None = None) -> Loaded:
    """Bring the knowledge base's two collections at `milvus_uri` up to `units` (see the module);
    `keywords_ready` is called with the record once the articles (BM25) are loaded, before the passages.
    The collections are updated in place, so `previous` (a snapshot folder) holds nothing to reuse.

    Raises:
        ConfigError: if `milvus_uri` or `workers` is invalid, or the embedding cache cannot be used.
        BackendError: if Milvus (or the Ray cluster of `workers`) is unreachable or refuses a request.
        SearchIndexError: if an article has more passages than a key can number.
    """
    from index.cache import EmbeddingCache, cached_vectors
    from index.distributed import passage_encoder

    start = time.perf_counter()
    embedder = get_embedder()       # at once: the passages, split by its tokens, are made before the articles load
    uri = cfg.milvus_uri
    catalog = Catalog.load(folder, rebuild_hint(folder.parent.parent))     # rows = `units`, in order
    base = collection_base(folder.parent.parent)
    articles, passages = f"{base}_articles", f"{base}_passages"
    article_rows = []
    for row, unit in enumerate(units):
        text = _clip(normalise(" ".join([unit.text, *unit_headings(unit)])))
        scalars = _scalars(catalog, row)
        article_rows.append({"id": int(unit.id), "digest": _digest(text, *scalars.values()), "text": text, **scalars})
    texts, owners = unit_passages(units, embedder, clauses=clause_threshold(cfg))
    passage_rows: list[dict] = []
    passage_text: dict[int, str] = {}
    piece, previous = 0, None
    row_of = {int(u.id): i for i, u in enumerate(units)}
    for text, owner in zip(texts, owners.tolist()):
        piece = piece + 1 if owner == previous else 0
        previous = owner
        if piece >= MAX_PIECES:
            raise SearchIndexError(f"article {owner} has more than {MAX_PIECES} passages; the Milvus backend "
                                   f"cannot number them")
        scalars = _scalars(catalog, row_of[owner])
        key = owner * MAX_PIECES + piece
        passage_text[key] = text
        passage_rows.append({"id": key, "article_id": owner, "digest": _digest(embedder.model_id, text,
                                                                               *scalars.values()), **scalars})
    try:
        # no quantised step for `auto`: Milvus's sq8 is an IVF index, approximate
        index_type = choose_index_type(cfg.dense_index, len(passage_rows), cfg.ann_threshold)
    except ValueError as err:
        raise ConfigError(f"setting dense_index: {err}") from None
    embedded = 0

    def vectors_of(rows: Sequence[dict]) -> np.ndarray:
        nonlocal embedded
        with EmbeddingCache.open(cfg.cache_dir) as cache, passage_encoder(embedder, cfg) as encoder:
            vectors, embedded = cached_vectors([passage_text[r["id"]] for r in rows], encoder, cache,
                                               progress=progress)
        return vectors

    client = _client(uri, cfg.milvus_token)
    with _Calls(uri, "loading the knowledge base"):
        _ensure_collection(client, articles, None, index_type)
        index_type = _ensure_collection(client, passages, embedder.dim, index_type)
        upserted_a, deleted_a = _sync(client, articles, article_rows, _stored_digests(client, articles),
                                      "articles", progress)
        lexical_seconds = time.perf_counter() - start
        if keywords_ready is not None:
            client.flush(articles)
            client.load_collection(articles)
            keywords_ready({"name": NAME, "uri": uri, "articles": articles, "passages": passages})
        upserted_p, deleted_p = _sync(client, passages, passage_rows, _stored_digests(client, passages),
                                      "passages", progress, vectors_of)
        # sealed segments get their indexes; milvus-lite searched its unflushed rows ~8× slower (dense)
        client.flush(articles)
        client.flush(passages)
        client.load_collection(articles)
        client.load_collection(passages)
    record = {"name": NAME, "uri": uri, "articles": articles, "passages": passages, "index_type": index_type,
              "article_rows": len(article_rows), "passage_rows": len(passage_rows),
              "upserted": {"articles": upserted_a, "passages": upserted_p},
              "deleted": {"articles": deleted_a, "passages": deleted_p}, "embedded": embedded}
    return Loaded(record, lexical_seconds, time.perf_counter() - start - lexical_seconds,
                  ("load articles (BM25)", "embed + load passages"))


def _literal(value: str) -> str:
    """A Milvus string literal (double quotes, backslash escapes)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _one_of(field: str, values: Sequence[str]) -> str:
    return f"{field} in [{', '.join(_literal(v) for v in values)}]"


def expression(scope: Scope) -> str:
    """The Milvus filter expression of `scope` ("" for no restriction): the same rows as its mask."""
    allowed = []
    if scope.statuses:
        by_status = _one_of("status", scope.statuses)
        newest = [f"(doc_key == {_literal(key)} and version == {version})"
                  for key, version in (*scope.newest_of, *scope.versions_asked)]
        allowed.append(f"({' or '.join([by_status, *newest])})" if newest else by_status)
    if scope.doc_keys:
        allowed.append(_one_of("doc_key", scope.doc_keys))
    if scope.levels:
        allowed.append(_one_of("level", scope.levels))
    if scope.regions:
        regions = " or ".join(f"region like {_literal(r.replace('%', '').replace('_', '') + '%')}"
                              for r in scope.regions)
        allowed.append(f"({regions})")
    if scope.effective_from:
        allowed.append(f"effective >= {scope.effective_from}")
    if scope.effective_to:
        allowed.append(f"(effective > 0 and effective <= {scope.effective_to})")
    if scope.article_ids:
        allowed.append(f"article_id in [{', '.join(str(a) for a in scope.article_ids)}]")
    return " and ".join(allowed)


class MilvusRetrieval:
    """BM25 and vector searches in the snapshot's collections, filtered by expression."""

    def __init__(self, client, uri: str, record: dict, catalog: Catalog) -> None:
        self.client = client
        self.uri = uri
        self.articles = record["articles"]
        self.passages = record["passages"]
        self.index_type = record.get("index_type", "flat")
        self.catalog = catalog

    def _bm25(self, text: str, expr: str, n: int) -> dict[int, float]:
        if not text.strip():
            return {}
        with _Calls(self.uri, "keyword search"):
            found = self.client.search(self.articles, data=[text], anns_field="sparse", limit=n, filter=expr,
                                       output_fields=[], search_params={"metric_type": "BM25"})
        # BM25 scores are positive; milvus-lite reports them negated, as distances
        return {int(hit["id"]): abs(float(hit["distance"])) for hit in found[0]}

    def lexical(self, query: LexicalQuery, scope: Scope, n: int) -> list[tuple[int, float]]:
        """Best rows by BM25 of the question plus down-weighted expansion terms; a row's expansion
        score counts where it is among the best `n` of the expansion terms."""
        expr = expression(scope)
        scores = self._bm25(query.text, expr, n)
        if query.expansions and query.expansion_weight:
            for article, score in self._bm25(" ".join(query.expansions), expr, n).items():
                scores[article] = scores.get(article, 0.0) + query.expansion_weight * score
        best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:n]
        return catalog_rows(self.catalog, best)

    def dense(self, qvec: np.ndarray, scope: Scope, n: int) -> list[tuple[int, float]]:
        """Best rows by their best passage's inner product with `qvec`, filtered before top-k."""
        params = {"flat": {}, "hnsw": {"ef": max(HNSW_EF_SEARCH, n)}, "sq8": {"nprobe": IVF_NPROBE}}[self.index_type]
        with _Calls(self.uri, "vector search"):
            found = self.client.search(self.passages, data=[np.asarray(qvec, dtype=np.float32).tolist()],
                                       anns_field="vec", limit=n, filter=expression(scope),
                                       group_by_field="article_id", output_fields=["article_id"],
                                       search_params={"metric_type": "IP", "params": params})
        return catalog_rows(self.catalog, [(int(hit["entity"]["article_id"]), float(hit["distance"]))
                                           for hit in found[0]])


def open(folder: Path, record: dict, catalog: Catalog, embedder, cfg: Config) -> MilvusRetrieval:  # noqa: A001
    """The collections the snapshot's build loaded, at `milvus_uri` or else the address it recorded
    (the articles alone for a keywords-only snapshot: its build is still loading the passages).

    Raises:
        BackendError: if Milvus is unreachable.
        SearchIndexError: if a collection is missing there.
    """
    uri = cfg.milvus_uri or record["uri"]
    client = _client(uri, cfg.milvus_token)
    with _Calls(uri, "opening the collections"):
        for name in (record["articles"],) if record.get("keywords_only") else (record["articles"], record["passages"]):
            if not client.has_collection(name):
                raise SearchIndexError(f"Milvus at {uri} has no collection {name}; rebuild it: "
                                       f"{rebuild_hint(folder.parent.parent)} --backend milvus --milvus-uri {uri}")
            client.load_collection(name)
    return MilvusRetrieval(client, uri, record, catalog)
