"""The writer queue of several app replicas: replicas drop uploads into a folder, one writer drains it.

With the `upload_queue` setting, the app's upload page saves accepted files into that folder
(under safe names, as always) and leaves the ingest to the writer; replicas only ever read the
knowledge base's snapshots. The writer — `python -m ui.queue --kb DIR --upload-queue DIR`, one
process for the whole deployment — moves each file out of the queue into the corpus's upload
folder, ingests and indexes them (`ui.jobs.ingest_and_index`, under the knowledge base's writer
lock), and writes a one-line result per batch to `<queue>/done.log`. Every replica's searcher
picks up the new snapshot by itself (`index.search.searcher_for`).

Exit codes: 0 (after `--once`, or Ctrl-C), 1 a knowledge-base / index error (one line on stderr).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

from kb.errors import IngestError, run_cli
from kb.settings import Config, add_arguments, config_from_args
from ui.jobs import UPLOAD_SUBDIR, IngestJob, ingest_and_index, save_upload

DONE_LOG = "done.log"
STAGING = ".staging"            # a replica writes here and renames into the queue: the writer never sees half a file
POLL_SECONDS = 2.0


def queued_files(queue: Path) -> list[Path]:
    """Complete files waiting in `queue`, oldest first."""
    if not queue.is_dir():
        return []
    files = [p for p in queue.iterdir() if p.is_file() and not p.name.startswith(".") and p.name != DONE_LOG]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def enqueue(queue: Path, name: str, data: bytes, *, allowed: Iterable[str], max_bytes: int) -> Path:
    """Put one upload into the queue under a safe name (see `ui.jobs.save_upload`), prefixed
    with the time and a random tag so that replicas never collide.

    Raises:
        IngestError: for a refused file (type, name, size, empty, unwritable).
    """
    staged = save_upload(queue / STAGING, name, data, allowed=allowed, max_bytes=max_bytes)
    target = queue / f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}-{staged.name}"
    try:
        os.replace(staged, target)
    except OSError as err:
        raise IngestError(name, "unsupported", f"无法放入导入队列 {queue}（{err.strerror}）", reason="write") from None
    return target


def uploaded_name(queued: Path) -> str:
    """The safe upload name of a queued file (without the queue's time and tag)."""
    return queued.name.split("-", 2)[-1]


def drain(cfg: Config) -> IngestJob | None:
    """Ingest and index every file now in the queue (None when it was empty).

    Raises:
        KBError: from the store or the index (the files are then in the corpus's upload folder,
            no longer queued: `python -m ingest` of that folder takes them up).
        IngestError: if a queued file cannot be moved to the upload folder.
    """
    from ingest import SUPPORTED_EXTENSIONS

    queue, corpus = Path(cfg.upload_queue), Path(cfg.corpus) / UPLOAD_SUBDIR
    names: dict[str, str] = {}
    for path in queued_files(queue):
        target = save_upload(corpus, uploaded_name(path), path.read_bytes(), allowed=SUPPORTED_EXTENSIONS,
                             max_bytes=path.stat().st_size)
        path.unlink()
        names[str(target.resolve())] = uploaded_name(path)
    if not names:
        return None
    job = IngestJob(names=names)
    ingest_and_index(job, str(cfg.kb), cfg, list(names))
    line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {job.summary}: " + ", ".join(
        f"{r.name} {r.status}" for r in job.results)
    with open(queue / DONE_LOG, "a", encoding="utf-8") as log:
        log.write(line + "\n")
    return job


def _serve(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    if not cfg.upload_queue:
        print("error: no queue folder: give --upload-queue DIR (or POLICYKB_UPLOAD_QUEUE)", file=sys.stderr)
        return 2
    from ingest.store import open_store

    with open_store(cfg.kb):        # a missing knowledge base is said at once, not at the first upload
        pass
    Path(cfg.upload_queue).mkdir(parents=True, exist_ok=True)
    while True:
        job = drain(cfg)
        if job is not None:
            print(f"{len(job.results)} file(s): {job.summary}", flush=True)
        if args.once:
            return 0
        time.sleep(POLL_SECONDS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui.queue",
                                     description="The one writer of a deployment with several app replicas: "
                                                 "ingests and indexes the files the replicas queue.")
    add_arguments(parser, "kb", "corpus", "upload_queue", "backend", "milvus_uri", "workers")
    parser.add_argument("--once", action="store_true", help="drain the queue once and exit (default: keep polling)")
    return run_cli(_serve, parser.parse_args(argv), interrupted="writer stopped")


if __name__ == "__main__":
    sys.exit(main())
