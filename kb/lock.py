"""One writer per knowledge base: the lock file `<kb>/writer.lock`.

Every writer (`python -m ingest`, `python -m index build`, the app's upload job) holds the lock
around its ingest and index build; readers never take it. The lock is an `fcntl.flock` on the
file, so the kernel releases it when its holder dies, however it dies: a lock can never outlive
its process. The file's content (pid, host, start time of the holder) is only for messages: a
second writer says whom it waits for, and a writer that finds the content of a holder that died
without cleaning up reports that stale lock and takes it over.

Holding is re-entrant within a thread (an ingest that builds the index takes it once more), and
forked children (parser and tokeniser workers) close their inherited copy, so a worker that
outlives a killed writer cannot keep the knowledge base locked.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kb.errors import StoreError
from kb.settings import Config, add_arguments

LOCK_NAME = "writer.lock"
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a knowledge base's lock."""
    pid: int
    host: str
    since: str              # local time the holder took the lock, YYYY-MM-DD HH:MM:SS

    def alive(self) -> bool:
        """Whether the holder process still runs (a holder on another host counts as alive)."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:     # it exists, under another user
            return True
        return True


@dataclass(frozen=True)
class _Held:
    fd: int
    thread: int             # the thread holding it; it may nest holds


_held: dict[str, _Held] = {}
_held_guard = threading.Lock()


def _close_inherited() -> None:
    # a forked child shares the parent's open lock file; closing the child's copy leaves the
    # parent's lock in place but lets the lock go as soon as the parent ends
    for held in _held.values():
        try:
            os.close(held.fd)
        except OSError:
            pass
    _held.clear()


os.register_at_fork(after_in_child=_close_inherited)


def lock_path(kb_dir: str | Path) -> Path:
    return Path(kb_dir) / LOCK_NAME


def _parse_holder(text: str) -> Holder | None:
    try:
        data = json.loads(text)
        return Holder(int(data["pid"]), str(data["host"]), str(data["since"]))
    except (ValueError, KeyError, TypeError):
        return None


def holder(kb_dir: str | Path) -> Holder | None:
    """The live holder of the knowledge base's lock, or None when no writer holds it."""
    path = lock_path(kb_dir)
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _parse_holder(path.read_text(encoding="utf-8", errors="replace")) or Holder(0, "?", "?")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def busy_message(kb_dir: str | Path, who: Holder) -> str:
    """One line naming the writer that holds the lock."""
    where = "" if who.host == socket.gethostname() else f" on {who.host}"
    return f"knowledge base {kb_dir} is being written by pid {who.pid}{where} since {who.since}"


def stale_message(kb_dir: str | Path, who: Holder) -> str:
    """One line about a lock file whose holder ended without releasing it (killed, crashed)."""
    gone = "is no longer running" if not who.alive() else "no longer holds it"
    return f"knowledge base {kb_dir}: taking over the stale lock of pid {who.pid} (since {who.since}), which {gone}"


@contextmanager
def writer_lock(kb_dir: str | Path, *, wait: float, on_wait: Callable[[Holder], None] | None = None,
                on_stale: Callable[[Holder], None] | None = None) -> Iterator[None]:
    """Hold the knowledge base's writer lock for the `with` block, creating the folder if needed.

    When another writer holds it, `on_wait(holder)` is called once and the lock is awaited for up
    to `wait` seconds (0: not at all). A lock file left by a dead holder is taken over after
    `on_stale(old holder)`. The same thread may nest holds.

    Raises:
        StoreError: if another writer still holds the lock after `wait` seconds, or the lock file
            cannot be created.
    """
    kb_dir = Path(kb_dir)
    key = str(kb_dir.resolve())
    with _held_guard:
        held = _held.get(key)
    if held is not None and held.thread == threading.get_ident():
        yield                       # nested: the outer hold releases it
        return
    fd = _acquire(kb_dir, wait, on_wait, on_stale)
    with _held_guard:
        _held[key] = _Held(fd, threading.get_ident())
    try:
        yield
    finally:
        with _held_guard:
            del _held[key]
        try:
            os.ftruncate(fd, 0)     # a clean release leaves no holder behind
        finally:
            os.close(fd)            # closing releases the flock


def _acquire(kb_dir: Path, wait: float, on_wait: Callable[[Holder], None] | None,
             on_stale: Callable[[Holder], None] | None) -> int:
    path = lock_path(kb_dir)
    try:
        kb_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise StoreError(f"{path}: cannot create the knowledge base's lock file ({e.strerror})") from None
    deadline = time.monotonic() + max(wait, 0.0)
    # a holder writes its record just after taking the lock, and `holder()` probes it briefly:
    # an unnamed holder is given this long before a writer that does not wait gives up
    named_by = time.monotonic() + 1.0
    told = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                who = _parse_holder(path.read_text(encoding="utf-8", errors="replace"))
                now = time.monotonic()
                if now >= deadline and (who is not None or now >= named_by):
                    who = who or Holder(0, "?", "?")
                    raise StoreError(f"{busy_message(kb_dir, who)}; try again when it has finished, "
                                     f"or wait for it with --wait SECONDS") from None
                if who is not None and not told and on_wait is not None:
                    on_wait(who)
                    told = True
                time.sleep(POLL_SECONDS)
        previous = _parse_holder(os.pread(fd, 4096, 0).decode("utf-8", errors="replace"))
        if previous is not None and on_stale is not None:
            on_stale(previous)
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "since": time.strftime("%Y-%m-%d %H:%M:%S")})
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode("utf-8"), 0)
        return fd
    except BaseException:
        os.close(fd)
        raise


def add_wait_arguments(parser: argparse.ArgumentParser) -> None:
    """`--wait SECONDS` (the `wait` setting) and `--no-wait` for a writing command."""
    add_arguments(parser, "wait")
    parser.add_argument("--no-wait", action="store_true",
                        help="fail at once (exit 1) when another writer holds the knowledge base")


def wait_seconds(args: argparse.Namespace, cfg: Config) -> float:
    return 0.0 if args.no_wait else cfg.wait


@contextmanager
def cli_writer_lock(kb_dir: str | Path, wait: float) -> Iterator[None]:
    """`writer_lock` for a command line: says on stderr whom it waits for and which stale lock it
    takes over.

    Raises:
        StoreError: as `writer_lock`.
    """
    def waiting(who: Holder) -> None:
        print(f"{busy_message(kb_dir, who)}; waiting up to {wait:g} s…", file=sys.stderr, flush=True)

    def stale(who: Holder) -> None:
        print(stale_message(kb_dir, who), file=sys.stderr, flush=True)

    with writer_lock(kb_dir, wait=wait, on_wait=waiting, on_stale=stale):
        yield
