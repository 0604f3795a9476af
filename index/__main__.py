"""Command line: `python -m index build|search|eval` (see `python -m index --help`).

Exit codes: 0 success, 1 a knowledge-base / index / query error (one line on stderr),
2 bad command-line usage.
"""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.store import DB_NAME
from kb.citations import cited_text, part_label
from kb.errors import run_cli
from kb.files import os_text
from kb.lock import add_wait_arguments, cli_writer_lock, wait_seconds
from kb.settings import SEARCH_SETTINGS, Config, add_arguments, config_from_args

if TYPE_CHECKING:
    from index.search import Searcher


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m index", description="Build and query the search index.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("build", help="build or update the indexes from the knowledge base",
                            description="Build or update the lexical and dense indexes from the store. "
                                        "Skips the work when nothing changed since the last build.")
    add_arguments(p, "kb", "model", "query_prefix", "backend", "milvus_uri", "workers", "clause_passages",
                  "clause_min_chars", "dense_index", "quantize_threshold", "ann_threshold")
    p.add_argument("--force", action="store_true", help="rebuild from scratch, even if nothing changed "
                   "(an update reuses the unchanged parts of the index in use)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_wait_arguments(p)

    p = commands.add_parser("search", help="search the knowledge base",
                            description="Search with a question or a reference (信访工作条例第三十三条), or run "
                                        "a batch of questions from a JSONL file.")
    p.add_argument("query", nargs="?", type=os_text, help="the question (omit with --batch)")
    p.add_argument("--batch", type=Path, metavar="FILE.jsonl",
                   help='JSONL file of {"qid": ..., "query": ...} lines; writes one JSON line per query')
    p.add_argument("--k", type=int, default=None, help="number of results (default: the top_k setting)")
    p.add_argument("--json", action="store_true", help="print JSON instead of readable text")
    p.add_argument("--doc", action="append", default=[], type=os_text, metavar="TITLE",
                   help="only this document (title or short name; repeat for several)")
    p.add_argument("--level", action="append", default=[], type=os_text,
                   help="only this level, e.g. 法律 (repeatable)")
    p.add_argument("--in-region", action="append", default=[], type=os_text, metavar="REGION",
                   help="only this region and places inside it, e.g. 全国 or 四川省 (repeatable)")
    p.add_argument("--status", action="append", default=None,
                   help="current (default), superseded, repealed, pending (repeatable)")
    p.add_argument("--date-from", default="", help="effective on or after (YYYY[-MM[-DD]])")
    p.add_argument("--date-to", default="", help="effective on or before (YYYY[-MM[-DD]])")
    add_arguments(p, "kb", "model", "query_prefix", "milvus_uri", *SEARCH_SETTINGS)

    p = commands.add_parser("eval", help="measure retrieval quality on a questions file with gold articles",
                            description="Print Recall@1/5/10/20/100, MRR@10 and nDCG@10 (scoring rules: "
                                        "same title key and article number, any version, each gold once).")
    p.add_argument("file", type=Path, metavar="FILE.jsonl")
    p.add_argument("--k", type=int, default=100, help="results retrieved per question (default 100)")
    add_arguments(p, "kb", "model", "query_prefix", "milvus_uri", *SEARCH_SETTINGS)
    return parser


def _filters(args: argparse.Namespace):
    from index.search import Filters

    return Filters(documents=tuple(args.doc), levels=tuple(args.level), regions=tuple(args.in_region),
                   statuses=tuple(args.status or ("current",)), date_from=args.date_from, date_to=args.date_to)


def batch_line(qid: object, hits: Sequence, ms: float) -> dict:
    """One output line of `search --batch` (the shape outside evaluation reads)."""
    from index.eval import article_number

    return {"qid": qid, "hits": [
        {"title": h.title, "article_no": article_number(h.article_no, h.suffix) if h.article_no is not None
         else None, "article_label": h.label, "doc_path": h.relpath or h.source, "score": round(h.score, 6)}
        for h in hits], "ms": round(ms, 2)}


def _hit_json(hit) -> dict:
    from dataclasses import asdict

    return asdict(hit) | {"citation": hit.citation}


def _print_hit(rank: int, hit) -> None:
    from ingest.records import STATUS_LABELS

    crumbs = " / ".join(p for p in (hit.subtitle, *hit.path) if p)
    print(f"{rank:>2}. {hit.citation}  [{STATUS_LABELS.get(hit.status, hit.status)}; {hit.level} {hit.region}; "
          f"{'+'.join(hit.match) or '-'}; {hit.score:.4f}]")
    if crumbs:
        print(f"    {crumbs}")
    part = part_label(hit.paragraph, hit.item)           # the 款 or 项 asked for, if any
    text = cited_text(hit.text, hit.paragraphs, hit.paragraph, hit.item)
    text = text if len(text) <= 160 else text[:160] + "…"
    # every line of a clause indented under its heading (its 款 and 项 are lines of their own)
    print(textwrap.indent(f"{part + '：' if part else ''}{text}", "    "))
    if hit.other_versions:
        print("    其他版本: " + ", ".join(f"{v.version_date or '?'} ({v.status})" for v in hit.other_versions))


def _searcher(cfg: Config) -> Searcher:
    """The searcher of `cfg`'s knowledge base, once it has said on stderr that its index is behind
    the store or has keywords only, if it is."""
    from index.search import Searcher

    searcher = Searcher(cfg.kb, cfg)
    staleness = searcher.staleness()
    if staleness:
        print(staleness, file=sys.stderr)
    return searcher


def _search(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    filters = _filters(args)
    searcher = _searcher(cfg)
    if args.batch is not None:
        from index.eval import read_questions

        for q in read_questions(args.batch, need_gold=False):
            start = time.perf_counter()
            hits = searcher.search(q.query, args.k, filters)
            print(json.dumps(batch_line(q.qid, hits, (time.perf_counter() - start) * 1000), ensure_ascii=False),
                  flush=True)
        return 0
    hits = searcher.search(args.query, args.k, filters)
    for notice in searcher.notices(args.query, filters):
        print(notice, file=sys.stderr)
    if args.json:
        print(json.dumps([_hit_json(h) for h in hits], ensure_ascii=False, indent=1))
    elif not hits:
        print("没有找到结果：请换一种说法，或放宽筛选条件（文件、层级、地区、效力状态、日期）。")
    for rank, hit in enumerate(hits if not args.json else (), start=1):
        _print_hit(rank, hit)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from index.eval import format_metrics, read_questions, search_questions

    cfg = config_from_args(args)
    questions = read_questions(args.file, need_gold=True)
    searcher = _searcher(cfg)                  # figures of a stale or keywords-only index say so
    metrics, seconds = search_questions(searcher, questions, args.k, progress=True)
    seconds.sort()
    print(f"{len(questions)} questions, k={args.k}, median {1000 * seconds[len(seconds) // 2]:.1f} ms/query")
    print(format_metrics(metrics))
    return 0


def _build(args: argparse.Namespace) -> int:
    from index.build import build

    cfg = config_from_args(args)
    exists = (Path(cfg.kb) / DB_NAME).is_file()     # if not, `build` says so; no lock file is made for it
    with cli_writer_lock(cfg.kb, wait_seconds(args, cfg)) if exists else nullcontext():
        report = build(cfg.kb, cfg, progress=not args.quiet, force=args.force)
    print(report.summary())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "search" and (args.query is None) == (args.batch is None):
        parser.error("search: give either a question or --batch FILE.jsonl")
    return run_cli({"build": _build, "search": _search, "eval": _eval}[args.command], args)


if __name__ == "__main__":
    sys.exit(main())
