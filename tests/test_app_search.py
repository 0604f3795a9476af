"""检索 page (AppTest) over the indexed test knowledge base (real model, real indexes): clause cards,
references first, highlighting, actions, filters, empty results and a missing index."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import needs_samples, searcher_of_texts
from index import Filters
from ingest import open_store
from lecture import load_pack
from ui.common import DEFAULT_PACK, comparisons_asked

BOX = "q"


def _cards(at) -> list[str]:
    """The header line (citation, badge, match tags) of each clause card, in order."""
    return [m.value for m in at.markdown if 'class="kb-cite"' in m.value]


def _ask(open_page, kb: Path, question: str):
    at = open_page(kb, "search")
    at.text_input(key=BOX).input(question).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def _unit_id(kb: Path, doc_key: str, no: int, version_date: str | None = None) -> int:
    with open_store(kb) as store:
        found = store.find_articles(doc_key, no)
    return next(a.id for a in found if version_date in (None, a.version_date))


@needs_samples
def test_reference_query_shows_that_article_first(app_kb, open_page):
    at = _ask(open_page, app_kb, "信访工作条例第三十六条")
    cards = _cards(at)
    assert "《信访工作条例》第三十六条" in cards[0] and "条文引用" in cards[0] and "现行有效" in cards[0]
    assert at.query_params["q"] == "信访工作条例第三十六条"
    assert any("找到" in c.value and "毫秒" in c.value for c in at.caption)


@needs_samples
def test_an_article_or_document_the_knowledge_base_lacks_is_said(app_kb, open_page):
    at = _ask(open_page, app_kb, "《民法典》第1165条和信访工作条例第九百条")
    assert [i.value for i in at.info] == ["知识库中没有《民法典》", "《信访工作条例》没有第九百条（共50条）"]
    assert _cards(at)                                                  # the search still answers
    assert not _ask(open_page, app_kb, "信访工作条例第三十六条").info


@needs_samples
def test_a_place_whose_rules_the_knowledge_base_lacks_is_said(app_kb, open_page):
    at = _ask(open_page, app_kb, "上海对重复信访是怎么规定的")
    assert [i.value for i in at.info] == ["知识库中没有上海市的地方规定"]
    assert _cards(at)
    assert not _ask(open_page, app_kb, "四川对社区调解收费是怎么规定的").info     # it holds 四川省's


@pytest.mark.parametrize("question", ["？？？", "😀😀😀"])     # emoji were called punctuation
def test_punctuation_or_symbols_alone_are_a_warning_in_chinese(app_kb, open_page, question):
    at = open_page(app_kb, "search")
    at.text_input(key=BOX).input(question).run()
    assert not at.exception and not at.error and not _cards(at)
    assert [w.value for w in at.warning] == ["没有可检索的文字或数字（只有标点或符号）：请输入问题、关键词或条文。"]


@needs_samples
def test_question_finds_the_clause_with_terms_highlighted(app_kb, open_page):
    at = _ask(open_page, app_kb, "对复查意见不服，还可以向哪里申请复核？")
    cards = _cards(at)
    assert any("《信访工作条例》第三十六条" in c for c in cards[:3]), cards[:3]
    texts = [m.value for m in at.markdown if 'class="kb-text"' in m.value]
    assert any("<mark>复核</mark>" in t for t in texts)
    assert any(tag in "".join(cards) for tag in ("关键词", "语义"))


def test_empty_box_offers_examples_that_search_when_clicked(app_kb, open_page):
    at = open_page(app_kb, "search")
    assert not _cards(at)
    example = at.button(key="example-2")
    example.click().run()
    assert at.text_input(key=BOX).value == example.label
    assert _cards(at)


def test_question_in_the_address_is_searched(app_kb, open_page):
    at = open_page(app_kb, "search", q="调解协议书")
    assert at.text_input(key=BOX).value == "调解协议书" and _cards(at)


def test_current_versions_by_default_and_older_ones_linked(app_kb, open_page):
    at = _ask(open_page, app_kb, "调解协议书自各方当事人签名、盖章或者按指印之日起生效")
    cards = _cards(at)
    assert "《四川省社区调解示范条例》第十二条" in cards[0]
    assert not any("2016年版" in c for c in cards)                       # superseded text not shown
    versions = [link for link in at.get("page_link") if link.value.startswith("2016-05-01")]
    assert versions and "已修改" in versions[0].value
    linked = int(versions[0].proto.query_string.split("art=")[1])
    with open_store(app_kb) as store:
        old = store.article(linked)
    assert (old.title, old.version_date, old.status) == ("四川省社区调解示范条例", "2016-05-01", "superseded")


def _comparison_links(at) -> list:
    return [link for link in at.get("page_link") if link.value.startswith("新旧对照：")]


def _version_id(kb: Path, doc_key: str, version_date: str) -> int:
    with open_store(kb) as store:
        doc = next(d for d in store.documents() if d.key == doc_key)
        return next(v.id for v in store.versions(doc.id) if v.version_date == version_date)


def test_a_question_naming_an_older_version_links_the_comparison(app_kb, open_page):
    # an instructor asking about the older text had to find 新旧对照 and pick both versions by hand
    at = _ask(open_page, app_kb, "原四川省社区调解示范条例规定调解员要在多少天内调解结束")
    [link] = _comparison_links(at)
    assert link.value == "新旧对照：《四川省社区调解示范条例》2016-05-01 → 2023-09-01"
    old, new = (_version_id(app_kb, "四川省社区调解示范条例", d) for d in ("2016-05-01", "2023-09-01"))
    assert link.proto.query_string == f"old={old}&new={new}" and link.proto.page.endswith("compare")
    assert not _comparison_links(_ask(open_page, app_kb, "四川省社区调解示范条例规定调解员要在多少天内调解结束"))


@needs_samples
def test_the_paragraph_or_item_a_reference_asks_for_is_marked_on_its_card(app_kb, open_page):
    at = _ask(open_page, app_kb, "信访工作条例第三十六条第二款")
    [text] = [m.value for m in at.markdown if 'class="kb-asked"' in m.value]
    marked = text.split('class="kb-asked"')[1].split("</p>")[0]
    assert "第二款" in marked and "听证" in marked and text.count('class="kb-asked"') == 1
    # 复制引用 copies that 款, cited as such
    copied = at.code[0].value
    assert copied.startswith("《信访工作条例》第三十六条第二款\n复核机关") and "不再受理" not in copied
    # a 项: its line marked, the others not
    at = _ask(open_page, app_kb, "信访工作条例第三十一条第六项")
    [text] = [m.value for m in at.markdown if 'class="kb-asked"' in m.value]
    marked = text.split('class="kb-asked"')[1].split("</span><br>")[0]
    assert "第六项" in marked and "（六）不属于以上情形" in marked and "（五）" not in marked
    assert at.code[0].value.startswith("《信访工作条例》第三十一条第六项\n（六）不属于以上情形")


@needs_samples
def test_add_to_pack_collects_the_paragraph_a_reference_asks_for(writable_indexed_kb, open_page):
    kb = writable_indexed_kb
    target = _unit_id(kb, "信访工作条例", 36)
    at = _ask(open_page, kb, "信访工作条例第三十六条第二款")
    at.button(key=f"s-{target}-add").click().run()
    [clause] = load_pack(kb, DEFAULT_PACK).items
    assert clause.citation == "《信访工作条例》第三十六条第二款" and clause.text.startswith("复核机关")
    assert "不再受理" not in clause.text and at.button(key=f"s-{target}-add").label == "已在讲义中"
    # the whole article is another clause
    at = _ask(open_page, kb, "信访工作条例第三十六条")
    assert at.button(key=f"s-{target}-add").label == "加入讲义"
    at.button(key=f"s-{target}-add").click().run()
    assert [c.citation for c in load_pack(kb, DEFAULT_PACK).items] == [
        "《信访工作条例》第三十六条第二款", "《信访工作条例》第三十六条"]
    cites = [m.value for m in open_page(kb, "pack").markdown if 'class="kb-cite"' in m.value]
    assert "1. 《信访工作条例》第三十六条第二款" in cites[0] and "2. 《信访工作条例》第三十六条" in cites[1]


def test_a_question_on_a_documents_layout_links_its_table_of_contents(app_kb, open_page):
    at = _ask(open_page, app_kb, "四川省社区调解示范条例有几章")
    assert "共13条，分3章" in at.info[0].value
    [link] = [link for link in at.get("page_link") if link.value.startswith("法规浏览：")]
    assert link.value == "法规浏览：《四川省社区调解示范条例》的目录和全文" and link.proto.page.endswith("browse")
    with open_store(app_kb) as store:
        doc = next(d for d in store.documents() if d.key == "四川省社区调解示范条例")
    assert link.proto.query_string == f"doc={doc.id}"


@needs_samples
def test_a_question_naming_a_text_and_its_successor_links_their_comparison(app_kb, open_page):
    at = _ask(open_page, app_kb, "信访条例和信访工作条例有什么区别")
    [link] = _comparison_links(at)
    assert link.value.startswith("新旧对照：《信访条例》（2005-01-10）→《信访工作条例》（")
    assert f"old={_version_id(app_kb, '信访条例', '2005-01-10')}&" in link.proto.query_string


def test_document_filter_limits_results(app_kb, open_page):
    at = open_page(app_kb, "search")
    at.sidebar.multiselect(key="f-docs").set_value(["四川省社区调解示范条例"]).run()
    at.text_input(key=BOX).input("信访").run()
    cards = _cards(at)
    assert cards and all("四川省社区调解示范条例" in c for c in cards)


def test_superseded_status_can_be_included(app_kb, open_page):
    at = open_page(app_kb, "search")
    at.sidebar.multiselect(key="f-status").set_value(["superseded"]).run()
    at.text_input(key=BOX).input("调解员业务培训").run()
    cards = _cards(at)
    assert cards and all("（2016年版）" in c and "已修改" in c for c in cards)


def test_empty_result_explains_and_suggests_loosening_filters(app_kb, open_page):
    at = open_page(app_kb, "search")
    at.sidebar.multiselect(key="f-status").set_value(["repealed"]).run()     # nothing in the test corpus
    at.text_input(key=BOX).input("调解").run()
    assert not _cards(at)
    assert "没有找到" in at.warning[0].value
    advice = " ".join(m.value for m in at.markdown)
    assert "只查已废止的版本" in advice and "放宽" in advice


def test_card_actions_copy_context_and_add_to_pack(writable_indexed_kb, open_page):
    kb = writable_indexed_kb
    target = _unit_id(kb, "四川省社区调解示范条例", 9, "2023-09-01")
    at = _ask(open_page, kb, "四川省社区调解示范条例第九条")
    copy = next(c.value for c in at.code if c.value.startswith("《四川省社区调解示范条例》第九条"))
    assert "信访工作机构可以引导当事人" in copy
    at.toggle(key=f"s-{target}-ctx").set_value(True).run()
    assert any("上一条 · 第八条" in m.value for m in at.markdown)
    read = next(link for link in at.get("page_link") if link.value == "阅读全文")
    assert f"art={target}" in read.proto.query_string
    at.button(key=f"s-{target}-add").click().run()
    assert [c.label for c in load_pack(kb, DEFAULT_PACK).items] == ["第九条"]


@pytest.mark.parametrize("region", ["四川省", "四川省成都市"])
def test_region_preference_comes_from_the_setting(app_kb, open_page, monkeypatch, region):
    # the knowledge base holds 四川省's rules and none of 成都市's: a 成都 user's setting still applies
    monkeypatch.setenv("POLICYKB_REGION", region)
    at = open_page(app_kb, "search")
    assert at.sidebar.selectbox(key="f-prefer").value == region


def test_missing_index_is_one_clear_error_with_the_rebuild_command(app_store_kb, open_page):
    at = open_page(app_store_kb, "search")
    at.text_input(key=BOX).input("调解").run()
    assert not at.exception
    assert len(at.error) == 1 and f"python -m index build --kb {app_store_kb}" in at.error[0].value


@pytest.mark.parametrize("query", ["信访", "第十二条"])
def test_search_within_a_document_on_the_browse_page(app_kb, open_page, query):
    with open_store(app_kb) as store:
        doc = next(d for d in store.documents() if d.title == "四川省社区调解示范条例")
    at = open_page(app_kb, "browse", doc=str(doc.id))
    at.text_input(key=f"in-doc-{doc.id}").input(query).run()
    cards = _cards(at)
    assert cards and all("四川省社区调解示范条例" in c for c in cards)


def test_restrictions_name_every_narrowing_filter():
    from index import Filters
    from ui.common import restrictions
    assert restrictions(Filters()) == ["只查现行有效的版本"]
    assert restrictions(Filters(statuses=("current", "superseded", "repealed", "pending"))) == []
    words = restrictions(Filters(documents=("信访工作条例",), levels=("行政法规",), regions=("四川省",),
                                 date_from="1990-01-01", date_to="1990-12-31"))
    assert words == ["只查 1 部法规", "只查行政法规", "只查四川省", "只查现行有效的版本", "施行日期在 1990-01-01—1990-12-31"]


@needs_samples
def test_no_comparison_link_when_a_writer_removed_the_versions(app_kb, monkeypatch):
    # the link read the newest version of each document as [0] of a list a writer may have emptied
    from index import Filters, Searcher
    from ingest.store import Store
    from kb.settings import load_config
    from ui.common import comparisons_asked
    cfg = load_config(kb=str(app_kb))
    with open_store(app_kb) as store:
        monkeypatch.setattr(Store, "versions", lambda self, document_id: [])
        assert comparisons_asked(cfg, store, Searcher(app_kb, cfg), "信访条例和信访工作条例有什么区别", Filters()) == []


def test_a_question_naming_a_text_and_the_one_that_repealed_it_links_their_comparison(tmp_path: Path) -> None:
    # successors of another title were read from the bundled list alone, not from repeal clauses
    engine = searcher_of_texts(tmp_path, {
        "某市调解暂行办法(2010-05-01).md": "# 某市调解暂行办法\n\n第一条 为了规范调解，制定本办法。\n\n第二条 调解应当在三十日内结束。\n",
        "某市调解条例(2024-01-01).md": "# 某市调解条例\n\n第一条 为了规范调解工作，制定本条例。\n\n第二条 调解应当在十五日内结束。\n\n"
                                   "第三条 本条例自2024年1月1日起施行。《某市调解暂行办法》同时废止。\n"})
    with open_store(tmp_path / "kb") as store:
        pairs = comparisons_asked(engine.cfg, store, engine, "某市调解暂行办法和某市调解条例有什么区别", Filters())
    assert [(older.title, newer.title) for older, newer in pairs] == [("某市调解暂行办法", "某市调解条例")]
