"""讲义: the clauses collected from search or browse, in order; reorder, remove, add a heading or a
note per clause; export as Markdown or Word. Packs are saved under `<kb>/packs/` on every change,
so they survive reloads and restarts; several named packs can be kept.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kb.citations import part_label
from kb.errors import KBError, PackError
from lecture import (MAX_CHECK_CHARS, ClauseRef, LecturePack, add_to_saved_pack, changed_since_added, cited_clauses,
                     create_pack, delete_pack, edit_clause, list_packs, load_pack, move_clause, new_pack, pack_handout,
                     remove_clause, resolve_clause, retitle, to_docx, to_markdown, update_pack)
from lecture.storage import pack_path, safe_stem
from ui.common import (ACTIVE_PACK_KEY, DOCX_MIME, active_pack, article_html, escape, kb_store, offer_download,
                       status_badge)

if TYPE_CHECKING:
    from ingest.store import Store
    from kb.settings import Config
    from lecture import PackClause



def render(cfg: Config) -> None:
    import streamlit as st
    st.title("讲义")
    message = st.session_state.pop("pack-message", None)
    if message:
        st.error(escape(message))
    _new_pack_form(cfg)
    name = active_pack()
    _add_by_citation_form(cfg, name)
    empty_hint = (f"讲义“{name}”还没有条文。在上面按引用添加，或在“检索”“法规浏览”页点“加入讲义”收集条文，"
                  "它们会按顺序出现在这里。")
    if not pack_path(cfg.kb, name).exists():
        st.info(escape(empty_hint))
        return
    pack = load_pack(cfg.kb, name)
    st.text_input("讲义标题", value=pack.title, key=f"pack-title-{name}",
                  on_change=_retitle, args=(cfg, name, f"pack-title-{name}"))
    if pack.items:
        st.caption(escape(f"共 {len(pack.items)} 条 · 更新于 {pack.updated.replace('T', ' ')} · "
                          f"保存在 {pack_path(cfg.kb, name)}"))
        _export_buttons(pack)
        with kb_store(cfg, notice=False) as store:
            _items(cfg, pack, store)
    else:
        st.info(escape(empty_hint))
    _delete_control(cfg, name)


def _new_pack_form(cfg: Config) -> None:
    import streamlit as st
    with st.expander("新建讲义"):
        with st.form("new-pack", clear_on_submit=True):
            st.text_input("讲义名称", key="new-pack-name", placeholder="例如：第一讲 信访事项的受理")
            st.form_submit_button("新建", on_click=_create, args=(cfg,))


def _add_by_citation_form(cfg: Config, name: str) -> None:
    """按引用添加: citations typed or pasted (《信访工作条例》第三十五条、第三十六条第二款) add their
    clauses in order; what names no clause is listed with the citation check's message."""
    import streamlit as st
    with st.form("pack-cite", clear_on_submit=True):
        st.text_input("按引用添加条文", key="pack-cite-text", max_chars=MAX_CHECK_CHARS,
                      placeholder="例如：《信访工作条例》第三十五条、第三十六条第二款；人民调解法第十七条")
        st.form_submit_button("添加", on_click=_add_cited, args=(cfg, name))
    added, problems = st.session_state.pop("pack-cite-result", ((), ()))
    if added:
        st.success(escape(f"已加入讲义“{name}”：{'、'.join(added)}"))
    if problems:
        st.warning(escape("未能加入：" + "；".join(problems)))


def _add_cited(cfg: Config, name: str) -> None:
    import streamlit as st
    text = st.session_state.get("pack-cite-text", "").strip()
    if not text:
        return
    with kb_store(cfg, notice=False) as store:
        if store is None:
            st.session_state["pack-message"] = "知识库中还没有法规：请先在“添加文件”页添加。"
            return
        clauses, problems = cited_clauses(text, store)
    if not clauses and not problems:
        problems = ["没有找到条文引用，请写明法规和条号，如《信访工作条例》第三十五条"]
    try:
        added, held = add_to_saved_pack(cfg.kb, name, clauses)
    except KBError as e:
        st.session_state["pack-message"] = str(e)
        return
    problems += [f"{clause.citation}已在讲义中" for clause in held]
    st.session_state["pack-cite-result"] = (tuple(c.citation for c in added), tuple(problems))


def _create(cfg: Config) -> None:
    import streamlit as st
    name = st.session_state.get("new-pack-name", "").strip()
    if not name:
        st.session_state["pack-message"] = "请填写讲义名称。"
        return
    try:
        create_pack(cfg.kb, new_pack(name))
    except KBError as e:
        st.session_state["pack-message"] = str(e)
        return
    st.session_state[ACTIVE_PACK_KEY] = name


def _update(cfg: Config, name: str, change: Callable[[LecturePack], LecturePack]) -> None:
    """Callback helper: apply a pure change to the saved pack; errors become a message."""
    import streamlit as st
    try:
        update_pack(cfg.kb, name, change)
    except KBError as e:
        st.session_state["pack-message"] = str(e)


def _index_of(pack: LecturePack, ref: ClauseRef) -> int:
    """Where the clause `ref` stands in the pack.

    Raises:
        PackError: when it is no longer there (another session removed it meanwhile).
    """
    for i, item in enumerate(pack.items):
        if item.ref == ref:
            return i
    raise PackError(f"这一条已不在讲义“{pack.name}”中（可能已在另一窗口移除）：请刷新本页")


def _retitle(cfg: Config, name: str, key: str) -> None:
    import streamlit as st
    _update(cfg, name, lambda p: retitle(p, st.session_state[key]))


def _move(cfg: Config, name: str, ref: ClauseRef, offset: int) -> None:
    _update(cfg, name, lambda p: move_clause(p, _index_of(p, ref), offset))


def _remove(cfg: Config, name: str, ref: ClauseRef) -> None:
    _update(cfg, name, lambda p: remove_clause(p, _index_of(p, ref)))


def _edit(cfg: Config, name: str, ref: ClauseRef, heading_key: str, note_key: str) -> None:
    import streamlit as st
    _update(cfg, name, lambda p: edit_clause(p, _index_of(p, ref), heading=st.session_state[heading_key],
                                             note=st.session_state[note_key]))


def _item_key(name: str, item: PackClause) -> str:
    ref = item.ref
    return f"{name}|{ref.doc_key}|{ref.region}|{ref.version_date}|{ref.label}{part_label(ref.paragraph, ref.item)}"


def _items(cfg: Config, pack: LecturePack, store: Store | None) -> None:
    import streamlit as st

    from ui.pages import page
    for i, item in enumerate(pack.items):
        key = _item_key(pack.name, item)
        if item.heading:
            st.subheader(escape(item.heading))
        with st.container(border=True):
            st.markdown(f'<span class="kb-cite">{i + 1}. {escape(item.citation)}</span>{status_badge(item.status)}',
                        unsafe_allow_html=True)
            st.markdown(article_html(item, label=False), unsafe_allow_html=True)
            if item.note:
                st.markdown(f"> 讲解：{escape(item.note)}")
            live = resolve_clause(store, item.ref) if store is not None else None
            if live is None:
                st.caption("知识库中已找不到此条；讲义保存的是加入时的文本。")
            elif changed_since_added(item, live):
                st.caption("知识库中的这条条文已更新；讲义保存的是加入时的文本。")
            cols = st.columns([1, 1, 1, 1.4, 1.6])
            cols[0].button("上移", key=f"{key}-up", icon=":material/arrow_upward:", disabled=i == 0,
                           on_click=_move, args=(cfg, pack.name, item.ref, -1))
            cols[1].button("下移", key=f"{key}-down", icon=":material/arrow_downward:",
                           disabled=i == len(pack.items) - 1, on_click=_move, args=(cfg, pack.name, item.ref, 1))
            cols[2].button("删除", key=f"{key}-del", icon=":material/delete:",
                           on_click=_remove, args=(cfg, pack.name, item.ref))
            with cols[3].popover("标题与讲解", icon=":material/edit_note:"):
                heading_key, note_key = f"{key}-heading", f"{key}-note"
                st.text_input("本条前的小标题", value=item.heading, key=heading_key)
                st.text_area("讲解", value=item.note, key=note_key)
                st.button("保存", key=f"{key}-save", on_click=_edit,
                          args=(cfg, pack.name, item.ref, heading_key, note_key))
            if live is not None:
                cols[4].page_link(page("browse", cfg), label="阅读全文", icon=":material/menu_book:",
                                  query_params={"doc": str(live.document_id), "art": str(live.id)})


def _export_buttons(pack: LecturePack) -> None:
    import streamlit as st
    handout = pack_handout(pack)
    stem = safe_stem(pack.title) if any(ch.isalnum() for ch in pack.title) else "讲义"
    cols = st.columns(2)
    offer_download(cols[0], "导出 Markdown", to_markdown(handout), file_name=f"{stem}.md", mime="text/markdown",
                   icon=":material/description:", key="export-md")
    offer_download(cols[1], "导出 Word", to_docx(handout), file_name=f"{stem}.docx", mime=DOCX_MIME,
                   icon=":material/download:", key="export-docx")


def _delete_control(cfg: Config, name: str) -> None:
    import streamlit as st
    with st.popover("删除这份讲义", icon=":material/delete_forever:"):
        st.markdown(escape(f"确定删除讲义“{name}”？此操作不能撤销。"))
        st.button("确定删除", key="pack-delete", type="primary", on_click=_delete, args=(cfg, name))


def _delete(cfg: Config, name: str) -> None:
    import streamlit as st
    try:
        delete_pack(cfg.kb, name)
    except KBError as e:
        st.session_state["pack-message"] = str(e)
        return
    remaining = list_packs(cfg.kb)
    st.session_state[ACTIVE_PACK_KEY] = remaining[0] if remaining else None
