"""The questions written for learning (`index/data/petition-written.jsonl`): well formed, every gold
article a clause in force of the demo corpus, and none a copy of an evaluation question."""
import json

import pytest

from conftest import SHARED
from index.eval import read_questions
from index.learn.fit import WRITTEN_QUESTIONS as WRITTEN
from index.rerank import bigrams
from ingest import run
from ingest.store import open_store

DEMO = SHARED / "corpus" / "xinfang"
EVAL = SHARED / "eval"


def test_written_questions_are_well_formed() -> None:
    questions = read_questions(WRITTEN, need_gold=True)
    assert len(questions) >= 250
    assert len({q.qid for q in questions}) == len(questions)
    assert all(str(q.qid).startswith("syn-") for q in questions)     # never an evaluation qid


@pytest.mark.skipif(not DEMO.is_dir(), reason=f"demo corpus not found at {DEMO}")
def test_every_gold_article_is_a_clause_in_force_of_the_demo_corpus(tmp_path) -> None:
    summary = run([DEMO], tmp_path / "kb")
    assert summary.failed == 0
    with open_store(tmp_path / "kb") as store:
        missing = [(q.qid, key) for q in read_questions(WRITTEN, need_gold=True) for key in q.gold
                   if [a.status for a in store.find_articles(*key)][:1] != ["current"]]
    assert not missing


@pytest.mark.skipif(not EVAL.is_dir(), reason=f"evaluation questions not found at {EVAL}")
def test_no_written_question_copies_an_evaluation_question() -> None:
    """Held-out figures measured with the written questions in every training fold would be
    flattered by copies: the closest pair shares under half its character bigrams."""
    evaluation = [bigrams(json.loads(line)["query"]) for path in sorted(EVAL.glob("*.jsonl"))
                  for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(evaluation) > 1000
    closest = max(len(w & e) / len(w | e) for q in read_questions(WRITTEN, need_gold=True)
                  for w in [bigrams(q.query)] for e in evaluation)
    assert closest < 0.5
