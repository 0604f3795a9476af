"""The embedding of a build on Ray workers: speed-up over one process, and projections.

    python -m bench workers -- --kb DIR [--passages 1500] [--counts 1,2]

Embeds the first `--passages` passages of the knowledge base's articles in this process (threads,
one per core: the default build) and on `local:N` Ray workers for each N of `--counts`, each run
timed after its workers have loaded the model; checks the vectors are the same bit for bit, and
projects the embedding time of 1 and 10 million passages at N workers from the per-worker rate
(a cluster's workers embed independently; the driver only reads and writes the cache).
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from bench import parse_kb_args
from index.dense import clause_threshold, unit_passages
from index.distributed import passage_encoder
from index.embed import load_embedder
from ingest.store import open_store

PROJECTED = (1_000_000, 10_000_000)
WARM_UP = 8         # passages each run embeds first, untimed: the workers load the model


def timed(encoder, texts: list[str]) -> tuple[np.ndarray, float]:
    encoder.encode_passages(texts[:WARM_UP])
    start = time.perf_counter()
    vectors = encoder.encode_passages(texts)
    return vectors, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench workers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=1500, help="passages embedded per run (default 1500)")
    parser.add_argument("--counts", default="1,2", help="numbers of local Ray workers (default 1,2)")
    parsed = parse_kb_args(parser, argv)
    if parsed is None:
        return 1
    args, cfg = parsed
    embedder = load_embedder(cfg)
    with open_store(cfg.kb) as store:
        units = [u for u, _ in zip(store.iter_articles(), range(args.passages))]
    texts = unit_passages(units, embedder, clauses=clause_threshold(cfg))[0][:args.passages]
    reference, seconds = timed(embedder, texts)
    print(f"{len(texts)} passages, {embedder.model_id}")
    print(f"{'where':<22}{'seconds':>9}{'passages/s':>12}{'speed-up':>10}  same vectors")
    print(f"{'this process':<22}{seconds:>9.1f}{len(texts) / seconds:>12.1f}{1.0:>10.2f}  (reference)")
    for count in (int(c) for c in args.counts.split(",")):
        with passage_encoder(embedder, dataclasses.replace(cfg, workers=f"local:{count}")) as encoder:
            vectors, spread = timed(encoder, texts)
        rate = len(texts) / spread
        print(f"{f'Ray local:{count}':<22}{spread:>9.1f}{rate:>12.1f}{seconds / spread:>10.2f}  "
              f"{vectors.tobytes() == reference.tobytes()}")
        per_worker = rate / count
    for workers in (2, 8, 32):
        line = ", ".join(f"{n:,} passages {n / (per_worker * workers) / 3600:.1f} h" for n in PROJECTED)
        print(f"projected at {workers} workers of this machine's speed ({per_worker:.1f} passages/s each): {line}")
    return 0
