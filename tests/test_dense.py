"""Dense index: per-article aggregation, allow-lists applied before top-k, save/load checks on tiny
hand-made FAISS indexes; then `build_dense` with the real bundled model and a temporary cache."""
from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from index.cache import EmbeddingCache
from index.dense import (EXACT_MAX_PASSAGES, META_FILE, PARALLEL_MIN_PASSAGES, PASSAGES_FILE, DenseIndex, DenseMeta,
                         best_per_article, build_dense, choose_index_type, clause_threshold, match_passages, text_digests, search_parts,
                         searching, unit_passages)
from index.embed import load_embedder, normalise
from kb.errors import ConfigError, SearchIndexError
from kb.settings import load_config

INDEX_TYPES = ("flat", "sq8", "hnsw")
HINT = "python -m index build --kb /somewhere/kb"


def test_auto_index_type_switches_at_the_threshold():
    assert choose_index_type("auto", 1000, 5000) == "flat"
    assert choose_index_type("auto", 5001, 5000) == "hnsw"
    # above the quantising threshold a search scans 8-bit codes: a quarter of the bytes
    assert choose_index_type("auto", 1000, 5000, 1000) == "flat"
    assert choose_index_type("auto", 1001, 5000, 1000) == "sq8"
    assert choose_index_type("auto", 5001, 5000, 1000) == "hnsw"
    assert choose_index_type("sq8", 10, 5000) == "sq8"
    with pytest.raises(ValueError):
        choose_index_type("ivf", 10, 5000)


def test_a_large_corpus_gets_a_graph_of_8_bit_codes():
    # the whole lawrefbook corpus (294,732 passages) was scanned code by code: 21 ms of a 58 ms
    # search on the slowest machine seen, against 4 ms for a graph walk (docs/search-quality.md)
    cfg = load_config()
    assert choose_index_type(cfg.dense_index, 294_732, cfg.ann_threshold, cfg.quantize_threshold) == "hnsw"
    assert choose_index_type(cfg.dense_index, 20_000, cfg.ann_threshold, cfg.quantize_threshold) == "flat"
    rng = np.random.default_rng(5)
    vectors = normalise(rng.standard_normal((500, 16)).astype(np.float32))
    graph = DenseIndex.from_vectors(vectors, np.arange(500), "hnsw")
    scan = DenseIndex.from_vectors(vectors, np.arange(500), "sq8")
    import faiss

    nodes = faiss.downcast_index(graph.index.storage)
    assert nodes.code_size == scan.index.code_size == 16        # one byte a dimension, not four
    for query in vectors[:5]:     # the same codes: a small graph finds what a scan finds, score for score
        found, scanned = graph.search(query, 5), scan.search(query, 5)
        assert [a for a, _ in found] == [a for a, _ in scanned]
        assert [s for _, s in found] == pytest.approx([s for _, s in scanned], abs=1e-6)


def test_a_filter_the_graph_walk_cannot_serve_is_scanned_not_decoded(monkeypatch: pytest.MonkeyPatch):
    # a walk behind a filter allowing the passages farthest from the question met too few of them,
    # and every allowed passage was then decoded and scored one by one: 597 ms for one question
    # over the whole corpus's 地方性法规 (59% of the passages) on the slowest machine
    rng = np.random.default_rng(9)
    vectors = normalise(rng.standard_normal((12_000, 16)).astype(np.float32))
    owners = np.arange(12_000) + 3
    graph = DenseIndex.from_vectors(vectors, owners, "hnsw")
    scan = DenseIndex.from_vectors(vectors, owners, "sq8")

    def no_decoding(*args, **kwargs):
        raise AssertionError("allowed passages decoded one by one")

    monkeypatch.setattr(graph, "_exact_search", no_decoding)
    walks = []
    search = graph.index.search
    monkeypatch.setattr(graph, "index", type("Spy", (), {
        "search": lambda self, *a, **kw: walks.append(1) or search(*a, **kw),
        "storage": graph.index.storage, "ntotal": graph.index.ntotal})())
    for query in vectors[:5]:
        farthest = np.argsort(vectors @ query)
        narrow = owners[farthest[:1100]]                         # 9% of the passages: a scan, no walk
        assert graph.search(query, 50, narrow) == scan.search(query, 50, narrow)
        assert not walks
        wide = owners[farthest[:6000]]                           # half: a walk, and a scan if it meets too few
        hits = graph.search(query, 50, wide)
        assert len(hits) == 50 and {a for a, _ in hits} <= set(wide.tolist()) and walks
        walks.clear()


def test_best_per_article_keeps_each_articles_best_passage():
    owners = np.array([7, 7, 8, 9])
    hits = best_per_article(np.array([1, 0, 2, -1, 3]), np.array([0.9, 0.8, 0.7, 0.0, 0.6]), owners, 10)
    assert hits == [(7, pytest.approx(0.9)), (8, pytest.approx(0.7)), (9, pytest.approx(0.6))]
    assert best_per_article(np.array([1, 0, 2]), np.array([0.9, 0.8, 0.7]), owners, 1) == [(7, pytest.approx(0.9))]


def test_new_passages_take_the_places_of_old_ones_with_the_same_text():
    old_keys = text_digests(["甲", "乙", "丙", "甲", "丁"])
    old_owners = np.array([1, 1, 2, 3, -1])           # position 4 is dead already
    keys = text_digests(["甲", "甲", "丙", "丁", "戊", "甲"])
    owners = np.array([3, 9, 2, 4, 5, 6])
    place = match_passages(old_keys, old_owners, keys, owners)
    # 甲 of article 3 keeps its own place; article 9's 甲 (a re-ingested article's new id) takes the
    # other; the dead 丁 comes back; 戊 and a third 甲 are new; 乙 (position 1) is left dead
    assert place.tolist() == [3, 0, 2, 4, -1, -1]
    assert match_passages(old_keys[:0], old_owners[:0], keys, owners).tolist() == [-1] * 6


def _match_one_by_one(old_keys, old_owners, keys, owners) -> list[int]:
    """`match_passages` as its docstring says it, a passage at a time (what it did until it was vectorised)."""
    old, new = [bytes(k) for k in old_keys], [bytes(k) for k in keys]
    taken, place = set(), [-1] * len(new)
    for same_article in (True, False):
        for i in range(len(new)):
            if place[i] < 0:
                place[i] = next((p for p in range(len(old)) if p not in taken and old[p] == new[i]
                                 and (not same_article or old_owners[p] == owners[i])), -1)
                taken.add(place[i])
    return place


def test_matching_passages_takes_the_lowest_places_left_in_order():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n_old, n_new = rng.integers(0, 30, size=2)
        texts = [str(t) for t in rng.integers(0, 6, size=n_old + n_new)]       # many repeated texts
        all_owners = rng.integers(-1, 5, size=n_old + n_new)                    # -1: dead
        old_keys, keys = text_digests(texts[:n_old]), text_digests(texts[n_old:])
        old_owners, owners = all_owners[:n_old], np.abs(all_owners[n_old:])
        expected = _match_one_by_one(old_keys, old_owners, keys, owners)
        assert match_passages(old_keys, old_owners, keys, owners).tolist() == expected


def test_a_grown_index_never_returns_its_dead_passages(index_type: str = "flat"):
    vectors, owners, query = hand_made()
    dense = DenseIndex.from_vectors(vectors, owners, index_type, text_digests(list("abcde")))
    # article 10 is gone (its two passages dead), 20 and 30 stay, 40 re-ingested as 41, one new passage of 50
    grown = dense.grow(np.array([2, 3, 4, -1]), np.array([20, 30, 41, 50]), text_digests(list("cdef")),
                       normalise(np.array([[0.95, 0.3, 0.0, 0.0]])))
    assert grown.passages == 6 and grown.passage_articles.tolist() == [-1, -1, 20, 30, 41, 50]
    assert [a for a, _ in grown.search(query, 10)] == [50, 20, 30, 41]
    # an allow-list of the largest article id once let the dead passages (-1) through
    assert [a for a, _ in grown.search(query, 10, allowed=np.array([50]))] == [50]
    assert grown._allowed_passages(np.array([50])).tolist() == [False] * 5 + [True]
    positions, articles = grown.live_passages()
    assert positions.tolist() == [2, 3, 4, 5] and articles.tolist() == [20, 30, 41, 50]


def hand_made() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Five passages of four articles; the query is the first axis."""
    vectors = normalise(np.array([
        [1.0, 0.0, 0.0, 0.0],      # article 10, best passage
        [0.0, 1.0, 0.0, 0.0],      # article 10, another passage
        [0.9, 0.44, 0.0, 0.0],     # article 20
        [0.5, 0.0, 0.87, 0.0],     # article 30
        [0.1, 0.0, 0.0, 0.99],     # article 40
    ]))
    return vectors, np.array([10, 10, 20, 30, 40]), np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)


@pytest.mark.parametrize("index_type", INDEX_TYPES)
def test_search_ranks_articles_by_their_best_passage(index_type: str):
    vectors, owners, query = hand_made()
    dense = DenseIndex.from_vectors(vectors, owners, index_type)
    hits = dense.search(query, 3)
    assert [a for a, _ in hits] == [10, 20, 30]
    assert [s for _, s in hits] == pytest.approx([1.0, 0.9 / np.hypot(0.9, 0.44), 0.5 / np.hypot(0.5, 0.87)], abs=0.02)
    assert [a for a, _ in dense.search(query, 10)] == [10, 20, 30, 40]


@pytest.mark.parametrize("index_type", INDEX_TYPES)
def test_allow_list_applies_before_top_k(index_type: str):
    vectors, owners, query = hand_made()
    dense = DenseIndex.from_vectors(vectors, owners, index_type)
    assert [a for a, _ in dense.search(query, 2, allowed=np.array([40, 30]))] == [30, 40]
    assert [a for a, _ in dense.search(query, 5, allowed=np.array([20]))] == [20]
    assert dense.search(query, 5, allowed=np.array([99])) == []
    assert dense.search(query, 5, allowed=np.array([], dtype=np.int64)) == []


@pytest.mark.parametrize("index_type", INDEX_TYPES)
def test_narrow_filters_never_starve_results(index_type: str):
    rng = np.random.default_rng(7)
    vectors = normalise(rng.standard_normal((3000, 32)))
    owners = np.arange(3000) + 1000
    query = vectors[0]
    dense = DenseIndex.from_vectors(vectors, owners, index_type)
    worst = owners[np.argsort(vectors @ query)[:5]]           # the five least similar articles
    assert sorted(a for a, _ in dense.search(query, 10, allowed=worst)) == sorted(worst.tolist())
    allowed = rng.choice(owners, 60, replace=False)
    hits = dense.search(query, 10, allowed=allowed)
    assert len(hits) == 10 and set(a for a, _ in hits) <= set(allowed.tolist())
    if index_type == "flat":
        exact = sorted(allowed, key=lambda a: -float(vectors[a - 1000] @ query))[:10]
        assert [a for a, _ in hits] == exact


@pytest.mark.parametrize("index_type", INDEX_TYPES)
def test_a_narrow_filter_is_scored_passage_by_passage_as_a_scan_scores_it(index_type: str,
                                                                           monkeypatch: pytest.MonkeyPatch):
    rng = np.random.default_rng(11)
    vectors = normalise(rng.standard_normal((4000, 24)).astype(np.float32))
    owners = np.repeat(np.arange(2000), 2) + 5                       # 2,000 articles of two passages
    dense = DenseIndex.from_vectors(vectors, owners, index_type)
    queries = normalise(rng.standard_normal((10, 24)).astype(np.float32))
    narrow = rng.choice(np.arange(2000) + 5, EXACT_MAX_PASSAGES // 2, replace=False)    # just within the bound
    stored = dense.index.reconstruct_n(0, dense.passages)          # what the index scores (8-bit codes decoded)
    allowed = np.flatnonzero(np.isin(owners, narrow))

    def exact(q: np.ndarray) -> list[tuple[int, float]]:
        scores = stored[allowed] @ q
        order = np.argsort(-scores, kind="stable")
        return best_per_article(allowed[order], scores[order], owners, 50)

    def same(hits: list[tuple[int, float]], q: np.ndarray) -> bool:
        expected = exact(q)
        return [a for a, _ in hits] == [a for a, _ in expected] and np.allclose([s for _, s in hits],
                                                                                [s for _, s in expected], atol=1e-5)

    if index_type != "hnsw":          # a scan of every code finds these too (a graph walk is approximate)
        monkeypatch.setattr("index.dense.EXACT_MAX_PASSAGES", 0)
        assert all(same(dense.search(q, 50, narrow), q) for q in queries)
        monkeypatch.setattr("index.dense.EXACT_MAX_PASSAGES", EXACT_MAX_PASSAGES)

    def no_scan(*args, **kwargs):
        raise AssertionError("a narrow filter scanned every code")

    monkeypatch.setattr(dense, "_scan", no_scan)
    assert all(same(dense.search(q, 50, narrow), q) for q in queries)
    with pytest.raises(AssertionError, match="scanned every code"):      # a wide filter still scans
        dense.search(queries[0], 50, np.arange(2000) + 5)


def test_a_scan_split_over_threads_finds_what_one_scan_finds(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("index.dense.usable_cores", lambda: 2)
    assert search_parts(PARALLEL_MIN_PASSAGES - 1, "flat") == 1         # too small to be worth a thread
    assert search_parts(PARALLEL_MIN_PASSAGES, "sq8") == 2              # one range per core
    assert search_parts(10 * PARALLEL_MIN_PASSAGES, "hnsw") == 1        # a graph walk is no scan
    monkeypatch.setattr("index.dense.usable_cores", lambda: 64)
    assert search_parts(PARALLEL_MIN_PASSAGES, "flat") == 4

    monkeypatch.setattr("index.dense.PARALLEL_MIN_PASSAGES", 10)       # so that these few passages are split
    monkeypatch.setattr("index.dense.EXACT_MAX_PASSAGES", 0)            # and filtered ones scanned
    rng = np.random.default_rng(3)
    vectors = normalise(rng.standard_normal((1003, 16)).astype(np.float32))   # ranges of unequal length
    owners = np.repeat(np.arange(335), 3)[:1003] + 7                          # 335 articles of 2–3 passages
    queries = normalise(rng.standard_normal((20, 16)).astype(np.float32))
    ids = np.unique(owners)
    for index_type in ("flat", "sq8"):
        dense = DenseIndex.from_vectors(vectors, owners, index_type)
        dense.search_parts = 1
        allow_lists = [None, rng.choice(ids, 200, replace=False), ids[-3:], ids[:1]]     # the last two scan whole
        single = [[dense.search(q, 30, allowed) for allowed in allow_lists] for q in queries]
        for parts in (2, 3, 7):
            dense.search_parts = parts
            assert [[dense.search(q, 30, allowed) for allowed in allow_lists] for q in queries] == single, parts
        # searches at once (the app's sessions share an index): one may split while the others scan whole
        with ThreadPoolExecutor(4) as pool:
            at_once = list(pool.map(lambda q: [dense.search(q, 30, allowed) for allowed in allow_lists], queries))
        assert at_once == single


def test_a_scan_splits_only_while_no_other_search_of_the_process_runs(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("index.dense.PARALLEL_MIN_PASSAGES", 10)
    rng = np.random.default_rng(5)
    vectors = normalise(rng.standard_normal((400, 16)).astype(np.float32))
    dense = DenseIndex.from_vectors(vectors, np.arange(400) + 1, "flat")
    dense.search_parts = 2
    scans = []
    scan_ranges = DenseIndex._scan_ranges
    monkeypatch.setattr(DenseIndex, "_scan_ranges",
                        lambda self, query, fetch, bitmap, ranges, codes: scans.append(len(ranges)) or
                        scan_ranges(self, query, fetch, bitmap, ranges, codes))
    query = vectors[0]
    dense.search(query, 5)                      # outside any search (a bench, a test): alone
    with searching():                           # the one search running
        dense.search(query, 5)
        with searching():                       # another user's search is encoding or reranking
            dense.search(query, 5)
        dense.search(query, 5)                  # it has finished
    assert scans == [2, 2, 1, 2]


def test_many_passages_of_one_article_do_not_crowd_out_others():
    rng = np.random.default_rng(3)
    query = normalise(rng.standard_normal(16))
    near = normalise(query + 0.05 * rng.standard_normal((40, 16)))   # 40 passages of article 1
    far = normalise(rng.standard_normal((5, 16)))
    dense = DenseIndex.from_vectors(np.vstack([near, far]), np.array([1] * 40 + [2, 3, 4, 5, 6]))
    hits = dense.search(query, 3)
    assert len(hits) == 3 and hits[0][0] == 1 and len({a for a, _ in hits}) == 3


def meta_for(dense: DenseIndex, model_id: str = "model-a") -> DenseMeta:
    return DenseMeta(model_id=model_id, model="m", dim=4, articles=len(set(dense.passage_articles.tolist())),
                     passages=dense.passages, index_type=dense.index_type, generation=3, built_at="now", seconds=0.1)


def saved(tmp_path: Path, index_type: str = "flat") -> Path:
    vectors, owners, _ = hand_made()
    dense = DenseIndex.from_vectors(vectors, owners, index_type)
    dense.save(tmp_path / "dense", meta_for(dense))
    return tmp_path / "dense"


@pytest.mark.parametrize("index_type", INDEX_TYPES)
def test_save_and_load_round_trip(tmp_path: Path, index_type: str):
    folder = saved(tmp_path, index_type)
    assert not list(folder.glob(".*"))                               # no temporary files left behind
    loaded = DenseIndex.load(folder, "model-a", articles=4)
    _, _, query = hand_made()
    assert [a for a, _ in loaded.search(query, 4)] == [10, 20, 30, 40]
    assert loaded.index_type == index_type
    assert json.loads((folder / META_FILE).read_text())["generation"] == 3


def test_a_folder_named_in_bytes_other_than_utf8(tmp_path: Path):
    """FAISS takes a path only as UTF-8 text: a knowledge base in a folder named in GBK bytes
    could not be indexed (a TypeError of its SWIG wrapper)."""
    folder = saved(Path(os.fsdecode(os.fsencode(tmp_path) + "/知识库".encode("gb18030"))))
    _, _, query = hand_made()
    assert [a for a, _ in DenseIndex.load(folder, "model-a", articles=4).search(query, 4)] == [10, 20, 30, 40]


def test_load_refuses_another_model(tmp_path: Path):
    with pytest.raises(SearchIndexError, match="built with model model-a, not model-b") as err:
        DenseIndex.load(saved(tmp_path), "model-b", rebuild_hint=HINT)
    assert str(err.value).endswith(HINT) and "\n" not in str(err.value)


def test_load_refuses_another_article_count(tmp_path: Path):
    with pytest.raises(SearchIndexError, match="holds 4 articles, the knowledge base 5") as err:
        DenseIndex.load(saved(tmp_path), "model-a", articles=5, rebuild_hint=HINT)
    assert str(err.value).endswith(HINT)


def test_load_refuses_missing_or_damaged_folders(tmp_path: Path):
    with pytest.raises(SearchIndexError, match="no dense index") as err:
        DenseIndex.load(tmp_path / "nothing", "model-a")
    assert str(err.value).endswith("python -m index build --kb DIR")
    folder = saved(tmp_path)
    meta = json.loads((folder / META_FILE).read_text())
    (folder / META_FILE).write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(SearchIndexError, match="format 99"):
        DenseIndex.load(folder, "model-a")
    (folder / META_FILE).write_text(json.dumps(meta))
    np.save(folder / PASSAGES_FILE, np.array([10, 20]))
    with pytest.raises(SearchIndexError, match="disagree"):
        DenseIndex.load(folder, "model-a")
    (folder / "vectors.faiss").write_bytes(b"truncated")
    with pytest.raises(SearchIndexError, match="unreadable") as err:
        DenseIndex.load(folder, "model-a", rebuild_hint=HINT)
    assert str(err.value).endswith(HINT) and "\n" not in str(err.value)


# ---- build_dense with the real model ----------------------------------------------------------

@dataclass(frozen=True)
class Unit:
    id: int
    title: str
    label: str
    paragraphs: tuple[str, ...]
    path: tuple[str, ...] = ()
    subtitle: str = ""
    status: str = "current"


UNITS = (
    Unit(101, "某市信访条例", "第十条", ("信访人可以采用书信、电子邮件、传真、电话、走访等形式提出信访事项。",),
         ("第二章 信访渠道",)),
    Unit(102, "某市信访条例", "第二十条", ("信访事项应当自受理之日起六十日内办结；情况复杂的，可以适当延长办理期限。",),
         ("第三章 办理",)),
    Unit(205, "某省森林条例", "第五条", ("禁止毁林开垦、采石、采砂、采土以及其他毁坏林木和林地的行为。",)),
    Unit(301, "某市物业管理条例", "第三十条", tuple(
        f"（{n}）物业服务人应当按照约定和物业的使用性质，妥善维修、养护、清洁、绿化和经营管理物业服务区域内的业主共有部分，"
        f"维护物业服务区域内的基本秩序，采取合理措施保护业主的人身、财产安全，第{n}项要求。" for n in range(1, 7)),
        ("第四章 物业服务",), "服务编"),
)


@pytest.fixture(scope="module")
def embedder():
    return load_embedder()        # default settings; the model export is shared through the default cache_dir


def test_build_dense_then_rebuild_from_the_cache(embedder, tmp_path: Path):
    cfg = load_config()
    with EmbeddingCache.open(tmp_path / "cache") as cache:
        first = build_dense(UNITS, embedder, tmp_path / "one", cfg=cfg, cache=cache, generation=5, progress=False)
        assert first.articles == 4 and first.passages > 4 and first.embedded == first.passages
        assert (first.model_id, first.dim, first.generation, first.index_type) == (embedder.model_id, embedder.dim, 5, "flat")
        second = build_dense(UNITS, embedder, tmp_path / "two", cfg=cfg, cache=cache, progress=False)
        assert second.embedded == 0
        changed = (*UNITS[:2], replace(UNITS[2], paragraphs=("禁止在林地内乱扔垃圾。",)), UNITS[3])
        assert build_dense(changed, embedder, tmp_path / "three", cfg=cfg, cache=cache, progress=False).embedded == 1
    one = DenseIndex.load(tmp_path / "one", embedder.model_id, articles=4)
    two = DenseIndex.load(tmp_path / "two", embedder.model_id, articles=4)
    assert np.array_equal(one.index.reconstruct_n(0, one.passages), two.index.reconstruct_n(0, two.passages))
    assert np.array_equal(one.passage_articles, two.passage_articles)
    assert (one.passage_articles == 301).sum() == first.passages - 3      # the long article, split, maps back


def test_an_update_grows_the_previous_index_to_what_a_fresh_build_finds(embedder, tmp_path: Path,
                                                                        index_type: str = "flat"):
    cfg = load_config()
    changed = (replace(UNITS[0], id=111),                        # re-ingested: a new id, the same text
               replace(UNITS[2], paragraphs=("禁止在林地内乱扔垃圾。",)), UNITS[3],     # 102 is gone
               Unit(401, "某县调解办法", "第三条", ("人民调解委员会调解民间纠纷，不收取任何费用。",)))
    with EmbeddingCache.open(tmp_path / "cache") as cache:
        build_dense(UNITS, embedder, tmp_path / "one", cfg=cfg, cache=cache, index_type=index_type, progress=False)
        grown = build_dense(changed, embedder, tmp_path / "two", cfg=cfg, cache=cache, index_type=index_type,
                            progress=False, previous=tmp_path / "one")
        afresh = build_dense(changed, embedder, tmp_path / "three", cfg=cfg, cache=cache, index_type=index_type,
                             progress=False)
    assert (grown.added, grown.dead, grown.embedded, grown.articles) == (2, 2, 2, 4)   # two new texts, two gone
    assert afresh.added == -1 and grown.passages == afresh.passages + 2
    one, two = (DenseIndex.load(tmp_path / name, embedder.model_id, articles=4) for name in ("two", "three"))
    for question in ("信访有哪些形式", "调解收费吗", "林地里能扔垃圾吗", "物业服务人的义务"):
        query = embedder.encode_query(question)
        for allowed in (None, np.array([111, 401])):
            hits, expected = one.search(query, 4, allowed), two.search(query, 4, allowed)
            assert [a for a, _ in hits] == [a for a, _ in expected], question
            assert [s for _, s in hits] == pytest.approx([s for _, s in expected], abs=1e-6), question


def test_an_update_splits_only_the_units_that_changed(embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import index.dense as dense_module

    cfg = load_config()
    worked_out: list[int] = []
    passage_lists = dense_module.passage_lists

    def counted(units, embedder, *, clauses):
        worked_out.extend(unit.id for unit in units)
        return passage_lists(units, embedder, clauses=clauses)

    monkeypatch.setattr(dense_module, "passage_lists", counted)
    changed = (replace(UNITS[0], id=111), replace(UNITS[2], paragraphs=("禁止在林地内乱扔垃圾。",)), UNITS[3])
    with EmbeddingCache.open(tmp_path / "cache") as cache:
        build_dense(UNITS, embedder, tmp_path / "one", cfg=cfg, cache=cache, progress=False)
        assert sorted(worked_out) == [101, 102, 205, 301]
        worked_out.clear()
        build_dense(changed, embedder, tmp_path / "two", cfg=cfg, cache=cache, progress=False,
                    previous=tmp_path / "one")
        assert worked_out == [205]          # 111 is 101 re-ingested: its passages are known by its digest
        worked_out.clear()
        monkeypatch.setattr(dense_module, "PASSAGE_RECIPE", dense_module.PASSAGE_RECIPE + 1)   # splitting changed
        build_dense(changed, embedder, tmp_path / "three", cfg=cfg, cache=cache, progress=False,
                    previous=tmp_path / "two")
        assert sorted(worked_out) == [111, 205, 301]


@pytest.mark.parametrize("index_type", ("sq8", "hnsw"))
def test_8_bit_codes_grow_only_by_vectors_within_their_trained_ranges(index_type: str):
    rng = np.random.default_rng(5)
    vectors = normalise(rng.uniform(-1, 1, (64, 4)))
    dense = DenseIndex.from_vectors(vectors, np.arange(64), index_type, text_digests([str(i) for i in range(64)]))
    inside, outside = normalise(np.array([[0.5, -0.5, 0.5, -0.5]])), np.array([[3.0, 0.0, 0.0, 0.0]], np.float32)
    assert dense.fits(inside) and not dense.fits(outside) and dense.fits(outside[:0])
    grown = dense.grow(np.append(np.arange(64), -1), np.arange(65), np.vstack([dense.keys, text_digests(["new"])]),
                       inside)
    assert grown.passages == 65 and grown.search(inside[0], 1)[0][0] == 64       # the new passage's own article


def test_an_update_whose_new_vectors_do_not_fit_counts_them_as_embedded(embedder, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    # the refused grow had embedded them into the cache; the build afresh found them there and
    # the summary said "embed 0 of …"
    cfg = load_config()
    new = Unit(401, "某县调解办法", "第三条", ("人民调解委员会调解民间纠纷，不收取任何费用。",))
    with EmbeddingCache.open(tmp_path / "cache") as cache:
        build_dense(UNITS, embedder, tmp_path / "one", cfg=cfg, cache=cache, progress=False)
        monkeypatch.setattr(DenseIndex, "fits", lambda self, vectors: False)
        afresh = build_dense((*UNITS, new), embedder, tmp_path / "two", cfg=cfg, cache=cache, progress=False,
                             previous=tmp_path / "one")
    assert (afresh.added, afresh.embedded) == (-1, 1)


def test_an_update_that_would_leave_many_dead_passages_builds_afresh(embedder, tmp_path: Path):
    cfg = load_config()
    with EmbeddingCache.open(tmp_path / "cache") as cache:
        build_dense(UNITS, embedder, tmp_path / "one", cfg=cfg, cache=cache, progress=False)
        kept = build_dense(UNITS[1:], embedder, tmp_path / "two", cfg=cfg, cache=cache, progress=False,
                           previous=tmp_path / "one")
        fewer = build_dense(UNITS[:2], embedder, tmp_path / "three", cfg=cfg, cache=cache, progress=False,
                            previous=tmp_path / "two")
        other_type = build_dense(UNITS[:2], embedder, tmp_path / "four", cfg=cfg, cache=cache, index_type="sq8",
                                 progress=False, previous=tmp_path / "three")
    assert (kept.added, kept.dead) == (0, 1)
    assert (fewer.added, fewer.dead) == (-1, 0)          # the long article's passages would be most of the index
    assert (other_type.added, other_type.index_type) == (-1, "sq8")


def test_clause_passages_add_each_clause_of_current_articles_with_several(embedder):
    units = (Unit(1, "某市信访条例", "第一条", ("信访事项应当在十五日内告知。", "对告知不服的，可以在五个工作日内提出。")),
             Unit(2, "某市信访条例", "第二条", ("本条例自公布之日起施行。",)),
             Unit(3, "某市信访条例", "第三条", ("旧的第一款。", "旧的第二款。"), status="superseded"))
    head = "《某市信访条例》 "
    texts, owners = unit_passages(units, embedder, clauses=0)
    assert texts == [head + "信访事项应当在十五日内告知。\n对告知不服的，可以在五个工作日内提出。",
                     head + "信访事项应当在十五日内告知。", head + "对告知不服的，可以在五个工作日内提出。",
                     head + "本条例自公布之日起施行。", head + "旧的第一款。\n旧的第二款。"]
    assert owners.tolist() == [1, 1, 1, 2, 3]
    whole, whole_owners = unit_passages(units, embedder, clauses=None)
    assert whole == [texts[0], texts[3], texts[4]] and whole_owners.tolist() == [1, 2, 3]


def test_clause_passages_only_for_articles_of_at_least_the_threshold(embedder):
    # a short article's one vector stands for its few words; its 款 alone add passages to embed
    short = Unit(1, "某市信访条例", "第一条", ("应当在十五日内告知。", "可以在五个工作日内提出。"))
    longer = Unit(2, "某市信访条例", "第二条", ("信访人对处理意见不服的，可以自收到书面答复之日起三十日内请求复查。",
                                              "收到复查请求的机关应当自收到之日起三十日内提出复查意见。"))
    length = sum(map(len, longer.paragraphs))
    texts, owners = unit_passages([short, longer], embedder, clauses=length)
    assert owners.tolist() == [1, 2, 2, 2] and texts[2:] == [f"《某市信访条例》 {p}" for p in longer.paragraphs]
    assert unit_passages([short, longer], embedder, clauses=length + 1)[1].tolist() == [1, 2]
    assert unit_passages([short, longer], embedder, clauses=0)[1].tolist() == [1, 1, 1, 2, 2, 2]


def test_clause_threshold_follows_both_settings():
    assert clause_threshold(load_config(clause_passages=True, clause_min_chars=150)) == 150
    assert clause_threshold(load_config(clause_passages=True, clause_min_chars=0)) == 0
    with pytest.raises(ConfigError, match="clause_min_chars"):      # once taken, and read as 0
        load_config(clause_passages=True, clause_min_chars=-5)
    assert clause_threshold(load_config(clause_passages=False, clause_min_chars=150)) is None


def test_clause_passages_never_repeat_a_passage_of_a_long_article(embedder):
    long = UNITS[3]
    whole = unit_passages([long], embedder, clauses=None)[0]
    texts = unit_passages([long], embedder, clauses=0)[0]
    assert len(whole) > 1 and len(set(texts)) == len(texts)
    assert texts[:len(whole)] == whole
    assert set(texts) == set(whole) | {f"《{long.title}》 {p}" for p in long.paragraphs}


def test_build_dense_follows_the_clause_passages_setting(embedder, tmp_path: Path):
    with EmbeddingCache.open(tmp_path / "cache") as cache:
        on = build_dense(UNITS, embedder, tmp_path / "on", cfg=load_config(clause_passages=True), cache=cache,
                         progress=False)
        off = build_dense(UNITS, embedder, tmp_path / "off", cfg=load_config(clause_passages=False), cache=cache,
                          progress=False)
    assert on.passages > off.passages and off.embedded == 0     # whole-article passages came from the cache


def test_dense_search_finds_the_right_article_once(embedder, tmp_path: Path):
    with EmbeddingCache.open(tmp_path / "cache") as cache:
        build_dense(UNITS, embedder, tmp_path / "dense", cache=cache, progress=False)
    dense = DenseIndex.load(tmp_path / "dense", embedder.model_id)
    hits = dense.search(embedder.encode_query("信访事项要多少天内办完？"), 4)
    assert hits[0][0] == 102 and sorted(a for a, _ in hits) == [101, 102, 205, 301]
    hits = dense.search(embedder.encode_query("物业公司要负责小区公共部分的维修养护吗"), 2)
    assert hits[0][0] == 301
    only_forest = dense.search(embedder.encode_query("信访事项要多少天内办完？"), 3, allowed=np.array([205]))
    assert [a for a, _ in only_forest] == [205]


def test_index_type_comes_from_settings_or_argument(embedder, tmp_path: Path):
    with EmbeddingCache.open(tmp_path / "cache") as cache:
        auto = build_dense(UNITS, embedder, tmp_path / "a", cfg=load_config(ann_threshold=3), cache=cache,
                           progress=False)
        sq8 = build_dense(UNITS, embedder, tmp_path / "b", cache=cache, index_type="sq8", progress=False)
        quantised = build_dense(UNITS, embedder, tmp_path / "c", cfg=load_config(quantize_threshold=3), cache=cache,
                                progress=False)
    assert (auto.index_type, sq8.index_type, quantised.index_type) == ("hnsw", "sq8", "sq8")
    assert DenseIndex.load(tmp_path / "a", embedder.model_id).index_type == "hnsw"


def test_an_update_reads_cut_off_files_of_the_previous_snapshot_as_none(tmp_path: Path):
    # a zip cut short (a full disk, a killed copy) is a zipfile.BadZipFile, which ended the update
    from index.backends.embedded import _previous_rows
    from index.build import LEXICAL_DIR
    from index.dense import PLANS_FILE, known_plans
    from index.lexical import COUNTS_FILE
    cut = b"PK\x03\x04" + bytes(60)
    (tmp_path / PLANS_FILE).write_bytes(cut)
    assert known_plans(tmp_path) == {}
    (tmp_path / LEXICAL_DIR).mkdir()
    (tmp_path / LEXICAL_DIR / COUNTS_FILE).write_bytes(cut)
    counts, keys = _previous_rows(tmp_path)
    assert counts.rows == 0 and len(keys) == 0
