"""End to end in a real browser: `streamlit run app.py` against a small knowledge base, driven
with Playwright and Debian's Chromium. A trainee asks a question, opens the context of the
answer and reads it in full; an instructor adds it to a lecture pack, exports the pack as Word
(checked with python-docx) and compares two versions of a regulation. Screenshots of every page
go to test-output/screenshots/."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from conftest import REPO, needs_samples
from ingest import open_store
from ui.harness import CHROMIUM, chromium, running_app, wait_until_idle

pytestmark = [pytest.mark.slow, needs_samples,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed (make browser)")]
SHOTS = REPO / "test-output" / "screenshots"
QUESTION = "对复查意见不服，还可以向哪里申请复核？"


def _article_id(kb: Path, doc_key: str, no: int) -> int:
    with open_store(kb) as store:
        return store.find_articles(doc_key, no)[0].id


@pytest.fixture()
def page(writable_indexed_kb, tmp_path):
    with running_app(writable_indexed_kb, tmp_path / "streamlit.log") as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True, locale="zh-CN")
        tab = context.new_page()
        tab.set_default_timeout(60000)
        tab.goto(url)
        wait_until_idle(tab)
        yield tab
        context.close()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_question_context_pack_export_and_compare(page, writable_indexed_kb, tmp_path):
    from docx import Document
    from playwright.sync_api import expect

    kb = writable_indexed_kb
    art36 = _article_id(kb, "信访工作条例", 36)
    box = page.get_by_label("输入问题、关键词或条文（按回车检索）")
    box.fill(QUESTION)
    box.press("Enter")
    wait_until_idle(page)
    card = page.locator(f".st-key-card-s-{art36}")
    expect(card).to_be_visible()
    expect(card).to_contain_text("《信访工作条例》第三十六条")
    expect(card).to_contain_text("现行有效")
    expect(card.locator("mark").first).to_be_visible()               # matched terms highlighted
    _shot(page, "1-search")

    card.get_by_text("上下文").click()
    wait_until_idle(page)
    expect(card).to_contain_text("上一条 · 第三十五条")
    expect(card).to_contain_text("下一条 · 第三十七条")
    _shot(page, "2-context")

    card.get_by_role("button", name="加入讲义").click()
    wait_until_idle(page)
    expect(card.get_by_role("button", name="已在讲义中")).to_be_disabled()

    card.get_by_role("link", name="阅读全文").click()
    page.wait_for_url(re.compile(r"/browse\?doc=\d+&art=" + str(art36)))
    target = page.locator(f"#art-{art36}")
    expect(target).to_have_class(re.compile("kb-target"))
    expect(target).to_be_in_viewport()
    _shot(page, "3-browse")

    page.get_by_test_id("stSidebarNav").get_by_role("link", name="讲义").click()
    wait_until_idle(page)
    expect(page.locator(".kb-cite").first).to_contain_text("《信访工作条例》第三十六条")
    with page.expect_download() as download:
        page.get_by_role("button", name="导出 Word").click()
    saved = tmp_path / "pack.docx"
    download.value.save_as(saved)
    doc = Document(io.BytesIO(saved.read_bytes()))
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == "我的讲义"
    assert "《信访工作条例》第三十六条【现行有效】" in texts
    assert any("复核" in t for t in texts)
    assert "法规来源" in texts
    _shot(page, "4-pack")

    page.get_by_test_id("stSidebarNav").get_by_role("link", name="新旧对照").click()
    wait_until_idle(page)
    page.get_by_text("有多个版本的法规").click()
    page.get_by_role("link", name=re.compile("四川省社区调解示范条例：2016-05-01 → 2023-09-01")).click()
    table = page.locator("table.kb-diff")
    expect(table).to_be_visible()
    expect(table.locator("del").first).to_be_visible()
    expect(table.locator("ins").first).to_be_visible()
    expect(table).to_contain_text("修改")
    _shot(page, "5-compare")

    for name, title, content in (("6-upload", "添加文件", "上传并导入"), ("7-overview", "概览", "检索模型与索引")):
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
        wait_until_idle(page)
        expect(page.get_by_role("heading", name=title)).to_be_visible()
        expect(page.get_by_text(content).first).to_be_visible()
        _shot(page, name)
