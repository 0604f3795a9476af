"""概览: what the knowledge base holds (documents by level, region and status), the model and
index in use, when it was last updated, and the files that could not be read, with the reason."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ingest.records import STATUS_LABELS
from ui.common import documents, escape, kb_store, level_order, region_order

if TYPE_CHECKING:
    from kb.settings import Config


def render(cfg: Config) -> None:
    import streamlit as st
    st.title("概览")
    with kb_store(cfg) as store:
        if store is None:
            return
        docs = documents(cfg, store)
        stats = store.stats()
        cols = st.columns(4)
        cols[0].metric("法规", len(docs))
        cols[1].metric("条文", store.count_articles())
        cols[2].metric("现行有效", stats["status"].get("current", 0))
        cols[3].metric("多版本法规", sum(d.versions > 1 for d in docs))
        st.caption(escape(f"知识库 {cfg.kb} · 最近导入 {store.last_ingest().replace('T', ' ') or '未知'} · "
                          f"内容版本 {store.generation()}"))
        cols = st.columns(3)
        _counts(cols[0], "按效力级别", stats["level"], key=level_order)
        _counts(cols[1], "按地区", stats["region"], key=region_order)
        _counts(cols[2], "按时效", {STATUS_LABELS.get(k, k): v for k, v in stats["status"].items()})
        _index_info(cfg)
        failures = store.failures()
        st.subheader(f"未能导入的文件（{len(failures)}）")
        if failures:
            st.dataframe([{"文件": f.path, "类型": f.kind, "原因": f.message, "时间": f.at.replace("T", " ")}
                          for f in failures], hide_index=True, width="stretch")
        else:
            st.caption("没有导入失败的文件。")


def _counts(container, title: str, counts: dict[str, int], key=None) -> None:
    rows = sorted(counts.items(), key=(lambda kv: key(kv[0])) if key else (lambda kv: -kv[1]))
    container.markdown(f"**{title}**")
    container.table({"类别": [k or "未分类" for k, _ in rows], "法规数": [v for _, v in rows]})


def _index_info(cfg: Config) -> None:
    """The model and index the search uses, as the index describes itself."""
    import streamlit as st

    from kb.errors import KBError
    from ui.search import index_description
    st.subheader("检索模型与索引")
    try:
        st.markdown(index_description(cfg))
    except KBError as e:            # the rest of the overview stays useful without an index
        st.error(escape(str(e)))
