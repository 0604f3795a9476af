"""添加文件 page (AppTest) and the upload helpers: safe names, size and type limits, background
ingest + index with a result per file, and the searcher picking up the new documents."""
from __future__ import annotations

import threading
import time

import pytest

from conftest import run_until_done
from ingest import open_store
from kb.errors import IngestError
from kb.errors import SearchIndexError
from ui.jobs import UPLOAD_SUBDIR, IngestJob, JobBoard, safe_upload_name, save_upload

ALLOWED = (".txt", ".md", ".pdf", ".docx", ".html")
NEW_REGULATION = """示范街道志愿服务管理办法

第一条 为了规范街道志愿服务活动，保障志愿者和服务对象的合法权益，制定本办法。

第二条 街道办事处负责本辖区志愿服务的组织协调工作。

第三条 志愿者参加志愿服务活动，可以获得必要的安全防护和人身意外伤害保险。
"""


def test_upload_names_are_reduced_to_safe_base_names():
    assert safe_upload_name("../../etc/passwd.txt", ALLOWED) == "passwd.txt"
    assert safe_upload_name("C:\\Users\\张三\\信访 条例(2022).DOCX", ALLOWED) == "信访_条例_2022.docx"
    with pytest.raises(IngestError, match="不支持的文件类型") as err:
        safe_upload_name("程序.exe", ALLOWED)
    assert err.value.kind == "unsupported"
    with pytest.raises(IngestError, match="没有可用的字符"):
        safe_upload_name("....txt", ALLOWED)


def test_save_upload_checks_size_and_never_overwrites(tmp_path):
    first = save_upload(tmp_path, "规定.txt", "甲".encode(), allowed=ALLOWED, max_bytes=100)
    assert first == tmp_path / "规定.txt" and first.read_text(encoding="utf-8") == "甲"
    assert save_upload(tmp_path, "规定.txt", "甲".encode(), allowed=ALLOWED, max_bytes=100) == first
    second = save_upload(tmp_path, "规定.txt", "乙".encode(), allowed=ALLOWED, max_bytes=100)
    assert second == tmp_path / "规定-2.txt" and first.read_text(encoding="utf-8") == "甲"
    with pytest.raises(IngestError, match="超过上限") as err:
        save_upload(tmp_path, "大.txt", b"x" * 101, allowed=ALLOWED, max_bytes=100)
    assert err.value.reason == "too_large"
    with pytest.raises(IngestError, match="空的") as err:
        save_upload(tmp_path, "空.txt", b"", allowed=ALLOWED, max_bytes=100)
    assert err.value.kind == "empty"


def _wait(job: IngestJob, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.finished


def test_job_board_runs_one_job_per_knowledge_base():
    board = JobBoard()
    gate = threading.Event()
    first = IngestJob(names={"/c/a.txt": "a.txt"})
    assert board.start("kb1", first, lambda job: gate.wait(5))
    assert board.running("kb1") is first and board.running("kb2") is None
    assert not board.start("kb1", IngestJob(names={}), lambda job: None)       # one writer per store
    other = IngestJob(names={})
    assert board.start("kb2", other, lambda job: setattr(job, "stage", "完成"))
    _wait(other)
    gate.set()
    _wait(first)
    assert board.running("kb1") is None and other.stage == "完成"


def test_job_failure_becomes_its_message():
    board = JobBoard()
    failing, broken = IngestJob(names={}), IngestJob(names={})

    def index_fails(job: IngestJob) -> None:
        raise SearchIndexError("/kb/index: cannot write the search index (disk full)")

    board.start("kb", failing, index_fails)
    _wait(failing)
    board.start("kb", broken, lambda job: 1 / 0)
    _wait(broken)
    assert failing.error == "/kb/index: cannot write the search index (disk full)"
    assert broken.error.startswith("处理中断：ZeroDivisionError")


TRADITIONAL_REGULATION = """示范社區調處辦法

第一條 為了規範社區糾紛調處工作，制定本辦法。

第二條 鄰里糾紛由社區調處委員會在七日內調處。
"""


def test_upload_ingests_indexes_and_reports_each_file(writable_indexed_kb, tmp_path, open_page, monkeypatch):
    corpus = tmp_path / "corpus"
    monkeypatch.setenv("POLICYKB_CORPUS", str(corpus))
    kb = writable_indexed_kb
    at = open_page(kb, "upload")
    assert not at.exception and not at.error
    at.get("file_uploader")[0].set_value([
        ("../../示范街道志愿服务管理办法.txt", NEW_REGULATION.encode("gb18030"), "text/plain"),
        ("图片.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "text/plain"),
        ("空白.md", b"", "text/markdown"),
        ("示范社區調處辦法.txt", TRADITIONAL_REGULATION.encode("big5"), "text/plain"),
    ])
    at.button[[b.label for b in at.button].index("上传并导入")].click().run()
    assert not at.exception
    run_until_done(at)
    saved = corpus / UPLOAD_SUBDIR / "示范街道志愿服务管理办法.txt"
    assert saved.is_file() and not (tmp_path / "示范街道志愿服务管理办法.txt").exists()
    lines = [m.value for m in at.markdown] + [e.value for e in at.error]
    assert any("示范街道志愿服务管理办法.txt** — 已导入，找到 3 条" in line for line in lines), lines
    assert any("图片.txt** — 失败" in line for line in lines)
    assert any("空白.md** — 未接收：文件是空的" in line for line in lines)
    assert any("示范社區調處辦法.txt** — 已导入，找到 2 条，繁体字已转为简体字存储" in line for line in lines), lines
    with open_store(kb) as store:
        assert any(d.title == "示范街道志愿服务管理办法" for d in store.documents())
        assert any(d.title == "示范社区调处办法" for d in store.documents())
    after = open_page(kb, "search")                       # the searcher is reloaded with the new index
    after.text_input(key="q").input("志愿者人身意外伤害保险").run()
    assert not after.error, [e.value for e in after.error]
    assert any("《示范街道志愿服务管理办法》第三条" in m.value for m in after.markdown)


def test_refused_uploads_are_reported_without_touching_the_knowledge_base(writable_kb, tmp_path, open_page,
                                                                          monkeypatch):
    monkeypatch.setenv("POLICYKB_CORPUS", str(tmp_path / "corpus"))
    monkeypatch.setenv("POLICYKB_UPLOAD_MAX_MB", "1")
    with open_store(writable_kb) as store:
        generation = store.generation()
    at = open_page(writable_kb, "upload")
    at.get("file_uploader")[0].set_value([("空白.md", b"", "text/markdown"),
                                          ("超大.txt", b"x" * (2**20 + 1), "text/plain")])
    at.button[[b.label for b in at.button].index("上传并导入")].click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("空白.md** — 未接收：文件是空的" in e for e in errors)
    assert any("超大.txt** — 未接收：文件大小 1.0 MB 超过上限 1 MB" in e for e in errors)
    assert not (tmp_path / "corpus").exists()
    with open_store(writable_kb) as store:
        assert store.generation() == generation


def test_a_replica_queues_uploads_for_the_writer(writable_kb, tmp_path, open_page, monkeypatch):
    from ui.queue import queued_files, uploaded_name

    monkeypatch.setenv("POLICYKB_CORPUS", str(tmp_path / "corpus"))
    monkeypatch.setenv("POLICYKB_UPLOAD_QUEUE", str(tmp_path / "queue"))
    with open_store(writable_kb) as store:
        generation = store.generation()
    at = open_page(writable_kb, "upload")
    at.get("file_uploader")[0].set_value([("示范街道志愿服务管理办法.txt", NEW_REGULATION.encode("gb18030"), "text/plain"),
                                          ("空白.md", b"", "text/markdown")])
    at.button[[b.label for b in at.button].index("上传并导入")].click().run()
    assert not at.exception
    lines = [m.value for m in at.markdown] + [e.value for e in at.error]
    assert any("示范街道志愿服务管理办法.txt** — 已加入导入队列" in line for line in lines), lines
    assert any("空白.md** — 未接收：文件是空的" in line for line in lines), lines
    queued = queued_files(tmp_path / "queue")
    assert [uploaded_name(p) for p in queued] == ["示范街道志愿服务管理办法.txt"]
    assert queued[0].read_bytes() == NEW_REGULATION.encode("gb18030")
    assert not (tmp_path / "corpus").exists()             # the writer, not the replica, ingests
    with open_store(writable_kb) as store:
        assert store.generation() == generation
