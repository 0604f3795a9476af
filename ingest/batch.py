"""Batch ingestion: find files, skip unchanged ones by hash, parse the rest, write the store.

Parsing runs in worker processes (it is pure CPU work), always, each file under a time and a
memory limit (`ParsePool`), so no file can freeze or swell the caller; only this process writes, in
transactions of a bounded size, so an interruption loses at most the current batch and never
leaves a half-written document.
"""
from __future__ import annotations

import collections
import contextlib
import datetime as _dt
import errno
import hashlib
import itertools
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

from ingest.loaders import not_a_file
from ingest.records import Document, Summary
from ingest.store import StoreWriter
from kb.errors import IngestError, NotADocument
from kb.files import path_text
from kb.lock import writer_lock
from kb.settings import Config, load_config
from kb.workers import usable_cores

COMMIT_EVERY = 200          # files per transaction: bounds the work an interruption discards


@dataclass(frozen=True)
class Candidate:
    path: str               # absolute, as stored and shown (`kb.files.path_text`)
    relpath: str            # relative to the folder it was found under
    sha256: str
    os_path: str            # the same file as the system names it (other than `path` for a name not in UTF-8)


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file; `status` is added/updated/unchanged/removed/skipped/duplicate/failed."""
    path: str
    status: str
    articles: int = 0
    kind: str = ""
    message: str = ""
    notes: tuple[str, ...] = ()     # of a file stored: what parsing did besides reading (`Document.notes`)


def parser_fingerprint() -> str:
    """Hash of the parsing code: when it changes, stored parses are stale and files are re-read."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    files = sorted(root.rglob("*.py")) + [root.parent / "kb" / "chinese.py", root.parent / "kb" / "citations.py"]
    for f in files:
        if f.name not in ("store.py", "successors.py", "batch.py", "worker.py", "__main__.py"):    # not parsing: the store and batch logic
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


def _broken_link(path: Path) -> str:
    """Why a path that is a symbolic link cannot be followed ("symlink loop", "broken
    symlink"), or "" when it can (or is no link)."""
    try:
        os.stat(path)
        return ""
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symlink loop: not followed"
        return "broken symlink: its target does not exist" if path.is_symlink() else ""


def discover(paths: Iterable[str | Path], extensions: Iterable[str],
             report: Callable[[FileOutcome], None]) -> Iterator[tuple[Path, str]]:
    """Yield (absolute path, path relative to its root argument) of every file to ingest.

    Folders are walked recursively in sorted order; hidden files and folders are ignored.
    A file named explicitly is always yielded, so an unsupported type gets a clear error.
    Symbolic links that cannot be followed are reported, never yielded: one named explicitly
    as failed, one inside a folder as skipped.
    """
    exts = {e.lower() for e in extensions}
    for p in paths:
        p = Path(p)
        try:
            broken, resolved = _broken_link(p), p.resolve()
        except (OSError, RuntimeError):     # resolve() of a loop (RuntimeError before Python 3.13)
            broken, resolved = "symlink loop: not followed", p
        if broken:
            report(FileOutcome(path_text(p.absolute()), "failed", kind="unsupported", message=broken))
            continue
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if f.is_file() and f.suffix.lower() in exts:
                    yield f.resolve(), rel.as_posix()
                elif f.is_symlink() and (broken := _broken_link(f)):
                    report(FileOutcome(path_text(f), "skipped", message=broken))
        else:
            yield resolved, p.name


def parse_one(path: str, memory_mb: int) -> tuple[str, object]:
    """Parse one file (in a worker process): ("ok", Document), ("skip", message) or ("error",
    (kind, reason, message)); errors travel back as plain tuples (exceptions may not pickle).
    `memory_mb` is the worker's memory limit, named when the parse runs out of memory."""
    from ingest.parse import parse_file
    try:
        return "ok", parse_file(path)
    except IngestError as e:
        return "error", (e.kind, e.reason, e.message)
    except NotADocument as e:
        return "skip", e.message
    except MemoryError:
        return too_large(memory_mb)
    except Exception as e:  # a parser bug must not abort the batch; report it as this file's failure
        return "error", ("corrupt", "parser_error", f"cannot parse ({type(e).__name__}: {e})")


def too_large(memory_mb: int) -> tuple[str, object]:
    """The failure of a parse over its memory limit, naming the setting that set it: the worker's
    limit grows from `parse_memory_mb` (`memory_mb`) to `ocr_memory_mb` once it reads a scan."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY and soft > memory_mb * 1024 * 1024:
        memory_mb, setting = soft // (1024 * 1024), "ocr_memory_mb"
    else:
        setting = "parse_memory_mb"
    return "error", ("too_large", "memory", f"parsing needs more than {memory_mb} MB of memory "
                                            f"(setting {setting}); not stored")


def _timed_out(seconds: float) -> tuple[str, object]:
    return "error", ("timeout", "timeout", f"parsing took longer than {seconds:g} s "
                                           f"(setting parse_timeout); not stored")


def _crashed(returncode: int | None) -> tuple[str, object]:
    """The failure of a file whose worker died (exit status or -signal), or never started (None)."""
    if returncode is None:
        return "error", ("corrupt", "parser_crashed", f"the parser process did not start within "
                                                      f"{STARTUP_TIMEOUT:g} s; not stored")
    how = f"signal {-returncode}" if returncode < 0 else f"exit status {returncode}"
    return "error", ("corrupt", "parser_crashed", f"the parser process died ({how}) on this file; not stored")


READY = "ready"             # a worker's first message, once it has started up
PAGE = "page"               # ("page", done, total): a worker's OCR read one more page of its file
STARTUP_TIMEOUT = 120.0     # seconds a worker may take to start (a busy machine), apart from parse_timeout


@dataclass
class _Worker:
    process: subprocess.Popen
    conn: Connection
    queue: collections.deque = field(default_factory=collections.deque)  # (index, path) handed to it
    ready: bool = False     # it has started up (sent READY)
    since: float = field(default_factory=time.monotonic)   # start of the parse of queue[0] (or of start-up)

    def stop(self) -> int | None:
        """Kill the process (if still running) and return its exit status."""
        self.conn.close()
        self.process.kill()
        return self.process.wait()


class ParsePool:
    """Parse worker processes (`ingest.worker`), each file under a time and a memory limit.

    A worker over `parse_timeout` seconds on a file is killed and replaced, and the file is a
    `timeout` failure; a parse over `parse_memory_mb` (`ocr_memory_mb` once the worker has loaded
    the OCR models) fails with `too_large` inside its worker.
    A file read by OCR gets `parse_timeout` seconds for each page: every page the worker reports
    starts its time anew (a 30-page scan may take 30 times as long as a text file), and is passed
    to `on_page(path, pages done, pages to read)`.
    Workers are fresh interpreters (no fork of the caller's memory), started by the thread of
    each `map` call and dying with it (and with the caller's process); leaving the context
    stops any that remain.
    """

    PREFETCH = 8    # files a worker holds, sent in halves: it never waits while the caller stores
    AHEAD = 64      # results parsed ahead of the caller, at most (bounds the memory they take)

    def __init__(self, size: int, timeout: float, memory_mb: int,
                 on_page: Callable[[str, int, int], None] | None = None, ocr_memory_mb: int = 0) -> None:
        self.size, self.timeout, self.memory_mb = max(1, size), timeout, memory_mb
        self.on_page, self.ocr_memory_mb = on_page, max(memory_mb, ocr_memory_mb)
        self._workers: list[_Worker] = []

    def __enter__(self) -> "ParsePool":
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers.clear()

    def _start(self) -> _Worker:
        ours, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parents[1])     # the caller may have found us by its cwd
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        with theirs:
            process = subprocess.Popen(
                [sys.executable, "-m", "ingest.worker", str(os.getpid()), str(theirs.fileno()), str(self.memory_mb),
                 str(self.ocr_memory_mb)],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)
        worker = _Worker(process, Connection(ours.detach()))
        self._workers.append(worker)
        return worker

    def _retire(self, worker: _Worker) -> int | None:
        self._workers.remove(worker)
        return worker.stop()

    def map(self, paths: Sequence[str]) -> Iterator[tuple[str, object]]:
        """`parse_one` of each path, in order. A thread of the pool hands out files and receives
        results (unpickling them) while the caller stores the ones before; it keeps at most
        `AHEAD` results waiting for the caller.

        Raises:
            OSError: if a worker process cannot be started.
        """
        done: dict[int, tuple[str, object]] = {}
        changed = threading.Condition()
        failure: list[BaseException] = []
        stop = threading.Event()

        def feed() -> None:
            pending = collections.deque(enumerate(paths))
            try:
                while not stop.is_set() and (pending or any(w.queue for w in self._workers)):
                    with changed:
                        if not any(w.queue for w in self._workers):     # idle until the caller takes some
                            changed.wait_for(lambda: len(done) < self.AHEAD or stop.is_set())
                        room = len(done) < self.AHEAD
                    if room:
                        self._dispatch(pending)
                    results = self._collect(pending, wake_within=0.2)
                    with changed:
                        done.update(results)
                        changed.notify_all()
            except BaseException as err:    # handed to the caller, which raises it
                with changed:
                    failure.append(err)
                    changed.notify_all()
            finally:    # the death signal would stop them with this thread anyway; say so
                for worker in list(self._workers):
                    self._retire(worker)

        # The workers' death signal follows this thread: it ends once every file is answered.
        feeder = threading.Thread(target=feed, name="parse-pool", daemon=True)
        feeder.start()
        try:
            for n in range(len(paths)):
                with changed:
                    changed.wait_for(lambda: n in done or failure)
                    if n not in done:
                        raise failure[0]
                    result = done.pop(n)
                    changed.notify_all()
                yield result
        finally:
            stop.set()
            with changed:
                changed.notify_all()
            feeder.join()

    def _dispatch(self, pending: collections.deque) -> None:
        while pending and len(self._workers) < self.size:
            self._start()
        for worker in self._workers:
            if not pending or len(worker.queue) > self.PREFETCH // 2:
                continue
            if not worker.queue and worker.ready:
                worker.since = time.monotonic()
            batch = [pending.popleft() for _ in range(min(len(pending), self.PREFETCH - len(worker.queue)))]
            worker.queue.extend(batch)
            try:
                worker.conn.send([path for _, path in batch])   # one message: fewer hand-offs
            except OSError:     # died while idle: its queue is collected as a crash
                pass

    def _collect(self, pending: collections.deque, wake_within: float) -> dict[int, tuple[str, object]]:
        """Results that arrive within `wake_within` seconds, by index; a dead or late worker is
        replaced and its queued files go back to `pending` (the file it was on fails)."""
        done: dict[int, tuple[str, object]] = {}
        busy = [w for w in self._workers if w.queue]
        if not busy:
            return done
        deadline = min(w.since + (self.timeout if w.ready else STARTUP_TIMEOUT) for w in busy)
        ready = wait([w.conn for w in busy], min(wake_within, max(0.0, deadline - time.monotonic())))
        now = time.monotonic()
        for worker in busy:
            retired = True
            if worker.conn in ready:
                try:
                    result = worker.conn.recv()
                    worker.since, retired = now, False
                except (EOFError, OSError):
                    result = _crashed(self._retire(worker))
                if result == READY:
                    worker.ready = True
                    continue
                if isinstance(result, tuple) and result[0] == PAGE:
                    if self.on_page is not None:
                        self.on_page(worker.queue[0][1], *result[1:])
                    continue
            elif now - worker.since >= (self.timeout if worker.ready else STARTUP_TIMEOUT):
                self._retire(worker)
                result = _timed_out(self.timeout) if worker.ready else _crashed(None)
            else:
                continue
            done[worker.queue.popleft()[0]] = result
            if retired:
                pending.extendleft(reversed(worker.queue))
        return done


def parse_file_bounded(path: str | Path, cfg: Config | None = None) -> Document:
    """`ingest.parse.parse_file` in a worker process, under the `parse_timeout` and
    `parse_memory_mb` settings of `cfg` (default: `load_config()`), as every file of `run` is parsed.

    Raises:
        IngestError: as `parse_file`, and kind "timeout" / "too_large" over a limit.
        NotADocument: as `parse_file`.
    """
    (status, payload), = _parse_all([str(Path(path).absolute())], 1, cfg or load_config())
    if status == "ok":
        return payload  # type: ignore[return-value]
    if status == "skip":
        raise NotADocument(path_text(path), str(payload))
    kind, reason, message = payload  # type: ignore[misc]
    raise IngestError(path_text(path), kind, message, reason=reason)


def _parse_all(paths: list[str], workers: int, cfg: Config,
               on_page: Callable[[str, int, int], None] | None = None) -> Iterator[tuple[str, object]]:
    """`parse_one` of each path in order, in worker processes under the `parse_timeout` and
    `parse_memory_mb` settings, whatever the number of files (an app upload is never parsed in
    the server process); `on_page` hears of each page OCR reads (see `ParsePool`)."""
    with ParsePool(min(workers, len(paths)), cfg.parse_timeout, cfg.parse_memory_mb, on_page,
                   cfg.ocr_memory_mb) as pool:
        yield from pool.map(paths)


def run(paths: Iterable[str | Path], kb_dir: str | Path, *, prune: bool = False, workers: int | None = None,
        on_file: Callable[[FileOutcome], None] | None = None, progress: bool = False,
        cfg: Config | None = None, on_page: Callable[[int, int], None] | None = None) -> Summary:
    """Ingest files and folders into the knowledge base at `kb_dir`, with the `wait`,
    `parse_timeout` and `parse_memory_mb` settings of `cfg` (default: `load_config()`).

    Unchanged files (same content hash, same parser) are skipped; changed files replace what
    they stored; with `prune`, files that vanished from the given folders are removed. A file
    that fails is reported (in the summary, via `on_file` and in the store's failures table) and
    the batch goes on; what an earlier good version of it stored stays. `on_page(pages read,
    pages to read)` hears of each page OCR reads, over the batch: the pages of the scans begun
    so far (for an app's progress bar).

    The run holds the knowledge base's writer lock (`kb.lock`), waiting for another writer up to
    the `wait` setting; a caller that holds the lock already (to build the index under the same
    hold) is not kept waiting.

    Raises:
        StoreError: if the knowledge base cannot be opened for writing, or another writer holds
            it longer than the `wait` setting.
    """
    cfg = cfg or load_config()
    with writer_lock(kb_dir, wait=cfg.wait):
        return _run_locked([Path(p) for p in paths], kb_dir, prune, workers, on_file, progress, cfg, on_page)


def _run_locked(paths: list[Path], kb_dir: str | Path, prune: bool, workers: int | None,
                on_file: Callable[[FileOutcome], None] | None, progress: bool, cfg: Config,
                on_page: Callable[[int, int], None] | None) -> Summary:
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
        for path, rel in discover(paths, SUPPORTED_EXTENSIONS, report):
            key = path_text(path)
            if key in found:
                continue
            found[key] = rel = path_text(rel)
            problem = not_a_file(path)
            if problem:
                report(FileOutcome(key, "failed", kind="unsupported", message=problem))
                continue
            try:
                digest = file_sha256(path)
            except OSError as e:
                report(FileOutcome(key, "failed", kind="unsupported", message=f"cannot read ({e.strerror})"))
                continue
            todo.append(Candidate(key, rel, digest, str(path)))
        if failures:    # so far, files that could not be read (missing, unreadable, a symlink loop): the
            # store's failures table lists every file that failed, not only parse failures
            with writer.transaction():
                for path, kind, message in failures:
                    writer.record_failure(path, kind, kind, message)
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
        _ingest_changed(writer, changed, parser, workers or min(2, usable_cores()), report, progress, cfg,
                        on_page)
    finally:
        writer.close()
    from ingest.store import open_store
    with open_store(kb_dir) as store:
        documents, articles = len(store.documents()), store.count_articles()
    return Summary(**counts, documents=documents, articles=articles, failures=tuple(failures))


def _prune(writer: StoreWriter, roots: list[Path], found: dict[str, str],
           report: Callable[[FileOutcome], None]) -> None:
    """Remove stored files under the given folders that were not found this time."""
    folders = [path_text(p.resolve()) + os.sep for p in roots if p.is_dir()]
    gone = [p for p in writer.file_states() if p not in found and any(p.startswith(f) for f in folders)]
    if gone:
        with writer.transaction():
            for p in gone:
                writer.remove_file(p)
        for p in gone:
            report(FileOutcome(p, "removed"))


def _ingest_changed(writer: StoreWriter, changed: list[Candidate], parser: str, workers: int,
                    report: Callable[[FileOutcome], None], progress: bool, cfg: Config,
                    on_page: Callable[[int, int], None] | None) -> None:
    from tqdm import tqdm
    with tqdm(total=len(changed), unit="file", desc="ingest", disable=not progress, dynamic_ncols=True) as bar, \
            contextlib.ExitStack() as bars:
        started: set[str] = set()
        pages_read = pages_to_read = 0      # (a disabled bar counts nothing)
        pages = None                        # the OCR bar, shown once a file is read by OCR

        def page_read(path: str, done: int, total: int) -> None:
            """One more page read by OCR (called by the pool's thread): the count to read grows by
            each OCR'd file's pages when its first page is read; the bar and `on_page` show it."""
            nonlocal pages_read, pages_to_read, pages
            if pages is None:
                pages = bars.enter_context(tqdm(total=0, unit="page", desc="OCR", disable=not progress,
                                                dynamic_ncols=True, position=1, leave=False))
            if path not in started:
                started.add(path)
                pages_to_read += total
                pages.total = pages_to_read
                pages.refresh()
            pages_read += 1
            pages.update(1)
            if on_page is not None:
                on_page(pages_read, pages_to_read)

        def parsed() -> Iterator[tuple[Candidate, tuple[str, object]]]:
            for item in zip(changed, _parse_all([c.os_path for c in changed], workers, cfg, page_read)):
                bar.update(1)
                yield item

        # each result is stored as it arrives, so the workers parse on while this process writes
        results = parsed()
        for first in results:
            with writer.transaction():
                outcomes = [_store_one(writer, c, parser, status, payload) for c, (status, payload)
                            in itertools.chain([first], itertools.islice(results, COMMIT_EVERY - 1))]
            for outcome in outcomes:
                report(outcome)


def _store_one(writer: StoreWriter, c: Candidate, parser: str, status: str, payload: object) -> FileOutcome:
    if status == "ok":
        doc: Document = payload  # type: ignore[assignment]
        day = file_day(c.os_path)
        result = writer.put_file(c.path, c.relpath, c.sha256, parser, doc, file_date=day)
        if result == "conflict" and doc.meta.version_date:
            message = (f"another file of the title 《{doc.meta.title}》 dated {doc.meta.version_date} holds a different "
                       f"text: not stored; correct the date of one of them (in its file name or metadata)")
        elif result == "conflict":
            taken = f", and so does its version dated {day} (this file's day)" if day else ""
            message = (f"another file of the title 《{doc.meta.title}》 without a date holds a different text{taken}: "
                       f"not stored; put the date of this text in its file name, e.g. "
                       f"{doc.meta.title}(2020-03-01){Path(c.path).suffix}")
        if result == "conflict":
            writer.record_failure(c.path, "conflict", "same_title_other_text", message)
            return FileOutcome(c.path, "failed", kind="conflict", message=message)
        dating = (f"another file of the title 《{doc.meta.title}》 without a date holds a different text: "
                  f"stored as a separate version dated {day} (the file's modification day; the undated "
                  f"text counts as older); put the real date in the file name, e.g. "
                  f"{doc.meta.title}(2020-03-01){Path(c.path).suffix}")
        message = {"duplicate": "same version as a file already stored", "dated": dating,
                   "redated": dating}.get(result, "")
        # a changed file stored before is an update, also when its text is again kept as a dated version
        outcome = {"dated": "added", "redated": "updated"}.get(result, result)
        return FileOutcome(c.path, outcome, articles=len(doc.articles) + len(doc.sections), message=message,
                           notes=doc.notes)
    if status == "skip":
        return FileOutcome(c.path, "skipped", message=str(payload))
    kind, reason, message = payload  # type: ignore[misc]
    writer.record_failure(c.path, kind, reason, message)
    return FileOutcome(c.path, "failed", kind=kind, message=message)
