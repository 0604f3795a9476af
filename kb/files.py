"""File writes that readers never see half done, and files that one process at a time makes."""
from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def write_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """Write `target` through `write(temporary path beside it)`, then rename it into place, so a
    reader sees the old file or the new one, never half of one. The temporary name is unique to
    the call: threads of one process (the app's sessions) write the same target at once.

    Raises:
        OSError: when the temporary file cannot be written or renamed (it is removed).
    """
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive `flock` on `lock_file` (created if missing) while the block runs, waiting
    for any other holder: processes (or threads: each opens its own descriptor) that would make the
    same files take turns, and the kernel frees the lock of a holder that dies.

    Raises:
        OSError: if the lock file cannot be created.
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)           # closing releases the flock
