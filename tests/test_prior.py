"""The question prior: votes of the nearest questions (for documents and for articles) on
hand-made vectors, the file, and the second stage weighing the votes in a real searcher (real model and index over the small app
knowledge base)."""
from pathlib import Path

import numpy as np
import pytest

from index.adapter import normalise_rows
from index.prior import PRIOR_FILE, QuestionPrior, configured_prior, nearest_questions, pooled_votes, vote_matrix
from index.rerank import FEATURES, Reranker
from index.search import Searcher
from kb.errors import ConfigError
from kb.settings import load_config

M3E = "m3e-small@015b8fb6280264c6/onnx-int8/len256/alone"
USE = "use-multilingual@546647e010f5e76d/numpy/len256/alone"


def test_votes_are_shares_of_each_questions_gold_documents() -> None:
    votes = vote_matrix([["甲法"], ["甲法", "乙法", "甲法"], []], ("乙法", "甲法", "丙法"))
    assert votes.tolist() == [[0, 1, 0], [0.5, 0.5, 0], [0, 0, 0]]


def test_the_nearest_questions_vote_and_a_low_temperature_trusts_the_nearest_most() -> None:
    questions = normalise_rows(np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0, 1]]))
    votes = vote_matrix([["甲法"], ["乙法"], ["丙法"], ["丁法"]], ("甲法", "乙法", "丙法", "丁法"))
    query = normalise_rows(np.array([[1, 0.02, 0]]))
    two = pooled_votes(*nearest_questions(query, questions, neighbours=2, temperature=0.05), votes)[0]
    assert two[2] == two[3] == 0                               # only the two nearest vote
    assert two[0] > two[1] > 0 and abs(two.sum() - 1) < 1e-6
    sharp = pooled_votes(*nearest_questions(query, questions, neighbours=2, temperature=0.001), votes)[0]
    assert sharp[0] > max(two[0], 0.95)
    assert pooled_votes(*nearest_questions(query, questions[:0]), votes[:0]).shape == (1, 4)     # no questions: no votes


ARTICLES = (("甲法", 3, 0), ("甲法", 10, 1), ("乙法", 7, 0))


def prior_file(tmp_path: Path, model_id: str = M3E, *, articles: bool = True) -> Path:
    vectors = normalise_rows(np.eye(3, 4, dtype=np.float32))
    gold = [[ARTICLES[0], ARTICLES[1]], [ARTICLES[2]], []]
    prior = QuestionPrior(vectors, ("甲法", "乙法"), vote_matrix([["甲法"], ["乙法"], []], ("甲法", "乙法")), model_id,
                          "test", *((ARTICLES, vote_matrix(gold, ARTICLES)) if articles else ()))
    path = tmp_path / "question_prior.npz"
    prior.save(path)
    return path


def test_prior_file_round_trip_and_errors(tmp_path: Path) -> None:
    path = prior_file(tmp_path)
    loaded = configured_prior(str(path), M3E)
    assert loaded is not None and loaded.doc_keys == ("甲法", "乙法") and loaded.note == "test"
    by_document, by_article = loaded.votes_for(np.array([1, 0, 0, 0], dtype=np.float32))
    assert by_document["甲法"] > 0.99
    assert loaded.article_keys == ARTICLES                      # 第十条之一 keeps its suffix
    assert by_article[ARTICLES[0]] == pytest.approx(0.5, abs=0.01) == by_article[ARTICLES[1]]
    assert by_article.get(ARTICLES[2], 0) < 0.01
    assert configured_prior("none", M3E) is None
    assert configured_prior(str(path), M3E.replace("onnx-int8", "torch")) is not None     # same model, other backend
    with pytest.raises(ConfigError, match="learned for m3e-small"):
        configured_prior(str(path), "use-multilingual@abc/numpy/len128/alone")
    with pytest.raises(ConfigError, match="does not exist"):
        configured_prior(str(tmp_path / "missing.npz"), M3E)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="not a question prior"):
        configured_prior(str(tmp_path / "junk.npz"), M3E)
    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:200])     # a zip cut short: BadZipFile before
    with pytest.raises(ConfigError, match="not a question prior"):
        configured_prior(str(tmp_path / "cut.npz"), M3E)


def test_a_prior_of_documents_only_still_loads_and_votes_for_no_article(tmp_path: Path) -> None:
    loaded = configured_prior(str(prior_file(tmp_path, articles=False)), M3E)
    assert loaded is not None
    by_document, by_article = loaded.votes_for(np.array([1, 0, 0, 0], dtype=np.float32))
    assert by_article == {} and by_document["甲法"] > 0.99


def test_the_second_stage_prefers_the_documents_the_neighbours_vote_for(indexed_kb: Path, tmp_path: Path) -> None:
    query = "信访人对处理意见不服的，多少日内可以请求复查"
    weights = np.zeros(len(FEATURES), dtype=np.float32)
    weights[FEATURES.index("fused_rank")] = 1.0           # the fused order, unless a vote says otherwise
    weights[FEATURES.index("doc_vote")] = 100.0
    reranker = tmp_path / "vote.json"
    Reranker(weights).save(reranker)
    plain = Searcher(indexed_kb, load_config(kb=str(indexed_kb), reranker=str(reranker), question_prior="none"))
    before = plain.search(query, k=10)
    voted = before[-1].doc_key if before[-1].doc_key != before[0].doc_key else \
        next(d.key for d in plain.catalog.documents if d.key != before[0].doc_key)
    qvec = plain.embedder.encode_query(query).reshape(1, -1)
    prior = tmp_path / "prior.npz"
    QuestionPrior(normalise_rows(qvec), (voted,), np.ones((1, 1), dtype=np.float32), plain.embedder.model_id).save(prior)
    voting = Searcher(indexed_kb, load_config(kb=str(indexed_kb), reranker=str(reranker), question_prior=str(prior)))
    after = voting.search(query, k=50)
    assert after[0].doc_key == voted != before[0].doc_key
    assert {h.doc_key for h in after} - {voted}              # preferred, not restricted to


def test_the_second_stage_prefers_the_article_the_neighbours_vote_for(indexed_kb: Path, tmp_path: Path) -> None:
    query = "信访人对处理意见不服的，多少日内可以请求复查"
    weights = np.zeros(len(FEATURES), dtype=np.float32)
    weights[FEATURES.index("fused_rank")] = 1.0
    weights[FEATURES.index("article_vote")] = 100.0
    reranker = tmp_path / "vote.json"
    Reranker(weights).save(reranker)
    plain = Searcher(indexed_kb, load_config(kb=str(indexed_kb), reranker=str(reranker), question_prior="none"))
    before = plain.search(query, k=10)
    voted = next(h for h in reversed(before) if h.article_no is not None)
    key = (voted.doc_key, voted.article_no, voted.suffix)
    qvec = plain.embedder.encode_query(query).reshape(1, -1)
    prior = tmp_path / "prior.npz"
    QuestionPrior(normalise_rows(qvec), (voted.doc_key,), np.ones((1, 1), dtype=np.float32), plain.embedder.model_id,
                  "", (key,), np.ones((1, 1), dtype=np.float32)).save(prior)
    voting = Searcher(indexed_kb, load_config(kb=str(indexed_kb), reranker=str(reranker), question_prior=str(prior)))
    after = voting.search(query, k=10)
    assert (after[0].doc_key, after[0].article_no, after[0].suffix) == key != \
        (before[0].doc_key, before[0].article_no, before[0].suffix)


def test_each_bundled_prior_serves_its_own_model_only() -> None:
    default_model = QuestionPrior.load(PRIOR_FILE).model_id
    assert default_model.startswith("e5-small@")                    # the default model's, in index/data/
    for model_id in (default_model, M3E, USE):                     # the others' in index/data/<model>/
        bundled = configured_prior("bundled", model_id)
        assert bundled is not None and bundled.model_id.split("/")[0] == model_id.split("/")[0]
        assert len(bundled.vectors) == len(bundled.votes) > 0
        assert np.allclose(bundled.votes.sum(axis=1), 1, atol=1e-2)      # every question's shares sum to 1
        assert bundled.article_shares is not None and np.allclose(bundled.article_shares.sum(axis=1), 1, atol=1e-2)
    assert configured_prior("bundled", "use-multilingual@7a1e/numpy/len128/alone") is None    # other weights
    assert configured_prior("bundled", "BAAI/bge-small-zh@7a1e/torch/len512") is None         # learned for none


def test_the_users_region_keeps_its_rules_in_reach_of_a_prior_learned_from_national_texts(
        indexed_kb: Path, tmp_path: Path) -> None:
    query = "社区里的矛盾纠纷找谁调解"
    plain = Searcher(indexed_kb, load_config(kb=str(indexed_kb)))
    local = {h.doc_key for h in plain.search(query, k=100) if h.region != "全国"}
    assert local, "the small knowledge base holds a local rule about mediation"
    qvec = plain.embedder.encode_query(query).reshape(1, -1)
    prior = tmp_path / "prior.npz"
    QuestionPrior(normalise_rows(qvec), ("信访工作条例",), np.ones((1, 1), dtype=np.float32),
                  plain.embedder.model_id).save(prior)
    searcher = Searcher(indexed_kb, load_config(kb=str(indexed_kb), question_prior=str(prior)))
    fused = [(r, 1.0) for r in searcher.catalog.rows_of([h.article_id for h in plain.search(query, k=100)])]
    region = next(h.region for h in plain.search(query, k=100) if h.region != "全国")
    assert searcher.prior_votes(qvec, fused, ())[0] == pytest.approx({"信访工作条例": 1.0})
    preferring = searcher.prior_votes(qvec, fused, (region,))[0]
    assert all(preferring[key] == pytest.approx(1.0) for key in local if key in preferring)
    assert set(preferring) - {"信访工作条例"}
