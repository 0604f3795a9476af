"""Several app replicas over one knowledge base: two reader processes search it (through
`index.search.searcher_for`, the app's way) while the one writer drains the upload queue
(`python -m ui.queue`); both go on answering throughout and pick up the new snapshot by themselves.
Then the same with two real `streamlit run` replicas, each asked in a real browser.
Made-up documents in tmp_path; the real bundled model."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import kb_of_texts
from index.build import build
from kb.settings import load_config
from ui.harness import CHROMIUM, chromium, running_app, wait_until_idle
from ui.queue import DONE_LOG, enqueue, queued_files

REPO = Path(__file__).resolve().parents[1]
QUESTION = "蓝鲸号渡轮什么时候停航"
NEW_TITLE = "某县渡口临时测试规定"
# A replica: search until the queued document is found (or 240 s), then report what it saw.
REPLICA = """
import json, sys, time
from index.search import searcher_for
kb, question, title, out = sys.argv[1:5]
seen = {"errors": [], "folders": [], "answers": 0, "found": False}
deadline = time.monotonic() + 240
while time.monotonic() < deadline and not seen["found"]:
    try:
        searcher = searcher_for(kb)
        hits = searcher.search(question, k=3)
        seen["answers"] += 1
        seen["found"] = any(h.title == title for h in hits)
        if searcher.folder.name not in seen["folders"]:
            seen["folders"].append(searcher.folder.name)
    except Exception as err:
        seen["errors"].append(f"{type(err).__name__}: {err}")
    time.sleep(0.05)
open(out, "w").write(json.dumps(seen))
"""


def regulation(title: str, articles: list[str]) -> str:
    from kb.chinese import article_label
    body = "\n\n".join(f"{article_label(i)} {text}" for i, text in enumerate(articles, start=1))
    return f"# {title}\n\n<!-- INFO END -->\n\n{body}\n"


def indexed_kb_of_one_regulation(tmp_path: Path) -> Path:
    kb = kb_of_texts(tmp_path, {"某县信访测试条例.md": regulation("某县信访测试条例", [
        "信访工作坚持属地管理。", "信访人应当如实反映情况。", "渡口管理由交通部门负责。"])})
    build(kb, load_config(kb=str(kb)), progress=False)
    return kb


def queue_and_drain(queue: Path, corpus: Path, kb: Path) -> None:
    """Queue the new regulation as a replica's upload page does, and run the writer once."""
    enqueue(queue, f"{NEW_TITLE}.md", regulation(NEW_TITLE, ["蓝鲸号渡轮逢单日停航。"]).encode(),
            allowed=(".md",), max_bytes=1 << 20)
    writer = subprocess.run([sys.executable, "-m", "ui.queue", "--kb", str(kb), "--corpus", str(corpus),
                             "--upload-queue", str(queue), "--once"], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert writer.returncode == 0, writer.stderr


def test_two_replicas_serve_one_knowledge_base_while_the_writer_ingests(tmp_path: Path) -> None:
    kb = indexed_kb_of_one_regulation(tmp_path)
    queue, corpus = tmp_path / "queue", tmp_path / "corpus"
    replicas = [subprocess.Popen([sys.executable, "-c", REPLICA, str(kb), QUESTION, NEW_TITLE,
                                  str(tmp_path / f"replica-{i}.json")], cwd=REPO) for i in (1, 2)]
    try:
        time.sleep(3)       # the replicas are answering from the first snapshot
        assert all(r.poll() is None for r in replicas)
        queue_and_drain(queue, corpus, kb)
        for replica in replicas:
            replica.wait(timeout=300)
    finally:
        for replica in replicas:
            replica.kill()
    assert queued_files(queue) == []
    assert f"{NEW_TITLE}.md added" in (queue / DONE_LOG).read_text(encoding="utf-8")
    assert (corpus / "uploads" / f"{NEW_TITLE}.md").is_file()
    for i in (1, 2):
        seen = json.loads((tmp_path / f"replica-{i}.json").read_text())
        assert seen["errors"] == []
        assert seen["found"], seen
        assert len(seen["folders"]) == 2 and seen["answers"] > 1, seen      # served the old snapshot, then the new


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed (make browser)")
def test_two_streamlit_replicas_answer_in_a_browser_and_serve_what_the_writer_ingests(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    kb = indexed_kb_of_one_regulation(tmp_path)
    queue, corpus = tmp_path / "queue", tmp_path / "corpus"
    settings = ("--upload-queue", str(queue), "--corpus", str(corpus))
    with running_app(kb, tmp_path / "replica-1.log", *settings) as first, \
            running_app(kb, tmp_path / "replica-2.log", *settings) as second, chromium() as browser:
        pages = []
        for url in (first, second):
            page = browser.new_page(locale="zh-CN")
            page.set_default_timeout(60000)
            page.goto(url)
            wait_until_idle(page)
            pages.append(page)

        def ask(page, question: str):
            box = page.get_by_label("输入问题、关键词或条文（按回车检索）")
            box.fill(question)
            box.press("Enter")
            wait_until_idle(page)
            return page.locator("[data-testid='stMain']")

        for page in pages:
            main = ask(page, QUESTION)
            expect(main).to_contain_text("某县信访测试条例")          # answering from the first snapshot
            expect(main).not_to_contain_text(NEW_TITLE)
        queue_and_drain(queue, corpus, kb)
        for page in pages:
            expect(ask(page, QUESTION + "？")).to_contain_text(f"《{NEW_TITLE}》第一条")
    assert queued_files(queue) == []
