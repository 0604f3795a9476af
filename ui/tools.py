"""备课工具: what an instructor draws from the clauses of one or several documents.

- 期限一览: every time limit in article order, filtered by actor, each row linking to its clause;
  exported as CSV and Word.
- 流程图: the procedure of a document as a graph (`st.graphviz_chart` draws the DOT in the
  browser); exported as SVG (for slides) and DOT.
- 自测: a round of practice questions (periods, actors, defined terms, 应当/可以/不得) with the score
  and, for each mistake, the clause.

URL: `/tools?doc=<document id>` (repeat `doc` for several documents).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from lecture import (TABLE_HEADER, actors_of, build_flow, deadlines_handout, document_deadlines,
                     document_definitions, document_norms, filter_rows, is_correct, make_quiz, quiz_handout, row_cells,
                     to_csv, to_docx, to_dot, to_svg)
from kb.chinese import book_title
from kb.places import NATIONAL
from lecture.quiz import LETTERS
from lecture.storage import safe_stem
from ui.common import DOCX_MIME, MAX_CACHED_VIEWS, documents, escape, kb_store, offer_download, query_ints

if TYPE_CHECKING:
    from ingest.store import StoredDocument
    from kb.settings import Config
    from lecture import DeadlineRow, Definition, Norm, Question

QUIZ_SIZE = 5
# Documents one view takes: a lecture sets 《信访工作条例》 beside a few provinces' 信访条例; a link
# naming 599 documents of the whole corpus kept a server thread busy for 15 s.
MAX_DOCUMENTS = 20


def _rows(kb: str, generation: int, document_ids: tuple[int, ...]) -> list[DeadlineRow]:
    """The time limits of the chosen documents, in their order (cached per store generation)."""
    from ingest import open_store
    with open_store(kb) as store, store.consistent():
        by_id = {d.id: d for d in store.documents()}
        return [row for i in document_ids if i in by_id for row in document_deadlines(store, by_id[i])]


def _quiz_facts(kb: str, generation: int, document_id: int) -> tuple[list[Definition], list[Norm]]:
    """The terms a document defines and its 应当/可以/不得 sentences, for the questions besides its
    time limits (cached per store generation)."""
    from ingest import open_store
    with open_store(kb) as store, store.consistent():
        document = next((d for d in store.documents() if d.id == document_id), None)
        if document is None:
            return [], []
        return document_definitions(store, document), document_norms(store, document)


def article_url(document_id: int, article_id: int, version_id: int | None = None) -> str:
    """The 法规浏览 page of a document at one of its articles (of `version_id`, else the article's own)."""
    version = f"&ver={version_id}" if version_id is not None else ""
    return f"/browse?doc={document_id}{version}&art={article_id}"


def clause_url(row: DeadlineRow) -> str:
    a = row.article
    return article_url(a.document_id, a.id, a.version_id)


def _question_source(q: Question, document_id: int, rows: list[DeadlineRow], definitions: list[Definition],
                     norms: list[Norm]) -> tuple[str, str]:
    """(link to the clause, its sentence) of the fact a question was made from: each kind counts
    its `source` in its own list (a definition question's mistake showed the time limit of the same
    position)."""
    if q.kind == "definition":
        d = definitions[q.source]
        return article_url(document_id, d.article_id), d.meaning
    if q.kind == "norm":
        x = norms[q.source]
        return article_url(document_id, x.article_id), x.sentence
    row = rows[q.source]             # deadline and actor questions: the limit they ask about
    return clause_url(row), row.deadline.sentence


def render(cfg: Config) -> None:
    import streamlit as st
    st.title("备课工具")
    with kb_store(cfg) as store:
        if store is None:
            return
        generation = store.generation()
        docs = {d.id: d for d in documents(cfg, store)}
    wanted = [doc_id for doc_id in query_ints("doc") if doc_id in docs]
    if wanted and "tools-docs" not in st.session_state:
        if len(wanted) > MAX_DOCUMENTS:
            st.warning(f"链接中有 {len(wanted)} 部文件，本页一次最多 {MAX_DOCUMENTS} 部：显示前 {MAX_DOCUMENTS} 部。")
        st.session_state["tools-docs"] = wanted[:MAX_DOCUMENTS]
    chosen = st.multiselect(f"文件（可选多部，最多 {MAX_DOCUMENTS} 部，如《信访工作条例》与省级信访条例对照）", list(docs),
                            key="tools-docs", max_selections=MAX_DOCUMENTS,
                            format_func=lambda i: _doc_name(docs[i]), placeholder="输入标题搜索…")
    if not chosen:
        st.info("请选择一部或几部法规：本页列出其中的期限、画出办理流程，并生成自测题。")
        return
    rows = st.cache_data(show_spinner=False, max_entries=MAX_CACHED_VIEWS)(_rows)(str(cfg.kb), generation,
                                                                                  tuple(chosen))
    tab_table, tab_flow, tab_quiz = st.tabs(["期限一览", "流程图", "自测"])
    with tab_table:
        _deadline_table(rows)
    with tab_flow:
        _flow(rows, [docs[i] for i in chosen])
    with tab_quiz:
        _quiz(rows, [docs[i] for i in chosen], str(cfg.kb), generation)


def _doc_name(d: StoredDocument) -> str:
    return book_title(d.title) + ("" if d.region == NATIONAL else f" · {d.region}")


def _deadline_table(rows: list[DeadlineRow]) -> None:
    import streamlit as st
    cols = st.columns([3, 1])
    actors = cols[0].multiselect("按主体筛选", actors_of(rows), key="tools-actors", placeholder="全部主体")
    immediate = cols[1].toggle("含“立即/及时”", value=True, key="tools-immediate",
                               help="“应当立即/及时……”没有固定天数，列为“无固定期限”。")
    shown = filter_rows(rows, actors=actors, fixed_only=not immediate)
    if not shown:
        st.info("所选文件中没有找到期限。" if not rows else "没有符合筛选条件的期限。")
        return
    st.caption(f"共 {len(shown)} 项，按条文顺序排列；点击条款可阅读原文。")
    st.markdown(_table_html(shown), unsafe_allow_html=True)
    stem = safe_stem("期限一览_" + "_".join(dict.fromkeys(r.article.title for r in shown)))
    cols = st.columns(2)
    offer_download(cols[0], "导出 CSV", to_csv(shown).encode("utf-8"), file_name=f"{stem}.csv", mime="text/csv",
                   icon=":material/table:", key="tools-csv")
    offer_download(cols[1], "导出 Word", to_docx(deadlines_handout(shown)), file_name=f"{stem}.docx",
                   mime=DOCX_MIME, icon=":material/download:", key="tools-docx")


def _table_html(rows: list[DeadlineRow]) -> str:
    several = len({r.article.document_id for r in rows}) > 1
    head = ("文件",) * several + TABLE_HEADER
    body = []
    for r in rows:
        cells = list(row_cells(r))
        linked = f'<a href="{clause_url(r)}" target="_self">{escape(cells[0])}</a>'
        title = [f"<td>{escape(r.article.title)}</td>"] * several
        nowrap = '<td style="white-space:nowrap">'
        tds = title + [f"{nowrap}{linked}</td>", f"{nowrap}{escape(cells[1])}</td>"] + \
            [f"<td>{escape(c)}</td>" for c in cells[2:]]
        body.append(f'<tr title="{escape(r.deadline.sentence)}">{"".join(tds)}</tr>')
    # headings on one line: 延长, the last and narrowest column, stood one character a line
    heads = "".join(f'<th style="white-space:nowrap">{h}</th>' for h in head)
    return (f'<table class="kb-diff kb-deadlines"><thead><tr>{heads}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _one_document(label: str, documents_: list[StoredDocument], key: str) -> StoredDocument:
    import streamlit as st
    if len(documents_) == 1:
        return documents_[0]
    return st.selectbox(label, documents_, format_func=_doc_name, key=key)


def _flow(rows: list[DeadlineRow], chosen: list[StoredDocument]) -> None:
    import streamlit as st
    doc = _one_document("画哪一部的流程", chosen, "tools-flow-doc")
    own = [r for r in rows if r.article.document_id == doc.id]
    flow = build_flow(doc.title, [r.deadline for r in own], {r.article.label: r.article.text for r in own})
    if flow.empty:
        st.info(f"{book_title(escape(doc.title))}中没有找到带固定期限的程序步骤，无法画出流程图。")
        return
    links = {}
    for r in own:
        links.setdefault(r.article.label, clause_url(r))
    st.caption("方框是办理步骤，箭头上是期限和办理主体；点击方框阅读对应条文。")
    st.graphviz_chart(to_dot(flow, link=links.get))
    stem = safe_stem(f"流程图_{doc.title}")
    cols = st.columns(2)
    offer_download(cols[0], "导出 SVG（用于幻灯片）", to_svg(flow).encode("utf-8"), file_name=f"{stem}.svg",
                   mime="image/svg+xml", icon=":material/image:", key="tools-svg")
    offer_download(cols[1], "导出 DOT 源文件", to_dot(flow).encode("utf-8"), file_name=f"{stem}.gv",
                   mime="text/vnd.graphviz", icon=":material/code:", key="tools-dot")


def _quiz(rows: list[DeadlineRow], chosen: list[StoredDocument], kb: str, generation: int) -> None:
    import streamlit as st
    doc = _one_document("用哪一部出题", chosen, "tools-quiz-doc")
    own = [r for r in rows if r.article.document_id == doc.id]
    cols = st.columns(2)
    seed = int(cols[0].number_input("题组编号", min_value=1, max_value=9999, value=1, key="tools-seed",
                                    help="同一编号总是出同样的题，便于全班做同一组题。"))
    count = int(cols[1].number_input("题数", min_value=1, max_value=30, value=QUIZ_SIZE, key="tools-count"))
    quiz_facts = st.cache_data(show_spinner=False, max_entries=MAX_CACHED_VIEWS)(_quiz_facts)
    definitions, norms = quiz_facts(kb, generation, doc.id)
    questions = make_quiz([(r.deadline, r.citation) for r in own], seed=seed, count=count, definitions=definitions,
                          norms=norms)
    if not questions:
        st.info(f"{book_title(escape(doc.title))}中没有带固定期限、定义用语或“应当、可以、不得”的条文，无法出题。")
        return
    round_key = f"tools-quiz-{doc.id}-{seed}-{count}"
    with st.form(f"{round_key}-form"):
        for n, q in enumerate(questions, start=1):
            st.markdown(f"**{n}.** {escape(q.prompt)}")
            if q.choices:
                st.radio("选择答案", q.choices, index=None, key=f"{round_key}-{n}", label_visibility="collapsed",
                         format_func=lambda c, q=q: f"{LETTERS[q.choices.index(c)]}. {c}")
            else:
                st.text_input("填写答案", key=f"{round_key}-{n}", label_visibility="collapsed", placeholder="例如：30日")
        submitted = st.form_submit_button("交卷", icon=":material/task_alt:")
    if submitted:
        st.session_state[f"{round_key}-done"] = True
    if st.session_state.get(f"{round_key}-done"):
        answers = [st.session_state.get(f"{round_key}-{n}") or "" for n in range(1, len(questions) + 1)]
        right = [is_correct(q, a) for q, a in zip(questions, answers)]
        st.success(f"得分：{sum(right)} / {len(questions)}")
        for n, (q, a, ok) in enumerate(zip(questions, answers, right), start=1):
            if ok:
                continue
            url, sentence = _question_source(q, doc.id, own, definitions, norms)
            link = f'<a href="{url}" target="_self">{escape(q.citation)}</a>'
            clause = escape(sentence)
            st.markdown(f'<div class="kb-context kb-mistake"><b>第{n}题</b>：你的答案“{escape(a or "未作答")}”，'
                        f'正确答案“{escape(q.answer)}”。依据 {link}：{clause}</div>', unsafe_allow_html=True)
    offer_download(st, "导出试卷 Word（含答案）", to_docx(quiz_handout(doc.title, questions)),
                   file_name=f"{safe_stem('自测_' + doc.title)}.docx", mime=DOCX_MIME,
                   icon=":material/download:", key="tools-quiz-docx")
