"""Parse every file of a corpus (default: ../shared/corpus/lawrefbook) with `ingest.parse_file`,
without a store, and print files/s, articles/s, failures, skipped files, the time limits found
(`ingest.deadlines`) and what extracting them costs, and the files whose article numbers do not
run in sequence.

    python -m bench parse [-- --corpus DIR --workers N --show N]
Target on 2 cores: the whole lawrefbook corpus in well under 2 minutes.
"""
from __future__ import annotations

import argparse
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench import SHARED
from ingest.deadlines import extract_deadlines
from ingest.parse import SUPPORTED_EXTENSIONS, parse_file
from kb.errors import IngestError, NotADocument



def _parse_one(path: str) -> tuple[str, str, int, int, list[str], tuple[int, int, float]]:
    """(path, outcome, articles, sections, sequence notes, (fixed time limits, 立即/及时 limits,
    seconds their extraction takes)); outcome "ok", "skipped" or an error."""
    try:
        doc = parse_file(path)
    except NotADocument:
        return path, "skipped", 0, 0, [], (0, 0, 0.0)
    except IngestError as err:
        return path, f"{err.kind}/{err.reason}: {err.message}", 0, 0, [], (0, 0, 0.0)
    notes = [n for n in doc.notes if "out of sequence" in n]
    start = time.process_time()     # parse_file ran it already; once more, timed on its own (CPU)
    extract_deadlines(doc.articles)
    cost = time.process_time() - start
    fixed = sum(1 for d in doc.deadlines if d.amount is not None)
    return path, "ok", len(doc.articles), len(doc.sections), notes, (fixed, len(doc.deadlines) - fixed, cost)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench parse", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(SHARED / "corpus" / "lawrefbook"))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--show", type=int, default=20, help="list at most this many out-of-sequence files")
    args = p.parse_args(argv)
    from tqdm import tqdm

    files = sorted(str(f) for f in Path(args.corpus).rglob("*")
                   if f.is_file() and f.suffix.lower() in SUPPORTED_EXTENSIONS)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(tqdm(pool.map(_parse_one, files, chunksize=16), total=len(files),
                            unit="file", desc="parse"))
    elapsed = time.perf_counter() - t0
    outcomes = Counter("ok" if r[1] == "ok" else "skipped" if r[1] == "skipped" else "failed"
                       for r in results)
    articles = sum(r[2] for r in results)
    sections = sum(r[3] for r in results)
    unordered = [r for r in results if r[4]]
    print(f"corpus         {args.corpus}")
    print(f"files          {len(files)}: {outcomes['ok']} parsed, {outcomes['skipped']} skipped "
          f"(not documents), {outcomes['failed']} failed")
    print(f"units          {articles} articles, {sections} sections")
    print(f"time           {elapsed:.1f} s with {args.workers} workers ({len(files) / elapsed:.0f} "
          f"files/s, {articles / elapsed:.0f} articles/s)   target < 120 s")
    fixed, immediate = sum(r[5][0] for r in results), sum(r[5][1] for r in results)
    with_limits = sum(1 for r in results if r[5][0])
    cost = sum(r[5][2] for r in results)
    print(f"time limits    {fixed} fixed periods + {immediate} 立即/及时 in {with_limits} documents; "
          f"extraction {cost:.1f} s CPU ({1000 * cost / max(outcomes['ok'], 1):.1f} ms a document)")
    print(f"out of order   {len(unordered)} files with article numbers out of sequence")
    for path, _, _, _, notes, _ in unordered[:args.show]:
        print(f"  {Path(path).relative_to(args.corpus)}: {len(notes)} breaks, first: {notes[0]}")
    for path, outcome, *_ in results:
        if outcome not in ("ok", "skipped"):
            print(f"  FAILED {path}: {outcome}")
    return 0 if outcomes["failed"] == 0 else 1
