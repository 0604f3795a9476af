"""Benchmarks: each module prints its figures; `python -m bench NAME` runs one, `python -m bench` all.

Shared here: where `../shared` is, the two measures every benchmark reports (sizes on disk
and percentiles), and the error line of a bench pointed at a folder with no knowledge base.
"""
from __future__ import annotations

from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"


def size_mb(path: Path) -> float:
    """Size of a file, or of all files under a folder, in MiB."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def percentile(values: list[float], q: float) -> float:
    """The value at quantile `q` (0–1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def missing_kb(kb: Path) -> str | None:
    """The error line for a bench run on `kb` when it holds no knowledge base (no store), else None."""
    if (kb / "kb.sqlite").is_file():
        return None
    return f"error: {kb}: no knowledge base (build one with python -m ingest FOLDER --kb {kb})"
