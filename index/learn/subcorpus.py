"""A sub-corpus to compare variants of the learning on in minutes: a folder of links into a corpus.

    python -m index.learn.subcorpus --corpus ../shared/corpus/lawrefbook \\
        --questions ../shared/eval/stard-train.jsonl --questions ../shared/eval/xinfang-dev.jsonl --out DIR

It holds every file a gold article of the questions comes from (`doc_path`), the other versions
of those documents (same name before the date in parentheses), every file whose name says 信访
(the 2005 《信访条例》 and the provincial ones are the petition questions' distractors) and
`--random` other files drawn with a fixed seed. Then `python -m ingest DIR --kb KB` and
`python -m index.learn.fit --kb KB … --dry-run`. About 20,000 articles: the fit takes minutes.
The bundled files are learned over the whole corpus, the knowledge base their users search: files
learned here give it up to 0.015 less on new questions (docs/search-quality.md).
"""
from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterable
from pathlib import Path

from index.eval import question_row
from kb.errors import ConfigError, run_cli


def version_stem(name: str) -> str:
    """A file name without its version date: "行政复议法(2017-09-01).md" → "行政复议法"."""
    return name.split("(", 1)[0].removesuffix(".md")


def choose_files(files: Iterable[Path], gold: set[Path], *, extra: int, seed: int) -> list[Path]:
    """The sub-corpus's files out of `files` (see the module docstring), sorted."""
    files = sorted(files)
    stems = {version_stem(p.name) for p in gold}
    chosen = set(gold) | {p for p in files if version_stem(p.name) in stems or "信访" in p.name}
    rest = [p for p in files if p not in chosen]
    chosen |= set(random.Random(seed).sample(rest, min(extra, len(rest))))
    return sorted(chosen)


def gold_files(corpus: Path, question_files: Iterable[Path]) -> set[Path]:
    """Files of the gold articles of the question files.

    Raises:
        ConfigError: if a question file cannot be read or a line is not JSON.
    """
    found: set[Path] = set()
    for path in question_files:
        try:
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if line.strip():
                    found.update(corpus / g["doc_path"] for g in question_row(line).get("gold", ()))
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"{path}: cannot read questions ({err})") from None
        except (ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"{path}:{n}: bad question line ({err})") from None
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m index.learn.subcorpus", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="folder of Markdown documents (LawRefBook)")
    parser.add_argument("--questions", type=Path, action="append", required=True, help="JSONL questions; repeatable")
    parser.add_argument("--out", type=Path, required=True, help="new folder of links to create")
    parser.add_argument("--random", type=int, default=150, help="other files drawn at random (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        raise ConfigError(f"{args.corpus}: no such folder")
    if args.out.exists() and any(args.out.iterdir()):
        raise ConfigError(f"{args.out}: exists and is not empty; give a new folder")
    files = [p for p in args.corpus.rglob("*.md") if p.name != "_index.md"]
    chosen = choose_files(files, gold_files(args.corpus, args.questions), extra=args.random, seed=args.seed)
    for path in chosen:
        link = args.out / path.relative_to(args.corpus)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path.resolve())
    print(f"{len(chosen)} files linked into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv[1:]))
