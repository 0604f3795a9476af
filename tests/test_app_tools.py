"""备课工具 page (AppTest): 期限一览 table, filters, links and exports; the flow graph and its
exports; a self-test round with score and the clause of each mistake; and, in a real browser,
the rendered flow picture (an <svg>) with screenshots of the table, the flow and a quiz."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO, needs_samples
from ingest import open_store
from lecture.quiz import NORM_WORDS

SHOTS = REPO / "test-output" / "screenshots"


def _doc_id(kb: Path, title: str) -> str:
    with open_store(kb) as store:
        return str(next(d.id for d in store.documents() if d.title == title))


def _table(at) -> str:
    return next(m.value for m in at.markdown if "kb-deadlines" in m.value)


def test_without_a_document_the_page_asks_for_one(app_store_kb, open_page):
    at = open_page(app_store_kb, "tools")
    assert not at.exception and not at.error
    assert "请选择一部或几部法规" in at.info[0].value


def test_deadline_table_links_filters_and_exports(app_store_kb, open_page):
    doc = _doc_id(app_store_kb, "四川省社区调解示范条例")
    at = open_page(app_store_kb, "tools", doc=doc)
    assert not at.exception and not at.error
    table = _table(at)
    assert "第十条第一款" in table and "15日" in table and "调解员" in table
    assert '<th style="white-space:nowrap">延长</th>' in table      # stood one character a line
    assert re.search(rf'<a href="/browse\?doc={doc}&ver=\d+&art=\d+" target="_self">第十条第一款</a>', table)
    assert {b.label for b in at.get("download_button")} >= {"导出 CSV", "导出 Word"}
    actors = at.multiselect(key="tools-actors")
    assert "调解员" in actors.options
    actors.select("调解员").run()
    rows = _table(at).split("<tr title=")[1:]
    assert rows and all("<td>调解员</td>" in r for r in rows)


def test_a_document_named_twice_in_the_address_is_listed_once(app_store_kb, open_page):
    doc = _doc_id(app_store_kb, "四川省社区调解示范条例")
    once = _table(open_page(app_store_kb, "tools", doc=doc))
    at = open_page(app_store_kb, "tools", doc=[doc, doc, doc])
    assert at.multiselect(key="tools-docs").value == [int(doc)]
    assert _table(at) == once       # not each time limit three times


def test_a_link_naming_more_documents_than_a_view_takes_shows_the_first(app_store_kb, open_page, monkeypatch):
    monkeypatch.setattr("ui.tools.MAX_DOCUMENTS", 2)
    with open_store(app_store_kb) as store:
        ids = [str(d.id) for d in store.documents()][:3]
    at = open_page(app_store_kb, "tools", doc=ids)
    assert not at.exception and at.multiselect(key="tools-docs").value == [int(i) for i in ids[:2]]
    assert "链接中有 3 部文件，本页一次最多 2 部" in at.warning[0].value


@needs_samples
def test_two_documents_side_by_side_and_actor_filter(app_store_kb, open_page):
    new, old = _doc_id(app_store_kb, "信访工作条例"), _doc_id(app_store_kb, "信访条例")
    at = open_page(app_store_kb, "tools")
    at.multiselect(key="tools-docs").select(int(new)).select(int(old)).run()
    table = _table(at)
    assert '<th style="white-space:nowrap">文件</th>' in table and "信访工作条例" in table and "信访条例" in table
    assert table.count("<tr title=") > 20
    at.multiselect(key="tools-actors").select("信访人").run()
    rows = _table(at).split("<tr title=")[1:]
    assert rows and all("<td>信访人</td>" in r for r in rows)
    assert any("第三十六条第一款" in r and "请求复核" in r for r in rows)
    at.toggle(key="tools-immediate").set_value(False).run()
    assert "无固定期限" not in _table(at)


@needs_samples
def test_flow_tab_draws_the_procedure(app_store_kb, open_page):
    at = open_page(app_store_kb, "tools", doc=_doc_id(app_store_kb, "信访工作条例"))
    (chart,) = at.get("graphviz_chart")
    dot = chart.proto.spec
    assert "请求复核" in dot and "不再受理" in dot and "不服\n30日\n信访人" in dot and "URL=" in dot
    assert {"导出 SVG（用于幻灯片）", "导出 DOT 源文件"} <= {b.label for b in at.get("download_button")}


def test_flow_tab_of_a_document_without_limits_says_so(app_store_kb, open_page):
    at = open_page(app_store_kb, "tools", doc=_doc_id(app_store_kb, "关于加强社区调解员队伍建设的意见"))
    assert not at.exception and not at.error
    assert any("没有找到带固定期限的程序步骤" in i.value for i in at.info)
    assert any("无法出题" in i.value for i in at.info)


@needs_samples
def test_self_test_round_scores_and_shows_the_clause_of_each_mistake(app_store_kb, open_page):
    at = open_page(app_store_kb, "tools", doc=_doc_id(app_store_kb, "信访工作条例"))
    radios = [r for r in at.radio if r.key and r.key.startswith("tools-quiz-")]
    assert len(radios) == 5
    radios[0].set_value(radios[0].options[0])       # one answer, the rest left empty
    at = next(b for b in at.button if b.label == "交卷").click().run()
    score = next(s.value for s in at.success if s.value.startswith("得分"))
    right = int(score.split("：")[1].split(" / ")[0])
    mistakes = [m.value for m in at.markdown if "kb-mistake" in m.value]
    assert not at.exception and len(mistakes) == 5 - right >= 4
    assert all("《信访工作条例》第" in m and 'href="/browse?doc=' in m for m in mistakes)
    # each shows the sentence its question was made from: a definition's or a 应当/可以/不得 question's
    # mistake showed the time limit at the same position of another list (or none: an IndexError)
    answered = [(m.split("正确答案“")[1].split("”")[0], m.split("</a>：")[1]) for m in mistakes]
    assert any(answer in NORM_WORDS for answer, _ in answered)
    assert all(answer in clause for answer, clause in answered if answer in NORM_WORDS or len(answer) > 10)
    assert "导出试卷 Word（含答案）" in {b.label for b in at.get("download_button")}


# ---- in a real browser ----------------------------------------------------------------------------

@pytest.mark.slow
@needs_samples
def test_in_the_browser_table_flow_picture_and_a_quiz_round(app_store_kb, tmp_path):
    from playwright.sync_api import expect

    from ui.harness import CHROMIUM, chromium, count_script_runs, running_app, wait_until_idle
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (make browser)")
    doc = _doc_id(app_store_kb, "信访工作条例")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with running_app(app_store_kb, tmp_path / "streamlit.log") as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True,
                                      locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(60000)
        page.goto(f"{url}/tools?doc={doc}")
        wait_until_idle(page)

        table = page.locator("table.kb-deadlines")
        expect(table).to_contain_text("第三十六条第一款")
        expect(table).to_contain_text("请求复核")
        link = table.get_by_role("link", name="第三十六条第一款").first
        expect(link).to_have_attribute("href", re.compile(rf"^/browse\?doc={doc}&ver=\d+&art=\d+$"))
        page.screenshot(path=str(SHOTS / "tools-1-deadlines.png"))

        page.get_by_role("tab", name="流程图").click()
        wait_until_idle(page)
        svg = page.locator('[data-testid="stGraphVizChart"] svg')
        expect(svg).to_be_visible()
        expect(svg).to_contain_text("请求复核")
        expect(svg).to_contain_text("不再受理")
        assert svg.locator("a").count() >= 5                           # steps link to their clauses
        page.set_viewport_size({"width": 1400, "height": 2000})         # the whole picture, for the record
        wait_until_idle(page)
        page.locator('[data-testid="stGraphVizChart"]').screenshot(path=str(SHOTS / "tools-2-flow.png"))
        page.set_viewport_size({"width": 1400, "height": 1000})
        wait_until_idle(page)
        count_script_runs(page)
        with page.expect_download() as download:
            page.get_by_role("button", name="导出 SVG（用于幻灯片）").click()
        exported = Path(download.value.path()).read_text(encoding="utf-8")
        assert exported.startswith("<svg") and "请求复核" in exported
        wait_until_idle(page)
        # a download ran the whole page again, and a tab clicked meanwhile could be lost
        assert page.evaluate("kbScriptRuns") == 0

        quiz_tab = page.get_by_role("tab", name="自测")
        quiz_tab.click()
        expect(quiz_tab).to_have_attribute("aria-selected", "true")
        wait_until_idle(page)
        quiz = page.get_by_test_id("stForm")
        quiz.get_by_role("radio").first.check(force=True)
        quiz.get_by_role("button", name="交卷").click()
        wait_until_idle(page)
        expect(page.get_by_text(re.compile(r"得分：\d / 5"))).to_be_visible()
        expect(page.locator(".kb-mistake").first).to_contain_text("《信访工作条例》第")
        page.screenshot(path=str(SHOTS / "tools-3-quiz.png"), full_page=True)
        context.close()


def test_the_table_reads_one_state_of_a_knowledge_base_a_writer_changes(writable_kb, monkeypatch):
    # a writer removing the document between reading its time limits and their articles failed
    # the page with a KeyError
    from ingest.store import Store, StoreWriter
    from ui.tools import _rows
    doc = int(_doc_id(writable_kb, "四川省社区调解示范条例"))
    with open_store(writable_kb) as store:
        versions = store.versions(doc)
        paths = [p for (p,) in store.conn.execute("SELECT path FROM files") if "四川省社区调解示范条例" in p]
    read = Store.version_deadlines

    def read_then_remove(self, version_id):
        found = read(self, version_id)
        writer = StoreWriter(writable_kb)
        with writer.transaction():
            for path in paths:
                writer.remove_file(path)
        writer.close()
        return found

    monkeypatch.setattr(Store, "version_deadlines", read_then_remove)
    rows = _rows(str(writable_kb), 0, (doc,))
    assert rows and {r.article.version_id for r in rows} == {versions[0].id}
