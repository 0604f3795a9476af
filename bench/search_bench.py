"""Search figures on a built knowledge base: quality with ablations, latency, build, memory, sizes.

    python -m bench search [-- --kb DIR --questions FILE [--questions FILE …] --learn-from FILE
                              --folds 5 (0: no ablation) --lexical-variants]

- Quality on each question set, side by side (default ../shared/eval/stard-train.jsonl, real
  layperson questions, and ../shared/eval/xinfang-dev.jsonl, the petition-work questions of the
  product's own users; scoring of ../shared/eval/README.md): the shipped searcher end to end
  (without and with the knowledge base's default collection, if it has one), then the ablation
  ladder of `index.learn.fit` (lexical, + expansion, dense, + adapter, hybrid RRF, tuned fusion,
  the gate, the second stage, and the default collection preferred, if there is one) with k-fold
  train-fit and held-out figures for the learned stages, learned also from the bundled questions
  written for learning in every fold, as the shipped files are (`--learn-from`). `--lexical-variants` also rebuilds
  the BM25 index in a temporary folder to compare plain jieba over article text (the reference
  baseline), search-mode tokens, and the title/breadcrumb field (a few minutes each).
- Latency of the shipped hybrid search, warm, k=10, including query encoding: p50/p95/p99,
  and the share of query encoding, BM25 and FAISS.
- Build: units/s of the index build recorded in its metadata, and the time of a no-change
  rebuild (`index.build`, which must skip in well under 30 s).
- Peak memory (max RSS) and on-disk sizes of the index parts and the embedding cache.
Targets (full lawrefbook, default settings, 2 cores, held-out): STARD Recall@10 ≥ 0.70,
Recall@100 ≥ 0.90, MRR@10 ≥ 0.55 (Recall@10 ≥ 0.75 where the gold is unseen in training);
petition questions Recall@10 ≥ 0.85, MRR@10 ≥ 0.65 with no collection; search p50 ≤ 40 ms,
p95 ≤ 100 ms including the second stage.
"""
from __future__ import annotations

import argparse
import dataclasses
import resource
import statistics
import time
from pathlib import Path

import numpy as np

from bench import SHARED, percentile, size_mb
from index.build import LEXICAL_DIR, build, current_folder, read_meta, tokenize_units, unit_headings
from index.collections import load_collections
from index.eval import format_metrics, judge, search_questions, summarise
from index.learn.fit import (TrainParams, add_folds_argument, add_learn_from_argument, check_folds, cross_validate,
                             learn_only_sets, learning_threads, load_material, print_ladder, read_question_sets)
from index.lexical import LexicalIndex, top_rows
from index.search import Filters, Searcher
from index.tokenize import Tokenizer
from kb.settings import load_config

QUESTION_SETS = (SHARED / "eval" / "stard-train.jsonl", SHARED / "eval" / "xinfang-dev.jsonl")


def _percentiles(values: list[float]) -> str:
    return (f"p50 {1000 * percentile(values, 0.5):.1f} ms  p95 {1000 * percentile(values, 0.95):.1f} ms  "
            f"p99 {1000 * percentile(values, 0.99):.1f} ms  mean {1000 * statistics.mean(values):.1f} ms")


def latency(searcher: Searcher, questions, k: int = 10) -> None:
    queries = [q.query for q in questions]
    for query in queries[:20]:                       # warm caches and lazy loads
        searcher.search(query, k)
    total, encode, lexical, dense = [], [], [], []
    scope = searcher.scope(Filters())
    for query in queries:
        t0 = time.perf_counter()
        searcher.search(query, k)
        t1 = time.perf_counter()
        parsed = searcher.parse(query, Filters())
        qvec = searcher.embedder.encode_query(parsed.scored_text)
        t2 = time.perf_counter()
        searcher.lexical_ranking(searcher.lexical_query(parsed), scope, searcher.tuning.candidates)
        t3 = time.perf_counter()
        searcher.backend.dense(qvec, scope, searcher.tuning.candidates)
        t4 = time.perf_counter()
        total.append(t1 - t0)
        encode.append(t2 - t1)
        lexical.append(t3 - t2)
        dense.append(t4 - t3)
    print(f"latency, hybrid search k={k} ({len(queries)} queries, warm): {_percentiles(total)}")
    for name, values in (("  query encoding", encode), ("  BM25 + top-k", lexical), ("  FAISS + filter", dense)):
        print(f"{name:<18} {_percentiles(values)}")


def lexical_variants(kb: Path, questions) -> None:
    """Rebuild BM25 in a temporary folder for plain/search-mode tokens with/without headings."""
    from ingest.store import open_store

    with open_store(kb) as store:
        units = sorted(store.iter_articles(), key=lambda u: u.id)
    searcher_mask = np.array([u.status == "current" for u in units])
    keys = [(u.doc_key, u.no if u.kind == "article" else -1, u.suffix) for u in units]
    variants = (("plain jieba, article text", False, False), ("search mode, article text", True, False),
                ("search mode, title + breadcrumb + text", True, True))
    for label, search_mode, headings in variants:
        tokenizer = Tokenizer(search_mode=search_mode)
        fields = [(u.text, unit_headings(u) if headings else []) for u in units]
        start = time.perf_counter()
        index = LexicalIndex.build(tokenize_units(tokenizer, fields, progress=False))
        seconds = time.perf_counter() - start
        judged = []
        for q in questions:
            top = top_rows(index.scores(tokenizer.tokens(q.query)), 100, searcher_mask)
            judged.append((judge([keys[r] for r, _ in top], q.gold), len(q.gold)))
        print(f"  {label:<44} {format_metrics(summarise(judged))}  [{seconds:.0f} s to build]")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench search", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kb", default=None, help="knowledge base with a built index (default: the kb setting)")
    p.add_argument("--questions", type=Path, action="append", default=None,
                   help="question set with gold articles; repeatable (default: " +
                        " and ".join(q.name for q in QUESTION_SETS) + ")")
    add_learn_from_argument(p)
    add_folds_argument(p)
    p.add_argument("--lexical-variants", action="store_true", help="also compare BM25 tokenisations (slow)")
    args = p.parse_args(argv)
    check_folds(args.folds)
    cfg = load_config(kb=args.kb)
    kb = Path(cfg.kb)
    question_sets = read_question_sets(args.questions or QUESTION_SETS)
    learn_only = learn_only_sets(args.learn_from, question_sets)

    start = time.perf_counter()
    report = build(kb, cfg, progress=False)
    print(f"build: no-change rebuild {time.perf_counter() - start:.1f} s (skipped: {report.skipped})")
    folder = current_folder(kb)
    meta = read_meta(folder, kb)
    # an update says so in its stages ("tokenise 1 of 149244 units", "grow FAISS"): it was once
    # printed as a full build (snapshots written before the stages were kept have none)
    stages = "".join(f"{stage}; " for stage in meta.get("stages", []))
    print(f"build: last build {meta['units']} units in {meta['seconds']:.0f} s "
          f"({stages}{meta['units'] / max(meta['seconds'], 1e-9):.0f} units/s; embedding time depends on the cache)")

    start = time.perf_counter()
    searcher = Searcher(kb, cfg)
    print(f"searcher load {time.perf_counter() - start:.1f} s; model {searcher.embedder.model_id}; "
          f"adapter {'on' if searcher.adapter is not None else 'off'}; "
          f"reranker {'on' if searcher.reranker is not None else 'off'}; question prior {'on' if searcher.prior is not None else 'off'}; "
          f"{len(searcher.catalog)} units; "
          f"tuning {dataclasses.asdict(searcher.tuning)}")
    default_collection = load_collections(kb).default
    print("quality, shipped search, k=100 (train-fit where the settings were learned from these questions; "
          "held-out figures in the ablation below):")
    for name, questions in question_sets.items():
        print(f"  {name} ({len(questions)} questions), no collection: "
              f"{format_metrics(search_questions(searcher, questions, filters=Filters(prefer_collection='none'))[0])}")
        if default_collection:
            print(f"  {name}, default collection {default_collection}: "
                  f"{format_metrics(search_questions(searcher, questions)[0])}")
    everything = [q for questions in question_sets.values() for q in questions]
    latency(searcher, everything)

    if args.folds:
        with learning_threads():
            m = load_material(searcher, question_sets, searcher.tuning.candidates, learn_only)
            print(f"ablation ({args.folds}-fold CV by qid, mean over folds; * = learned from the questions; "
                  f"the sets side by side):")
            print_ladder(cross_validate(m, args.folds, TrainParams(), searcher.tuning.candidates), m.set_names())
    else:
        print("ablation: not run (--folds 0)")
    if args.lexical_variants:
        print("lexical variants (BM25 only, current versions, all questions):")
        lexical_variants(kb, everything)

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS) {own:.0f} MB")
    sizes = {"catalog": size_mb(folder / "catalog.npz") + size_mb(folder / "catalog.json"),
             "lexical": size_mb(folder / LEXICAL_DIR), "dense": size_mb(folder / "dense"),
             "index total": size_mb(folder)}
    cache = Path(cfg.cache_dir).expanduser() / "embeddings.sqlite"
    if cache.is_file():
        sizes["embedding cache (all models)"] = size_mb(cache)
    print("on disk: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in sizes.items()))
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
