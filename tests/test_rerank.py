"""The second stage: features of hand-made candidates, the listwise fit, the weights file, and the
searcher using a reranker (real model and index over the small app knowledge base)."""
import json
import time
from pathlib import Path

import numpy as np
import pytest

from index.rerank import (FEATURES, LEGACY_DEPTH, Candidate, Reranker, bigrams, candidate_features, configured_reranker,
                          fit_reranker, overlap, question_types)
from index.search import Filters, Searcher
from kb.errors import ConfigError
from kb.settings import load_config


def candidate(doc: int, text: str, *, lexical: int | None = None, dense: int | None = None, title: str = "某条例",
              headings: tuple[str, ...] = (), named: bool = False, position: float = 0.5, vote: float = 0.0,
              article_vote: float = 0.0) -> Candidate:
    return Candidate(doc, lexical, 10.0 / lexical if lexical else 0.0, dense, 0.9 - 0.01 * (dense or 0), title,
                     headings, text, position, named, vote, article_vote)


def column(features: np.ndarray, name: str) -> np.ndarray:
    return features[:, FEATURES.index(name)]


def test_question_types_are_read_from_the_wording() -> None:
    assert question_types("信访事项多少天内要答复？")["time"]
    assert question_types("对复查意见不服还能找谁")["who"]
    assert question_types("法援律师收辛苦费合法吗")["may"]
    assert question_types("冒充信访人闹事会被拘留吗")["consequence"]
    assert not any(question_types("信访工作条例的立法目的").values())


def test_features_of_hand_made_candidates() -> None:
    question = "信访事项多少天内要答复"
    cands = [candidate(0, "本条例所称信访，是指公民来信来访。", lexical=1, dense=3, headings=("第一章 总则",)),
             candidate(1, "信访事项应当自受理之日起60日内办结，并书面答复信访人。", lexical=2,
                       headings=("第四章 信访事项的办理",), title="信访工作条例", named=True, vote=0.8),
             candidate(1, "信访人对答复不服的，可以自收到书面答复之日起30日内请求复查。", dense=1,
                       title="信访工作条例", named=True, vote=0.8, article_vote=0.6)]
    f = candidate_features(question, cands)
    assert f.shape == (3, len(FEATURES)) and f.dtype == np.float32
    assert list(column(f, "time_match")) == [0.0, 1.0, 1.0]          # a time question, articles with 日内
    assert list(column(f, "both")) == [1.0, 0.0, 0.0]
    assert column(f, "lexical_rank")[2] == 0.0 and column(f, "dense_rank")[1] == 0.0   # not returned
    assert list(column(f, "doc_share")) == pytest.approx([1 / 3, 2 / 3, 2 / 3])
    assert list(column(f, "title_named")) == [0.0, 1.0, 1.0]
    assert list(column(f, "doc_vote")) == pytest.approx([0.0, 0.8, 0.8])       # the document prior's vote
    assert list(column(f, "article_vote")) == pytest.approx([0.0, 0.0, 0.6])   # and its vote for the article
    assert column(f, "text_overlap")[1] > column(f, "text_overlap")[0]
    assert column(f, "fused_rank")[0] > column(f, "fused_rank")[2]   # the fused order itself
    assert bigrams("信访，答复") == {"信访", "答复"}                      # punctuation cuts runs


def test_the_plain_model_scores_become_score_gap_and_rank_among_the_candidates() -> None:
    cands = [Candidate(0, 1, 5.0, None, 0.0, "某条例", (), "甲", 0.1, False, base_dense_score=0.70),
             Candidate(0, 2, 4.0, 1, 0.9, "某条例", (), "乙", 0.2, False, base_dense_score=0.80),
             Candidate(1, None, 0.0, 2, 0.8, "另一条例", (), "丙", 0.3, False)]      # no passage: 0
    f = candidate_features("甲乙", cands)
    assert column(f, "base_dense_score").tolist() == pytest.approx([0.70, 0.80, 0.0])
    assert column(f, "base_dense_gap").tolist() == pytest.approx([-0.10, 0.0, -0.80])
    assert column(f, "base_dense_rank").tolist() == pytest.approx([10 / 11, 1.0, 10 / 12])


def test_rare_overlap_weighs_the_question_words_few_candidates_have() -> None:
    # three articles of one regulation share the question's common words (信访, 事项); one has
    # its rare word (推搡) as well: plain overlap barely tells it apart, the rare overlap does
    question = "信访事项中被推搡"
    cands = [candidate(0, "信访事项的受理。"), candidate(0, "信访事项的办理。"),
             candidate(0, "信访事项中推搡工作人员的，依法处理。"), candidate(1, "无关的条文。")]
    f = candidate_features(question, cands)
    rare, share = column(f, "rare_overlap"), column(f, "text_overlap")
    assert int(np.argmax(rare)) == 2 and rare[3] == 0.0
    assert rare[2] - rare[0] > share[2] - share[0]
    assert list(share) == pytest.approx([overlap(bigrams(question), c.text) for c in cands])
    everywhere = candidate_features("信访", [candidate(0, "信访"), candidate(1, "信访工作")])
    assert list(column(everywhere, "rare_overlap")) == [0.0, 0.0]      # a word all candidates have tells nothing
    assert column(candidate_features("，", cands), "rare_overlap").tolist() == [0.0] * 4   # no bigram at all


def test_the_listwise_fit_learns_a_signal_it_is_shown() -> None:
    rng = np.random.default_rng(0)
    useful = FEATURES.index("time_match")
    features, labels = [], []
    for _ in range(200):
        f = rng.random((20, len(FEATURES))).astype(np.float32)
        y = np.zeros(20)
        gold = rng.integers(20)
        y[gold] = 1
        f[:, useful] = 0
        f[gold, useful] = 1
        features.append(f)
        labels.append(y)
    weights = fit_reranker(features[:150], labels[:150])
    top_right = [int(np.argmax(f @ weights)) == int(np.argmax(y)) for f, y in zip(features[150:], labels[150:])]
    assert np.mean(top_right) > 0.9
    assert weights[useful] == max(weights)
    assert np.array_equal(weights, fit_reranker(features[:150], labels[:150]))      # deterministic


M3E = "m3e-small@015b8fb6280264c6/onnx-int8/len256/alone"
USE = "use-multilingual@546647e010f5e76d/numpy/len256/alone"


def test_weights_file_round_trip_and_refusals(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    Reranker(np.arange(len(FEATURES), dtype=np.float32), "note").save(path)
    loaded = configured_reranker(str(path), M3E)
    assert loaded is not None and loaded.note == "note"
    assert np.array_equal(loaded.weights, np.arange(len(FEATURES), dtype=np.float32))
    assert configured_reranker("none", M3E) is None
    path.write_text('{"features": ["other"], "weights": [1.0]}', encoding="utf-8")
    with pytest.raises(ConfigError, match="other features"):
        configured_reranker(str(path), M3E)
    path.write_text('{"features": ["length", "length"], "weights": [1.0, 2.0]}', encoding="utf-8")
    with pytest.raises(ConfigError, match="other features"):
        configured_reranker(str(path), M3E)
    with pytest.raises(ConfigError, match="does not exist"):
        configured_reranker(str(tmp_path / "missing.json"), M3E)


def test_a_reranker_file_records_how_many_candidates_it_reorders(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    Reranker(np.ones(len(FEATURES), dtype=np.float32), depth=30).save(path)
    assert configured_reranker(str(path), M3E).depth == 30
    body = json.loads(path.read_text(encoding="utf-8"))
    del body["depth"]                                    # written before the depth was recorded
    path.write_text(json.dumps(body), encoding="utf-8")
    assert configured_reranker(str(path), M3E).depth == LEGACY_DEPTH
    body["depth"] = 0
    path.write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(ConfigError, match="depth 0"):
        configured_reranker(str(path), M3E)


def test_a_reranker_learned_before_a_feature_existed_gives_it_no_weight(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    older = [name for name in FEATURES if name != "rare_overlap"][::-1]      # any order
    path.write_text(json.dumps({"features": older, "weights": [float(len(name)) for name in older]}), encoding="utf-8")
    loaded = configured_reranker(str(path), M3E)
    assert loaded.weights[FEATURES.index("rare_overlap")] == 0.0
    assert all(loaded.weights[FEATURES.index(name)] == len(name) for name in older)


def test_a_reranker_is_used_only_with_the_model_it_was_learned_on(tmp_path: Path) -> None:
    # its dense_score / dense_gap features mean something else in another model's space
    path = tmp_path / "r.json"
    Reranker(np.ones(len(FEATURES), dtype=np.float32), "", M3E).save(path)
    assert configured_reranker(str(path), M3E.replace("onnx-int8", "torch")) is not None   # same model, other backend
    with pytest.raises(ConfigError, match="learned for m3e-small"):
        configured_reranker(str(path), USE)
    for model_id in (M3E, USE):                           # each bundled model has its own
        assert configured_reranker("bundled", model_id).model_id.split("/")[0] == model_id.split("/")[0]
    assert configured_reranker("bundled", "BAAI/bge-small-zh@7a1e/torch/len512") is None    # learned for none


def test_overlap_counts_the_question_bigrams_the_text_has() -> None:
    rng = np.random.default_rng(0)
    alphabet = list("信访人复查期限三十日内，。 （）\n1A")
    for _ in range(500):
        question, text = ("".join(rng.choice(alphabet, size=rng.integers(0, 25))) for _ in range(2))
        grams = bigrams(question)
        expected = len(grams & bigrams(text)) / len(grams) if grams else 0.0
        assert overlap(grams, text) == pytest.approx(expected)


def test_question_type_patterns_do_not_backtrack() -> None:
    start = time.perf_counter()
    for text in ("超过" + "一" * 20000, "1" * 20000 + "个", "谁" * 20000):
        question_types(text)
        candidate_features(text, [candidate(0, text, lexical=1)])
    assert time.perf_counter() - start < 5


def test_the_searcher_reorders_only_as_many_candidates_as_its_reranker_was_learned_on(indexed_kb: Path,
                                                                                     tmp_path: Path) -> None:
    weights = np.zeros(len(FEATURES), dtype=np.float32)
    weights[FEATURES.index("position")] = -10.0          # the first articles of a document first
    path = tmp_path / "first3.json"
    Reranker(weights, depth=3).save(path)
    searcher = Searcher(indexed_kb, load_config(kb=str(indexed_kb), reranker=str(path)))
    positions = searcher.positions()
    rows = [int(r) for r in np.argsort(-positions)[:6]]  # fused order: last articles first
    fused = [(r, 1.0 / (60 + i)) for i, r in enumerate(rows)]
    parsed = searcher.parse("复查", Filters())
    qvec = searcher.embedder.encode_query(parsed.text)
    reranked = [r for r, _ in searcher.rerank(parsed, qvec, fused, [], [], {}, {})]
    assert sorted(reranked[:3], key=lambda r: positions[r]) == reranked[:3] and set(reranked[:3]) == set(rows[:3])
    assert reranked[3:] == rows[3:]                      # beyond its depth the fused order stays


def test_searcher_reorders_its_candidates_with_the_reranker(indexed_kb: Path, tmp_path: Path) -> None:
    query = "信访人对处理意见不服的，多少日内可以请求复查"
    plain = Searcher(indexed_kb, load_config(kb=str(indexed_kb), reranker="none"))
    weights = np.zeros(len(FEATURES), dtype=np.float32)
    weights[FEATURES.index("position")] = -10.0          # a reranker that wants the first articles
    path = tmp_path / "first.json"
    Reranker(weights).save(path)
    reranked = Searcher(indexed_kb, load_config(kb=str(indexed_kb), reranker=str(path)))
    before = plain.search(query, k=10)
    after = reranked.search(query, k=10)
    assert [h.citation for h in after] != [h.citation for h in before]
    positions = reranked.positions()[reranked.catalog.rows_of([h.article_id for h in after])]
    assert list(positions) == sorted(positions)          # the reranker's order, boosts being neutral here
