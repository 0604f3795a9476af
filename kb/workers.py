"""Worker processes that never outlive the process that started them.

A parser or tokeniser worker left behind by a `kill -9` of its parent holds memory (hundreds
of MB for a tokeniser) until someone finds it. On Linux the kernel can kill it instead: each
worker asks for SIGKILL on its parent's death (`prctl(PR_SET_PDEATHSIG)`) as the first thing
it does. The signal follows the parent *thread* that started the worker, so a pool must be
started and closed by the same thread (as `ProcessPoolExecutor` and `ingest.batch` do).
"""
from __future__ import annotations

import os
import signal
import sys

_PR_SET_PDEATHSIG = 1   # from <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """Make the calling worker process die (SIGKILL) when its parent dies; use it as a pool
    initializer with the parent's pid, `initializer=die_with_parent, initargs=(os.getpid(),)`.

    Exits at once if the parent is already gone (it may die between the fork and the prctl,
    which the kernel would then never signal). Elsewhere than Linux only that check is made.
    Raises nothing.
    """
    if sys.platform.startswith("linux"):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)     # orphaned before the death signal was armed: nobody wants our results


def widen_memory_limit() -> None:
    """Raise this process's address-space limit from its soft value to its hard one: a parse
    worker (`ingest.worker`) starts under the soft limit `parse_memory_mb` and may grow to the
    hard one, `ocr_memory_mb`, once it loads the OCR models. In a process with no limit, nothing
    changes. Raises nothing."""
    import resource
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
