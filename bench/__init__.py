"""Benchmarks: each module prints its figures; `python -m bench NAME` runs one, `python -m bench` all.

Shared here: where `../shared` is, the two measures every benchmark reports (sizes on disk
and percentiles), timed warm searches, the arguments of a bench run on a knowledge base (with the error line when there is none),
and a local `milvus-lite server` (also the tests' Milvus).
"""
from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from kb.settings import Config, add_arguments, config_from_args
from ui.harness import free_port, stop_process

SHARED = Path(__file__).resolve().parents[2] / "shared"


def size_mb(path: Path) -> float:
    """Size of a file, or of all files under a folder, in MiB."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def percentile(values: list[float], q: float) -> float:
    """The value at quantile `q` (0–1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed_searches(searcher, queries: list[str], k: int = 10, warm_up: int = 10) -> tuple[list[list], list[float]]:
    """Each query's hits and seconds, after `warm_up` searches that warm caches and lazy loads."""
    for query in queries[:warm_up]:
        searcher.search(query, k)
    hits, seconds = [], []
    for query in queries:
        start = time.perf_counter()
        hits.append(searcher.search(query, k))
        seconds.append(time.perf_counter() - start)
    return hits, seconds


def parse_kb_args(parser: argparse.ArgumentParser, argv: list[str] | None
                  ) -> tuple[argparse.Namespace, Config] | None:
    """`argv` parsed by `parser` with the `kb` setting added, and the settings they give; None,
    after the one error line, when that folder holds no knowledge base (no store)."""
    add_arguments(parser, "kb")
    args = parser.parse_args(argv)
    cfg = config_from_args(args)
    kb = Path(cfg.kb)
    if not (kb / "kb.sqlite").is_file():
        print(f"error: {kb}: no knowledge base (build one with python -m ingest FOLDER --kb {kb})", file=sys.stderr)
        return None
    return args, cfg


@contextlib.contextmanager
def milvus_lite_server(data_dir: Path) -> Iterator[str]:
    """A `milvus-lite server` on a free local port with its data in `data_dir`; its URI.

    Raises:
        RuntimeError: if it does not accept connections within a minute.
    """
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "milvus-lite"), "server", "--data-dir",
                               str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"milvus-lite server did not start on port {port}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(server, timeout=30)
