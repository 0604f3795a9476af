"""Widgets shared by the pages: the clause card, status badge, citation, pack sidebar, errors.

Pages only render; every decision about text (citations, highlighting, diffs) comes from
`lecture` / `index`, and every read from `ingest.open_store`.
"""
from __future__ import annotations

import functools
import html
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.records import EVENT_LABELS, LEVELS, STATUS_LABELS
from kb.chinese import book_title, title_key
from kb.citations import item_lines, item_paragraph, part_label
from kb.errors import KBError
from kb.places import NATIONAL
from lecture import (add_to_saved_pack, citation, clause_from_article, contains, list_packs, load_pack,
                     mark_terms)
from lecture.handout import RichText
from lecture.linked import Link, linked_paragraphs
from lecture.storage import pack_path

if TYPE_CHECKING:
    from index import Filters, Hit, Searcher
    from ingest.store import Store, StoredArticle, StoredDocument, StoredReference, StoredVersion
    from kb.settings import Config
    from lecture import PackClause

STATUS_COLORS = {"current": ("#e6f4ea", "#137333"), "superseded": ("#fef7e0", "#b06000"),
                 "repealed": ("#f1f3f4", "#5f6368"), "pending": ("#e8f0fe", "#1a73e8")}
MATCH_LABELS = {"reference": "条文引用", "doc_number": "文号", "keywords": "关键词", "meaning": "语义"}
DEFAULT_PACK = "我的讲义"
ACTIVE_PACK_KEY = "active_pack"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Views the app keeps computed per server (a comparison, the time limits of a choice of documents):
# each is kept for every user, so without a bound every pair anyone compared stayed in memory.
MAX_CACHED_VIEWS = 32

_CSS = """<style>
.kb-badge {display:inline-block; padding:0 .45em; border-radius:.6em; font-size:.8em; margin-left:.4em;}
.kb-ocr {background:#fce8e6; color:#a50e0e; cursor:help;}
.kb-tag {display:inline-block; padding:0 .4em; border:1px solid #c4c7c5; border-radius:.3em; font-size:.75em;
         margin-left:.3em; color:#444;}
.kb-cite {font-weight:600; font-size:1.05em;}
.kb-text p {margin:.15em 0 .35em 0; line-height:1.7;}
.kb-text mark {background:#fff3a3; padding:0 .1em;}
.kb-text del, .kb-diff del {background:#fde7e9; color:#a50e0e;}
.kb-text ins, .kb-diff ins {background:#e6f4ea; color:#0d652d; text-decoration:none; border-bottom:1px solid #0d652d;}
.kb-text .kb-asked {background:#e8f0fe; border-left:3px solid #1a73e8; padding:.1em .5em;}
.kb-text span.kb-asked {display:inline-block;}
.kb-asked-label {color:#1a73e8; font-size:.8em; font-weight:600; margin-right:.5em;}
.kb-context {color:#5f6368; font-size:.9em; border-left:3px solid #dadce0; padding-left:.7em; margin:.3em 0;}
.kb-target {background:#fffbe6; outline:2px solid #f9ab00; border-radius:.3em;}
.kb-article {scroll-margin-top:4rem; padding:.1em .3em;}
.kb-diff td {vertical-align:top; padding:.35em .5em; border-bottom:1px solid #eee; line-height:1.6;}
.kb-diff th {text-align:left; padding:.35em .5em; border-bottom:2px solid #ccc;}
.kb-diff {border-collapse:collapse; width:100%;}
.kb-text a.kb-ref {color:#1a73e8; text-decoration:none; border-bottom:1px dotted #1a73e8;}
.kb-text abbr.kb-term {text-decoration:none; border-bottom:1px dashed #b06000; cursor:help;}
</style>"""


def inject_css() -> None:
    import streamlit as st
    st.html(_CSS)


def guarded(render: Callable[[Config], None], cfg: Config) -> Callable[[], None]:
    """A page body that shows any `KBError` as one `st.error` line instead of a traceback."""
    @functools.wraps(render)
    def page() -> None:
        import streamlit as st
        inject_css()
        try:
            render(cfg)
        except KBError as e:
            st.error(escape(str(e)))
    return page


@contextmanager
def kb_store(cfg: Config, *, notice: bool = True) -> Iterator[Store | None]:
    """The open knowledge base, or None when there is none yet or it holds no documents (then,
    with `notice`, the page tells the user how to add documents). A page reads one state of it
    (`Store.consistent`), whatever a writer commits while the page is drawn.

    Raises:
        StoreError: if a knowledge base exists but cannot be read (shown by `guarded`).
    """
    from ingest.store import DB_NAME, open_store
    if not (Path(cfg.kb) / DB_NAME).exists():
        if notice:
            empty_kb_notice(cfg)
        yield None
        return
    with open_store(cfg.kb) as store, store.consistent():
        if store.count_articles() == 0:
            if notice:
                empty_kb_notice(cfg)
            yield None
        else:
            yield store


SNAPSHOT_KEY = "index_snapshot"       # the index snapshot this session last searched


def current_searcher(cfg: Config) -> Searcher:
    """The process-wide searcher of the knowledge base (`index.search.searcher_for`): the index
    snapshot in use, replaced as soon as a writer has swapped in a new one. A session is told
    once when its searches move to a new snapshot; while the index is behind the store, a
    caption says so (searches go on, on the last complete snapshot).

    Raises:
        SearchIndexError, ConfigError, StoreError: if the index or the model cannot be loaded.
    """
    import streamlit as st

    from index.search import searcher_for
    with st.spinner("正在加载检索模型和索引…"):
        searcher = searcher_for(str(cfg.kb), cfg)
    seen = st.session_state.get(SNAPSHOT_KEY)
    if seen is not None and seen != searcher.folder.name:
        st.toast(f"已载入新的索引（{len(searcher.catalog)} 条）")
    st.session_state[SNAPSHOT_KEY] = searcher.folder.name
    staleness = searcher.staleness()
    if staleness:
        st.caption(staleness)
    return searcher


def _documents(kb: str, generation: int) -> list[StoredDocument]:
    from ingest.store import open_store
    with open_store(kb) as store:
        return store.documents()


def documents(cfg: Config, store: Store) -> list[StoredDocument]:
    """All documents of the knowledge base, cached until its content changes (its generation)."""
    import streamlit as st
    return st.cache_data(show_spinner=False, max_entries=4)(_documents)(str(cfg.kb), store.generation())


def level_order(level: str) -> tuple[int, str]:
    """Sort key of a level of legal force: highest first (宪法, 法律, …), unknown ones last."""
    return (LEVELS.index(level) if level in LEVELS else len(LEVELS), level)


def region_order(region: str) -> tuple[bool, str]:
    """Sort key of a region: 全国 first, then by name."""
    return (region != NATIONAL, region)


# A row id in a URL: ASCII digits that fit SQLite's 64-bit integers ("²".isdigit() is true, and
# int() refuses it; a 20-digit id overflowed SQLite).
_ROW_ID = re.compile(r"[0-9]{1,18}")


def query_ints(name: str) -> list[int]:
    """The row ids a URL query parameter gives (`?doc=3&doc=7`), each once, in order, skipping what
    is no row id."""
    import streamlit as st
    return list(dict.fromkeys(int(value) for value in st.query_params.get_all(name) if _ROW_ID.fullmatch(value)))


def query_int(name: str) -> int | None:
    """The row id a URL query parameter gives (`?doc=12`), or None when absent or no row id."""
    import streamlit as st
    value = st.query_params.get(name)
    return int(value) if value is not None and _ROW_ID.fullmatch(value) else None


def empty_kb_notice(cfg: Config) -> None:
    import streamlit as st
    st.info(f"知识库（{cfg.kb}）中还没有法规文件。请在左侧“添加文件”页上传 PDF、Word、TXT、Markdown 或网页文件，"
            f"或在命令行运行：`python -m ingest 文件夹 --kb {cfg.kb}`，完成后刷新本页。")


# What Markdown, Streamlit's `:red[…]`, `:material/…:` and `$…$`, and HTML are written with: these
# characters anywhere; at the start of a line, a blank (indented code), a block marker or the dot of
# an ordered list's number.
_MARKUP = re.compile(r"[\\`*_\[\]()<>&~$|:]|^[ \t#>+=\-]|^(\d{1,9})\.", re.MULTILINE)
# Streamlit's renderer links URLs and e-mail addresses in text even after decoding character
# references, so an invisible word joiner goes where its patterns would match: before the colon of
# "http(s):", after the "www" of "www." and after the "@" of an address.
_LINK_TRIGGER = re.compile(r"(?<=http)(?=:)|(?<=https)(?=:)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def offer_download(where, label: str, data: bytes | str, *, file_name: str, mime: str, icon: str, key: str) -> None:
    """A download button in `where` (`st` or a column) that does not run the page again when clicked:
    the file is already in the page, and a run redraws the page while the user goes on (a tab
    clicked meanwhile could be lost)."""
    where.download_button(label, data, file_name=file_name, mime=mime, icon=icon, key=key, on_click="ignore")


def escape(text: str) -> str:
    """`text` shown as itself wherever Streamlit renders Markdown (st.markdown, messages, captions,
    titles, widget labels) or HTML: every character that could start markup becomes a numeric
    character reference, which Markdown and HTML both show as that character, and URLs and
    addresses get an invisible `WORD_JOINER` that keeps them from becoming links. The one way
    file names, titles and other user strings are put into the page."""
    text = _LINK_TRIGGER.sub(WORD_JOINER, text)
    return _MARKUP.sub(lambda m: f"{m.group(1)}&#46;" if m.group(1) else f"&#{ord(m.group(0))};", text)


_MARK_TAGS = {"hit": "mark", "del": "del", "ins": "ins"}


def runs_html(runs: RichText) -> str:
    """Rich text as HTML: matched terms in <mark>, deletions in <del>, insertions in <ins>."""
    out = []
    for run in runs:
        text = escape(run.text).replace("\n", "<br>")
        tag = _MARK_TAGS.get(run.mark)
        out.append(f"<{tag}>{text}</{tag}>" if tag else text)
    return "".join(out)


def status_badge(status: str) -> str:
    """HTML badge: 现行有效 / 已修改 / 已废止 / 尚未施行."""
    bg, fg = STATUS_COLORS.get(status, ("#f1f3f4", "#3c4043"))
    return f'<span class="kb-badge" style="background:{bg};color:{fg}">{STATUS_LABELS.get(status, status)}</span>'


def ocr_badge(confidence: float | None) -> str:
    """HTML badge "OCR 识别" for text read from a scan or photo, its mean confidence on hover: the
    reader should check the original."""
    mean = f"，平均置信度 {confidence:.1%}" if confidence is not None else ""
    return (f'<span class="kb-badge kb-ocr" title="文字由 OCR 从扫描件或照片识别{mean}；引用前请与原件核对">'
            'OCR 识别</span>')


def article_citation(article: StoredArticle) -> str:
    return citation(article.title, article.label, status=article.status, version_date=article.version_date)


def article_html(article: StoredArticle | PackClause, terms: Sequence[str] = (), *, label: bool = True) -> str:
    """The paragraphs (款) of an article, matched terms highlighted, after its label (which a
    card leaves out: its citation names the article already)."""
    paragraphs = article.paragraphs or (article.text,)
    body = "".join(f"<p>{runs_html(mark_terms(p, terms))}</p>" for p in paragraphs)
    head = f"<p><b>{escape(article.label)}</b></p>" if label else ""
    return f'<div class="kb-text">{head}{body}</div>'


HOVER_CHARS = 300      # of a cited article's text shown on hovering over the reference


def _attribute(text: str) -> str:
    return html.escape(text, quote=True)


def linked_article_html(article: StoredArticle, references: Sequence[StoredReference],
                        targets: Mapping[int, StoredArticle], definitions: Mapping[str, str],
                        terms: Sequence[str] = (), *, label: bool = True, page_version: int | None = None,
                        paragraph: int = 0, item: int = 0) -> str:
    """An article's text with its references as links (`#art-<id>` for an article of
    `page_version`, shown on the same page; the reading view of its document otherwise), the
    cited text on hover; the document's defined terms marked, their definition on hover; matched
    search terms highlighted; the 款 a reference asked for (`paragraph`, from 1), or its 项 (`item`),
    marked and labelled (第二款, 第六项). Unresolved references are plain text."""
    paragraphs = article.paragraphs or (article.text,)
    item_in = item_paragraph(paragraphs, paragraph) if item else 0
    links = [Link(r.start, r.end, r.target_id if r.target_id in targets else None,
                  r.target_id in targets and targets[r.target_id].version_id == page_version)
             for r in references]
    body = []
    for pieces in linked_paragraphs(paragraphs, links, definitions):
        out = []
        for piece in pieces:
            text = runs_html(mark_terms(piece.text, terms))
            if piece.target_id is not None:
                target = targets[piece.target_id]
                hover = _attribute(f"{article_citation(target)}：{target.text[:HOVER_CHARS]}")
                href = (f"#art-{target.id}" if piece.in_page
                        else f"browse?doc={target.document_id}&amp;art={target.id}")
                out.append(f'<a class="kb-ref" href="{href}" target="_self" title="{hover}">{text}</a>')
            elif piece.definition:
                out.append(f'<abbr class="kb-term" title="{_attribute(piece.definition)}">{text}</abbr>')
            else:
                out.append(text)
        at = len(body) + 1
        if at == item_in:
            # one line of the paragraph per line of its text: runs_html writes each \n as <br>
            lines = "".join(out).split("<br>")
            line = item_lines(paragraphs[at - 1])[item - 1]
            lines[line] = (f'<span class="kb-asked"><span class="kb-asked-label">{part_label(item=item)}</span>'
                           f"{lines[line]}</span>")
            body.append(f"<p>{'<br>'.join(lines)}</p>")
        elif at == paragraph and not item:
            body.append(f'<p class="kb-asked"><span class="kb-asked-label">{part_label(paragraph)}</span>'
                        f"{''.join(out)}</p>")
        else:
            body.append(f"<p>{''.join(out)}</p>")
    head = f"<p><b>{escape(article.label)}</b></p>" if label else ""
    return f'<div class="kb-text">{head}{"".join(body)}</div>'


def article_links(store: Store, articles: Sequence[StoredArticle]
                  ) -> tuple[dict[int, list[StoredReference]], dict[int, StoredArticle], dict[str, str]]:
    """For `linked_article_html`: the references of these articles (all of one version, or a few
    cards), the articles they resolve to, and the terms their documents define."""
    versions = {a.version_id for a in articles}
    references: dict[int, list[StoredReference]] = {}
    if len(versions) == 1 and len(articles) > 1:
        references = store.version_references(next(iter(versions)))
    else:
        for a in articles:
            references[a.id] = store.references(a.id)
    ids = sorted({r.target_id for refs in references.values() for r in refs if r.target_id is not None})
    targets = {t.id: t for t in store.articles_by_ids(ids)}
    definitions = {d.term: d.definition for v in sorted(versions) for d in store.definitions(v)}
    return references, targets, definitions


def card_header_html(article: StoredArticle, match_kinds: Sequence[str] = ()) -> str:
    tags = "".join(f'<span class="kb-tag">{MATCH_LABELS.get(k, k)}</span>' for k in match_kinds)
    ocr = ocr_badge(article.ocr_confidence) if article.ocr else ""
    return f'<span class="kb-cite">{escape(article_citation(article))}</span>{status_badge(article.status)}{ocr}{tags}'


def card_meta(article: StoredArticle) -> str:
    """Breadcrumb, issuing body, effective date and region, as one caption line."""
    parts = []
    if article.subtitle:
        parts.append(article.subtitle)
    if article.path:
        parts.append(" › ".join(article.path))
    if article.issuer:
        parts.append(article.issuer)
    if article.version_event:
        # an amended law's 施行 date is the original law's: say which version this text is
        parts.append(f"{article.version_event_date} {EVENT_LABELS[article.version_event]}")
    if article.effective:
        parts.append(f"{article.effective} 施行")
    if article.region and article.region != NATIONAL:
        parts.append(article.region)
    return " · ".join(parts)


def clause_card(cfg: Config, store: Store, article: StoredArticle, *, key: str, terms: Sequence[str] = (),
                match_kinds: Sequence[str] = (), show_read_link: bool = True, paragraph: int = 0,
                item: int = 0) -> None:
    """One clause: citation, status badge, how it matched, breadcrumb and source, the text with
    matched terms highlighted (and the 款 or 项 asked for, `paragraph`, `item`, marked), and the actions 上下文 /
    阅读全文 / 复制引用 / 加入讲义; the last two take the 款 or 项 asked for alone, as a pack clause
    (《信访工作条例》第三十六条第二款 and that 款)."""
    import streamlit as st

    from ui.pages import page
    clause = clause_from_article(article, paragraph, item)
    with st.container(border=True, key=f"card-{key}"):      # the key gives the card a CSS class, st-key-card-…
        st.markdown(card_header_html(article, match_kinds), unsafe_allow_html=True)
        meta = card_meta(article)
        if meta:
            st.caption(escape(meta))
        references, targets, definitions = article_links(store, [article])
        st.markdown(linked_article_html(article, references.get(article.id, []), targets, definitions, terms,
                                        label=False, paragraph=paragraph, item=item), unsafe_allow_html=True)
        cols = st.columns([1, 1, 1, 1.2])
        show_context = cols[0].toggle("上下文", key=f"{key}-ctx")
        if show_read_link:
            cols[1].page_link(page("browse", cfg), label="阅读全文", icon=":material/menu_book:",
                              query_params={"doc": str(article.document_id), "art": str(article.id)})
        with cols[2].popover("复制引用", icon=":material/content_copy:"):
            st.caption("点击右上角的复制按钮")
            st.code(f"{clause.citation}\n{clause.text}", language=None, wrap_lines=True)
        pack_name = active_pack()
        in_pack = _pack_has(cfg, pack_name, clause)
        cols[3].button("已在讲义中" if in_pack else "加入讲义", key=f"{key}-add", icon=":material/playlist_add:",
                       disabled=in_pack, on_click=add_to_pack, args=(cfg, pack_name, clause))
        if show_context:
            before, after = store.neighbours(article.id)
            for unit in before + after:
                where = "上一条" if unit in before else "下一条"
                st.markdown(f'<div class="kb-context"><b>{where} · {escape(unit.label)}</b><br>'
                            f'{escape(unit.text).replace(chr(10), "<br>")}</div>', unsafe_allow_html=True)
            if not before and not after:
                st.caption("本条前后没有其他条文。")


def active_pack() -> str:
    """The pack that 加入讲义 adds to (chosen in the sidebar by `pack_sidebar`)."""
    import streamlit as st
    return st.session_state.get(ACTIVE_PACK_KEY) or DEFAULT_PACK


def _pack_has(cfg: Config, name: str, clause: PackClause) -> bool:
    if not pack_path(cfg.kb, name).exists():
        return False
    return contains(load_pack(cfg.kb, name), clause.ref)


def add_to_pack(cfg: Config, name: str, clause: PackClause) -> None:
    """Button callback: append the clause (an article, or its 款 or 项 asked for) to the pack
    (created if new) and save it."""
    import streamlit as st
    try:
        add_to_saved_pack(cfg.kb, name, [clause])
    except KBError as e:
        st.error(escape(str(e)))
        return
    st.toast(escape(f"已将{clause.citation}加入讲义“{name}”"))


def pack_sidebar(cfg: Config) -> None:
    """Sidebar control choosing the pack 加入讲义 adds to; rendered on every page so it keeps its state."""
    import streamlit as st
    names = list_packs(cfg.kb) or [DEFAULT_PACK]
    if st.session_state.get(ACTIVE_PACK_KEY) not in names:
        st.session_state[ACTIVE_PACK_KEY] = names[0]
    st.sidebar.selectbox("当前讲义", names, key=ACTIVE_PACK_KEY,
                         help="“加入讲义”会把条文加到这份讲义里；在“讲义”页可新建、排序和导出。")


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
    for notice in engine.notices(query, filters):
        st.info(escape(notice), icon=":material/info:")
    _related_links(cfg, store, engine, query, filters)
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


def comparisons_asked(cfg: Config, store: Store, engine: Searcher, query: str, filters: Filters
                      ) -> list[tuple[StoredVersion, StoredVersion]]:
    """(older, newer) versions a question sets side by side, for 新旧对照: a document it names in an
    older version (原行政复议法…, 2017年的…) with its newest version, and one it names with its
    successor of another title (信访条例和信访工作条例有什么区别) with that successor's newest.

    Raises:
        StoreError: if the bundled list of successors cannot be read.
    """
    parsed = engine.parse(query, filters)
    rows = [row for _, row in engine.versions_named(parsed)]
    pairs: list[tuple[StoredVersion, StoredVersion]] = []
    for unit in engine.units.by_ids([int(engine.catalog.ids[r]) for r in rows]).values():
        versions = store.versions(unit.document_id)
        older = next((v for v in versions if v.id == unit.version_id), None)
        if older is not None and versions[0].id != older.id:
            pairs.append((older, versions[0]))
    named = {d.id for d in documents(cfg, store) if d.key in parsed.mentioned}
    for document_id in sorted(named):
        pairs += [(older, newer) for older, newer in successor_versions(store, document_id)
                  if newer.document_id in named]
    return list({(older.id, newer.id): (older, newer) for older, newer in pairs}.values())


def successor_versions(store: Store, document_id: int) -> list[tuple[StoredVersion, StoredVersion]]:
    """(the document's newest version, the successor's newest) for each stored text of another
    title that replaces it (信访条例 → 信访工作条例, `ingest/data/successors.tsv`) or declares it
    repealed (行政复议条例 → 行政复议法).

    Raises:
        StoreError: if the bundled list of successors cannot be read.
    """
    pairs = []
    for successor in dict.fromkeys(s for s, _, _ in store.replaced_by(document_id) + store.repealed_by(document_id)):
        # a writer may have removed either since the list of documents was read
        older, newer = (next(iter(store.versions(d)), None) for d in (document_id, successor))
        if older is not None and newer is not None:
            pairs.append((older, newer))
    return pairs


def comparison_label(older: StoredVersion, newer: StoredVersion) -> str:
    """How a link to 新旧对照 names two versions: 《行政复议法》2017-09-01 → 2023-09-01, or
    《信访条例》（2005-01-10）→《信访工作条例》（2022-02-25） for texts of two titles."""
    if older.title == newer.title:
        return f"{book_title(older.title)}{older.version_date} → {newer.version_date}"
    return f"{book_title(older.title)}（{older.version_date}）→{book_title(newer.title)}（{newer.version_date}）"


def _related_links(cfg: Config, store: Store, engine: Searcher, query: str, filters: Filters) -> None:
    """Under the notices, the pages that answer what the question asks beyond its clauses: a
    document's table of contents (信访工作条例有几章), the text that repealed one the knowledge
    base lacks (婚姻法 → 民法典), and the comparison of two versions."""
    import streamlit as st

    from ui.pages import page
    parsed = engine.parse(query, filters)
    held = documents(cfg, store)
    if parsed.asks_outline:
        for d in (d for d in held if d.key in parsed.mentioned):
            st.page_link(page("browse", cfg), label=escape(f"法规浏览：{book_title(d.title)}的目录和全文"),
                         icon=":material/menu_book:", query_params={"doc": str(d.id)})
    successors = {gone.by for name in parsed.unknown if (gone := engine.repealed.get(title_key(name)))}
    for d in (d for d in held if d.title in successors):
        st.page_link(page("browse", cfg), label=escape(f"法规浏览：{book_title(d.title)}"), icon=":material/menu_book:",
                     query_params={"doc": str(d.id)})
    for older, newer in comparisons_asked(cfg, store, engine, query, filters):
        st.page_link(page("compare", cfg), label=escape(f"新旧对照：{comparison_label(older, newer)}"),
                     icon=":material/compare:",
                     query_params={"old": str(older.id), "new": str(newer.id)})


def show_hits(cfg: Config, store: Store, engine: Searcher, hits: list[Hit], *, key: str) -> None:
    """Clause cards for hits, each with its other versions linked. The cards show the units as
    the searcher's index snapshot holds them, whatever a writer is changing in the store."""
    import streamlit as st

    from ui.pages import page
    units = engine.units.by_ids([h.article_id for h in hits])
    for hit in hits:
        unit = units[hit.article_id]
        clause_card(cfg, store, unit, key=f"{key}-{unit.id}", terms=hit.matched_terms, match_kinds=hit.match,
                    paragraph=hit.paragraph, item=hit.item)
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
