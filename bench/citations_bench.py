"""引用核对 (lecture.citations.check_text) on hostile drafts of the longest length it takes: time each.

    python -m bench citations [-- --corpus ../shared/corpus/xinfang --kb DIR]

Ingests the corpus into `--kb` (a temporary folder by default; no search index is built), then
checks four drafts of `MAX_CHECK_CHARS` characters: 《信访工作条例》第一条规定： repeated (every
citation quotes); the same with 20 random characters after each (every citation quotes
something that differs); and the corpus's longest article cited the same way, then with a
quotation as long as a quotation is read (`QUOTE_WINDOW`) after each citation (the most costly
comparison per quotation).
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from ingest import open_store, run
from lecture.citations import MAX_CHECK_CHARS, QUOTE_WINDOW, StoreLookup, check_text

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "xinfang"
FILLER = "信访工作条例机关应当处理事项人民政府部门依法受理告知书面日内"


def _filled(piece: str) -> str:
    """`piece` repeated to exactly `MAX_CHECK_CHARS` characters."""
    return (piece * (MAX_CHECK_CHARS // len(piece) + 1))[:MAX_CHECK_CHARS]


def drafts(longest: tuple[str, str], seed: int = 1) -> dict[str, str]:
    """The hostile drafts by name, each `MAX_CHECK_CHARS` characters long."""
    rng = random.Random(seed)
    numerals = "一二三四五六七八九十"
    varied: list[str] = []
    length = 0
    while length < MAX_CHECK_CHARS:
        varied.append(f"《信访工作条例》第{rng.choice(numerals)}条规定：" + "".join(rng.choices(FILLER, k=20)))
        length += len(varied[-1])
    title, label = longest
    cite = f"《{title}》{label}规定："
    window_long = cite + "".join(rng.choices(FILLER, k=QUOTE_WINDOW - len(cite)))
    return {"《信访工作条例》第一条规定： repeated": _filled("《信访工作条例》第一条规定："),
            "each followed by 20 random characters": "".join(varied)[:MAX_CHECK_CHARS],
            f"the longest article, 《{title}》{label}": _filled(cite),
            f"the longest article, each citation quoting {QUOTE_WINDOW:,} characters": _filled(window_long)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench citations", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"corpus folder (default {DEFAULT_CORPUS})")
    parser.add_argument("--kb", type=Path, help="knowledge base to ingest into (default: a temporary folder)")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"error: {args.corpus}: corpus folder not found", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        kb = args.kb or Path(tmp) / "kb"
        run([args.corpus], kb)
        with open_store(kb) as store:
            longest = max(store.iter_articles(), key=lambda a: len(a.text))
            lookup = StoreLookup(store)
            for name, text in drafts((longest.title, longest.label)).items():
                started = time.perf_counter()
                checked = check_text(text, lookup)
                seconds = time.perf_counter() - started
                quoted = sum(c.quote_similarity is not None for c in checked)
                print(f"{name}: {len(text):,} characters, {len(checked):,} citations ({quoted:,} with a "
                      f"quotation) in {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
