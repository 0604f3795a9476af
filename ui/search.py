"""检索: one question box (Enter searches), filters in the sidebar, results as clause cards.

URL: `/?q=<question>` (the question is kept in the address, so a search can be shared).
The searcher (model + indexes) is loaded once per process and swapped for each new index snapshot.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from index.collections import NO_COLLECTION, load_collections, save_collections
from ingest.records import STATUS_LABELS
from kb.errors import QueryError
from ui.common import clause_card, current_searcher, documents, escape, kb_store, level_order, region_order

if TYPE_CHECKING:
    from index import Filters, Hit, Searcher
    from ingest.store import Store
    from kb.settings import Config

# Shown under an empty box: the kinds of questions the search answers well (a plain-language
# question, a reference to a numbered article, a question naming a document).
EXAMPLES = ("对信访事项的处理意见不服，可以向谁申请复查？",
            "信访工作条例第三十六条",
            "邻里纠纷可以找社区调解委员会调解吗？",
            "到政府上访应当遵守哪些规定？")
NO_PREFERENCE = ""
QUERY_KEY = "q"


def index_description(cfg: Config) -> str:
    """Markdown lines describing the model and index in use.

    Raises:
        SearchIndexError, ConfigError, StoreError: if they cannot be loaded.
    """
    meta = current_searcher(cfg).meta
    return (f"- 向量模型：`{meta.get('model_id', cfg.model)}`（设置 model = `{cfg.model}`）\n"
            f"- 索引条目：{meta.get('units', '?')} 条，对应知识库内容版本 {meta.get('generation', '?')}\n"
            f"- 索引建立时间：{str(meta.get('built_at', '未知')).replace('T', ' ')}\n"
            f"- 地区偏好：{cfg.region or '无'}")


def render(cfg: Config) -> None:
    import streamlit as st
    st.title("检索")
    with kb_store(cfg) as store:
        if store is None:
            return
        filters, k = sidebar_filters(cfg, store)
        if QUERY_KEY not in st.session_state and st.query_params.get(QUERY_KEY):
            st.session_state[QUERY_KEY] = st.query_params[QUERY_KEY]
        query = st.text_input("输入问题、关键词或条文（按回车检索）", key=QUERY_KEY,
                              placeholder="例如：对复查意见不服怎么办？").strip()
        if not query:
            st.query_params.pop(QUERY_KEY, None)
            st.caption("可以这样问：")
            cols = st.columns(2)
            for i, example in enumerate(EXAMPLES):
                cols[i % 2].button(example, key=f"example-{i}", on_click=_use_example, args=(example,))
            return
        show_results(cfg, store, query, filters, k, key="s")
        if st.query_params.get(QUERY_KEY) != query:
            # set after the results, so the address changing tells a browser that they are drawn
            st.query_params[QUERY_KEY] = query


def _use_example(example: str) -> None:
    import streamlit as st
    st.session_state[QUERY_KEY] = example


def sidebar_filters(cfg: Config, store: Store) -> tuple[Filters, int]:
    """The sidebar's filter controls, as `index.Filters` and a result count."""
    import streamlit as st

    from index import Filters
    docs = documents(cfg, store)
    titles = {d.key: d.title for d in docs}
    levels = sorted({d.level for d in docs if d.level}, key=level_order)
    regions = sorted({d.region for d in docs}, key=region_order)
    side = st.sidebar
    side.subheader("筛选")
    chosen_docs = side.multiselect("法规", sorted(titles, key=titles.get), format_func=titles.get,
                                   placeholder="全部法规（可输入标题搜索）", key="f-docs")
    chosen_levels = side.multiselect("效力级别", levels, placeholder="全部级别", key="f-levels")
    chosen_regions = side.multiselect("地区", regions, placeholder="全部地区", key="f-regions")
    statuses = side.multiselect("时效", list(STATUS_LABELS), default=["current"], format_func=STATUS_LABELS.get,
                                key="f-status", help="默认只查现行有效的条文；可加入已修改、已废止的旧版本。")
    dates = side.date_input("施行日期范围", value=(), key="f-dates", format="YYYY-MM-DD")
    k = side.slider("结果数", 3, 50, value=min(max(cfg.top_k, 3), 50), key="f-k")
    preference_options = [NO_PREFERENCE] + [r for r in regions if r != "全国"]
    default_pref = cfg.region if cfg.region in preference_options else NO_PREFERENCE
    prefer = side.selectbox("地区偏好", preference_options, index=preference_options.index(default_pref),
                            format_func=lambda r: r or "无偏好", key="f-prefer",
                            help="优先显示该地区（及全国）的规定，不会排除其他地区。")
    collection = collection_choice(cfg, titles)
    date_from, date_to = (d.isoformat() for d in dates) if len(dates) == 2 else ("", "")
    filters = Filters(documents=tuple(chosen_docs), levels=tuple(chosen_levels), regions=tuple(chosen_regions),
                      statuses=tuple(statuses), date_from=date_from, date_to=date_to, prefer_region=prefer,
                      prefer_collection=collection)
    return filters, k


def collection_choice(cfg: Config, titles: dict[str, str]) -> str:
    """The sidebar's 优先文件集 control and its editor; returns the `prefer_collection` to search
    with ("none" for no preference).

    Raises:
        ConfigError: if the collections file is unreadable (the page shows it as one error).
    """
    import streamlit as st

    collections = load_collections(cfg.kb)
    options = [NO_COLLECTION, *collections.names()]
    try:
        preferred = collections.chosen(cfg.collection) or NO_COLLECTION
    except QueryError:          # the setting names a collection this knowledge base lacks
        preferred = NO_COLLECTION
    side = st.sidebar
    chosen = side.selectbox("优先文件集", options, index=options.index(preferred), key="f-collection",
                            format_func=lambda n: "无" if n == NO_COLLECTION else n + ("（默认）" if n == collections.default
                                                                                     else ""),
                            help="优先显示文件集中的文件（仍会显示其他文件）。")
    with side.expander("管理文件集"):
        name = st.text_input("名称", value="" if chosen == NO_COLLECTION else chosen, key="c-name")
        members = collections.members.get(name, ())
        by_title = {t: k for k, t in titles.items()}
        chosen_docs = st.multiselect("文件", sorted(titles.values()), key=f"c-docs-{name}",
                                     default=[t for t in members if t in by_title])
        missing = [t for t in members if t not in by_title]
        if missing:
            st.caption("知识库中找不到：" + "、".join(escape(t) for t in missing))
        make_default = st.checkbox("设为默认文件集", value=bool(name) and name == collections.default, key="c-default")
        save, remove = st.columns(2)
        if save.button("保存", key="c-save"):
            try:
                save_collections(cfg.kb, collections.with_collection(name, [*chosen_docs, *missing],
                                                                     make_default=make_default))
            except QueryError as err:
                st.error(str(err))
            else:
                st.session_state.pop("f-collection", None)
                st.rerun()
        if remove.button("删除", key="c-remove", disabled=name not in collections.members):
            save_collections(cfg.kb, collections.without(name))
            st.session_state.pop("f-collection", None)
            st.rerun()
    return chosen


def restrictions(filters: Filters) -> list[str]:
    """What in the filters may have excluded results, in words."""
    out = []
    if filters.documents:
        out.append(f"只查 {len(filters.documents)} 部法规")
    if filters.levels:
        out.append("只查" + "、".join(filters.levels))
    if filters.regions:
        out.append("只查" + "、".join(filters.regions))
    if set(filters.statuses) != set(STATUS_LABELS):
        out.append("只查" + "、".join(STATUS_LABELS[s] for s in filters.statuses) + "的版本")
    if filters.date_from or filters.date_to:
        out.append(f"施行日期在 {filters.date_from}—{filters.date_to}")
    return out


def show_results(cfg: Config, store: Store, query: str, filters: Filters, k: int, *, key: str) -> None:
    """Search and show clause cards; an empty result says why and what to loosen.

    Raises:
        SearchIndexError, ConfigError: if the index or model cannot be loaded.
        QueryError: for an invalid filter.
    """
    import streamlit as st
    engine = current_searcher(cfg)
    started = time.perf_counter()
    hits = engine.search(query, k, filters)
    elapsed = (time.perf_counter() - started) * 1000
    if not hits:
        st.warning(escape(f"没有找到与“{query}”相关的条文。"))
        limits = restrictions(filters)
        if limits:
            st.markdown("当前筛选条件（" + "；".join(limits) + "）可能太窄。可以在左侧放宽：加入已修改或已废止的版本，"
                        "清除法规、级别、地区或日期筛选。")
        else:
            st.markdown("可以换一种说法，尽量使用法规中的用语（如“信访事项”“复查”“调解协议”），"
                        "或直接输入法规名称和条号，例如“信访工作条例第三十六条”。")
        return
    st.caption(f"找到 {len(hits)} 条 · 用时 {elapsed:.0f} 毫秒")
    show_hits(cfg, store, engine, hits, key=key)


def show_hits(cfg: Config, store: Store, engine: Searcher, hits: list[Hit], *, key: str) -> None:
    """Clause cards for hits, each with its other versions linked. The cards show the units as
    the searcher's index snapshot holds them, whatever a writer is changing in the store."""
    import streamlit as st

    from ui.pages import page
    units = engine.units.by_ids([h.article_id for h in hits])
    for hit in hits:
        unit = units[hit.article_id]
        clause_card(cfg, store, unit, key=f"{key}-{unit.id}", terms=hit.matched_terms, match_kinds=hit.match)
        if hit.other_versions:
            cols = st.columns(len(hit.other_versions) + 1)
            cols[0].caption("其他版本：")
            for col, v in zip(cols[1:], hit.other_versions):
                col.page_link(page("browse", cfg), label=f"{v.version_date}（{STATUS_LABELS.get(v.status, v.status)}）",
                              query_params={"doc": str(unit.document_id), "art": str(v.article_id)})


def search_hits_cards(cfg: Config, store: Store, query: str, *, key: str, doc_keys: tuple[str, ...],
                      include_superseded: bool) -> None:
    """Search within some documents (the browse page's 在本法规中检索).

    Raises:
        SearchIndexError, ConfigError, QueryError: as `show_results`.
    """
    from index import Filters
    statuses = tuple(STATUS_LABELS) if include_superseded else ("current",)
    show_results(cfg, store, query, Filters(documents=doc_keys, statuses=statuses, prefer_region=""),
                 cfg.top_k, key=key)

