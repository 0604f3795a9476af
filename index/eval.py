"""Retrieval metrics and the evaluation-file format (see ../shared/eval/README.md).

A retrieved article is a hit when its title key (`kb.chinese.title_key`) and article number
(with the 之N suffix) equal a gold article's; any version counts and each gold article is
credited once. Metrics: Recall@k averaged over queries, MRR@10, nDCG@10 with binary gains.
The metric functions are pure; `read_questions` is the only file access; `search_questions`
runs a searcher over a question file (for `python -m index eval` and the benchmark).
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kb.chinese import title_key
from kb.errors import QueryError

ArticleKey = tuple[str, int, int]          # (title key, number, 之N suffix)
RECALL_AT = (1, 5, 10, 20, 100)


def article_number(no: int, suffix: int = 0) -> int | str:
    """The eval files' article number: 54, or "120-1" for 第一百二十条之一."""
    return f"{no}-{suffix}" if suffix else no


def parse_article_number(value: int | str) -> tuple[int, int]:
    """54 → (54, 0); "120-1" → (120, 1).

    Raises:
        ValueError: if `value` is neither form.
    """
    if isinstance(value, int):
        return value, 0
    no, _, suffix = str(value).partition("-")
    return int(no), int(suffix or 0)


def article_key(title: str, number: int | str) -> ArticleKey:
    """Comparison key of an article for scoring.

    Raises:
        ValueError: if `number` is not an eval article number.
    """
    return (title_key(title), *parse_article_number(number))


@dataclass(frozen=True)
class Question:
    qid: object
    query: str
    gold: frozenset[ArticleKey]


def question_row(line: str) -> dict:
    """One line of a questions file, a JSON object.

    Raises:
        ValueError: if the line is not JSON, or JSON of another shape.
    """
    try:
        row = json.loads(line)
    except RecursionError:      # arrays nested thousands deep: a traceback before
        raise ValueError("not JSON: nested too deep") from None
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    return row


def read_questions(path: Path, *, need_gold: bool) -> list[Question]:
    """Read a JSONL file of `{"qid", "query"[, "gold": [{"title", "article_no"}, ...]]}` lines.

    Raises:
        QueryError: if the file cannot be read or a line is malformed (names file and line).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise QueryError(f"{path}: cannot read questions ({err})") from None
    questions = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = question_row(line)
            if not isinstance(row["query"], str):
                raise ValueError("query is not text")
            gold = frozenset(article_key(g["title"], g["article_no"]) for g in row.get("gold", ()))
            if need_gold and not gold:
                raise ValueError("no gold articles")
            questions.append(Question(row["qid"], row["query"], gold))
        except (ValueError, KeyError, TypeError) as err:
            raise QueryError(f"{path}:{n}: bad question line ({err})") from None
    return questions


def judge(ranked: Sequence[ArticleKey], gold: Iterable[ArticleKey]) -> list[bool]:
    """Hit flags of a ranking: True where a not-yet-credited gold article appears."""
    remaining = set(gold)
    flags = []
    for key in ranked:
        flags.append(key in remaining)
        remaining.discard(key)
    return flags


def recall_at(flags: Sequence[bool], n_gold: int, k: int) -> float:
    return sum(flags[:k]) / n_gold if n_gold else 0.0


def reciprocal_rank(flags: Sequence[bool], k: int = 10) -> float:
    return next((1.0 / (i + 1) for i, hit in enumerate(flags[:k]) if hit), 0.0)


def ndcg_at(flags: Sequence[bool], n_gold: int, k: int = 10) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, hit in enumerate(flags[:k]) if hit)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, n_gold)))
    return dcg / ideal if ideal else 0.0


def summarise(judged: Sequence[tuple[Sequence[bool], int]]) -> dict[str, float]:
    """Mean metrics over queries, from (hit flags, number of gold articles) pairs."""
    n = len(judged) or 1
    out = {f"Recall@{k}": sum(recall_at(f, g, k) for f, g in judged) / n for k in RECALL_AT}
    out["MRR@10"] = sum(reciprocal_rank(f) for f, _ in judged) / n
    out["nDCG@10"] = sum(ndcg_at(f, g) for f, g in judged) / n
    return out


def hit_key(hit) -> ArticleKey | None:
    """Scoring key of a search hit (None for outline sections, which have no article number)."""
    return None if hit.article_no is None else (hit.doc_key, hit.article_no, hit.suffix)


def search_questions(searcher, questions: Sequence[Question], k: int = 100, *, filters=None, progress: bool = False
                     ) -> tuple[dict[str, float], list[float]]:
    """Metrics of `searcher.search` over `questions` at depth `k` (with `filters`, an
    `index.search.Filters`, or the defaults), and each search's seconds."""
    import time

    from tqdm import tqdm

    judged, seconds = [], []
    for q in tqdm(questions, unit="q", desc="eval", disable=not progress):
        start = time.perf_counter()
        hits = searcher.search(q.query, k, filters)
        seconds.append(time.perf_counter() - start)
        judged.append((judge([hit_key(h) for h in hits], q.gold), len(q.gold)))
    return summarise(judged), seconds


def format_metrics(metrics: dict[str, float]) -> str:
    return "  ".join(f"{name} {value:.4f}" for name, value in metrics.items())
