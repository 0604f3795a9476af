"""法规浏览 page (AppTest): document list with counts and filter, document view with metadata,
versions, table of contents, anchors, and landing on an article from a link."""
from __future__ import annotations

from pathlib import Path

import pytest

from ingest import open_store

REGULATION = "四川省社区调解示范条例"


def _ids(kb: Path, title: str, label: str, version_date: str) -> tuple[int, int]:
    with open_store(kb) as store:
        unit = next(a for a in store.iter_articles()
                    if a.title == title and a.label == label and a.version_date == version_date)
    return unit.document_id, unit.id


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def _pill_labels(pills) -> list[str]:
    return [option.content for option in pills.proto.options]


def test_document_list_groups_with_counts_and_filters(app_store_kb, open_page):
    at = open_page(app_store_kb, "browse")
    assert not at.exception and not at.error
    with open_store(app_store_kb) as store:
        docs = store.documents()
    assert {d.title for d in docs} <= {link.value for link in at.get("page_link")}
    level_pills, region_pills = at.get("button_group")[:2]
    assert _pill_labels(level_pills)[0] == f"全部（{len(docs)}）"
    assert "地方性法规（1）" in _pill_labels(level_pills)
    assert f"全国（{sum(d.region == '全国' for d in docs)}）" in _pill_labels(region_pills)
    assert "四川省（1）" in _pill_labels(region_pills)
    assert "#### 地方性法规（1）" in [m.value for m in at.markdown]
    for typed in ("调解", "調解"):                      # traditional characters filter alike
        at.text_input(key="browse-filter").input(typed).run()
        links = {link.value for link in at.get("page_link")}
        assert REGULATION in links and "信访条例" not in links, typed


def test_level_pill_narrows_the_list(app_store_kb, open_page):
    at = open_page(app_store_kb, "browse")
    at.get("button_group")[0].set_value("地方性法规").run()
    links = [link.value for link in at.get("page_link")]
    assert links == [REGULATION]
    assert _pill_labels(at.get("button_group")[1]) == ["全部（1）", "四川省（1）"]


def test_document_view_lands_on_the_linked_article(app_store_kb, open_page):
    doc_id, art_id = _ids(app_store_kb, REGULATION, "第十条", "2023-09-01")
    at = open_page(app_store_kb, "browse", doc=str(doc_id), art=str(art_id))
    assert not at.exception and not at.error
    assert at.title[0].value == REGULATION
    text = _markdown(at)
    assert "**发布机关**：四川省人民代表大会常务委员会" in text and "**施行日期**：2023-09-01" in text
    assert "定位条文" in text and "《四川省社区调解示范条例》第十条" in text          # the target card
    assert f'class="kb-article kb-target" id="art-{art_id}"' in text              # highlighted anchor
    assert text.count('class="kb-article') == 13                                  # one anchor per article
    assert '<a href="#art-' in text and "第三章 调解程序" in text                   # table of contents
    versions = [link for link in at.get("page_link") if link.value.startswith("2016-05-01")]
    assert versions and f"doc={doc_id}" in versions[0].proto.query_string and "ver=" in versions[0].proto.query_string
    assert any("scrollIntoView" in h.proto.body and f"art-{art_id}" in h.proto.body for h in at.get("html"))


def test_older_version_opens_with_its_own_text(app_store_kb, open_page):
    doc_id, art_id = _ids(app_store_kb, REGULATION, "第七条", "2016-05-01")
    at = open_page(app_store_kb, "browse", doc=str(doc_id), art=str(art_id))
    text = _markdown(at)
    assert "已修改" in text and "（2016年版）第七条" in text
    assert "县级人民政府司法行政部门应当定期对调解员进行业务培训。" in text
    assert text.count('class="kb-article') == 12


def test_a_document_whose_versions_a_writer_removed_explains_itself(app_store_kb, open_page, monkeypatch):
    # the list of documents is cached; the versions are read live (IndexError before)
    from ingest.store import Store
    doc_id, _ = _ids(app_store_kb, REGULATION, "第一条", "2023-09-01")
    monkeypatch.setattr(Store, "versions", lambda self, document_id: [])
    at = open_page(app_store_kb, "browse", doc=str(doc_id))
    assert not at.exception and "未找到这部法规" in at.warning[0].value


def test_unknown_document_and_stale_article_links_explain_themselves(app_store_kb, open_page):
    at = open_page(app_store_kb, "browse", doc="99999")
    assert not at.exception and "未找到这部法规" in at.warning[0].value
    doc_id, _ = _ids(app_store_kb, REGULATION, "第一条", "2023-09-01")
    at = open_page(app_store_kb, "browse", doc=str(doc_id), art="99999")
    assert "链接中的条文已不在知识库中" in at.info[0].value
    assert at.title[0].value == REGULATION


def test_context_toggle_shows_neighbouring_articles(app_store_kb, open_page):
    doc_id, art_id = _ids(app_store_kb, REGULATION, "第十条", "2023-09-01")
    at = open_page(app_store_kb, "browse", doc=str(doc_id), art=str(art_id))
    at.toggle(key=f"b-target-{art_id}-ctx").set_value(True).run()
    context = [m.value for m in at.markdown if "kb-context" in m.value]
    assert len(context) == 2 and "上一条 · 第九条" in context[0] and "下一条 · 第十一条" in context[1]


def test_empty_knowledge_base_says_how_to_add_documents(tmp_path, open_page):
    at = open_page(tmp_path / "nothing-here", "browse")
    assert not at.exception and not at.error
    assert "还没有法规文件" in at.info[0].value and "python -m ingest" in at.info[0].value


@pytest.mark.parametrize("page", ["search", "pack", "compare", "overview"])
def test_every_page_copes_with_an_empty_knowledge_base(tmp_path, open_page, page):
    at = open_page(tmp_path / "empty", page)
    assert not at.exception and not at.error
    assert at.info                               # an explanation, not a failure


def test_a_replaced_document_links_to_its_successor(app_store_kb, open_page):
    # ingest/data/successors.tsv: 《信访工作条例》 took over from the 2005 《信访条例》
    with open_store(app_store_kb) as store:
        ids = {d.title: d.id for d in store.documents()}
        assert [(t, s) for _, t, s in store.replaced_by(ids["信访条例"])] == [("信访工作条例", "2022-05-01")]
        assert store.replaced_by(ids["信访工作条例"]) == []
    at = open_page(app_store_kb, "browse", doc=str(ids["信访条例"]))
    assert not at.exception and not at.error
    link = next(link for link in at.get("page_link") if "取代" in link.value)
    assert link.value == "自 2022-05-01 起由《信访工作条例》取代"
    assert f"doc={ids['信访工作条例']}" in link.proto.query_string
    assert "已修改" in _markdown(at)


def test_a_page_reads_one_state_of_the_knowledge_base(writable_kb):
    # a writer's commit while a page is drawn is not seen half-way through it
    from ingest.store import StoreWriter
    from kb.settings import load_config
    from ui.common import kb_store
    with kb_store(load_config(kb=str(writable_kb)), notice=False) as store:
        before = [d.title for d in store.documents()]
        [path] = [p for (p,) in store.conn.execute("SELECT path FROM files") if REGULATION in p and "2023" in p]
        writer = StoreWriter(writable_kb)
        with writer.transaction():
            writer.remove_file(path)
        writer.close()
        assert [d.title for d in store.documents()] == before
        assert len(store.versions(next(d.id for d in store.documents() if d.title == REGULATION))) == 2
