"""Benchmarks: each module prints its figures; `python -m bench NAME` runs one, `python -m bench` all.

Shared here: where `../shared` is, the two measures every benchmark reports (sizes on disk
and percentiles), and the arguments of a bench run on a knowledge base (with the error line when there is none).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kb.settings import Config, add_arguments, config_from_args

SHARED = Path(__file__).resolve().parents[2] / "shared"


def size_mb(path: Path) -> float:
    """Size of a file, or of all files under a folder, in MiB."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def percentile(values: list[float], q: float) -> float:
    """The value at quantile `q` (0–1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


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
