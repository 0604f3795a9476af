"""Do the two search backends agree? The same knowledge base on the embedded backend and on Milvus.

    python -m bench backends -- --kb DIR [--milvus-uri URI] [--questions FILE …]

Copies the store of `--kb` twice into a temporary folder, builds one copy with each backend
(Milvus at `--milvus-uri`, or a `milvus-lite server` started here on a free port), and runs the
questions whose gold articles are in the knowledge base (default ../shared/eval/stard-train.jsonl
and xinfang-dev.jsonl) on both: Recall@10 and MRR@10 side by side, the mean overlap of the two
top-10 lists, warm latency p50/p95 per backend, and the hits of filtered searches that break
their filter (leaks; there must be none). On the full lawrefbook knowledge base the
Recall@10 of the two should stay within 0.02.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

from bench import SHARED, milvus_lite_server, parse_kb_args, percentile, timed_searches
from index.build import build
from index.eval import Question, judge, read_questions, summarise
from index.search import Filters, Searcher
from ingest.store import DB_NAME
from kb.settings import Config, add_arguments, load_config

QUESTION_SETS = (SHARED / "eval" / "stard-train.jsonl", SHARED / "eval" / "xinfang-dev.jsonl")
K = 10


def in_knowledge_base(questions: list[Question], searcher: Searcher) -> list[Question]:
    """The questions with at least one gold article in the knowledge base (gold kept whole)."""
    cat = searcher.catalog
    keys = {(cat.documents[d].key, int(no), int(suffix))
            for d, no, suffix in zip(cat.doc.tolist(), cat.no.tolist(), cat.suffix.tolist())}
    return [q for q in questions if q.gold & keys]


# filters every hit must satisfy, with the test of a hit
FILTER_CHECKS = (
    (Filters(levels=("法律",)), lambda h: h.level == "法律"),
    (Filters(regions=("全国",)), lambda h: h.region == "全国"),
    # a date bounds the effective date or, where none is known, the version date (index.search.Filters)
    (Filters(statuses=("current", "repealed"), date_to="2010"), lambda h: h.status in ("current", "repealed")
     and "" < (h.effective or h.version_date) <= "2010-12-31"),
)
LEAK_QUESTIONS = 20


def filter_leaks(searcher: Searcher, questions: list[Question]) -> tuple[int, int]:
    """(hits outside their filter, hits) over `FILTER_CHECKS` and the first `LEAK_QUESTIONS` questions."""
    leaks = hits = 0
    for filters, holds in FILTER_CHECKS:
        for q in questions[:LEAK_QUESTIONS]:
            found = searcher.search(q.query, K, filters)
            hits += len(found)
            leaks += sum(not holds(h) for h in found)
    return leaks, hits


def built_copy(store_kb: Path, root: Path, cfg: Config) -> tuple[Searcher, float]:
    """A copy of the store of `store_kb` under `root`, built with `cfg`'s backend; its Searcher
    and the build's seconds."""
    kb = root / "kb"
    kb.mkdir(parents=True)
    for name in (DB_NAME, "collections.yaml"):
        if (store_kb / name).is_file():
            shutil.copy2(store_kb / name, kb / name)
    start = time.perf_counter()
    build(kb, dataclasses.replace(cfg, kb=str(kb)), progress=True)
    return Searcher(kb, load_config(kb=str(kb), milvus_uri=cfg.milvus_uri)), time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench backends", description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, action="append", default=None, metavar="FILE.jsonl")
    add_arguments(parser, "milvus_uri")
    parsed = parse_kb_args(parser, argv)
    if parsed is None:
        return 1
    args, cfg = parsed
    with tempfile.TemporaryDirectory(prefix="bench-backends-") as tmp, contextlib.ExitStack() as stack:
        uri = cfg.milvus_uri or stack.enter_context(milvus_lite_server(Path(tmp) / "milvus"))
        embedded, embedded_build = built_copy(Path(cfg.kb), Path(tmp) / "embedded", load_config(kb=cfg.kb))
        milvus, milvus_build = built_copy(Path(cfg.kb), Path(tmp) / "milvus",
                                          load_config(kb=cfg.kb, backend="milvus", milvus_uri=uri))
        print(f"{len(embedded.catalog)} units; build from the embedding cache: embedded {embedded_build:.1f} s, "
              f"milvus {milvus_build:.1f} s ({uri})")
        print(f"{'questions':<28}{'n':>5}  {'backend':<9}{'Recall@10':>10}{'MRR@10':>8}{'p50 ms':>8}{'p95 ms':>8}"
              f"  top-10 overlap")
        for path in args.questions or QUESTION_SETS:
            questions = in_knowledge_base(read_questions(path, need_gold=True), embedded)
            if not questions:
                print(f"{path.name:<28}    0  (no question has its gold in this knowledge base)")
                continue
            ranked = {}
            for name, searcher in (("embedded", embedded), ("milvus", milvus)):
                hits, seconds = timed_searches(searcher, [q.query for q in questions], K)
                ranked[name] = hits
                metrics = summarise([(judge([(h.doc_key, h.article_no, h.suffix) for h in hs], q.gold), len(q.gold))
                                     for hs, q in zip(hits, questions)])
                print(f"{path.name:<28}{len(questions):>5}  {name:<9}{metrics['Recall@10']:>10.4f}"
                      f"{metrics['MRR@10']:>8.4f}{1000 * percentile(seconds, 0.5):>8.1f}"
                      f"{1000 * percentile(seconds, 0.95):>8.1f}", end="")
                if name == "milvus":
                    overlap = [len({h.article_id for h in a} & {h.article_id for h in b}) / K
                               for a, b in zip(ranked["embedded"], ranked["milvus"])]
                    print(f"  {sum(overlap) / len(overlap):.3f}", end="")
                print()
            leaks = {name: filter_leaks(searcher, questions) for name, searcher in (("embedded", embedded),
                                                                                   ("milvus", milvus))}
            print(f"{'':<28}filter leaks (level 法律; region 全国; current or repealed, effective by 2010): " +
                  ", ".join(f"{name} {bad} of {hits} hits" for name, (bad, hits) in leaks.items()))
    return 0
