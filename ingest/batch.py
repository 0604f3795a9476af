"""Batch ingestion: find files, skip unchanged ones by hash, parse the rest, write the store.

Parsing runs in worker processes (it is pure CPU work); only this process writes, in
transactions of a bounded size, so an interruption loses at most the current batch and never
leaves a half-written document.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ingest.records import Document, Summary
from ingest.store import StoreWriter
from kb.errors import IngestError, NotADocument
from kb.lock import writer_lock
from kb.settings import load_config

COMMIT_EVERY = 200          # files per transaction: bounds the work an interruption discards


@dataclass(frozen=True)
class Candidate:
    path: str               # absolute
    relpath: str            # relative to the folder it was found under
    sha256: str


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file; `status` is added/updated/unchanged/removed/skipped/duplicate/failed."""
    path: str
    status: str
    articles: int = 0
    kind: str = ""
    message: str = ""


def parser_fingerprint() -> str:
    """Hash of the parsing code: when it changes, stored parses are stale and files are re-read."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    files = sorted(root.rglob("*.py")) + [root.parent / "kb" / "chinese.py"]
    for f in files:
        if f.name not in ("store.py", "batch.py", "__main__.py"):
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def file_sha256(path: Path) -> str:
    """Hash of a file together with its metadata sidecar, so editing either re-ingests it."""
    from ingest.parse import sidecar_path
    h = hashlib.sha256(path.read_bytes())
    sidecar = sidecar_path(path)
    if sidecar is not None:
        h.update(b"\0sidecar\0" + sidecar.read_bytes())
    return h.hexdigest()


def file_day(path: str) -> str:
    """The local date (YYYY-MM-DD) a file was last modified, or "" if it cannot be read."""
    try:
        return _dt.date.fromtimestamp(os.stat(path).st_mtime).isoformat()
    except OSError:
        return ""


def discover(paths: Iterable[str | Path], extensions: Iterable[str]) -> Iterator[tuple[Path, str]]:
    """Yield (absolute path, path relative to its root argument) of every file to ingest.

    Folders are walked recursively in sorted order; hidden files and folders are ignored.
    A file named explicitly is always yielded, so an unsupported type gets a clear error.
    """
    exts = {e.lower() for e in extensions}
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p)
                if f.is_file() and f.suffix.lower() in exts and not any(part.startswith(".") for part in rel.parts):
                    yield f.resolve(), rel.as_posix()
        else:
            yield p.resolve(), p.name


def _parse_one(path: str) -> tuple[str, object]:
    """Worker: parse one file; errors travel back as plain tuples (exceptions may not pickle)."""
    from ingest.parse import parse_file
    try:
        return "ok", parse_file(path)
    except IngestError as e:
        return "error", (e.kind, e.reason, e.message)
    except NotADocument as e:
        return "skip", e.message
    except Exception as e:  # a parser bug must not abort the batch; report it as this file's failure
        return "error", ("corrupt", "parser_error", f"cannot parse ({type(e).__name__}: {e})")


def _parse_all(paths: list[str], workers: int) -> Iterator[tuple[str, object]]:
    if workers <= 1 or len(paths) < 8:
        yield from map(_parse_one, paths)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_parse_one, paths, chunksize=8)


def run(paths: Iterable[str | Path], kb_dir: str | Path, *, prune: bool = False, workers: int | None = None,
        on_file: Callable[[FileOutcome], None] | None = None, progress: bool = False) -> Summary:
    """Ingest files and folders into the knowledge base at `kb_dir`.

    Unchanged files (same content hash, same parser) are skipped; changed files replace what
    they stored; with `prune`, files that vanished from the given folders are removed. A file
    that fails is reported (in the summary, via `on_file` and in the store's failures table) and
    the batch goes on; what an earlier good version of it stored stays.

    The run holds the knowledge base's writer lock (`kb.lock`), waiting for another writer up to
    the `wait` setting; a caller that holds the lock already (to build the index under the same
    hold) is not kept waiting.

    Raises:
        StoreError: if the knowledge base cannot be opened for writing, or another writer holds
            it longer than the `wait` setting.
    """
    with writer_lock(kb_dir, wait=load_config().wait):
        return _run_locked([Path(p) for p in paths], kb_dir, prune, workers, on_file, progress)


def _run_locked(paths: list[Path], kb_dir: str | Path, prune: bool, workers: int | None,
                on_file: Callable[[FileOutcome], None] | None, progress: bool) -> Summary:
    from ingest.parse import SUPPORTED_EXTENSIONS
    writer = StoreWriter(kb_dir)
    counts = dict.fromkeys(("added", "updated", "unchanged", "removed", "skipped", "failed"), 0)
    failures: list[tuple[str, str, str]] = []

    def report(outcome: FileOutcome) -> None:
        counts["skipped" if outcome.status == "duplicate" else outcome.status] += 1
        if outcome.status == "failed":
            failures.append((outcome.path, outcome.kind, outcome.message))
        if on_file:
            on_file(outcome)

    try:
        parser = parser_fingerprint()
        found: dict[str, str] = {}
        todo: list[Candidate] = []
        for path, rel in discover(paths, SUPPORTED_EXTENSIONS):
            key = str(path)
            if key in found:
                continue
            found[key] = rel
            if not path.is_file():
                report(FileOutcome(key, "failed", kind="unsupported", message="no such file"))
                continue
            try:
                digest = file_sha256(path)
            except OSError as e:
                report(FileOutcome(key, "failed", kind="unsupported", message=f"cannot read ({e.strerror})"))
                continue
            todo.append(Candidate(key, rel, digest))
        if prune:
            _prune(writer, paths, found, report)
        states = writer.file_states()
        changed = []
        for c in todo:
            state = states.get(c.path)
            if state and state.sha256 == c.sha256 and state.parser == parser:
                report(FileOutcome(c.path, "duplicate" if state.duplicate_of else "unchanged"))
            else:
                changed.append(c)
        _ingest_changed(writer, changed, parser, workers or min(2, os.cpu_count() or 1), report, progress)
    finally:
        writer.close()
    from ingest.store import open_store
    with open_store(kb_dir) as store:
        documents, articles = len(store.documents()), store.count_articles()
    return Summary(**counts, documents=documents, articles=articles, failures=tuple(failures))


def _prune(writer: StoreWriter, roots: list[Path], found: dict[str, str],
           report: Callable[[FileOutcome], None]) -> None:
    """Remove stored files under the given folders that were not found this time."""
    folders = [str(p.resolve()) + os.sep for p in roots if p.is_dir()]
    gone = [p for p in writer.file_states() if p not in found and any(p.startswith(f) for f in folders)]
    if gone:
        with writer.transaction():
            for p in gone:
                writer.remove_file(p)
        for p in gone:
            report(FileOutcome(p, "removed"))


def _ingest_changed(writer: StoreWriter, changed: list[Candidate], parser: str, workers: int,
                    report: Callable[[FileOutcome], None], progress: bool) -> None:
    from tqdm import tqdm
    with tqdm(total=len(changed), unit="file", desc="ingest", disable=not progress, dynamic_ncols=True) as bar:
        def parsed() -> Iterator[tuple[Candidate, tuple[str, object]]]:
            for item in zip(changed, _parse_all([c.path for c in changed], workers)):
                bar.update(1)
                yield item

        results = parsed()
        while batch := list(itertools.islice(results, COMMIT_EVERY)):
            with writer.transaction():
                outcomes = [_store_one(writer, c, parser, status, payload) for c, (status, payload) in batch]
            for outcome in outcomes:
                report(outcome)


def _store_one(writer: StoreWriter, c: Candidate, parser: str, status: str, payload: object) -> FileOutcome:
    if status == "ok":
        doc: Document = payload  # type: ignore[assignment]
        day = file_day(c.path)
        result = writer.put_file(c.path, c.relpath, c.sha256, parser, doc, file_date=day)
        if result == "conflict":
            taken = f", and so does its version dated {day} (this file's day)" if day else ""
            message = (f"another file of the title 《{doc.meta.title}》 without a date holds a different text{taken}: "
                       f"not stored; put the date of this text in its file name, e.g. "
                       f"{doc.meta.title}(2020-03-01){Path(c.path).suffix}")
            writer.record_failure(c.path, "conflict", "same_title_other_text", message)
            return FileOutcome(c.path, "failed", kind="conflict", message=message)
        message = {"duplicate": "same version as a file already stored",
                   "dated": f"another file of the title 《{doc.meta.title}》 without a date holds a different text: "
                            f"stored as a separate version dated {day} (the file's modification day; the undated "
                            f"text counts as older); put the real date in the file name, e.g. "
                            f"{doc.meta.title}(2020-03-01){Path(c.path).suffix}"}.get(result, "")
        return FileOutcome(c.path, "added" if result == "dated" else result,
                           articles=len(doc.articles) + len(doc.sections), message=message)
    if status == "skip":
        return FileOutcome(c.path, "skipped", message=str(payload))
    kind, reason, message = payload  # type: ignore[misc]
    writer.record_failure(c.path, kind, reason, message)
    return FileOutcome(c.path, "failed", kind=kind, message=message)
