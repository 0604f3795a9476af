"""How many threads a parallel step may use (`kb.workers.usable_cores`)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.workers import usable_cores


def test_usable_cores_are_the_affinity_capped_by_omp_num_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})      # as under `taskset -c 0-3`
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert usable_cores() == 4
    for cap, cores in (("1", 1), ("3", 3), (" 2 ", 2), ("16", 4), ("0", 4), ("-1", 4), ("two", 4), ("", 4), ("²", 4), ("٣", 4)):
        monkeypatch.setenv("OMP_NUM_THREADS", cap)
        assert usable_cores() == cores, cap


def test_usable_cores_without_an_affinity_call_are_the_cpu_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr("os.cpu_count", lambda: None)        # Python's answer where it cannot tell
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert usable_cores() == 1
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert usable_cores() == 6


def test_tokenising_on_one_usable_core_starts_no_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    # a build held to one core (taskset, OMP_NUM_THREADS=1) tokenised on two processes regardless
    from index.build import TOKENIZE_CHUNK, tokenize_units
    from index.tokenize import Tokenizer

    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool was started")

    # (`index.build` names the function `build` in the package: the module is patched directly)
    monkeypatch.setattr(sys.modules[tokenize_units.__module__], "ProcessPoolExecutor", no_pool)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    fields = [("信访人对复查意见不服的，可以请求复核。", ["第一章 总则"])] * (TOKENIZE_CHUNK + 1)     # two chunks
    tokens = tokenize_units(Tokenizer(), fields, progress=False)
    assert len(tokens) == len(fields) and tokens[0] == tokens[-1] and "复核" in tokens[0]


class CountingTokenizer:
    """A tokeniser that notes, in a file, each time it loads its dictionaries."""

    def __init__(self, log) -> None:
        from index.tokenize import Tokenizer

        self.log, self.inner = log, Tokenizer()

    def tokens(self, text: str) -> list[str]:
        if self.inner._jieba is None:
            with open(self.log, "a", encoding="utf-8") as fh:
                fh.write(f"{os.getpid()}\n")
        return self.inner.tokens(text)


def test_each_tokeniser_worker_loads_its_dictionaries_once(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    # every chunk used to bring a fresh tokeniser, whose jieba loaded its dictionaries again: over the
    # whole corpus that took about half of each worker's time
    from index.build import tokenize_units

    monkeypatch.setattr(sys.modules[tokenize_units.__module__], "TOKENIZE_CHUNK", 2)
    log = tmp_path / "loads.txt"
    fields = [(f"信访人对第{i}份复查意见不服的，可以请求复核。", ["第一章 总则"]) for i in range(12)]   # six chunks
    tokens = tokenize_units(CountingTokenizer(log), fields, progress=False, workers=2)
    assert len(tokens) == 12 and all("复核" in t for t in tokens)
    loads = log.read_text(encoding="utf-8").split()
    assert len(loads) == len(set(loads)) <= 2, loads


HELD_AT_FORK = """
import sys, threading, time
import jieba
from index import tokenize
from index.build import TOKENIZE_CHUNK
tokenize_units = sys.modules["index.build"].tokenize_units
held = threading.Barrier(3)

def hold(lock) -> None:       # as a thread of the app does while it loads a jieba engine
    with lock:
        held.wait()
        time.sleep(3)

jieba.DICT_WRITING[jieba.DEFAULT_DICT] = threading.RLock()      # (jieba's lock of a first load)
for lock in (tokenize._ENGINE_LOCK, jieba.DICT_WRITING[jieba.DEFAULT_DICT]):
    threading.Thread(target=hold, args=(lock,)).start()
held.wait()
fields = [("信访人对复查意见不服的，可以请求复核。", ["第一章 总则"])] * (TOKENIZE_CHUNK + 1)     # two chunks
tokens = tokenize_units(tokenize.Tokenizer(extra_words=["甲乙丙丁条例"]), fields, progress=False, workers=2)
print(len(tokens) == len(fields), "复核" in tokens[-1])
"""


def test_tokeniser_workers_forked_while_a_thread_loads_jieba_do_not_wait_for_ever(tmp_path) -> None:
    # the app builds in a thread while other threads serve searches: a worker forked while one of them
    # held the engine lock (or jieba's own lock of a first load) started with that lock held for ever
    done = subprocess.run([sys.executable, "-c", HELD_AT_FORK], cwd=Path(__file__).resolve().parents[1],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True"]
