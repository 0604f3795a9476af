"""Worker processes that never outlive the process that started them.

A parser or tokeniser worker left behind by a `kill -9` of its parent holds memory (hundreds
of MB for a tokeniser) until someone finds it. On Linux the kernel can kill it instead: each
worker asks for SIGKILL on its parent's death (`prctl(PR_SET_PDEATHSIG)`) as the first thing
it does. The signal follows the parent *thread* that started the worker, so a pool must be
started and closed by the same thread (as `ProcessPoolExecutor` and `ingest.batch` do).

How many threads a parallel step starts is `usable_cores()`, the one answer for every step.
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


def usable_cores() -> int:
    """How many threads a parallel step (embedding, learning, a split scan) may use: the cores
    this process may run on (its CPU affinity, which `taskset` and a container's cpuset set), at
    most `OMP_NUM_THREADS` where that is a positive number, the usual way to tell a program that
    it shares the machine. OpenMP and BLAS threads on a core another process keeps busy wait for
    each other: a learning test took 57.5 s with two threads there, 7.5 s with one. Raises
    nothing."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):      # not on Linux
        cores = os.cpu_count() or 1
    cap = os.environ.get("OMP_NUM_THREADS", "").strip()
    # ASCII digits only, as OpenMP reads it: "²".isdigit() is true and int() refuses it
    return max(1, min(cores, int(cap))) if cap.isascii() and cap.isdigit() and int(cap) > 0 else max(1, cores)
