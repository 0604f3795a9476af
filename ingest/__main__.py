"""Command line: `python -m ingest PATH... [--kb DIR] [--prune]` and `python -m ingest inspect FILE --json`.

Errors are one line on stderr, never a traceback. Exit status: 0 success; 3 some files failed
(the others are ingested and indexed: `make run` serves them); 1 the knowledge base, the index or
a setting could not be used; 2 bad usage or an unreadable file given to `inspect`; 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import sys

from ingest import ocr
from kb.errors import FILES_FAILED, IngestError, NotADocument, printable, run_cli
from kb.lock import add_wait_arguments, cli_writer_lock, wait_seconds
from kb.settings import add_arguments, config_from_args, count

USAGE_EPILOG = """examples:
  python -m ingest corpus/                         ingest a folder (recursively) into data/kb
  python -m ingest ../shared/corpus/lawrefbook --kb data/law --prune
  python -m ingest inspect 信访工作条例.pdf --json    parse one file, store nothing
"""


def _ingest_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ingest", epilog=USAGE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Ingest policy documents (PDF, DOCX, TXT, MD, HTML and single-file .mht web pages; scans and "
                    "photos .png/.jpg/.tif by OCR; .doc/.wps/.rtf/.odt with LibreOffice) into the knowledge base, "
                    "then update the search index. Unchanged files are skipped; use 'inspect FILE' to parse one file.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (searched recursively)")
    add_arguments(p, "kb", "parse_timeout", "parse_memory_mb", "ocr_memory_mb")
    p.add_argument("--prune", action="store_true", help="remove documents whose files vanished from the given folders")
    indexing = p.add_mutually_exclusive_group()
    indexing.add_argument("--no-index", action="store_true", help="do not build or update the search index afterwards")
    indexing.add_argument("--index-in-background", action="store_true",
                          help="build the index in a process of its own and return as soon as search works "
                               "(the snapshot in use, or a first build's keywords-only one) while it goes on "
                               "(what make run does before it serves the app)")
    # not `--workers`: that is the setting of where a build embeds (`python -m index build`)
    p.add_argument("--parse-workers", type=count, default=None, metavar="N", help="parser processes (default: up to 2)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_wait_arguments(p)
    return p


def _inspect_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ingest inspect",
                                description="Parse one file without storing it and show what ingestion would keep.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print one JSON object (the parse, or the error)")
    add_arguments(p, "parse_timeout", "parse_memory_mb", "ocr_memory_mb")
    return p


def inspect_main(argv: list[str]) -> int:
    from ingest.batch import parse_file_bounded
    from ingest.parse import document_to_json
    args = _inspect_parser().parse_args(argv)
    try:
        doc = parse_file_bounded(args.file, config_from_args(args))
    except NotADocument as e:
        err = IngestError(args.file, "empty", e.message, reason="not_a_document")
        return _inspect_error(err, args.json)
    except IngestError as e:
        return _inspect_error(e, args.json)
    data = document_to_json(doc)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
        return 0
    print(f"《{data['title']}》 {data.get('subtitle') or ''}".rstrip())
    for key in ("issuer", "doc_number", "level", "region", "status"):
        if data.get(key):
            print(f"  {key}: {data[key]}")
    if data["ocr"]:
        print(f"  read by OCR: mean confidence {data['confidence']:.3f}, "
              f"{len(data['low_confidence'])} characters below {ocr.DOUBT_BELOW} (listed by --json)")
    elif data["source_kind"] == "converted":
        print("  converted by LibreOffice")
    if data["notes"]:
        print(f"  notes: {'; '.join(data['notes'])}")
    print(f"  chapters: {len(data['chapters'])}  articles: {len(data['articles'])}  "
          f"sections: {len(data['sections'])}  attachments: {len(data['attachments'])}")
    for a in data["articles"][:3]:
        print(f"  {a['label']} {a['text'][:60]}")
    return 0


def _inspect_error(err: IngestError, as_json: bool) -> int:
    if as_json:
        print(json.dumps(err.to_json(), ensure_ascii=False))
    else:
        print(f"error: {err}", file=sys.stderr)
    return 2


def ingest_main(argv: list[str]) -> int:
    from tqdm import tqdm

    from ingest.batch import FileOutcome, run
    args = _ingest_parser().parse_args(argv)
    cfg = config_from_args(args)

    def on_file(o: FileOutcome) -> None:
        if o.status == "failed":
            tqdm.write(printable(f"failed   {o.path}: {o.message}"), file=sys.stderr)
        elif o.status in ("skipped", "duplicate") and o.message:
            tqdm.write(printable(f"skipped  {o.path}: {o.message}"), file=sys.stderr)
        elif o.message:
            tqdm.write(f"note     {o.path}: {o.message}", file=sys.stderr)

    # one hold over the ingest and the index build: no other writer gets in between (a build in the
    # background takes the lock after it)
    with cli_writer_lock(cfg.kb, wait_seconds(args, cfg)):
        summary = run(args.paths, cfg.kb, prune=args.prune, workers=args.parse_workers, on_file=on_file, cfg=cfg,
                      progress=not args.quiet)
        print(f"files: {summary.added} added, {summary.updated} updated, {summary.unchanged} unchanged, "
              f"{summary.removed} removed, {summary.skipped} skipped, {summary.failed} failed")
        print(f"knowledge base {cfg.kb}: {summary.documents} documents, {summary.articles} articles")
        if not args.no_index and not summary.articles:
            print("nothing to index yet: the knowledge base has no articles")
        elif not args.no_index and not args.index_in_background:
            from index import build
            print(build(cfg.kb, cfg, progress=not args.quiet).summary())
    if args.index_in_background and summary.articles:      # the build takes the writer lock itself
        from index import build_in_background

        process = build_in_background(cfg.kb, quiet=args.quiet)
        if process.returncode:      # the build said why on stderr
            return process.returncode
        if process.returncode is None:
            print(f"search works now; the index build goes on in the background (process {process.pid})", flush=True)
    return FILES_FAILED if summary.failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "inspect":
        return run_cli(inspect_main, argv[1:])
    return run_cli(ingest_main, argv, interrupted="interrupted: the knowledge base keeps its last committed state")


if __name__ == "__main__":
    sys.exit(main())
