"""Ingest a whole corpus (default: ../shared/corpus/lawrefbook) without embeddings and print
documents/s, articles/s, peak memory, the time of a second no-change run and the store size;
then the references and definitions the ingest extracted (`ingest.references`), the share of
references that resolve to a stored article, and what extracting them costs (timed again over
the stored articles, as the ingest does it inside its writes).

    python -m bench ingest [-- --corpus DIR --workers N --keep DIR]
Targets on 2 cores: full parse under 2 minutes, no-change re-run under 10 seconds.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from bench import SHARED, size_mb
from ingest import run



def _peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, workers


def _links(kb: Path) -> tuple[dict[str, int], float]:
    """The store's link counts, and the seconds extracting them takes over its articles."""
    from itertools import groupby

    from ingest import open_store
    from ingest.references import extract_definitions, extract_references

    with open_store(kb) as store:
        counts = store.link_counts()
        articles = [a for a in store.iter_articles() if a.kind == "article"]
    t0 = time.perf_counter()
    for _, group in groupby(articles, key=lambda a: (a.version_id, a.source)):
        units = list(group)
        extract_references(units[0].title, units)
        extract_definitions(units)
    return counts, time.perf_counter() - t0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench ingest", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(SHARED / "corpus" / "lawrefbook"))
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--keep", default=None, help="build the knowledge base here and keep it")
    args = p.parse_args(argv)
    kb = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        t0 = time.perf_counter()
        first = run([args.corpus], kb, workers=args.workers, progress=True)
        t1 = time.perf_counter()
        second = run([args.corpus], kb, workers=args.workers)
        t2 = time.perf_counter()
        own, workers = _peak_mb()
        size = size_mb(kb)
        full = t1 - t0
        print(f"corpus            {args.corpus}")
        print(f"files             {first.added} added, {first.skipped} skipped, {first.failed} failed")
        print(f"knowledge base    {first.documents} documents, {first.articles} articles, {size:.0f} MB")
        print(f"full ingest       {full:.1f} s  ({(first.added + first.skipped) / full:.0f} files/s, "
              f"{first.articles / full:.0f} articles/s)   target < 120 s")
        print(f"no-change re-run  {t2 - t1:.1f} s  ({second.unchanged} unchanged)   target < 10 s")
        print(f"peak memory       {own:.0f} MB main process, {workers:.0f} MB largest worker")
        links, seconds = _links(kb)
        share = links["resolved"] / links["references"] if links["references"] else 0.0
        print(f"references        {links['references']} ({share:.1%} resolve to a stored article), "
              f"{links['definitions']} definitions; extraction {seconds:.1f} s of the full ingest")
        return 0 if first.failed == 0 else 1
    finally:
        if not args.keep:
            shutil.rmtree(kb, ignore_errors=True)
