"""法规浏览: documents grouped by level and region; a document page with metadata, versions,
table of contents, search within the document and the full text with one anchor per article.

URL: `/browse` lists documents; `/browse?doc=<document id>[&ver=<version id>][&art=<article id>]`
opens a document (at an article: it is shown first, highlighted in the text and scrolled to).
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from ingest.records import STATUS_LABELS
from kb.chinese import book_title, to_simplified
from ui.common import (article_citation, article_links, clause_card, documents, escape, kb_store, level_order,
                       linked_article_html, ocr_badge, query_int, region_order, search_hits_cards, status_badge)

if TYPE_CHECKING:
    from ingest.store import Store, StoredArticle, StoredDocument, StoredVersion
    from kb.settings import Config

ALL = "全部"
LIST_LIMIT = 100          # documents listed at once; narrow down with the filters beyond that


def render(cfg: Config) -> None:
    import streamlit as st
    with kb_store(cfg) as store:
        if store is None:
            return
        doc_id = query_int("doc")
        if doc_id is None:
            st.title("法规浏览")
            document_list(cfg, store)
        else:
            document_view(cfg, store, doc_id)


def document_list(cfg: Config, store: Store) -> None:
    """Level and region choices with counts, a title filter, and the matching documents."""
    import streamlit as st

    from ui.pages import page
    docs = documents(cfg, store)
    query = to_simplified(st.text_input("按标题筛选", placeholder="例如：信访、调解、民法典", key="browse-filter").strip())
    if query:
        docs = [d for d in docs if query in d.title]
    level_counts = Counter(d.level or "未分类" for d in docs)
    levels = [ALL] + sorted(level_counts, key=level_order)
    level = st.pills("效力级别", levels, default=ALL, key="browse-level",
                     format_func=lambda v: f"{v}（{len(docs) if v == ALL else level_counts[v]}）") or ALL
    if level != ALL:
        docs = [d for d in docs if (d.level or "未分类") == level]
    region_counts = Counter(d.region for d in docs)
    regions = [ALL] + sorted(region_counts, key=region_order)
    region = st.pills("地区", regions, default=ALL, key="browse-region",
                      format_func=lambda v: f"{v}（{len(docs) if v == ALL else region_counts[v]}）") or ALL
    if region != ALL:
        docs = [d for d in docs if d.region == region]
    if not docs:
        st.info("没有符合条件的法规。请修改标题筛选词，或选择“全部”级别和地区。")
        return
    st.caption(f"共 {len(docs)} 部" + (f"，显示前 {LIST_LIMIT} 部；请用上面的筛选缩小范围" if len(docs) > LIST_LIMIT else ""))
    for group_level in sorted({d.level or "未分类" for d in docs[:LIST_LIMIT]}, key=level_order):
        group = [d for d in docs[:LIST_LIMIT] if (d.level or "未分类") == group_level]
        st.markdown(f"#### {group_level}（{level_counts[group_level]}）")
        for d in group:
            cols = st.columns([5, 2])
            cols[0].page_link(page("browse", cfg), label=escape(d.title), query_params={"doc": str(d.id)})
            cols[1].markdown(f"{status_badge(d.status)} <small>{escape(_doc_facts(d))}</small>", unsafe_allow_html=True)


def _doubts(store: Store, version: StoredVersion) -> None:
    """The note that the text was read by OCR, and the characters it was unsure of, per article."""
    import streamlit as st
    doubts = store.version_doubts(version.id)
    st.caption("本文由 OCR 从扫描件或照片识别，引用前请与原件核对。"
               + (f"识别把握不大的字共 {sum(len(d) for _, _, d in doubts)} 个，见下。" if doubts else ""))
    if doubts:
        with st.expander("识别把握不大的字（按条列出）", expanded=False):
            st.markdown("\n".join(
                f"- [{escape(label)}](#art-{article_id})：" + "；".join(
                    f"“{escape(char)}”（{escape(context)}，{confidence:.0%}）" for char, context, confidence in found)
                for article_id, label, found in doubts))


def _doc_facts(d: StoredDocument) -> str:
    facts = [d.region, f"{d.articles}条"]
    if d.versions > 1:
        facts.append(f"{d.versions}个版本")
    return " · ".join(facts)


def _choose_version(versions: list[StoredVersion], target: StoredArticle | None) -> StoredVersion:
    wanted = query_int("ver")
    if target is not None:
        wanted = target.version_id
    return next((v for v in versions if v.id == wanted), versions[0])


def document_view(cfg: Config, store: Store, doc_id: int) -> None:
    """One document: metadata, versions, contents, in-document search, full text."""
    import streamlit as st

    from ui.pages import page
    st.page_link(page("browse", cfg), label="返回法规列表", icon=":material/arrow_back:")
    doc = next((d for d in documents(cfg, store) if d.id == doc_id), None)
    # the list of documents is cached: a writer may have removed this one's versions since
    versions = store.versions(doc.id) if doc is not None else []
    if not versions:
        st.warning("未找到这部法规：它可能已被删除或重新导入。请从列表中重新打开。")
        return
    art_id = query_int("art")
    target = store.article(art_id) if art_id is not None else None
    if target is not None and target.document_id != doc.id:
        target = None
    if art_id is not None and target is None:
        st.info("链接中的条文已不在知识库中（法规可能已重新导入），下面显示这部法规的全文。")
    version = _choose_version(versions, target)
    st.title(escape(version.title))
    units = store.version_articles(version.id)
    read = [u for u in units if u.ocr]
    badges = status_badge(version.status) + (ocr_badge(read[0].ocr_confidence) if read else "")
    st.markdown(badges + f" <small>{escape(doc.level)} · {escape(doc.region)}</small>", unsafe_allow_html=True)
    if read:
        _doubts(store, version)
    for verb, (other, title, since) in [("废止", r) for r in store.repealed_by(doc.id)] + \
                                       [("取代", r) for r in store.replaced_by(doc.id)]:
        when = f"自 {since} 起" if since else ""
        st.page_link(page("browse", cfg), label=f"{when}由{book_title(escape(title))}{verb}",
                     icon=":material/arrow_forward:", query_params={"doc": str(other)})
    _metadata(version)
    if len(versions) > 1:
        st.markdown("**版本**")
        for v in versions:
            label = f"{v.version_date or '未注明日期'} · {STATUS_LABELS.get(v.status, v.status)} · {v.articles}条"
            if v.id == version.id:
                st.markdown(f"- {escape(label)}（当前查看）")
            else:
                st.page_link(page("browse", cfg), label=label, query_params={"doc": str(doc.id), "ver": str(v.id)})
    nodes = store.version_nodes(version.id)
    if target is not None:
        st.markdown("**定位条文**")
        clause_card(cfg, store, target, key=f"b-target-{target.id}", show_read_link=False)
        _cited_by(cfg, store, target)
    _in_document_search(cfg, store, doc, version)
    if nodes:
        with st.expander("目录", expanded=False):
            st.markdown(_toc_html(nodes), unsafe_allow_html=True)
    st.subheader("全文")
    st.markdown(full_text_html(store, units, nodes, target.id if target else None), unsafe_allow_html=True)
    if target is not None:
        _scroll_to(f"art-{target.id}")


def _cited_by(cfg: Config, store: Store, target: StoredArticle) -> None:
    """The articles that cite the target: of its own text first, then of other documents."""
    import streamlit as st

    from ui.pages import page
    citing = store.cited_by(target.id)
    with st.expander(f"引用本条的条文（{len(citing)}）", expanded=bool(citing)):
        if not citing:
            st.caption("知识库中没有条文引用本条。")
        for article, ref in citing:
            where = "本法规" if article.document_id == target.document_id else "其他法规"
            quoted = article.text[ref.start:ref.end]
            st.page_link(page("browse", cfg), label=escape(f"{where} · {article_citation(article)}（{quoted}）"),
                         query_params={"doc": str(article.document_id), "art": str(article.id)})


def _metadata(version: StoredVersion) -> None:
    import streamlit as st
    rows = [("发布机关", version.issuer), ("文号", version.doc_number), ("公布日期", version.promulgated),
            ("施行日期", version.effective), ("版本日期", version.version_date)]
    facts = [f"**{k}**：{escape(v)}" for k, v in rows if v]
    if facts:
        st.markdown("　".join(facts))
    if version.history:
        with st.expander("沿革"):
            st.markdown("\n".join(f"- {escape(h.get('date', ''))} {escape(h.get('event', ''))}"
                                   for h in version.history))


def _toc_html(nodes) -> str:
    """The headings as nested, collapsible lists (<details>): 编 hold their 章, 章 their 节; each
    heading links to the anchor of its first article."""
    children: dict[tuple[str, ...], list] = {}
    for node in nodes:
        children.setdefault(tuple(node.path), []).append(node)

    def entries(path: tuple[str, ...]) -> str:
        out = []
        for node in children.get(path, []):
            text = escape(node.heading)
            link = f'<a href="#art-{node.first_article_id}">{text}</a>' if node.first_article_id else text
            inner = entries(path + (node.heading,))
            out.append(f'<details open><summary>{link}</summary><div style="margin-left:1.2em">{inner}</div></details>'
                       if inner else f"<div>{link}</div>")
        return "".join(out)

    return entries(())


def full_text_html(store: Store, units: list[StoredArticle], nodes, target_id: int | None) -> str:
    """The version's text: each heading where its first unit starts, each unit in a block with
    the anchor `art-<id>` (the target unit highlighted), references linked and defined terms marked."""
    references, targets, definitions = article_links(store, units)
    version = units[0].version_id if units else None
    headings: dict[int, list] = {}
    for node in nodes:
        if node.first_article_id is not None:
            headings.setdefault(node.first_article_id, []).append(node)
    parts = []
    for unit in units:
        for node in headings.get(unit.id, []):
            size = max(1.25 - 0.1 * len(node.path), 1.0)
            parts.append(f'<p style="font-weight:600;font-size:{size}em;text-align:center;margin-top:1em">'
                         f'{escape(node.heading)}</p>')
        css = "kb-article kb-target" if unit.id == target_id else "kb-article"
        body = linked_article_html(unit, references.get(unit.id, []), targets, definitions, page_version=version)
        parts.append(f'<div class="{css}" id="art-{unit.id}">{body}</div>')
    return "".join(parts)


def _scroll_to(element_id: str) -> None:
    """Scroll the page to an anchor once Streamlit has drawn it (the URL has no #fragment, since
    links between pages carry query parameters)."""
    import streamlit as st
    st.html(f"""<script>
      (function () {{
        let tries = 0;
        const timer = setInterval(function () {{
          const el = document.getElementById("{element_id}");
          if (el) {{ el.scrollIntoView({{block: "center"}}); clearInterval(timer); }}
          if (++tries > 50) clearInterval(timer);
        }}, 100);
      }})();
    </script>""", unsafe_allow_javascript=True)


def _in_document_search(cfg: Config, store: Store, doc: StoredDocument, version: StoredVersion) -> None:
    import streamlit as st
    query = st.text_input("在本法规中检索", placeholder="输入问题或关键词，按回车", key=f"in-doc-{doc.id}").strip()
    if query:
        search_hits_cards(cfg, store, query, key=f"b-hit-{doc.id}", doc_keys=(doc.key,),
                          include_superseded=version.status != "current")
