"""A parse worker process: `python -m ingest.worker PARENT_PID FD MEMORY_MB OCR_MEMORY_MB`.

`ingest.batch.ParsePool` starts it with one end of a socket pair as file descriptor FD; the
worker caps its own address space at MEMORY_MB (so a decompression bomb fails here with a
MemoryError instead of swelling the caller, e.g. the app's server process), or OCR_MEMORY_MB once it
has loaded the OCR models (`kb.workers.widen_memory_limit`), arms its death
signal, says it is ready, then answers each path of the lists it receives with `ingest.batch.parse_one(path)`
until the socket closes. While OCR reads a file's pages, each page read is sent on as
("page", pages done, pages to read) before the file's answer. It is a fresh interpreter, not a fork: a fork would inherit the caller's address space
(the app's model and index), which no memory limit could then tell apart from the parse.
"""
from __future__ import annotations

import resource
import signal
import sys
from multiprocessing.connection import Connection

from ingest import ocr
from ingest.batch import PAGE, READY, parse_one, too_large
from kb.workers import die_with_parent


def serve(parent_pid: int, fd: int, memory_mb: int, ocr_memory_mb: int) -> None:
    """Parse the lists of paths that arrive on `fd`, answering each path, until it closes.
    Raises nothing."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C is the caller's to handle (it stops us)
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, max(limit, ocr_memory_mb * 1024 * 1024)))
    conn = Connection(fd)
    conn.send(READY)        # time limits count from here, not from the interpreter's start-up
    ocr.page_progress.set(lambda done, total: conn.send((PAGE, done, total)))
    while True:
        try:
            paths = conn.recv()
        except (EOFError, OSError):
            return
        for path in paths:
            result = parse_one(path, memory_mb)
            try:
                conn.send(result)
            except MemoryError:     # the result is pickled before anything is sent
                conn.send(too_large(memory_mb))


if __name__ == "__main__":
    serve(*(int(arg) for arg in sys.argv[1:5]))
