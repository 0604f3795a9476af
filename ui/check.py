"""引用核对: paste a paragraph or upload a .docx/.md/.txt; every citation in it is checked against the
knowledge base (`lecture.check_text`) and shown in the text, coloured by verdict, and in a table
with what is wrong and what is in force instead. Nothing is stored.

URL: `/check`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from kb.chinese import book_title
from lecture import MAX_CHECK_CHARS, VERDICT_LABELS, StoreLookup, check_text, read_upload, to_correct
from ui.common import escape, kb_store

if TYPE_CHECKING:
    from kb.settings import Config
    from lecture import CheckedCitation

UPLOAD_TYPES = ("docx", "md", "txt")
VERDICT_COLORS = {"ok": ("#e6f4ea", "#137333"), "old_version": ("#e8f0fe", "#1a4fa0")}
PROBLEM_COLORS = ("#fde7e9", "#a50e0e")
_CSS = """<style>
.kb-check-text {line-height:1.9; white-space:pre-wrap;}
.kb-check-text span.kb-cited {padding:0 .15em; border-radius:.25em;}
.kb-check td {vertical-align:top; padding:.35em .5em; border-bottom:1px solid #eee; line-height:1.6;}
.kb-check th {text-align:left; padding:.35em .5em; border-bottom:2px solid #ccc;}
.kb-check {border-collapse:collapse; width:100%;}
.kb-check td:nth-child(2) {white-space:nowrap;}
</style>"""


def _colors(verdict: str) -> tuple[str, str]:
    return VERDICT_COLORS.get(verdict, PROBLEM_COLORS)


def verdict_badge(verdict: str) -> str:
    bg, fg = _colors(verdict)
    return f'<span class="kb-badge" style="background:{bg};color:{fg}">{VERDICT_LABELS[verdict]}</span>'


def annotated_html(text: str, checked: list[CheckedCitation]) -> str:
    """The text with each citation coloured by its verdict; its message shows on hover."""
    out, at = [], 0
    for c in sorted(checked, key=lambda c: c.citation.start):
        start, end = c.citation.start, c.citation.end
        if start < at:
            continue
        bg, fg = _colors(c.verdict)
        out.append(escape(text[at:start]))
        out.append(f'<span class="kb-cited kb-{c.verdict}" style="background:{bg};color:{fg}" '
                   f'title="{escape(VERDICT_LABELS[c.verdict] + "：" + c.message)}">{escape(text[start:end])}</span>')
        at = end
    out.append(escape(text[at:]))
    return f'<div class="kb-check-text">{"".join(out)}</div>'


def results_html(checked: list[CheckedCitation]) -> str:
    rows = []
    for c in checked:
        current = f"{book_title(c.current.title)}{c.current.article_label}" if c.current else ""
        similarity = "" if c.quote_similarity is None else f"{c.quote_similarity:.0%}"
        cited = escape(c.text)
        if c.unit is not None:          # the article checked, to read in full
            cited = (f'<a href="browse?doc={c.unit.document_id}&amp;art={c.unit.id}" target="_self">'
                     f"{cited}</a>")
        rows.append(f"<tr><td>{cited}</td><td>{verdict_badge(c.verdict)}</td><td>{escape(c.message)}</td>"
                    f"<td>{escape(current)}</td><td>{similarity}</td></tr>")
    return ('<table class="kb-check"><thead><tr><th>引用</th><th>结论</th><th>说明</th><th>现行对应条文</th>'
            f'<th>引文相似度</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def render(cfg: Config) -> None:
    import streamlit as st

    from kb.errors import KBError
    st.title("引用核对")
    st.caption("粘贴讲稿或案例报告的段落，或上传 .docx / .md / .txt 文件：逐条核对其中的法规引用"
               "（条、款、项是否存在，是否现行有效，引文和文中写的期限是否与原文一致）。文件只用于本次核对，不会保存。")
    st.html(_CSS)
    with kb_store(cfg) as store:
        if store is None:
            return
        with st.form("check"):
            pasted = st.text_area("粘贴文字", height=180, key="check-text", max_chars=MAX_CHECK_CHARS,
                                  placeholder="例如：依据《人民调解法》第三十三条第二款……")
            upload = st.file_uploader("或上传文件", type=list(UPLOAD_TYPES), key="check-file",
                                      max_upload_size=cfg.upload_max_mb)
            submitted = st.form_submit_button("核对引用", type="primary")
        if not submitted:
            return
        try:
            text = read_upload(upload.name, upload.getvalue()) if upload is not None else pasted
        except KBError as e:
            st.error(escape(str(e)))
            return
        if not text.strip():
            st.warning("请先粘贴文字或选择文件。")
            return
        with store.consistent():
            checked = check_text(text, StoreLookup(store))
        if not checked:
            st.info("没有找到法规引用（如《人民调解法》第三十三条）。")
            return
        st.markdown(escape(f"共 {len(checked)} 处引用，{to_correct(checked)} 处需要修改。"))
        st.markdown(results_html(checked), unsafe_allow_html=True)
        st.subheader("原文标注")
        st.markdown(annotated_html(text, checked), unsafe_allow_html=True)
