"""Command line: `python -m lecture COMMAND` (see `python -m lecture --help`).

`check FILE`: every citation in a lecture draft or report checked against the knowledge base.
Exit codes: 0 every citation is right, 1 some is not, 2 the input or the knowledge base could not
be read (one line on stderr) or bad command-line usage.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from kb.errors import KBError, printable, run_cli
from kb.settings import add_arguments, config_from_args


def _add_check(commands: argparse._SubParsersAction) -> Callable[[argparse.Namespace], int]:
    p = commands.add_parser("check", help="check the citations in a lecture draft or report (引用核对)",
                            description="Find every citation (《X》第N条第M款第K项, 本条例第N条, 前款 …) in a "
                                        ".docx/.md/.txt file and check it against the knowledge base: article, "
                                        "款 and 项 exist, the version is the one in force, quotations match.")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--json", action="store_true",
                   help='print {"citations": [...]} with character offsets into the text')
    add_arguments(p, "kb")
    return _check


def _check(args: argparse.Namespace) -> int:
    from lecture.citations import VERDICT_LABELS, all_ok, check_file, report_json

    try:
        cfg = config_from_args(args)
        _text, checked = check_file(args.file, cfg.kb)
    except KBError as err:
        print(f"error: {printable(str(err))}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report_json(checked), ensure_ascii=False, indent=1))
    else:
        for c in checked:
            print(f"{c.citation.start}-{c.citation.end}\t{VERDICT_LABELS[c.verdict]}\t{c.text}\t{c.message}")
        bad = sum(c.verdict != "ok" for c in checked)
        print(f"{len(checked)} citations, {bad} to correct" if checked else "no citations found")
    return 0 if all_ok(checked) else 1


# One entry per subcommand: adds its parser, returns the function that runs it.
COMMANDS: tuple[Callable[[argparse._SubParsersAction], Callable[[argparse.Namespace], int]], ...] = (_add_check,)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lecture", description="Instructor tools over the knowledge base.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = {}
    for add in COMMANDS:
        before = set(commands.choices)
        command = add(commands)
        for name in set(commands.choices) - before:
            run[name] = command
    args = parser.parse_args(argv)
    return run_cli(run[args.command], args)


if __name__ == "__main__":
    sys.exit(main())
