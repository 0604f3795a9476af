"""引用核对 page: a pasted paragraph with one good and one bad citation shows both verdicts (AppTest,
and in a real browser with a screenshot), a period that differs from the cited clause is shown;
an unreadable upload is one error line."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO, needs_samples
from ui.harness import CHROMIUM, chromium, running_app, wait_until_idle

SHOTS = REPO / "test-output" / "screenshots"
PARAGRAPH = ("信访事项的办理方式，《信访工作条例》第三十一条第（六）项规定应当听取信访人陈述事实和理由；"
             "依据《信访工作条例》第六十条，逾期未办结的要追责。")


REPLACED = "对复查意见不服的，原《信访条例》第三十五条规定可以请求复核。"


def _table(at) -> str:
    return next(m.value for m in at.markdown if 'class="kb-check"' in m.value)


@needs_samples
def test_pasted_paragraph_shows_each_verdict(app_store_kb, open_page):
    at = open_page(app_store_kb, "check")
    assert not at.exception
    at.text_area(key="check-text").input(PARAGRAPH)
    at.button[0].click().run()
    assert not at.exception and not at.error
    rows = _table(at).split("<tr>")
    good = next(r for r in rows if "第三十一条第（六）项" in r)
    bad = next(r for r in rows if "第六十条" in r)
    assert "正确" in good and "条不存在" in bad and "共50条" in bad
    assert 'href="browse?doc=' in good and "href=" not in bad          # the article checked, to read
    assert any("共 2 处引用，1 处需要修改" in m.value for m in at.markdown)
    marked = next(m.value for m in at.markdown if "kb-check-text" in m.value)
    assert 'class="kb-cited kb-ok"' in marked and 'class="kb-cited kb-article_not_found"' in marked


@needs_samples
def test_a_period_that_differs_from_the_clause_is_shown(app_store_kb, open_page):
    at = open_page(app_store_kb, "check")
    at.text_area(key="check-text").input("根据《信访工作条例》第三十五条第一款，信访人可以自收到书面答复之日起60日内请求复查。")
    at.button[0].click().run()
    assert not at.exception and not at.error
    table = _table(at)
    assert "期限不符" in table and "文中的期限“60日”" in table and "原文为30日" in table
    assert 'class="kb-cited kb-period_mismatch"' in next(m.value for m in at.markdown if "kb-check-text" in m.value)


def test_text_without_citations(app_store_kb, open_page):
    at = open_page(app_store_kb, "check")
    at.text_area(key="check-text").input("2022年5月1日起施行，第一章总则。")
    at.button[0].click().run()
    assert not at.exception and "没有找到法规引用" in at.info[0].value


def test_unreadable_upload_is_one_error_line(tmp_path):
    from kb.errors import IngestError
    from lecture import read_upload
    with pytest.raises(IngestError) as err:
        read_upload("讲稿.docx", b"not a zip file")
    assert str(err.value).startswith("讲稿.docx: ") and "\n" not in str(err.value)


@pytest.mark.slow
@needs_samples
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed (make browser)")
def test_checker_in_the_browser(app_store_kb, tmp_path):
    from playwright.sync_api import expect
    with running_app(app_store_kb, tmp_path / "streamlit.log") as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(60000)
        page.goto(f"{url}/check")
        wait_until_idle(page)
        page.get_by_label("粘贴文字").fill(PARAGRAPH + REPLACED)
        page.get_by_role("button", name="核对引用").click()
        wait_until_idle(page)
        table = page.locator("table.kb-check")
        expect(table).to_be_visible()
        expect(table.locator("tr", has_text="第三十一条第（六）项")).to_contain_text("正确")
        expect(table.locator("tr", has_text="第六十条")).to_contain_text("条不存在")
        expect(page.locator("span.kb-article_not_found")).to_have_text("《信访工作条例》第六十条")
        replaced = table.locator("tr", has_text="原《信访条例》第三十五条")     # the old text, named on purpose
        expect(replaced).to_contain_text("注明旧版")
        expect(replaced).to_contain_text("《信访工作条例》第三十六条")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "check.png"), full_page=True)
        # linked reading: an article of 《信访条例》 whose text cites another, and what cites it
        from ingest import open_store
        with open_store(app_store_kb) as store:
            art15, art16 = (store.find_articles("信访条例", n)[0] for n in (15, 16))
        page.goto(f"{url}/browse?doc={art16.document_id}&art={art15.id}")
        wait_until_idle(page)
        link = page.locator(f"#art-{art15.id} a.kb-ref", has_text="本条例第十六条")
        expect(link).to_have_attribute("href", f"#art-{art16.id}")
        expect(link).to_have_attribute("title", re.compile("第十六条：信访人采用走访形式"))
        expect(page.get_by_text("引用本条的条文")).to_be_visible()
        page.locator(f".st-key-card-b-target-{art15.id}").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "linked-article.png"), full_page=False)
        link.click()
        expect(page.locator(f"#art-{art16.id}")).to_be_in_viewport()
        context.close()
