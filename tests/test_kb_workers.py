"""How many threads a parallel step may use (`kb.workers.usable_cores`)."""
import os

import pytest

from kb.workers import usable_cores


def test_usable_cores_are_the_affinity_capped_by_omp_num_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})      # as under `taskset -c 0-3`
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert usable_cores() == 4
    for cap, cores in (("1", 1), ("3", 3), (" 2 ", 2), ("16", 4), ("0", 4), ("-1", 4), ("two", 4), ("", 4)):
        monkeypatch.setenv("OMP_NUM_THREADS", cap)
        assert usable_cores() == cores, cap


def test_usable_cores_without_an_affinity_call_are_the_cpu_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr("os.cpu_count", lambda: None)        # Python's answer where it cannot tell
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert usable_cores() == 1
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert usable_cores() == 6
