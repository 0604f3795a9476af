"""讲义 page (AppTest): clauses added from a clause card, reordered, annotated, removed and exported;
packs live in <kb>/packs and survive a restart (a new AppTest session)."""
from __future__ import annotations

from pathlib import Path

from ingest import open_store
from lecture import MAX_CHECK_CHARS, list_packs, load_pack
from ui.common import ACTIVE_PACK_KEY, DEFAULT_PACK

REGULATION = "四川省社区调解示范条例"


def _unit(kb: Path, label: str, version_date: str = "2023-09-01"):
    with open_store(kb) as store:
        return next(a for a in store.iter_articles()
                    if a.title == REGULATION and a.label == label and a.version_date == version_date)


def _add_from_browse(open_page, kb: Path, *labels: str) -> None:
    """Press 加入讲义 on the clause card of each article, the way a user does from a link."""
    for label in labels:
        unit = _unit(kb, label)
        at = open_page(kb, "browse", doc=str(unit.document_id), art=str(unit.id))
        at.button(key=f"b-target-{unit.id}-add").click().run()
        assert not at.exception and not at.error
        assert at.button(key=f"b-target-{unit.id}-add").label == "已在讲义中"
        assert at.button(key=f"b-target-{unit.id}-add").disabled


def _pack_labels(kb: Path, name: str = DEFAULT_PACK) -> list[str]:
    return [item.label for item in load_pack(kb, name).items]


def test_add_to_pack_saves_it_under_the_knowledge_base(writable_kb, open_page):
    _add_from_browse(open_page, writable_kb, "第十条", "第九条")
    assert (writable_kb / "packs" / f"{DEFAULT_PACK}.json").is_file()
    assert _pack_labels(writable_kb) == ["第十条", "第九条"]
    clause = load_pack(writable_kb, DEFAULT_PACK).items[0]
    assert (clause.ref.doc_key, clause.ref.region, clause.ref.version_date, clause.ref.label) == \
        (REGULATION, "四川省", "2023-09-01", "第十条")
    assert clause.text.startswith("调解员调解纠纷，应当在十五日内调解结束")


def test_pack_page_lists_reorders_annotates_removes_and_exports(writable_kb, open_page):
    _add_from_browse(open_page, writable_kb, "第十条", "第九条", "第四条")
    at = open_page(writable_kb, "pack")                       # a new session: the pack came from disk
    assert not at.exception and not at.error
    cites = [m.value for m in at.markdown if 'class="kb-cite"' in m.value]
    assert len(cites) == 3 and "1. 《四川省社区调解示范条例》第十条" in cites[0]
    key = f"{DEFAULT_PACK}|{REGULATION}|四川省|2023-09-01|第九条"
    at.button(key=f"{key}-up").click().run()
    assert _pack_labels(writable_kb) == ["第九条", "第十条", "第四条"]
    at.text_input(key=f"{key}-heading").input("一、信访与调解的衔接")
    at.text_area(key=f"{key}-note").input("信访渠道反映的民间纠纷可以引导调解")
    at.button(key=f"{key}-save").click().run()
    item = load_pack(writable_kb, DEFAULT_PACK).items[0]
    assert (item.heading, item.note) == ("一、信访与调解的衔接", "信访渠道反映的民间纠纷可以引导调解")
    assert "一、信访与调解的衔接" in [h.value for h in at.subheader]
    assert any("讲解：信访渠道反映的民间纠纷可以引导调解" in m.value for m in at.markdown)
    at.button(key=f"{DEFAULT_PACK}|{REGULATION}|四川省|2023-09-01|第四条-del").click().run()
    assert _pack_labels(writable_kb) == ["第九条", "第十条"]
    exports = {b.label: b.proto.url for b in at.get("download_button")}
    assert exports["导出 Markdown"].endswith(".md") and exports["导出 Word"].endswith(".docx")
    at.text_input(key=f"pack-title-{DEFAULT_PACK}").input("第三讲 调解").run()
    assert load_pack(writable_kb, DEFAULT_PACK).title == "第三讲 调解"


def test_new_named_pack_becomes_the_active_one(writable_kb, open_page):
    _add_from_browse(open_page, writable_kb, "第十条")
    at = open_page(writable_kb, "pack")
    at.text_input(key="new-pack-name").input("第二讲：复查与复核")
    at.button[[b.label for b in at.button].index("新建")].click().run()
    assert not at.exception and not at.error
    assert sorted(list_packs(writable_kb)) == sorted([DEFAULT_PACK, "第二讲：复查与复核"])
    assert at.session_state[ACTIVE_PACK_KEY] == "第二讲：复查与复核"
    assert "还没有条文" in at.info[0].value
    at2 = open_page(writable_kb, "pack")                      # restart: both packs offered in the sidebar
    assert set(at2.sidebar.selectbox(key=ACTIVE_PACK_KEY).options) == {DEFAULT_PACK, "第二讲：复查与复核"}


def test_duplicate_pack_name_is_refused_with_a_message(writable_kb, open_page):
    _add_from_browse(open_page, writable_kb, "第十条")
    at = open_page(writable_kb, "pack")
    at.text_input(key="new-pack-name").input(DEFAULT_PACK)
    at.button[[b.label for b in at.button].index("新建")].click().run()
    assert "已存在" in at.error[0].value
    assert _pack_labels(writable_kb) == ["第十条"]


def test_clause_removed_from_the_knowledge_base_keeps_its_snapshot(writable_kb, open_page):
    from ingest.store import StoreWriter
    _add_from_browse(open_page, writable_kb, "第十条")
    source = _unit(writable_kb, "第十条").source
    writer = StoreWriter(writable_kb)
    with writer.transaction():
        writer.remove_file(source)
    writer.close()
    at = open_page(writable_kb, "pack")
    assert not at.exception
    assert any("知识库中已找不到此条" in c.value for c in at.caption)
    assert any("十五日内调解结束" in m.value for m in at.markdown)


def test_clauses_are_added_by_citation_on_the_pack_page(writable_kb, open_page):
    at = open_page(writable_kb, "pack")
    assert at.text_input(key="pack-cite-text").max_chars == MAX_CHECK_CHARS     # a paste is read in bounded time
    at.text_input(key="pack-cite-text").input(f"{REGULATION}第十条、第九条；第九十九条")
    next(b for b in at.button if b.label == "添加").click().run()
    assert not at.exception and not at.error
    assert _pack_labels(writable_kb) == ["第十条", "第九条"]
    assert f"《{REGULATION}》第十条、《{REGULATION}》第九条" in at.success[0].value
    assert "第九十九条" in at.warning[0].value
    # the same again: nothing added twice, and said so
    at.text_input(key="pack-cite-text").input(f"{REGULATION}第十条")
    next(b for b in at.button if b.label == "添加").click().run()
    assert _pack_labels(writable_kb) == ["第十条", "第九条"] and "已在讲义中" in at.warning[0].value


def test_a_clause_another_window_removed_is_a_message_not_a_traceback(writable_kb, open_page):
    _add_from_browse(open_page, writable_kb, "第十条", "第九条")
    at = open_page(writable_kb, "pack")
    other = open_page(writable_kb, "pack")                    # the same pack open in a second window
    key = f"{DEFAULT_PACK}|{REGULATION}|四川省|2023-09-01|第九条"
    other.button(key=f"{key}-del").click().run()
    assert _pack_labels(writable_kb) == ["第十条"]
    at.button(key=f"{key}-up").click().run()                  # a StopIteration before
    assert not at.exception and "已不在讲义" in at.error[0].value
    assert _pack_labels(writable_kb) == ["第十条"]
