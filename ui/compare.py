"""新旧对照: pick two documents (two versions of one title, or a renamed successor such as
《信访条例》(2005) → 《信访工作条例》(2022)) and read them article by article, aligned by text
similarity, with changes highlighted; export the table as Markdown or Word.

URL: `/compare?old=<version id>&new=<version id>`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ingest.records import STATUS_LABELS
from kb.chinese import book_title
from kb.places import NATIONAL
from lecture import CHANGE_LABELS, change_label, comparison_handout, side_runs, summary_line, to_docx, to_markdown
from lecture.comparison import excerpt
from lecture.storage import safe_stem
from ui.common import (DOCX_MIME, MAX_CACHED_VIEWS, comparison_label, documents, escape, kb_store, level_order,
                       offer_download, query_int, runs_html, successor_versions)

if TYPE_CHECKING:
    from index.compare import Comparison
    from ingest.store import Store
    from kb.settings import Config

DEFAULT_KINDS = ("reworded", "added", "removed")
SUGGESTIONS = 50           # documents with several versions (and replaced ones) listed as one-click comparisons


def _version_options(kb: str, generation: int) -> dict[int, str]:
    """Every version of every document: id → "《title》 date · status" (cached per store generation)."""
    from ingest import open_store
    with open_store(kb) as store, store.consistent():
        options = {}
        for doc in store.documents():
            for v in store.versions(doc.id):
                region = "" if doc.region == NATIONAL else f" · {doc.region}"
                status = STATUS_LABELS.get(v.status, v.status)
                options[v.id] = f"{book_title(v.title)} {_date(v.version_date)} · {status}{region}"
    return options


def _comparison(kb: str, generation: int, old_id: int, new_id: int) -> Comparison:
    from index.compare import compare
    from ingest import open_store
    with open_store(kb) as store, store.consistent():
        return compare(store.version_articles(old_id), store.version_articles(new_id))


def render(cfg: Config) -> None:
    import streamlit as st
    st.title("新旧对照")
    with kb_store(cfg) as store:
        if store is None:
            return
        generation = store.generation()
        options = st.cache_data(show_spinner=False, max_entries=4)(_version_options)(str(cfg.kb), generation)
        ids = list(options)
        cols = st.columns(2)
        old_id = _pick(cols[0], "旧版本（或原法规）", "old", ids, options)
        new_id = _pick(cols[1], "新版本（或新法规）", "new", ids, options)
        _suggested_comparisons(cfg, store)
        if old_id is None or new_id is None:
            st.info("请选择要对照的两个版本。可以是同一法规的两个版本，也可以是改名后的新法规，"
                    "例如《信访条例》（2005）与《信访工作条例》（2022）。")
            return
        if old_id == new_id:
            st.warning("请选择两个不同的版本。")
            return
        with st.spinner("正在按条文内容对齐两个版本…"):
            compare = st.cache_data(show_spinner=False, max_entries=MAX_CACHED_VIEWS)(_comparison)
            comparison = compare(str(cfg.kb), generation, old_id, new_id)
        old_name, new_name = _short(options[old_id]), _short(options[new_id])
        show_comparison(comparison, old_name, new_name)


def _short(option: str) -> str:
    return option.split(" · ")[0]


def _pick(container, label: str, param: str, ids: list[int], options: dict[int, str]) -> int | None:
    """A version selector kept equal to the URL parameter `param`: a link (e.g. a suggestion
    below) sets the parameter and so the selector; choosing in the selector sets the parameter,
    so the URL always names the pair on screen and can be shared."""
    import streamlit as st
    key = f"compare-{param}"
    wanted = query_int(param)
    if wanted in ids and st.session_state.get(key) != wanted:
        st.session_state[key] = wanted
    return container.selectbox(label, ids, index=None, format_func=options.get, placeholder="输入标题搜索…",
                               key=key, on_change=_sync_param, args=(key, param))


def _sync_param(key: str, param: str) -> None:
    import streamlit as st
    choice = st.session_state.get(key)
    if choice is None:
        st.query_params.pop(param, None)
    else:
        st.query_params[param] = str(choice)


def _suggested_comparisons(cfg: Config, store: Store) -> None:
    """One-click comparisons: documents with several versions (their two newest), and documents a
    text of another title replaced or repealed (信访条例 → 信访工作条例) with that text."""
    import streamlit as st

    from ui.pages import page
    docs = sorted(documents(cfg, store), key=lambda d: (level_order(d.level), d.title))
    multi = [d for d in docs if d.versions > 1]
    if multi:
        shown = multi[:SUGGESTIONS]
        more = f"，显示前{len(shown)}部；其余请在上面按标题选择" if len(multi) > len(shown) else ""
        with st.expander(f"有多个版本的法规（{len(multi)}部{more}）"):
            for d in shown:
                versions = store.versions(d.id)
                if len(versions) < 2:           # a writer removed some since the list of documents was read
                    continue
                newest, previous = versions[:2]
                label = f"{d.title}：{_date(previous.version_date)} → {_date(newest.version_date)}"
                st.page_link(page("compare", cfg), label=escape(label),
                             query_params={"old": str(previous.id), "new": str(newest.id)})
    # replaced and repealed texts are few (60 of 3,309 over the whole corpus): ask only for theirs
    replaced = [pair for d in docs if d.status != "current" for pair in successor_versions(store, d.id)]
    if replaced:
        shown = replaced[:SUGGESTIONS]
        more = f"，显示前{len(shown)}对" if len(replaced) > len(shown) else ""
        with st.expander(f"被其他法规取代或废止的法规（{len(replaced)}对{more}）"):
            for older, newer in shown:
                st.page_link(page("compare", cfg), label=escape(comparison_label(older, newer)),
                             query_params={"old": str(older.id), "new": str(newer.id)})


def _date(version_date: str) -> str:
    return version_date or "未注明日期"


def show_comparison(comparison: Comparison, old_name: str, new_name: str) -> None:
    """Summary, a filter by kind of change, the aligned table, unmatched lists and exports."""
    import streamlit as st
    st.markdown(f"**{escape(old_name)} → {escape(new_name)}**：{summary_line(comparison)}")
    kinds = st.pills("显示", list(CHANGE_LABELS), default=list(DEFAULT_KINDS), selection_mode="multi",
                     format_func=CHANGE_LABELS.get, key="compare-kinds")
    rows = [r for r in comparison.rows if r.kind in kinds]
    if rows:
        st.markdown(_table_html(rows, old_name, new_name), unsafe_allow_html=True)
    else:
        st.info("没有所选类型的条文。")
    removed, added = comparison.of_kind("removed"), comparison.of_kind("added")
    cols = st.columns(2)
    with cols[0]:
        st.markdown(f"**仅见于{escape(old_name)}（{len(removed)}条）**")
        st.markdown("\n".join(f"- {escape(r.old.label)}：{escape(excerpt(r.old.text, 60))}" for r in removed) or "无")
    with cols[1]:
        st.markdown(f"**仅见于{escape(new_name)}（{len(added)}条）**")
        st.markdown("\n".join(f"- {escape(r.new.label)}：{escape(excerpt(r.new.text, 60))}" for r in added) or "无")
    handout = comparison_handout(comparison, old_name, new_name)
    stem = safe_stem(f"新旧对照_{old_name}_{new_name}")
    cols = st.columns(2)
    offer_download(cols[0], "导出对照表 Markdown", to_markdown(handout), file_name=f"{stem}.md", mime="text/markdown",
                   icon=":material/description:", key="compare-md")
    offer_download(cols[1], "导出对照表 Word", to_docx(handout), file_name=f"{stem}.docx", mime=DOCX_MIME,
                   icon=":material/download:", key="compare-docx")


def _table_html(rows, old_name: str, new_name: str) -> str:
    body = []
    for row in rows:
        cells = []
        for side, unit in (("old", row.old), ("new", row.new)):
            cells.append(f"<td><b>{escape(unit.label)}</b><br>{runs_html(side_runs(row, side))}</td>"
                         if unit else "<td>—</td>")
        body.append(f"<tr>{''.join(cells)}<td>{escape(change_label(row))}</td></tr>")
    return (f'<table class="kb-diff"><thead><tr><th style="width:45%">{escape(old_name)}</th>'
            f'<th style="width:45%">{escape(new_name)}</th><th>变化</th></tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")
