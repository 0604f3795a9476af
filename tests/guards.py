"""The time guard of the tests against hostile input: a regression to quadratic (or
backtracking) code fails instead of hanging. Guards against a hang, not speed goals: those live
in the benchmarks."""
from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

GUARD_SECONDS = 2.0     # each hostile input; linear code needs milliseconds, the old patterns minutes


class TookTooLong(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging) when the block runs longer than `seconds`: the regex engine
    checks for signals while it backtracks, so SIGALRM interrupts a runaway match."""
    def expire(signum, frame):
        raise TookTooLong(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
