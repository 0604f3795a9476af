"""Command line: `python -m lecture check|deadlines|quiz|handout` (see `python -m lecture --help`).

Exit codes: 0 success, 1 a knowledge-base or document error (one line on stderr), 2 bad usage.
`check FILE` (every citation in a lecture draft or report checked against the knowledge base):
0 every citation is right, 1 some is not, 2 the input or the knowledge base could not be read.
`handout` writes the clauses it can and exits 1 when some citation named none (one line each).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kb.chinese import book_title
from kb.errors import KBError, printable, run_cli
from kb.files import os_text
from kb.settings import add_arguments, config_from_args, count

HANDOUT_TITLE = "讲义"


def _add_doc_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--doc", action="append", default=[], type=os_text, metavar="TITLE",
                   help="only this document (title or short name; repeat for several)")
    add_arguments(p, "kb")


def _check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE", help="a .docx, .md or .txt file")
    p.add_argument("--json", action="store_true",
                   help='print {"citations": [...]} with character offsets into the text')
    add_arguments(p, "kb")


def _check(args: argparse.Namespace) -> int:
    from lecture.citations import VERDICT_LABELS, all_ok, check_file, report_json, to_correct

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
        print(f"{len(checked)} citations, {to_correct(checked)} to correct" if checked else "no citations found")
    return 0 if all_ok(checked) else 1


def _deadlines_arguments(p: argparse.ArgumentParser) -> None:
    _add_doc_arguments(p)
    p.add_argument("--json", action="store_true",
                   help='print a JSON list of {"title", "article_label", "paragraph", "item", "amount", "unit", '
                        '"actor", "trigger", "action", "extension", "sentence"}')


def _deadlines(args: argparse.Namespace) -> int:
    from ingest.store import open_store
    from lecture.deadlines import deadline_rows, row_json, row_line

    with open_store(config_from_args(args).kb) as store, store.consistent():
        rows = deadline_rows(store, args.doc)
    if args.json:
        print(json.dumps([row_json(r) for r in rows], ensure_ascii=False, indent=1))
        return 0
    title = None
    for r in rows:
        if r.article.title != title:
            title = r.article.title
            print(book_title(title))
        print(f"  {row_line(r)}")
    if not rows:
        print("没有找到期限。")
    return 0


def _quiz_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--doc", required=True, type=os_text, metavar="TITLE", help="the document (title or short name)")
    add_arguments(p, "kb")
    p.add_argument("--seed", type=int, default=1, help="the same seed gives the same questions (default 1)")
    p.add_argument("--count", type=count, default=10, help="number of questions at most (default 10)")
    p.add_argument("--docx", type=Path, metavar="FILE.docx", help="write the quiz with its answer key as Word")
    p.add_argument("--json", action="store_true", help="print the questions as JSON")


def _quiz(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ingest.store import open_store
    from kb.errors import QueryError
    from lecture import to_docx
    from lecture.deadlines import document_deadlines, document_definitions, document_norms, select_documents
    from lecture.quiz import LETTERS, make_quiz, quiz_handout

    with open_store(config_from_args(args).kb) as store, store.consistent():
        documents = select_documents(store, [args.doc])
        if len(documents) > 1:
            raise QueryError(f"{args.doc!r} names {len(documents)} documents "
                             f"({'、'.join(d.title + '（' + d.region + '）' for d in documents)}); name one")
        rows = document_deadlines(store, documents[0])
        definitions = document_definitions(store, documents[0])
        norms = document_norms(store, documents[0])
    questions = make_quiz([(r.deadline, r.citation) for r in rows], seed=args.seed, count=args.count,
                          definitions=definitions, norms=norms)
    if not questions:
        raise QueryError(f"{book_title(documents[0].title)} has no time limit, definition or 应当/可以/不得 "
                         "clause to ask about")
    if args.docx:
        try:
            args.docx.write_bytes(to_docx(quiz_handout(documents[0].title, questions)))
        except OSError as e:
            raise QueryError(f"{args.docx}: cannot write ({e.strerror})") from None
        print(f"{len(questions)} questions written to {args.docx}")
    elif args.json:
        print(json.dumps([asdict(q) for q in questions], ensure_ascii=False, indent=1))
    else:
        for n, q in enumerate(questions, start=1):
            print(f"{n}. {q.prompt}")
            for letter, choice in zip(LETTERS, q.choices):
                print(f"   {letter}. {choice}")
            print(f"   答案：{q.answer}（{q.citation}）")
    return 0


def _handout_arguments(p: argparse.ArgumentParser) -> None:
    given = p.add_mutually_exclusive_group(required=True)
    given.add_argument("citations", nargs="?", type=os_text, metavar="CITATIONS",
                       help="citations as people write them, e.g. \"《信访工作条例》第三十五条、第三十六条第二款\"")
    given.add_argument("--from", dest="source", type=Path, metavar="FILE",
                       help="the citations of a .docx, .md or .txt file, in order (e.g. a lecture outline)")
    p.add_argument("--title", default=HANDOUT_TITLE, type=os_text,
                   help=f"the handout's title (default {HANDOUT_TITLE})")
    p.add_argument("--docx", type=Path, metavar="FILE.docx", help="write Word (default: Markdown on standard output)")
    add_arguments(p, "kb")


def _handout(args: argparse.Namespace) -> int:
    from ingest.store import open_store
    from kb.errors import QueryError
    from lecture import add_clauses, cited_clauses, new_pack, pack_handout, read_input, to_docx, to_markdown

    text = read_input(args.source) if args.source else args.citations
    with open_store(config_from_args(args).kb) as store:
        clauses, problems = cited_clauses(text, store)
    for problem in problems:
        print(f"warning: {printable(problem)}", file=sys.stderr)
    if not clauses:
        raise QueryError("no clause cited: name a document and an article, e.g. 《信访工作条例》第三十五条")
    pack, _, _ = add_clauses(new_pack(args.title.strip() or HANDOUT_TITLE), clauses)   # a clause cited twice: once
    if args.docx:
        try:
            args.docx.write_bytes(to_docx(pack_handout(pack)))
        except OSError as e:
            raise QueryError(f"{args.docx}: cannot write ({e.strerror})") from None
        print(f"{len(pack.items)} clauses written to {args.docx}")
    else:
        print(to_markdown(pack_handout(pack)))
    return 1 if problems else 0


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# One line per subcommand: name, help, its arguments, what it runs.
COMMANDS = (
    Command("check", "check the citations of a .docx/.md/.txt lecture draft or report (引用核对): article, 款 and "
                     "项 exist, the version is in force (or the old one the text names: 原《…》, 2005年《…》), "
                     "quotations and stated time limits match; exit 0 nothing to correct, 1 some to correct",
            _check_arguments, _check),
    Command("deadlines", "list the time limits (期限) of documents, in article order", _deadlines_arguments, _deadlines),
    Command("quiz", "practice questions (自测) on the time limits, actors, terms and 应当/可以/不得 of a document",
            _quiz_arguments, _quiz),
    Command("handout", "a handout (讲义) of the clauses that citations name, with their status and sources, as "
                       "Markdown or Word", _handout_arguments, _handout),
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
