"""Embedding backends compared on real articles: throughput, memory, agreement, dense recall, disk.

    python -m bench embed [-- --kb DIR --size 3000 --variants torch:512,onnx-int8:256,use-multilingual:numpy:256 ...]

The sub-corpus: every article (all versions) that is a gold answer of the evaluation questions,
plus articles drawn at random (fixed seed) from the same documents (hard distractors), up to
`--size` units, read from a knowledge base (`python -m ingest ../shared/corpus/lawrefbook --kb DIR
--no-index`). Each variant (`[model:]backend:window`; the model by default the `model` setting; a
model with its own engine, such as use-multilingual, names it as backend) runs in a fresh process
and reports:
- load time, articles/s, passages/s, chars/s (wall clock) and articles per CPU-second (less
  sensitive to other jobs on the machine), peak RSS of that process;
- agreement: cosine between its passage vectors and the `torch` (fp32) ones of the same window;
- determinism: for a sample of passages, whether the vector of a passage embedded alone, among
  short passages and among long ones has the same bytes as in the full run (`--probe` passages);
- dense-only retrieval over the sub-corpus (exact FAISS): Recall@1/5/10/20/100, MRR@10, nDCG@10.
Then: embedding-cache bulk put/get speed at full-corpus size, on-disk size of index and cache,
search latency (no filter, wide and narrow allow-lists) at full-corpus size on random vectors,
and with `--rebuild`, the time of a no-change `build_dense` over the whole knowledge base (every
passage already in a temporary cache, filled with random vectors) and the real index/cache sizes.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from bench import SHARED, size_mb

DEFAULT_VARIANTS = ("torch:512,torch:256,onnx:256,onnx-int8:256,onnx-int8:512,m3e-small:onnx-int8:256,"
                    "use-multilingual:numpy:256")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _determinism(embedder, texts: list[str], vectors: np.ndarray, probes: int) -> dict:
    """How many of `probes` passages (spread over the run) get, embedded alone, among the 20
    shortest passages and among the 20 longest, exactly the bytes they got in the full run; and
    the lowest cosine between any two of those four vectors of one passage."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    shortest, longest = [texts[i] for i in order[:20]], [texts[i] for i in order[-20:]]
    picked = range(0, len(texts), max(1, len(texts) // probes))[:probes]
    same, lowest = 0, 1.0
    for i in picked:
        variants = [vectors[i], embedder.encode_passages([texts[i]])[0],
                    embedder.encode_passages([texts[i], *shortest])[0], embedder.encode_passages([*longest, texts[i]])[-1]]
        same += all(v.tobytes() == variants[0].tobytes() for v in variants[1:])
        lowest = min(lowest, min(float(v @ variants[0]) for v in variants[1:]))
    return {"probes": len(picked), "same": same, "lowest_cos": lowest}


def _run_variant(model: str, backend: str, window: int, cache_dir: str, units: list, queries: list[str],
                 probes: int) -> dict:
    """In a fresh process: load, embed the units' passages and the queries, time it, and check
    that a passage's vector does not depend on its batch-mates."""
    from index.dense import unit_passages
    from index.embed import BACKENDS, load_embedder

    t = time.perf_counter()
    own_engine = {"embed_backend": backend} if backend in BACKENDS else {}     # e.g. use-multilingual's numpy
    embedder = load_embedder(model=model, max_seq_length=window, cache_dir=cache_dir, **own_engine)
    load_seconds = time.perf_counter() - t
    texts, owners = unit_passages(units, embedder, clauses=None)     # the speed of articles' passages
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = embedder.encode_passages(texts)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    t = time.perf_counter()
    qvecs = np.stack([embedder.encode_query(q) for q in queries])
    query_ms = (time.perf_counter() - t) / max(len(queries), 1) * 1000
    determinism = _determinism(embedder, texts, vectors, probes)
    return {"determinism": determinism, "model_id": embedder.model_id, "load": load_seconds, "wall": wall, "cpu": cpu, "texts": texts,
            "owners": owners, "vectors": vectors, "qvecs": qvecs, "query_ms": query_ms, "peak_mb": _peak_mb(),
            "chars": sum(len(t) for t in texts)}


def _sub_corpus(units: list, gold_keys: set, size: int, seed: int) -> list:
    from kb.chinese import title_key

    def key(u) -> tuple:
        return (title_key(u.title), u.no, u.suffix)

    gold = [u for u in units if u.kind == "article" and key(u) in gold_keys]
    documents = {u.document_id for u in gold}
    others = [u for u in units if u.document_id in documents and key(u) not in gold_keys]
    random.Random(seed).shuffle(others)
    return gold + others[:max(0, size - len(gold))]


def _recall(result: dict, units: list, questions: list) -> dict[str, float]:
    from index.dense import DenseIndex
    from index.eval import judge, summarise
    from kb.chinese import title_key

    keys = {u.id: (title_key(u.title), u.no or 0, u.suffix) for u in units}
    dense = DenseIndex.from_vectors(result["vectors"], result["owners"])
    judged = []
    for question, qvec in zip(questions, result["qvecs"]):
        ranked = [keys[a] for a, _ in dense.search(qvec, 100)]
        judged.append((judge(ranked, question.gold), len(question.gold)))
    return summarise(judged)


def _cache_figures(rows: int, dim: int) -> tuple[float, float, float]:
    """Seconds to put and to get `rows` random vectors in a fresh cache, and its size in MB."""
    from index.cache import EmbeddingCache
    from index.embed import normalise

    folder = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    try:
        texts = [f"passage {i}" for i in range(rows)]
        vectors = normalise(np.random.default_rng(0).standard_normal((rows, dim)))
        with EmbeddingCache.open(folder) as cache:
            t = time.perf_counter()
            cache.put_many("bench", texts, vectors)
            put = time.perf_counter() - t
            t = time.perf_counter()
            _, found = cache.get_many("bench", texts, dim)
            get = time.perf_counter() - t
            assert found.all()
        size = size_mb(folder)
        return put, get, size
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _search_figures(passages: int, dim: int, k: int = 200) -> None:
    """Milliseconds per dense search over `passages` random unit vectors (one passage per
    article): no filter, an 80% allow-list, a 0.2% allow-list; flat and sq8; one scan, and the
    scan split into passage ranges on threads as a search alone does (`index.dense.search_parts`)."""
    from index.dense import DenseIndex, search_parts
    from index.embed import normalise

    rng = np.random.default_rng(0)
    vectors = normalise(rng.standard_normal((passages, dim)))
    ids = np.arange(passages)
    filters = {"none": None, "80%": rng.choice(ids, passages * 4 // 5, replace=False),
               "0.2%": rng.choice(ids, passages // 500, replace=False)}
    for index_type in ("flat", "sq8"):
        dense = DenseIndex.from_vectors(vectors, ids, index_type)
        for parts in sorted({1, search_parts(passages, index_type)}):
            dense.search_parts = parts
            row = []
            for name, allowed in filters.items():
                t = time.perf_counter()
                for query in vectors[:20]:
                    dense.search(query, k, allowed)
                row.append(f"{name} {(time.perf_counter() - t) / 20 * 1000:.1f} ms")
            print(f"search {index_type:4s} {parts} range(s)  top-{k} of {passages}: " + ", ".join(row), flush=True)


def _rebuild(kb: str, cache_dir: str) -> None:
    """Time `build_dense` over the whole knowledge base when every passage is in the cache: a
    temporary cache is first filled with random unit vectors under the real model id for every
    real passage text (what a finished first build leaves behind, minus an hour of embedding)."""
    from index.cache import EmbeddingCache
    from index.dense import build_dense, clause_threshold, unit_passages
    from index.embed import load_embedder, normalise
    from ingest.store import open_store
    from kb.settings import load_config

    cfg = load_config(kb=kb, cache_dir=cache_dir)
    embedder = load_embedder(cfg)
    work = Path(tempfile.mkdtemp(prefix="bench-rebuild-"))
    try:
        with open_store(kb) as store:
            units = list(store.iter_articles())
        texts = sorted(set(unit_passages(units, embedder, clauses=clause_threshold(cfg))[0]))
        with EmbeddingCache.open(work / "cache") as cache:
            rng = np.random.default_rng(0)
            for start in range(0, len(texts), 20_000):
                chunk = texts[start:start + 20_000]
                cache.put_many(embedder.model_id, chunk, normalise(rng.standard_normal((len(chunk), embedder.dim))))
        t = time.perf_counter()
        with open_store(kb) as store:
            units = list(store.iter_articles())
        read = time.perf_counter() - t
        with EmbeddingCache.open(work / "cache") as cache:
            meta = build_dense(units, embedder, work / "dense", cfg=cfg, cache=cache, progress=False)
        total = time.perf_counter() - t
        size = size_mb(work / "dense")
        cache_mb = size_mb(work / "cache")
        print(f"no-change rebuild {meta.articles} articles, {meta.passages} passages, {meta.embedded} embedded: "
              f"{total:.1f} s ({read:.1f} s reading the store, {meta.seconds:.1f} s build_dense); target < 30 s")
        print(f"on disk           index {size:.0f} MB ({meta.index_type}), embedding cache {cache_mb:.0f} MB "
              f"for {len(texts)} distinct passages", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> int:
    from index.eval import read_questions
    from kb.settings import load_config

    cfg = load_config()
    p = argparse.ArgumentParser(prog="python -m bench embed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kb", default=cfg.kb, help="knowledge base of the lawrefbook corpus (default: %(default)s)")
    p.add_argument("--questions", default=str(SHARED / "eval" / "stard-train.jsonl"))
    p.add_argument("--size", type=int, default=3000, help="units in the sub-corpus (default: %(default)s)")
    p.add_argument("--variants", default=DEFAULT_VARIANTS,
                   help="[model:]backend:window,... or '' for none (default: %(default)s)")
    p.add_argument("--model", default=cfg.model, help="model of the variants that name none (default: %(default)s)")
    p.add_argument("--cache-dir", default=cfg.cache_dir, help="where exported models live (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--probe", type=int, default=50,
                   help="passages checked for batch-independent vectors per variant (default: %(default)s)")
    p.add_argument("--search-passages", type=int, default=168_048,
                   help="size of the random index timed for search latency (default: %(default)s, "
                        "the passages of the whole lawrefbook corpus)")
    p.add_argument("--rebuild", action="store_true",
                   help="also time a no-change build_dense over the whole knowledge base (cache pre-filled)")
    args = p.parse_args(argv)
    variants = []
    for variant in filter(None, args.variants.split(",")):
        parts = variant.split(":")
        if len(parts) not in (2, 3) or not parts[-1].isascii() or not parts[-1].isdigit():
            p.error(f"--variants: {args.variants!r} is not a list of [model:]backend:window")
        variants.append((parts[0] if len(parts) == 3 else args.model, parts[-2], int(parts[-1])))
    return _compare(args, variants, read_questions(Path(args.questions), need_gold=True))


def _compare(args: argparse.Namespace, variants: list[tuple[str, str, int]], questions: list) -> int:
    from ingest.store import open_store

    with open_store(args.kb) as store:
        units = list(store.iter_articles())
    sub = _sub_corpus(units, {g for q in questions for g in q.gold}, args.size, args.seed)
    print(f"sub-corpus        {len(sub)} units of {len(units)} ({len({u.document_id for u in sub})} documents); "
          f"{len(questions)} questions; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    results: dict[tuple[str, str, int], dict] = {}
    for model, backend, window in variants:
        # a fresh process per variant: its own peak memory and a cold load, no threads left from the last
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            r = pool.submit(_run_variant, model, backend, window, args.cache_dir, sub, [q.query for q in questions],
                            args.probe).result()
        results[(model, backend, window)] = r
        ref = results.get((model, "torch", window))
        if ref is not None and ref["texts"] == r["texts"]:
            cos = np.sum(ref["vectors"] * r["vectors"], axis=1)
            agreement = f"cos to fp32 mean {cos.mean():.4f} min {cos.min():.4f} p1 {np.percentile(cos, 1):.4f}"
        else:
            agreement = "cos to fp32 n/a (no torch run of this model and window)"
        metrics = _recall(r, sub, questions)
        n = len(sub)
        name = f"{backend}:{window}" if model == args.model else f"{model}:{backend}:{window}"
        print(f"{name:16s}  load {r['load']:.1f} s  {n / r['wall']:.1f} articles/s  "
              f"{len(r['texts']) / r['wall']:.1f} passages/s  {r['chars'] / r['wall']:.0f} chars/s  "
              f"{n / r['cpu']:.1f} articles/CPU-s  query {r['query_ms']:.1f} ms  peak {r['peak_mb']:.0f} MB  "
              f"[{len(r['texts'])} passages, load avg {os.getloadavg()[0]:.1f}]", flush=True)
        print(f"{'':16s}  {agreement}", flush=True)
        d = r["determinism"]
        print(f"{'':16s}  determinism: {d['same']} of {d['probes']} passages get the same bytes alone, among short "
              f"and among long passages (lowest cosine between them {d['lowest_cos']:.6f})", flush=True)
        print(f"{'':16s}  dense-only " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()), flush=True)
    for r in list(results.values())[:1]:     # sizes depend on the dimension only
        dim = r["vectors"].shape[1]
        put, get, cache_mb = _cache_figures(len(units), dim)
        print(f"embedding cache   {len(units)} vectors: put {put:.1f} s, get {get:.1f} s, {cache_mb:.0f} MB on disk")
        print(f"flat index        {len(units) * dim * 4 / 2**20:.0f} MB per {len(units)} vectors of dim {dim} "
              f"(+{len(units) * 8 / 2**20:.1f} MB passage map)")
    _search_figures(args.search_passages, 512 if not results else next(iter(results.values()))["vectors"].shape[1])
    if args.rebuild:
        _rebuild(args.kb, args.cache_dir)
    return 0


if __name__ == "__main__":
    from kb.errors import run_cli
    sys.exit(run_cli(main, sys.argv[1:]))
