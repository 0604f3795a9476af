"""新旧对照 page (AppTest): two versions chosen by URL or selectors, the aligned table with
highlighted changes, the unmatched lists, the filter by kind of change and the exports."""
from __future__ import annotations

from pathlib import Path

from conftest import needs_samples
from ingest import open_store


def _version_ids(kb: Path, title: str) -> dict[str, int]:
    with open_store(kb) as store:
        return {v.version_date: v.id for d in store.documents() if d.title == title for v in store.versions(d.id)}


def _table(at) -> str:
    return next(m.value for m in at.markdown if 'class="kb-diff"' in m.value)


def test_two_versions_of_a_title_align_by_text(app_store_kb, open_page):
    ids = _version_ids(app_store_kb, "四川省社区调解示范条例")
    at = open_page(app_store_kb, "compare", old=str(ids["2016-05-01"]), new=str(ids["2023-09-01"]))
    assert not at.exception and not at.error
    summary = next(m.value for m in at.markdown if "修改" in m.value and "→" in m.value)
    assert "新增2条" in summary and "删除1条" in summary
    table = _table(at)
    # the article on time limits moved from 第九条 to 第十条 and changed 三十日 to 十五日
    row = next(r for r in table.split("<tr>") if "<b>第九条</b>" in r and "<b>第十条</b>" in r)
    assert "<del>三十</del>" in row and "<ins>十五</ins>" in row and "修改" in row
    assert "<b>第四条</b>" in table and "新增" in table                      # 街道 funding article is new
    assert "未改动" not in table                                             # hidden by the default filter
    lists = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert any("第七条：县级人民政府司法行政部门应当定期对调解员进行业务培训。" in m for m in lists)
    exports = {b.label for b in at.get("download_button")}
    assert exports == {"导出对照表 Markdown", "导出对照表 Word"}


def test_kind_filter_shows_unchanged_rows_too(app_store_kb, open_page):
    ids = _version_ids(app_store_kb, "四川省社区调解示范条例")
    at = open_page(app_store_kb, "compare", old=str(ids["2016-05-01"]), new=str(ids["2023-09-01"]))
    at.get("button_group")[0].set_value(["unchanged"]).run()
    table = _table(at)
    assert table.count("<tr>") == 1 + 7 and "修改" not in table.split("</thead>")[1]


def test_selectors_and_suggestions_when_nothing_is_chosen(app_store_kb, open_page):
    at = open_page(app_store_kb, "compare")
    assert not at.exception
    assert "请选择要对照的两个版本" in at.info[0].value
    suggestion = next(link for link in at.get("page_link") if link.value.startswith("四川省社区调解示范条例："))
    assert "old=" in suggestion.proto.query_string and "new=" in suggestion.proto.query_string
    ids = _version_ids(app_store_kb, "四川省社区调解示范条例")
    at.selectbox(key="compare-old").select(ids["2016-05-01"]).run()
    at.selectbox(key="compare-new").select(ids["2016-05-01"]).run()
    assert "两个不同的版本" in at.warning[0].value
    at.selectbox(key="compare-new").select(ids["2023-09-01"]).run()
    assert _table(at) and at.query_params["new"] == str(ids["2023-09-01"])


@needs_samples
def test_renamed_successor_regulation_aligns_with_its_predecessor(app_store_kb, open_page):
    old = _version_ids(app_store_kb, "信访条例")["2005-01-10"]
    new = next(iter(_version_ids(app_store_kb, "信访工作条例").values()))
    at = open_page(app_store_kb, "compare", old=str(old), new=str(new))
    assert not at.exception and not at.error
    rows = _table(at).split("<tr>")
    # 对复查意见不服 → 复核: 2005 第三十五条 is 2022 第三十六条
    assert any("<b>第三十五条</b>" in r and "<b>第三十六条</b>" in r for r in rows)


@needs_samples
def test_a_replaced_regulation_is_suggested_with_its_successor(app_store_kb, open_page):
    at = open_page(app_store_kb, "compare")
    assert not at.exception and not at.error
    [link] = [link for link in at.get("page_link") if link.value.startswith("《信访条例》")]
    old = _version_ids(app_store_kb, "信访条例")["2005-01-10"]
    new = next(iter(_version_ids(app_store_kb, "信访工作条例").values()))
    assert link.value.startswith("《信访条例》（2005-01-10）→《信访工作条例》（")
    assert link.proto.query_string == f"old={old}&new={new}"


def test_suggestions_survive_a_writer_removing_versions(app_store_kb, open_page, monkeypatch):
    # the list of documents is cached; their versions are read live and may be gone by then
    from ingest.store import Store
    monkeypatch.setattr(Store, "versions", lambda self, document_id: [])
    at = open_page(app_store_kb, "compare")
    assert not at.exception and "请选择要对照的两个版本" in at.info[0].value
