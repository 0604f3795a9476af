"""The checks of `python -m bench faults` themselves: a check that cannot see a fault would let
every fault pass. The faults (kill -9, concurrent writers, hostile files) run in the bench."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import faults_bench
from bench.faults_bench import Content, Truth, blank_pdf, descendants, leftovers, survivors
from index.embed import Embedder, load_embedder


def test_survivors_sees_a_living_grandchild_and_not_a_dead_one() -> None:
    # a parent without death signals for its child: killing it leaves the grandchild running
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; subprocess.Popen("
                               "[sys.executable, '-c', 'import time; time.sleep(30)']); time.sleep(30)"])
    grandchildren: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 30
        while not grandchildren and time.monotonic() < deadline:
            time.sleep(0.05)
            grandchildren = descendants(parent.pid)
        assert len(grandchildren) == 1
        parent.kill()
        parent.wait()
        assert survivors(grandchildren) == list(grandchildren)
        assert survivors({pid: start + 1 for pid, start in grandchildren.items()}) == []   # another process
    finally:
        for pid in grandchildren:
            subprocess.run(["kill", "-9", str(pid)], check=False)
    time.sleep(0.5)
    assert survivors(grandchildren) == []


def test_leftovers_lists_an_interrupted_build_and_a_temporary_pointer(tmp_path: Path) -> None:
    root = tmp_path / "index"
    for name, previous in (("build-1-a", ""), ("build-2-b", "build-1-a")):
        (root / name).mkdir(parents=True)
        (root / name / "meta.json").write_text(json.dumps({"previous": previous}), encoding="utf-8")
    (root / "CURRENT").write_text("build-2-b", encoding="utf-8")
    assert leftovers(tmp_path) == []                  # the snapshot in use and the one it replaced
    (root / "build-3-c").mkdir()
    (root / ".CURRENT.123").write_text("build-3-c", encoding="utf-8")
    assert sorted(leftovers(tmp_path)) == [".CURRENT.123", "build-3-c"]


def test_truth_flags_other_texts_unknown_ids_and_reused_ids() -> None:
    truth = Truth()
    truth.add(Content(1, 2, {1: ("信访工作条例", "第一条", "甲"), 2: ("信访工作条例", "第二条", "乙")}, 1))
    assert not truth.wrong(1, "信访工作条例", "第一条", "甲")
    assert truth.wrong(1, "信访工作条例", "第一条", "乙")         # the text of another article
    assert truth.wrong(3, "信访工作条例", "第三条", "丙")         # an id the store never held
    truth.add(Content(1, 1, {2: ("信访工作条例", "第二条", "丁")}, 2))   # id 2 reused for another text
    assert truth.reused == [2]
    assert truth.wrong(2, "信访工作条例", "第二条", "乙")


def test_blank_pdf_is_one_page_without_text() -> None:
    from pypdf import PdfReader
    reader = PdfReader(io.BytesIO(blank_pdf()))
    assert len(reader.pages) == 1
    assert reader.pages[0].extract_text().strip() == ""


def test_same_title_and_date_with_another_text_is_not_skipped_as_the_same_version(tmp_path: Path) -> None:
    # found by the fault bench: a second file of the same title and date whose text differs was
    # "skipped: same version as a file already stored" with exit 0, and its articles were lost
    from ingest.batch import run
    from ingest.store import open_store
    head = "某市信访办法\n\n第一条 为了规范信访工作，制定本办法。\n\n"
    for folder, body in (("a", "第二条 信访人应当如实反映情况。\n"),
                         ("b", "第二条 信访人可以通过网络提出信访事项。\n\n第三条 本办法自公布之日起施行。\n")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "某市信访办法(2020-01-01).md").write_text(head + body, encoding="utf-8")
    summary = run([tmp_path / "a", tmp_path / "b"], tmp_path / "kb")
    with open_store(tmp_path / "kb") as store:
        texts = " ".join(a.text for a in store.iter_articles())
    assert summary.failed == 1 or "通过网络提出信访事项" in texts, \
        f"the other text was dropped quietly: {summary}"


class Paused(Exception):
    """What the tests' pause raises instead of sleeping."""


def test_the_embedding_pause_holds_the_build_as_it_calls_the_embedder(monkeypatch, tmp_path: Path) -> None:
    # the hook named the arguments `encode_passages` took when it was written; when the build's
    # call lost one, the hooked build died of a TypeError and `kill -9 ingest: embedding` never ran
    embedder = load_embedder()
    monkeypatch.setattr(Embedder, "encode_passages", Embedder.encode_passages)      # restored after the test
    monkeypatch.setattr(embedder.backend, "embed_one", embedder.backend.embed_one)  # (a shared backend)

    def pause(marker: Path) -> None:
        raise Paused(marker)
    monkeypatch.setattr(faults_bench, "_pause", pause)
    faults_bench._install_pause("embed", tmp_path / "marker")
    with pytest.raises(Paused):
        embedder.encode_passages([f"第{n}条 信访人对复查意见不服的，可以请求复核。" for n in range(30)])


def test_a_paused_function_passes_on_its_arguments_and_result(monkeypatch, tmp_path: Path) -> None:
    # every stage's hook wraps its function so: none names the arguments of its day
    calls: list[str] = []

    def pause(marker: Path) -> None:
        calls.append("pause")
    monkeypatch.setattr(faults_bench, "_pause", pause)

    def joined(*parts: str, sep: str = "-") -> str:
        calls.append("run")
        return sep.join(parts)
    for before, order in ((True, ["pause", "run"]), (False, ["run", "pause"])):
        calls.clear()
        paused = faults_bench._paused(joined, tmp_path / "marker", before=before)
        assert paused("a", "b", sep="+") == "a+b" and calls == order
        assert (paused.__module__, paused.__qualname__) == (joined.__module__, joined.__qualname__)  # pickles by name
