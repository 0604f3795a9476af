"""Batch ingest through the real loaders: incremental runs, prune, bad files, interruption, CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest import run
from ingest.store import open_store

REPO = Path(__file__).resolve().parents[1]

REGULATION = """# 某市社区调解条例

2020年3月1日 某市人民代表大会常务委员会公布

<!-- INFO END -->

## 第一章 总则

第一条 为了规范社区调解工作，制定本条例。

第二条 本条例适用于本市行政区域内的社区调解活动。

## 第二章 调解程序

第三条 当事人可以向社区调解委员会申请调解。

第四条 调解委员会应当自受理之日起十五日内调解完毕。{extra}
"""


def write_corpus(root: Path, extra: str = "") -> Path:
    (root / "法规").mkdir(parents=True, exist_ok=True)
    (root / "法规" / "某市社区调解条例(2020-03-01).md").write_text(REGULATION.format(extra=extra), encoding="utf-8")
    (root / "法规" / "empty.txt").write_bytes(b"")
    (root / "法规" / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return root


def test_incremental_runs_report_added_unchanged_updated_and_failed(tmp_path):
    corpus, kb = write_corpus(tmp_path / "corpus"), tmp_path / "kb"
    first = run([corpus], kb)
    assert (first.added, first.failed, first.documents, first.articles) == (1, 2, 1, 4)
    assert {Path(p).name: kind for p, kind, _ in first.failures} == {"empty.txt": "empty", "image.txt": "unsupported"}
    second = run([corpus], kb)
    assert (second.added, second.unchanged, second.failed) == (0, 1, 2)
    write_corpus(corpus, extra="\n\n第五条 本条例自公布之日起施行。")
    third = run([corpus], kb)
    assert (third.updated, third.articles) == (1, 5)
    with open_store(kb) as s:
        assert [a.label for a in s.iter_articles()][-1] == "第五条"
        assert {Path(f.path).name for f in s.failures()} == {"empty.txt", "image.txt"}


def test_a_run_that_changes_nothing_leaves_the_generation_and_so_the_index_as_they_were(tmp_path):
    # a navigation page is parsed and skipped again on every run, and a broken file fails again:
    # each such run counted as a change of the knowledge base, so the whole index was built again
    # (11 s over LawRefBook, whose 26 navigation pages are skipped) and the app reloaded it
    corpus, kb = write_corpus(tmp_path / "corpus"), tmp_path / "kb"
    (corpus / "法规" / "_index.md").write_text("---\ntitle: 法规\n---\n", encoding="utf-8")
    first = run([corpus], kb)
    assert (first.added, first.skipped, first.failed) == (1, 1, 2)
    with open_store(kb) as s:
        generation, last_ingest = s.generation(), s.last_ingest()
    again = run([corpus], kb)
    assert (again.unchanged, again.skipped, again.failed) == (1, 1, 2)
    with open_store(kb) as s:
        assert (s.generation(), s.last_ingest()) == (generation, last_ingest)
        assert {Path(f.path).name for f in s.failures()} == {"empty.txt", "image.txt"}     # noted again
    write_corpus(corpus, extra="\n\n第五条 本条例自公布之日起施行。")
    assert run([corpus], kb).updated == 1
    with open_store(kb) as s:
        assert s.generation() > generation


def test_the_progress_of_a_batch_without_scans_shows_no_ocr_bar(tmp_path, capsys):
    # the OCR page bar used to stand at "OCR: 0page" under every text-only batch
    run([write_corpus(tmp_path / "corpus")], tmp_path / "kb", progress=True)
    err = capsys.readouterr().err
    assert "ingest" in err and "3/3" in err and "OCR" not in err


def test_a_file_that_turns_bad_keeps_its_previous_articles(tmp_path):
    corpus, kb = write_corpus(tmp_path / "corpus"), tmp_path / "kb"
    run([corpus], kb)
    (corpus / "法规" / "某市社区调解条例(2020-03-01).md").write_bytes(b"")
    summary = run([corpus], kb)
    assert summary.failed == 3 and summary.articles == 4


def test_prune_removes_vanished_files_only_under_given_folders(tmp_path):
    corpus, kb = write_corpus(tmp_path / "corpus"), tmp_path / "kb"
    other = tmp_path / "other.md"
    other.write_text(REGULATION.replace("某市社区调解条例", "另一条例").format(extra=""), encoding="utf-8")
    run([corpus, other], kb)
    (corpus / "法规" / "某市社区调解条例(2020-03-01).md").unlink()
    summary = run([corpus], kb, prune=True)
    assert summary.removed == 1 and summary.documents == 1
    with open_store(kb) as s:
        assert [d.title for d in s.documents()] == ["另一条例"]


def test_interrupted_run_keeps_the_last_committed_state(tmp_path, monkeypatch):
    corpus, kb = write_corpus(tmp_path / "corpus"), tmp_path / "kb"
    run([corpus], kb)
    write_corpus(corpus, extra="\n\n第五条 新增条文。")
    import ingest.batch as runner

    def crash(*_args, **_kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(runner, "_store_one", crash)
    with pytest.raises(KeyboardInterrupt):
        run([corpus], kb)
    with open_store(kb) as s:
        assert s.count_articles() == 4
    monkeypatch.undo()
    assert run([corpus], kb).articles == 5


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "ingest", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_cli_reports_failures_in_one_line_each_and_exits_non_zero(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    done = _cli(str(corpus), "--kb", str(tmp_path / "kb"), "--no-index", "-q", cwd=tmp_path)
    # 3, not 1: the others are in, and `make run` serves them (1 says nothing could be done)
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    failed = [line for line in done.stderr.splitlines() if line.startswith("failed")]
    assert len(failed) == 2 and all("empty.txt" in line or "image.txt" in line for line in failed)
    assert "1 added" in done.stdout and "2 failed" in done.stdout


def test_cli_inspect_json_and_error_json(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    good = _cli("inspect", str(corpus / "法规" / "某市社区调解条例(2020-03-01).md"), "--json", cwd=tmp_path)
    assert good.returncode == 0
    data = json.loads(good.stdout)
    assert data["title"] == "某市社区调解条例" and data["chapters"] == ["第一章 总则", "第二章 调解程序"]
    assert [a["no"] for a in data["articles"]] == [1, 2, 3, 4] and data["articles"][0]["path"] == ["第一章 总则"]
    bad = _cli("inspect", str(corpus / "法规" / "empty.txt"), "--json", cwd=tmp_path)
    assert bad.returncode == 2
    assert json.loads(bad.stdout)["error"]["kind"] == "empty"


def test_cli_inspect_says_a_big5_text_was_made_simplified(tmp_path):
    traditional = "社區糾紛調處辦法\n\n第一條 為了規範社區糾紛調處工作，制定本辦法。\n\n第二條 鄰里糾紛由調處委員會調處。\n"
    (tmp_path / "rules.txt").write_bytes(traditional.encode("big5"))
    done = _cli("inspect", str(tmp_path / "rules.txt"), cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.splitlines()[0] == "《社区纠纷调处办法》"
    assert "  notes: traditional characters made simplified" in done.stdout.splitlines()
    data = json.loads(_cli("inspect", str(tmp_path / "rules.txt"), "--json", cwd=tmp_path).stdout)
    assert data["notes"] == ["traditional characters made simplified"]
    assert [a["label"] for a in data["articles"]] == ["第一条", "第二条"]


def test_cli_missing_kb_for_nothing_and_help(tmp_path):
    assert _cli("--help", cwd=tmp_path).returncode == 0
    missing = _cli(str(tmp_path / "nope.md"), "--kb", str(tmp_path / "kb"), "--no-index", "-q", cwd=tmp_path)
    assert missing.returncode == 3 and "nope.md" in missing.stderr and "Traceback" not in missing.stderr


def test_editing_a_sidecar_reingests_its_file_with_the_overrides(tmp_path):
    corpus, kb = write_corpus(tmp_path / "corpus"), tmp_path / "kb"
    run([corpus], kb)
    source = corpus / "法规" / "某市社区调解条例(2020-03-01).md"
    source.with_name(source.name + ".meta.yaml").write_text("region: 四川省成都市\nlevel: 地方性法规\n", encoding="utf-8")
    summary = run([corpus], kb)
    assert summary.updated == 1
    with open_store(kb) as s:
        (doc,) = s.documents()
        assert (doc.level, doc.region) == ("地方性法规", "四川省成都市")


UNDATED = "# 某市信访事项办理规定\n\n<!-- INFO END -->\n\n第一条 {first}\n\n第二条 {second}\n"


def test_same_title_without_date_but_another_text_is_kept_as_a_distinct_version(tmp_path):
    for folder, first in (("甲", "信访事项应当及时办理。"), ("乙", "信访事项由属地负责办理。")):
        (tmp_path / "c" / folder).mkdir(parents=True)
        (tmp_path / "c" / folder / "某市信访事项办理规定.md").write_text(
            UNDATED.format(first=first, second=f"{folder}的第二条。"), encoding="utf-8")
    outcomes = []
    summary = run([tmp_path / "c"], tmp_path / "kb", on_file=outcomes.append)
    assert (summary.added, summary.skipped, summary.failed, summary.documents) == (2, 0, 0, 1)
    assert any("different text" in o.message for o in outcomes), outcomes
    with open_store(tmp_path / "kb") as s:
        texts = {a.text for a in s.iter_articles()}
        assert {"信访事项应当及时办理。", "信访事项由属地负责办理。"} <= texts
        assert len(s.versions(s.documents()[0].id)) == 2


def test_a_changed_file_kept_as_a_dated_version_is_an_update_when_ingested_again(tmp_path):
    # it was counted as added again, though it replaced the text its path had stored
    for folder, first in (("甲", "信访事项应当及时办理。"), ("乙", "信访事项由属地负责办理。")):
        (tmp_path / "c" / folder).mkdir(parents=True)
        (tmp_path / "c" / folder / "某市信访事项办理规定.md").write_text(
            UNDATED.format(first=first, second=f"{folder}的第二条。"), encoding="utf-8")
    run([tmp_path / "c" / "甲"], tmp_path / "kb")
    assert run([tmp_path / "c" / "乙"], tmp_path / "kb").added == 1
    (tmp_path / "c" / "乙" / "某市信访事项办理规定.md").write_text(
        UNDATED.format(first="信访事项由属地依法办理。", second="乙的第二条。"), encoding="utf-8")
    outcomes = []
    summary = run([tmp_path / "c" / "乙"], tmp_path / "kb", on_file=outcomes.append)
    assert (summary.added, summary.updated, summary.failed) == (0, 1, 0)
    assert "stored as a separate version" in outcomes[0].message
    with open_store(tmp_path / "kb") as s:
        texts = {a.text for a in s.iter_articles()}
        assert "信访事项由属地依法办理。" in texts and "信访事项由属地负责办理。" not in texts
        assert len(s.versions(s.documents()[0].id)) == 2


def test_same_title_without_date_and_the_same_text_stays_a_duplicate(tmp_path):
    text = UNDATED.format(first="信访事项应当及时办理。", second="第二条内容。")
    for folder in ("甲", "乙"):
        (tmp_path / "c" / folder).mkdir(parents=True)
        (tmp_path / "c" / folder / "某市信访事项办理规定.md").write_text(text, encoding="utf-8")
    summary = run([tmp_path / "c"], tmp_path / "kb")
    assert (summary.added, summary.skipped, summary.articles) == (1, 1, 2)


def test_a_third_undated_text_of_the_same_day_is_a_conflict_with_a_non_zero_exit(tmp_path):
    for folder in ("甲", "乙", "丙"):
        (tmp_path / "c" / folder).mkdir(parents=True)
        (tmp_path / "c" / folder / "某市信访事项办理规定.md").write_text(
            UNDATED.format(first=f"{folder}的第一条。", second=f"{folder}的第二条。"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "ingest", str(tmp_path / "c"), "--kb", str(tmp_path / "kb"),
                             "--no-index", "-q"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 3
    assert "2 added" in result.stdout and "1 failed" in result.stdout
    assert "different text" in result.stderr and "not stored" in result.stderr
    assert "stored as a separate version" in result.stderr
    with open_store(tmp_path / "kb") as s:
        assert [f.kind for f in s.failures()] == ["conflict"]


def test_files_that_cannot_be_read_are_in_the_failures_table_too(tmp_path: Path) -> None:
    from ingest import open_store, run
    missing = tmp_path / "没有这个文件.md"
    summary = run([missing], tmp_path / "kb")
    assert summary.failed == 1
    with open_store(tmp_path / "kb") as store:
        assert [(f.path, f.kind) for f in store.failures()] == [(str(missing.resolve()), "unsupported")]
