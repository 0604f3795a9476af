"""Command line: `python -m lecture deadlines|quiz` (see `python -m lecture --help`).

Exit codes: 0 success, 1 a knowledge-base or document error (one line on stderr), 2 bad usage.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kb.errors import run_cli
from kb.settings import add_arguments, config_from_args


def _add_doc_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--doc", action="append", default=[], metavar="TITLE",
                   help="only this document (title or short name; repeat for several)")
    add_arguments(p, "kb")


def _deadlines_arguments(p: argparse.ArgumentParser) -> None:
    _add_doc_arguments(p)
    p.add_argument("--json", action="store_true",
                   help='print a JSON list of {"title", "article_label", "paragraph", "item", "amount", "unit", '
                        '"actor", "trigger", "action", "extension", "sentence"}')


def _deadlines(args: argparse.Namespace) -> int:
    from ingest.store import open_store
    from lecture.deadlines import deadline_rows, row_json, row_line

    with open_store(config_from_args(args).kb) as store:
        rows = deadline_rows(store, args.doc)
    if args.json:
        print(json.dumps([row_json(r) for r in rows], ensure_ascii=False, indent=1))
        return 0
    title = None
    for r in rows:
        if r.article.title != title:
            title = r.article.title
            print(f"《{title}》")
        print(f"  {row_line(r)}")
    if not rows:
        print("没有找到期限。")
    return 0


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# One line per subcommand: name, help, its arguments, what it runs.
COMMANDS = (
    Command("deadlines", "list the time limits (期限) of documents, in article order", _deadlines_arguments, _deadlines),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lecture", description="Instructor tools over the knowledge base.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for c in COMMANDS:
        c.arguments(sub.add_parser(c.name, help=c.help, description=c.help[0].upper() + c.help[1:] + "."))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_cli(next(c.run for c in COMMANDS if c.name == args.command), args)


if __name__ == "__main__":
    sys.exit(main())
