"""File writes that readers never see half done."""
from __future__ import annotations

import os
import uuid
from collections.abc import Callable
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
