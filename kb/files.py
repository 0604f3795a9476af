"""File writes that readers never see half done, files that one process at a time makes, and the
text of names the file system holds in legacy bytes."""
from __future__ import annotations

import fcntl
import os
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


# What numpy's `np.load` raises for a missing, damaged or foreign array file: a truncated .npz is a
# zipfile.BadZipFile, which no other class here covers (a damaged catalog.npz gave a traceback).
ARRAY_FILE_ERRORS = (OSError, ValueError, KeyError, zipfile.BadZipFile)


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


def os_text(text: str) -> str:
    """`text` as the system handed it over (a file name, a command-line argument), readable: bytes
    that are not UTF-8 reach Python as surrogate escapes, which neither SQLite nor a terminal
    takes. Such a name is read as GB18030 (a Windows zip's GBK names unpacked here, a GBK
    terminal), else its undecodable bytes are written as escapes ("\\xff"). Decoded whole, not
    run by run: a GBK character's second byte may be an ASCII one."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        raw = os.fsencode(text)
    try:
        return raw.decode("gb18030")      # GBK and GB2312 are subsets of it
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def path_text(path: str | os.PathLike[str]) -> str:
    """The text a file path is stored and shown as: `os_text` of each of its parts, so that a GBK
    name under UTF-8 folders reads as Chinese. The same path always gives the same text."""
    return os.sep.join(os_text(part) for part in os.fspath(path).split(os.sep))
