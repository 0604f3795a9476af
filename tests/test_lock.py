"""The knowledge base's writer lock (kb/lock.py): one writer at a time, waiting with a message,
failing with one line, stale locks of dead holders taken over, forked workers not keeping it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kb.errors import StoreError
from kb.lock import Holder, holder, writer_lock

REPO = Path(__file__).resolve().parents[1]

# a writer in another process: takes the lock, says so, then holds it for `seconds`
HOLD = """
import sys, time
from kb.lock import writer_lock
with writer_lock(sys.argv[1], wait=0):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""

# a writer that forks a long-lived worker while it holds the lock, then ends
FORK_AND_EXIT = """
import os, sys, time
from kb.lock import writer_lock
with writer_lock(sys.argv[1], wait=0):
    child = os.fork()
    if child == 0:
        time.sleep(30)
        os._exit(0)
    print("locked", flush=True)
    print(child, flush=True)
"""


def hold_in_other_process(kb: Path, script: str = HOLD, seconds: float = 30) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", script, str(kb), str(seconds)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_writer_that_does_not_wait_fails_naming_the_holder(tmp_path: Path) -> None:
    proc = hold_in_other_process(tmp_path / "kb")
    try:
        who = holder(tmp_path / "kb")
        assert who is not None and who.pid == proc.pid and who.alive()
        with pytest.raises(StoreError) as err, writer_lock(tmp_path / "kb", wait=0):
            pass
        message = str(err.value)
        assert f"is being written by pid {proc.pid} since " in message and "\n" not in message
    finally:
        proc.kill()
        proc.wait()


def test_a_waiting_writer_is_told_once_and_gets_the_lock_when_the_holder_ends(tmp_path: Path) -> None:
    proc = hold_in_other_process(tmp_path / "kb", seconds=1.5)
    told: list[Holder] = []
    start = time.monotonic()
    with writer_lock(tmp_path / "kb", wait=60, on_wait=told.append):
        waited = time.monotonic() - start
        assert holder(tmp_path / "kb").pid == os.getpid()
    proc.wait()
    assert [h.pid for h in told] == [proc.pid] and waited > 0.5
    assert holder(tmp_path / "kb") is None


def test_the_lock_of_a_killed_writer_is_reported_stale_and_taken_over(tmp_path: Path) -> None:
    proc = hold_in_other_process(tmp_path / "kb")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert holder(tmp_path / "kb") is None          # the kernel released it with the process
    stale: list[Holder] = []
    with writer_lock(tmp_path / "kb", wait=0, on_stale=stale.append):
        pass
    assert [h.pid for h in stale] == [proc.pid] and not stale[0].alive()


def test_a_forked_worker_that_outlives_its_writer_does_not_keep_the_lock(tmp_path: Path) -> None:
    proc = hold_in_other_process(tmp_path / "kb", FORK_AND_EXIT)
    worker = int(proc.stdout.readline())
    proc.wait()
    try:
        with writer_lock(tmp_path / "kb", wait=0):
            pass
    finally:
        os.kill(worker, signal.SIGKILL)


def test_holds_nest_in_one_thread_and_exclude_other_threads(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    entered = threading.Event()
    outcome: list[str] = []

    def other() -> None:
        try:
            with writer_lock(kb, wait=0):
                outcome.append("entered")
        except StoreError:
            outcome.append("refused")
        entered.set()

    with writer_lock(kb, wait=0), writer_lock(kb, wait=0):
        worker = threading.Thread(target=other)
        worker.start()
        assert entered.wait(10)
    worker.join()
    assert outcome == ["refused"]
    with writer_lock(kb, wait=0):           # released after the outer hold
        pass
