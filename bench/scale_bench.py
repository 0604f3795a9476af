"""How the backends scale: the corpus grown synthetically, built and searched on each backend.

    python -m bench scale -- --kb DIR [--factors 1,10,100] [--backends embedded,milvus]
                             [--milvus-uri URI] [--queries N]

Growth: the articles of `--kb`'s store are written out as Markdown documents again, once as they
are and then `factor - 1` more times, each copy a different made-up county's rules whose every
article is perturbed (a county name and a clause number woven into the text, sentences of long
articles rotated), so no passage repeats and every passage is embedded (the cache is shared
between backends and sizes: a passage embedded for 10× is not embedded again for 100×). Each
size is ingested, then built on each backend in a child process (build seconds and its peak
memory), and searched with the questions of ../shared/eval (warm, k=10; p50/p95 in ms). Disk:
the snapshot folder (embedded) or the milvus-lite data folder (milvus). The last line says at
which size the embedded backend stops meeting p95 ≤ 100 ms, measured or projected linearly in
passages from the largest two sizes. Milvus is a `milvus-lite server` started here unless
`--milvus-uri` names one.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import SHARED, milvus_lite_server, parse_kb_args, percentile, size_mb, timed_searches
from index.build import DENSE_DIR, current_folder, read_meta
from index.dense import read_dense_meta
from index.eval import read_questions
from index.search import Searcher
from ingest import run
from ingest.store import open_store
from kb.chinese import article_label
from kb.settings import add_arguments, load_config

QUESTION_FILES = (SHARED / "eval" / "xinfang-dev.jsonl", SHARED / "eval" / "stard-train.jsonl")
TARGET_P95_MS = 100.0
REPO = Path(__file__).resolve().parents[1]


def perturbed(text: str, copy: int, place: str) -> str:
    """Copy number `copy` of an article's text: the place and a clause number woven in, and a
    long text's sentences rotated by the copy number (never the same text twice)."""
    sentences = [s for s in text.replace("。", "。\n").splitlines() if s.strip()]
    if len(sentences) > 2:
        shift = copy % len(sentences)
        sentences = sentences[shift:] + sentences[:shift]
    return f"{place}第{copy}号细则规定：" + "".join(sentences)


def write_corpus(kb: Path, folder: Path, factor: int) -> None:
    """The store's current articles, by document, `factor` times over as Markdown files in `folder`."""
    by_document: dict[str, list] = {}
    with open_store(kb) as store:
        for unit in store.iter_articles():
            if unit.kind == "article" and unit.no is not None and unit.status == "current":
                by_document.setdefault(unit.title, []).append(unit)
    folder.mkdir(parents=True)
    for copy in range(factor):
        place = "" if copy == 0 else f"模拟第{copy}县"
        for n, (title, units) in enumerate(sorted(by_document.items())):
            body = "\n\n".join(f"{article_label(i)} {u.text if copy == 0 else perturbed(u.text, copy, place)}"
                               for i, u in enumerate(units, start=1))
            (folder / f"{copy:04d}-{n:04d}.md").write_text(f"# {place}{title}\n\n<!-- INFO END -->\n\n{body}\n",
                                                           encoding="utf-8")


def build_in_child(kb: Path, backend: str, uri: str) -> tuple[float, float]:
    """`python -m index build` in a child process: (seconds, its peak memory in MiB)."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "index", "build", "--kb", str(kb), "--backend", backend,
                              "--milvus-uri", uri, "--quiet"], cwd=REPO)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"index build of {kb} on {backend} failed (exit {child.returncode})")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def latency_ms(searcher: Searcher, queries: list[str]) -> tuple[float, float]:
    _, seconds = timed_searches(searcher, queries)
    return 1000 * percentile(seconds, 0.5), 1000 * percentile(seconds, 0.95)


def crossing(points: list[tuple[int, float]]) -> str:
    """Where p95 reaches the target, from (passages, p95 ms) points of growing sizes."""
    over = [n for n, p95 in points if p95 > TARGET_P95_MS]
    if over:
        return f"measured: p95 above {TARGET_P95_MS:.0f} ms from {over[0]:,} passages on"
    if len(points) < 2 or points[-1][1] <= points[-2][1]:
        return "not reached at the sizes measured"
    (n1, p1), (n2, p2) = points[-2], points[-1]
    slope = (p2 - p1) / (n2 - n1)
    return (f"projected (linear in passages from {n1:,} and {n2:,}): p95 reaches {TARGET_P95_MS:.0f} ms at about "
            f"{int(n2 + (TARGET_P95_MS - p2) / slope):,} passages")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--factors", default="1,10", help="corpus sizes as multiples of --kb (default 1,10)")
    parser.add_argument("--backends", default="embedded,milvus", help="default: embedded,milvus")
    parser.add_argument("--queries", type=int, default=100, help="questions searched per size and backend (default 100)")
    add_arguments(parser, "milvus_uri")
    parsed = parse_kb_args(parser, argv)
    if parsed is None:
        return 1
    args, cfg = parsed
    factors = [int(f) for f in args.factors.split(",")]
    backends = args.backends.split(",")
    queries = [q.query for path in QUESTION_FILES if path.is_file()
               for q in read_questions(path, need_gold=False)][:args.queries]
    points: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        uri = cfg.milvus_uri
        if "milvus" in backends and not uri:
            uri = stack.enter_context(milvus_lite_server(root / "milvus"))
        print(f"{'size':>5} {'articles':>9} {'passages':>9}  {'backend':<9}{'ingest s':>9}{'build s':>9}"
              f"{'peak MiB':>9}{'disk MiB':>9}{'p50 ms':>8}{'p95 ms':>8}", flush=True)
        for factor in factors:
            corpus = root / f"corpus-{factor}"
            write_corpus(Path(cfg.kb), corpus, factor)
            start = time.perf_counter()
            summary = run([corpus], root / f"store-{factor}", progress=False)
            ingest_seconds = time.perf_counter() - start
            for backend in backends:
                kb = root / f"{backend}-{factor}"
                subprocess.run(["cp", "-r", str(root / f"store-{factor}"), str(kb)], check=True)
                milvus_before = size_mb(root / "milvus") if (root / "milvus").is_dir() else 0.0
                seconds, peak = build_in_child(kb, backend, uri if backend == "milvus" else "")
                record = read_meta(current_folder(kb), kb).get("backend", {})
                passages = record.get("passage_rows") or read_dense_meta(current_folder(kb) / DENSE_DIR).passages
                # milvus-lite's data folder holds every size's collections: the growth of this build
                disk = size_mb(root / "milvus") - milvus_before if backend == "milvus" and not cfg.milvus_uri \
                    else size_mb(current_folder(kb))
                p50, p95 = latency_ms(Searcher(kb, load_config(kb=str(kb), milvus_uri=uri or None)), queries)
                if backend == "embedded":
                    points.append((passages, p95))
                print(f"{factor:>4}× {summary.articles:>9,} {passages:>9,}  {backend:<9}{ingest_seconds:>9.1f}"
                      f"{seconds:>9.1f}{peak:>9.0f}{disk:>9.1f}{p50:>8.1f}{p95:>8.1f}", flush=True)
    print(f"embedded backend, p95 ≤ {TARGET_P95_MS:.0f} ms on this machine: {crossing(points)}")
    return 0

