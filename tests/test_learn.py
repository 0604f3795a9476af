"""The learning script's pure parts on hand-made data: folds, fusion grid, adapter training."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from bench import search_bench
from index.adapter import QueryAdapter, adapter_for, normalise_rows
from index.learn.fit import (TrainParams, best_fusion, cross_fitted, cross_fitted_fusion, dense_rankings, evaluate,
                             WRITTEN_QUESTIONS, fit_adapter, fit_adapter_once, fold_of, fold_splits, fused_rankings,
                             check_folds, learn_only_sets, main, preferred, set_weights)
from index.rerank import FEATURES, fit_reranker
from kb.errors import ConfigError, run_cli


def test_folds_are_stable_and_balanced() -> None:
    folds = [fold_of(qid, 5) for qid in range(1000)]
    assert folds == [fold_of(qid, 5) for qid in range(1000)]
    assert all(150 < folds.count(f) < 250 for f in range(5))
    assert fold_of("17", 5) == fold_of(17, 5)          # qids compare as text


def test_learn_only_questions_are_learned_from_in_every_fold_and_held_out_in_none() -> None:
    qids = list(range(60))
    measured = [i < 50 for i in qids]               # 50 measured questions, 10 written for training
    splits = fold_splits(qids, measured, 3)
    assert sorted(i for _, held in splits for i in held) == list(range(50))   # each measured one held out once
    for train, held in splits:
        assert set(range(50, 60)) <= set(train) and not set(held) & set(train)
        assert set(train) | set(held) == set(qids)
    # the measured questions' folds are those of a run without the learn-only ones
    assert [held for _, held in splits] == [held for _, held in fold_splits(qids[:50], measured[:50], 3)]


def one_question_file(path: Path, qid: int | str) -> Path:
    """A question set of one petition question with its gold article, at `path`."""
    path.write_text(json.dumps({"qid": qid, "query": "复查不服怎么办", "gold": [{"title": "信访工作条例", "article_no": 36}]},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def test_the_bundled_written_questions_are_learned_from_unless_told_otherwise(tmp_path: Path) -> None:
    assert list(learn_only_sets(None, ["xinfang-dev"])) == [WRITTEN_QUESTIONS.stem]
    assert learn_only_sets([Path("none")], ["xinfang-dev"]) == {}
    own = one_question_file(tmp_path / "course.jsonl", "c1")
    assert [q.qid for q in learn_only_sets([own], ["xinfang-dev"])["course"]] == ["c1"]


def test_a_set_both_measured_and_learn_only_is_refused_in_one_line(tmp_path: Path, capsys) -> None:
    questions = one_question_file(tmp_path / "petition.jsonl", 1)
    code = main(["--kb", str(tmp_path / "kb"), "--questions", str(questions), "--learn-from", str(questions)])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "petition" in err and "--learn-from" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("flag, value", [("--seeds", "0"), ("--refresh", "0"), ("--batch", "0"), ("--epochs", "-1"),
                                         ("--temperature", "0"), ("--lr", "-0.1"), ("--l2", "-1")])
def test_a_training_setting_out_of_range_is_refused_in_one_line(tmp_path: Path, capsys, flag: str, value: str) -> None:
    # before: --seeds 0 was quietly taken as 1, --refresh 0 and --batch 0 crashed mid-fit with a traceback
    questions = one_question_file(tmp_path / "petition.jsonl", 1)
    code = main(["--kb", str(tmp_path / "kb"), "--questions", str(questions), flag, value])
    err = capsys.readouterr().err.strip()
    assert code != 0 and flag in err and value in err and len(err.splitlines()) == 1
    with pytest.raises(ConfigError, match=flag):
        TrainParams(**{flag[2:]: type(getattr(TrainParams(), flag[2:]))(value)})


@pytest.mark.parametrize("folds", ["1", "-3"])
def test_a_fold_count_that_holds_nothing_out_is_refused_in_one_line(tmp_path: Path, capsys, folds: str) -> None:
    # before: --folds 1 and --folds -3 quietly ran no cross-validation in the fit, and in
    # `python -m bench search` --folds 0 crashed with ZeroDivisionError after the latency figures
    questions = one_question_file(tmp_path / "petition.jsonl", 1)
    for command in (main, search_bench.main):
        code = run_cli(command, ["--kb", str(tmp_path / "kb"), "--questions", str(questions), "--folds", folds])
        err = capsys.readouterr().err.strip()
        assert code == 1 and err == f"error: --folds {folds}: must be 0 (no cross-validation) or ≥ 2"
    assert check_folds(0) == 0 and check_folds(2) == 2


def test_fusion_of_cached_rankings_and_grid_choice() -> None:
    keys = {r: ("甲法", r, 0) for r in range(10)}
    gold = [frozenset({("甲法", 3, 0)}), frozenset({("甲法", 7, 0)})]
    lexical = [[3, 1, 2], [1, 2, 7]]
    dense = [[1, 3, 2], [7, 1, 2]]
    fused = fused_rankings(lexical, dense, 60, 1.0)
    assert fused == [[3, 1, 2], [1, 7, 2]]                      # ties keep first-seen order
    metrics = evaluate(fused, gold, keys.__getitem__, [0, 1])
    assert metrics["Recall@5"] == 1.0
    rrf_k, weight, _ = best_fusion(lexical, dense, gold, keys.__getitem__, [[1]])
    assert evaluate(fused_rankings([lexical[1]], [dense[1]], rrf_k, weight), [gold[1]], keys.__getitem__,
                    [0])["MRR@10"] == 1.0                          # the grid lets dense win question 2


def test_fusion_is_chosen_for_the_set_it_helps_least() -> None:
    # set A (questions 0-2) is answered by dense, set B (question 3) by keywords. A pure average
    # of the four questions would follow A's majority; the worst-set choice must not sink B.
    keys = {r: ("甲法", r, 0) for r in range(20)}
    gold = [frozenset({("甲法", g, 0)}) for g in (1, 2, 3, 4)]
    lexical = [[9, 8, 7, 6, 1], [9, 8, 7, 6, 2], [9, 8, 7, 6, 3], [4, 9, 8]]
    dense = [[1, 9], [2, 9], [3, 9], [9, 8, 7, 6, 5, 10, 11, 4]]
    by_average = best_fusion(lexical, dense, gold, keys.__getitem__, [[0, 1, 2, 3]])
    by_worst = best_fusion(lexical, dense, gold, keys.__getitem__, [[0, 1, 2], [3]])
    mrr_b = lambda k, w: evaluate(fused_rankings([lexical[3]], [dense[3]], k, w), [gold[3]],  # noqa: E731
                                  keys.__getitem__, [0])["MRR@10"]
    assert mrr_b(*by_worst[:2]) > mrr_b(*by_average[:2])


def test_a_preferred_collection_raises_its_rows_by_rank_scores_and_the_boost() -> None:
    # with rank scores 1 / (k + rank) and ×1.5: at k=100 the two rows rise to the top
    # (1.5/112 > 1/101); at k=1, row 9 passes rank 6 only (1/7 < 1.5/10 < 1/6) and row 12 passes
    # ranks 8, 10 and 11 (1/9 < 1.5/13 < 1/8); everything else keeps its order
    ranking = list(range(1, 13))
    in_collection = {9, 12}.__contains__
    assert preferred(ranking, in_collection, 1.5, 100) == [9, 12, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11]
    assert preferred(ranking, in_collection, 1.5, 1) == [1, 2, 3, 4, 5, 9, 6, 7, 12, 8, 10, 11]
    assert preferred(ranking, in_collection, 1.0, 100) == ranking
    assert preferred(ranking, lambda row: False, 1.5, 100) == ranking


def test_the_gate_sees_every_list_fused_as_chosen_without_it() -> None:
    # questions 0-1 are answered by dense, 2-3 by keywords; each half's lists must be fused as the
    # other half would have them, so a list's own gold cannot choose its fusion
    keys = {r: ("甲法", r, 0) for r in range(20)}
    gold = [frozenset({("甲法", g, 0)}) for g in (1, 2, 3, 4)]
    lexical = [[9, 1], [9, 2], [3, 9], [4, 9]]
    dense = [[1, 9], [2, 9], [9, 3], [9, 4]]
    halves = [0, 0, 1, 1]
    out = cross_fitted_fusion(lexical, dense, gold, keys.__getitem__, halves, [[0, 1, 2, 3]], (60, 1.0))
    by_keywords = best_fusion(lexical[2:], dense[2:], gold[2:], keys.__getitem__, [[0, 1]])
    assert out[0] == fused_rankings(lexical[:1], dense[:1], *by_keywords[:2])[0]
    own = best_fusion(lexical, dense, gold, keys.__getitem__, [[0, 1, 2, 3]])
    mrr = lambda ranking: evaluate([ranking], gold[:1], keys.__getitem__, [0])["MRR@10"]  # noqa: E731
    assert mrr(out[0]) < mrr(fused_rankings(lexical[:1], dense[:1], *own[:2])[0])
    misled = [frozenset({("甲法", 9, 0)}), *gold[1:]]
    assert cross_fitted_fusion(lexical, dense, misled, keys.__getitem__, halves, [[0, 1, 2, 3]],
                               (60, 1.0))[0] == out[0]
    # a half with no lists of its own: the other half's lists are fused with the fallback
    lonely = cross_fitted_fusion(lexical, dense, gold, keys.__getitem__, [1, 1, 1, 1], [[0, 1, 2, 3]], (60, 0.5))
    assert lonely == fused_rankings(lexical, dense, 60, 0.5)


def test_the_gate_sees_every_list_reranked_by_weights_learned_without_it() -> None:
    # the gold candidate of every list is marked by a high first feature; each list's order
    # must come from the other half's lists, so changing a list's own labels cannot change it
    rng = np.random.default_rng(0)
    fused, features, labels = [], [], []
    for _ in range(40):
        f = rng.normal(scale=0.1, size=(10, len(FEATURES))).astype(np.float32)
        gold = int(rng.integers(1, 10))
        f[gold, 0] += 2.0
        fused.append(list(range(10)))
        features.append(f)
        labels.append(np.eye(10)[gold])
    halves = [p % 2 for p in range(40)]
    reranked = cross_fitted(fused, features, labels, halves)
    assert all(r[0] == int(np.argmax(y)) for r, y in zip(reranked, labels))   # both halves reranked
    misled = [np.eye(10)[0] if p == 3 else y for p, y in enumerate(labels)]  # list 3 now says "first is gold"
    assert cross_fitted(fused, features, misled, halves)[3] == reranked[3]


def test_adapter_learns_a_rotation_it_is_shown() -> None:
    rng = np.random.default_rng(0)
    dim, n_passages, n_queries = 16, 400, 120
    passages = normalise_rows(rng.normal(size=(n_passages, dim)))
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    targets = rng.integers(0, n_passages, size=n_queries)
    # queries are their target passage seen through an unknown rotation, plus noise
    queries = normalise_rows(passages[targets] @ rotation.T + 0.05 * rng.normal(size=(n_queries, dim)))
    positives = [np.array([t]) for t in targets]
    rows = np.arange(n_passages)
    before = [r[0] == t for r, t in zip(dense_rankings(queries, passages, rows, 5), targets)]
    weights = fit_adapter(queries[:80], positives[:80], passages, TrainParams(epochs=60, lr=0.02, l2=0.0))
    after = [r[0] == t for r, t in zip(dense_rankings(normalise_rows(queries @ weights), passages, rows, 5), targets)]
    assert np.mean(after[80:]) > np.mean(before[80:]) + 0.3      # held-out queries improve


def test_the_adapter_is_the_mean_of_its_seeds_fits() -> None:
    rng = np.random.default_rng(1)
    passages = normalise_rows(rng.normal(size=(200, 8)))
    queries = normalise_rows(passages[:40] + 0.3 * rng.normal(size=(40, 8)))
    positives = [np.array([i]) for i in range(40)]
    params = TrainParams(epochs=3, lr=0.02, batch=8, hard=4, shared=16, seed=5, seeds=3)
    once = [fit_adapter_once(queries, positives, passages, params, None, seed) for seed in (5, 6, 7)]
    assert not np.allclose(once[0], once[1])            # the draws differ, so the mean is not one fit
    assert np.allclose(fit_adapter(queries, positives, passages, params), np.mean(once, axis=0), atol=1e-6)
    assert np.array_equal(fit_adapter(queries, positives, passages, dataclasses.replace(params, seeds=1)), once[0])


def test_learning_uses_the_cores_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    # two threads of a learner waiting for each other on a core another process kept busy made a
    # learning test 8 to 25 times slower; OMP_NUM_THREADS (or taskset) says how many to use
    import torch
    from threadpoolctl import threadpool_info

    from index.learn.fit import learning_threads
    rng = np.random.default_rng(2)
    passages = normalise_rows(rng.normal(size=(50, 4)))
    positives = [np.array([i]) for i in range(10)]
    params = TrainParams(epochs=1, batch=5, hard=4, shared=8, seeds=1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(2)
    fit_adapter(passages[:10], positives, passages, params)
    assert torch.get_num_threads() == 1
    with learning_threads():
        assert {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"} == {1}


def test_set_weights_share_the_weight_between_sets_as_asked() -> None:
    sets = ["stard"] * 9 + ["petition"]
    assert list(set_weights(sets, 0.0)) == [1.0] * 10                   # each question alike
    alike = set_weights(sets, 1.0)
    assert alike[:9].sum() == pytest.approx(alike[9]) and alike.mean() == pytest.approx(1.0)   # each set alike
    between = set_weights(sets, 0.5)
    assert between[9] / between[0] == pytest.approx(3.0) and between.mean() == pytest.approx(1.0)


def test_weighted_questions_steer_both_learners() -> None:
    # two kinds of questions want opposite things; the many win unless the few weigh more
    rng = np.random.default_rng(0)
    features, labels, sets = [], [], []
    for p in range(60):
        f = rng.normal(scale=0.1, size=(10, len(FEATURES))).astype(np.float32)
        gold, other = rng.choice(10, size=2, replace=False)
        f[gold, 0 if p < 50 else 1] += 1.0           # the gold has one mark, a distractor the other
        f[other, 1 if p < 50 else 0] += 1.0
        features.append(f)
        labels.append(np.eye(10)[gold])
        sets.append("many" if p < 50 else "few")
    few_weigh_more = np.where(np.array(sets) == "many", 0.05, 1.0)   # the few weigh 4 times the many
    plain = fit_reranker(features, labels)
    assert plain[0] > plain[1]
    assert np.array_equal(plain, fit_reranker(features, labels, question_weights=np.ones(60)))
    steered = fit_reranker(features, labels, question_weights=few_weigh_more)
    assert steered[1] > steered[0]
    # the adapter: the same 30 queries, the many questions' answer is passage i, the few's is 30 + i
    dim = 16
    passages = normalise_rows(rng.normal(size=(60, dim)))
    queries = normalise_rows(passages[:30] + passages[30:])
    both = np.concatenate([queries, queries])
    positives = [np.array([i]) for i in range(30)] + [np.array([30 + i]) for i in range(30)]
    weights = np.r_[np.full(30, 0.1), np.full(30, 1.0)]
    params = TrainParams(epochs=40, lr=0.02, l2=0.0, shared=16, hard=8)

    def few_first(w: np.ndarray) -> float:
        scores = normalise_rows(queries @ w) @ passages.T
        return float(np.mean(scores[np.arange(30), 30 + np.arange(30)] > scores[np.arange(30), np.arange(30)]))

    assert few_first(fit_adapter(both, positives, passages, params, weights)) > 0.9
    assert few_first(fit_adapter(both, positives, passages, params, weights[::-1].copy())) < 0.1
    assert np.array_equal(fit_adapter(both, positives, passages, params),
                          fit_adapter(both, positives, passages, params, np.ones(60)))


def test_adapter_file_round_trip_and_model_check(tmp_path: Path) -> None:
    weights = np.eye(4, dtype=np.float32) * 2
    path = tmp_path / "a.npz"
    QueryAdapter(weights, "model-a", "note").save(path)
    loaded = adapter_for("model-a", path)
    assert loaded is not None and loaded.note == "note"
    assert np.allclose(loaded.apply(np.array([3.0, 4.0, 0, 0])), [0.6, 0.8, 0, 0])
    assert adapter_for("model-b", path) is None                   # trained for another vector space
    QueryAdapter(weights, "m@abc/onnx-int8/len256", "").save(path)
    assert adapter_for("m@abc/torch/len512", path) is not None    # same model files, another backend
    assert adapter_for("m@def/onnx-int8/len256", path) is None    # other files under the same name
    assert adapter_for("model-a", tmp_path / "none.npz") is None
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="bad.npz"):
        adapter_for("model-a", tmp_path / "bad.npz")
    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:100])      # a zip cut short: BadZipFile before
    with pytest.raises(ConfigError, match="cut.npz: not a query adapter"):
        adapter_for("model-a", tmp_path / "cut.npz")


def test_a_model_with_its_own_bundled_files_gets_them(tmp_path: Path) -> None:
    from index.adapter import bundled_file
    default = tmp_path / "query_adapter.npz"
    default.write_bytes(b"x")
    (tmp_path / "use-multilingual").mkdir()
    own = tmp_path / "use-multilingual" / "query_adapter.npz"
    own.write_bytes(b"y")
    assert bundled_file("use-multilingual@0123/numpy/len256/alone", default) == own
    assert bundled_file("e5-small@abcd/onnx-int8/len256/alone", default) == default
    assert bundled_file("/models/use-multilingual@abcd/torch/len256", default) == default   # a path names no folder
    assert bundled_file("../use-multilingual@abcd/torch/len256", default) == default


def test_subcorpus_takes_gold_files_their_versions_the_petition_texts_and_a_fixed_draw(tmp_path: Path) -> None:
    from index.learn.subcorpus import choose_files, gold_files, version_stem
    names = ["法律/甲法(2017-09-01).md", "法律/甲法(2023-09-01).md", "法规/乙条例.md", "地方/某省信访条例.md",
             *[f"其他/丙{i}办法.md" for i in range(20)]]
    files = [tmp_path / n for n in names]
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"qid": 1, "query": "问", "gold": [{"title": "甲法", "article_no": 1,
                                                                    "doc_path": "法律/甲法(2023-09-01).md"}]},
                                    ensure_ascii=False) + "\n", encoding="utf-8")
    gold = gold_files(tmp_path, [questions])
    assert gold == {tmp_path / "法律/甲法(2023-09-01).md"}
    assert version_stem("甲法(2017-09-01).md") == version_stem("甲法.md") == "甲法"
    chosen = choose_files(files, gold, extra=5, seed=0)
    assert {tmp_path / n for n in names[:2] + names[3:4]} <= set(chosen)     # both versions and the 信访 text
    assert len(chosen) == 3 + 5 and chosen == choose_files(files, gold, extra=5, seed=0)
    questions.write_text('{"qid": 1, "query": "问"}\n[1, 2]\n', encoding="utf-8")     # was an AttributeError
    with pytest.raises(ConfigError, match=r"q.jsonl:2: bad question line \(not a JSON object\)"):
        gold_files(tmp_path, [questions])
    assert choose_files(files, gold, extra=5, seed=1) != chosen


def test_learning_reads_the_vectors_of_a_grown_index_alive(tmp_path: Path) -> None:
    # an update leaves the passages of changed articles in the index as dead ones (article -1);
    # learning once dropped them from the passage → row map but not from the positions it read
    from conftest import searcher_of_texts
    from index.build import build
    from index.eval import Question
    from index.learn.fit import load_material
    from index.search import Searcher
    from ingest import run

    name = "某县测试办法.md"
    articles = ["信访事项应当登记", "复查应当在三十日内完成", "复核意见为最终意见", "听证应当公开进行",
                "调解不收取费用", "档案应当妥善保管"]

    def text(first: str) -> str:
        return "# 某县测试办法\n\n" + "\n\n".join(f"第{'一二三四五六'[i]}条 {t}。" for i, t in
                                                enumerate([first, *articles[1:]])) + "\n"

    searcher_of_texts(tmp_path, {name: text(articles[0])})
    (tmp_path / "docs" / name).write_text(text("信访事项应当当场登记"), encoding="utf-8")
    kb = tmp_path / "kb"
    assert run([tmp_path / "docs"], kb).failed == 0
    build(kb, progress=False)
    searcher = Searcher(kb)
    dense = searcher.backend.dense_index
    assert (dense.passage_articles < 0).sum() == 1
    material = load_material(searcher, {"set": [Question(1, "复查多久", frozenset())]}, 10)
    alive = np.flatnonzero(dense.passage_articles >= 0)
    assert np.array_equal(material.passages, dense.index.reconstruct_batch(alive))
    assert material.passage_rows.tolist() == searcher.catalog.rows_of(dense.passage_articles[alive]).tolist()
