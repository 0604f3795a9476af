"""The app's pages and navigation. `serve(cfg)` runs one script run of the app.

Pages are callables (`ui.<module>.render(cfg)`), registered with `st.navigation` under fixed
URL paths, so links can carry query parameters: `/browse?doc=12&art=345`.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamlit.navigation.page import StreamlitPage

    from kb.settings import Config


@dataclass(frozen=True)
class PageSpec:
    url_path: str
    title: str
    icon: str
    module: str


PAGES = (
    PageSpec("search", "检索", ":material/search:", "ui.search"),
    PageSpec("browse", "法规浏览", ":material/menu_book:", "ui.browse"),
    PageSpec("pack", "讲义", ":material/assignment:", "ui.pack"),
    PageSpec("compare", "新旧对照", ":material/compare:", "ui.compare"),
    PageSpec("check", "引用核对", ":material/fact_check:", "ui.check"),
    PageSpec("tools", "备课工具", ":material/school:", "ui.tools"),
    PageSpec("upload", "添加文件", ":material/upload_file:", "ui.upload"),
    PageSpec("overview", "概览", ":material/insights:", "ui.overview"),
)
_BY_PATH = {p.url_path: p for p in PAGES}
APP_TITLE = "政策法规知识库"


def page(url_path: str, cfg: Config, *, default: bool = False) -> StreamlitPage:
    """The `st.Page` of one page; also what `st.page_link` / `st.switch_page` take to link to it.

    Raises:
        KeyError: for an unknown page.
    """
    import streamlit as st

    from ui.common import guarded
    spec = _BY_PATH[url_path]
    render = import_module(spec.module).render
    return st.Page(guarded(render, cfg), title=spec.title, icon=spec.icon, url_path=spec.url_path, default=default)


def serve(cfg: Config, default: str = "search") -> None:
    """Set up the page, the sidebar shared by all pages and the navigation, then run the chosen page."""
    import streamlit as st

    from ui.common import pack_sidebar
    st.set_page_config(page_title=APP_TITLE, page_icon=":material/gavel:", layout="wide")
    navigation = st.navigation([page(p.url_path, cfg, default=p.url_path == default) for p in PAGES])
    st.sidebar.caption(f"{APP_TITLE} · 知识库 `{cfg.kb}`")
    pack_sidebar(cfg)
    navigation.run()
