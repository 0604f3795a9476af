"""检索: one question box (Enter searches), filters in the sidebar, results as clause cards.

URL: `/?q=<question>` (the question is kept in the address, so a search can be shared).
The searcher (model + indexes) is loaded once per process and swapped for each new index snapshot.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from index.collections import NO_COLLECTION, load_collections, update_collections
from index.query import asks_something
from ingest.records import STATUS_LABELS
from kb.errors import QueryError
from kb.places import NATIONAL
from ui.common import current_searcher, documents, escape, kb_store, level_order, region_order, show_results

if TYPE_CHECKING:
    from index import Filters
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
        if not asks_something(query):
            st.warning("没有可检索的文字或数字（只有标点或符号）：请输入问题、关键词或条文。")
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
    # the user's own region, though the knowledge base may hold none of its rules (成都市's): its
    # province's and the national ones still rank first for it
    local = [r for r in regions if r != NATIONAL]
    preference_options = [NO_PREFERENCE, *dict.fromkeys(([cfg.region] if cfg.region else []) + local)]
    prefer = side.selectbox("地区偏好", preference_options, index=preference_options.index(cfg.region),
                            format_func=lambda r: r or "无偏好", key="f-prefer",
                            help="优先显示该地区（及全国）的规定；选择市时也包括其所在省的规定。不会排除其他地区。")
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
                update_collections(cfg.kb, lambda now: now.with_collection(name, [*chosen_docs, *missing],
                                                                           make_default=make_default))
            except QueryError as err:
                st.error(str(err))
            else:
                st.session_state.pop("f-collection", None)
                st.rerun()
        if remove.button("删除", key="c-remove", disabled=name not in collections.members):
            update_collections(cfg.kb, lambda now: now.without(name))
            st.session_state.pop("f-collection", None)
            st.rerun()
    return chosen
