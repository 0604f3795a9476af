"""Metrics on hand-made rankings and the evaluation-file format."""
import json
import math
from pathlib import Path

import pytest

from index.eval import (article_key, article_number, judge, ndcg_at, parse_article_number, read_questions,
                        recall_at, reciprocal_rank, summarise)
from kb.errors import QueryError

A, B, C, X = ("民法典", 1, 0), ("民法典", 2, 0), ("刑法", 120, 1), ("刑法", 9, 0)


def test_article_numbers_round_trip() -> None:
    assert article_number(54) == 54
    assert article_number(120, 1) == "120-1"
    assert parse_article_number("120-1") == (120, 1)
    assert parse_article_number(54) == (54, 0)
    assert article_key("中华人民共和国刑法", "120-1") == C


def test_each_gold_article_is_credited_once() -> None:
    assert judge([A, A, X, B], {A, B}) == [True, False, False, True]


def test_recall_mrr_ndcg_by_hand() -> None:
    flags = [False, True, False, True]
    assert recall_at(flags, 2, 1) == 0.0
    assert recall_at(flags, 2, 2) == 0.5
    assert recall_at(flags, 2, 10) == 1.0
    assert reciprocal_rank(flags) == 0.5
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at(flags, 2) == pytest.approx(expected)
    assert reciprocal_rank([False] * 10 + [True]) == 0.0     # only the top 10 count


def test_summarise_averages_over_queries() -> None:
    metrics = summarise([([True], 1), ([False, False], 2)])
    assert metrics["Recall@1"] == 0.5
    assert metrics["MRR@10"] == 0.5
    assert set(metrics) == {"Recall@1", "Recall@5", "Recall@10", "Recall@20", "Recall@100", "MRR@10", "nDCG@10"}


def test_read_questions(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [{"qid": 1, "query": "问", "gold": [{"title": "中华人民共和国刑法", "article_no": "120-1"}]},
            {"qid": "b", "query": "答"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    questions = read_questions(path, need_gold=False)
    assert questions[0].gold == frozenset({C}) and questions[1].gold == frozenset()
    with pytest.raises(QueryError, match=r"q.jsonl:2"):
        read_questions(path, need_gold=True)


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"qid": 1, "query": "x"}\nnot json\n', encoding="utf-8")
    with pytest.raises(QueryError, match=r"bad.jsonl:2"):
        read_questions(path, need_gold=False)
    with pytest.raises(QueryError, match="missing.jsonl"):
        read_questions(tmp_path / "missing.jsonl", need_gold=False)


@pytest.mark.parametrize("line, reason", [("[1, 2]", "not a JSON object"), ('"问"', "not a JSON object"),
                                          ('{"qid": 1, "query": 5}', "query is not text"),
                                          ('{"qid": 1, "query": "x", "gold": [5]}', ""),
                                          ("[" * 100_000 + "]" * 100_000, "not JSON: nested too deep")])
def test_a_line_of_another_shape_is_a_one_line_error(tmp_path: Path, line: str, reason: str) -> None:
    """A JSON list on a line died as an AttributeError traceback."""
    path = tmp_path / "odd.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(QueryError, match=f"odd.jsonl:1: bad question line \\({reason}"):
        read_questions(path, need_gold=False)
