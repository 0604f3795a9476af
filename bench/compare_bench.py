"""Version comparison (index.compare) on real pairs of the shared corpus: counts and time.

    python -m bench compare [-- --corpus ../shared/corpus/lawrefbook]

Pairs: 《信访条例》(2005) → 《信访工作条例》(2022) (a renamed successor), 《行政复议法》 2017 → 2023
(a revision that doubled the law), and the 1,260 articles of 《民法典》 against themselves with
their 编 in another order (the largest code: every article must pair, most of them "moved").
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "lawrefbook"
PAIRS = (("行政法规/信访条例(2005-01-10).md", "行政法规/信访工作条例(2022-02-25).md"),
         ("诉讼与非诉讼程序法/行政复议法(2017-09-01).md", "诉讼与非诉讼程序法/行政复议法(2023-09-01).md"))
CODE_PARTS = ("总则", "物权编", "合同编", "人格权编", "婚姻家庭编", "继承编", "侵权责任编", "附则")


def _articles(files: list[Path]) -> list:
    from ingest.parse import parse_file
    return [a for f in files for a in parse_file(f).articles]


def _report(name: str, old: list, new: list) -> None:
    from index.compare import compare
    started = time.perf_counter()
    result = compare(old, new)
    seconds = time.perf_counter() - started
    c = result.counts()
    print(f"{name}: {len(old)} → {len(new)} articles in {seconds:.2f} s — unchanged {c['unchanged']}, "
          f"reworded {c['reworded']}, added {c['added']}, removed {c['removed']}, moved {c['moved']}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"lawrefbook folder (default {DEFAULT_CORPUS})")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"error: {args.corpus}: corpus folder not found", file=sys.stderr)
        return 2
    for old, new in PAIRS:
        _report(f"{Path(old).stem} → {Path(new).stem}", _articles([args.corpus / old]), _articles([args.corpus / new]))
    parts = [args.corpus / "民法典" / f"{p}.md" for p in CODE_PARTS]
    _report("民法典, 编 reordered", _articles(parts), _articles(parts[2:] + parts[:2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
