"""`python -m bench search` runs end to end on a small built knowledge base and prints every part:
the shipped searcher with its learned parts, latency, the held-out ablation ladder, memory."""
import json
import re
from collections import Counter
import shutil
from pathlib import Path

import pytest

from bench import search_bench
from conftest import SHARED, shared_samples_present
from ingest.store import open_store

@pytest.mark.slow
def test_bench_search_prints_every_part(request: pytest.FixtureRequest, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    if not shared_samples_present():
        pytest.skip(f"shared sample files not found under {SHARED / 'samples'}")
    kb = Path(shutil.copytree(request.getfixturevalue("app_kb"), tmp_path / "kb"))
    # two question sets made of the articles' opening words: the largest document's, the others'
    with open_store(kb) as store:
        articles = [a for a in store.iter_articles() if a.kind == "article" and a.status == "current"]
    largest = Counter(a.title for a in articles).most_common(1)[0][0]
    sets = []
    for name, of_set in (("petition", lambda a: a.title == largest), ("layperson", lambda a: a.title != largest)):
        lines = [{"qid": f"{name}{a.id}", "query": a.text[:24], "gold": [{"title": a.title, "article_no": a.no}]}
                 for a in articles if of_set(a)][:30]
        assert len(lines) >= 10
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
        sets += ["--questions", str(path)]
    # the training base's collection: the held-out ablation reports it too
    (kb / "collections.yaml").write_text(f"default: 课程\ncollections:\n  课程:\n    - {largest}\n", encoding="utf-8")
    assert search_bench.main(["--kb", str(kb), *sets, "--folds", "2"]) == 0
    out = capsys.readouterr().out
    assert "adapter on; reranker on; question prior on" in out
    # what the last build did (an update was printed as a full build)
    built = next(line for line in out.splitlines() if line.startswith("build: last build"))
    assert re.search(r"\(tokenise (\d+) of \1 units; embed \d+ of \d+ passages \+ FAISS; ", built), built
    assert "petition (30 questions), no collection: Recall@1" in out
    assert "petition, default collection 课程: Recall@1" in out
    assert "latency, hybrid search k=10" in out
    shipped = [line for line in out.splitlines() if line.strip().startswith("shipped*") and "held-out " in line]
    assert shipped and "petition: R@10" in shipped[0] and "layperson: R@10" in shipped[0]
    preferring = [line for line in out.splitlines() if "+ collection 课程 preferred" in line and "held-out " in line]
    assert preferring and "petition: R@10" in preferring[0]
    assert "peak memory (max RSS)" in out
    # the latency alone (before: ZeroDivisionError after the latency figures)
    assert search_bench.main(["--kb", str(kb), *sets, "--folds", "0"]) == 0
    out = capsys.readouterr().out
    assert "latency, hybrid search k=10" in out and "ablation: not run (--folds 0)" in out and "peak memory" in out
