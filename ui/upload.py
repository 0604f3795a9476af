"""添加文件: upload PDF/DOCX/TXT/MD/HTML files; they are saved into the corpus folder under safe
names, ingested and indexed incrementally in the background (search keeps working meanwhile),
with a progress bar and a result per file.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kb.errors import IngestError
from ui.jobs import UPLOAD_SUBDIR, FileResult, IngestJob, ingest_and_index, save_upload

if TYPE_CHECKING:
    from kb.settings import Config
    from ui.jobs import JobBoard

STATUS_TEXT = {"added": "已导入", "updated": "已更新", "unchanged": "内容未变，无需重新导入",
               "duplicate": "与已导入的文件是同一版本，未重复保存", "skipped": "跳过（不是法规正文）",
               "failed": "失败", "refused": "未接收"}


def _new_board() -> JobBoard:
    from ui.jobs import JobBoard
    return JobBoard()


def job_board() -> JobBoard:
    """The process-wide job board (one per server process, shared by all sessions)."""
    import streamlit as st
    return st.cache_resource(show_spinner=False)(_new_board)()


def render(cfg: Config) -> None:
    import streamlit as st

    from ingest import SUPPORTED_EXTENSIONS
    st.title("添加文件")
    folder = Path(cfg.corpus) / UPLOAD_SUBDIR
    st.caption(f"文件保存到 {folder}，导入知识库 {cfg.kb} 并更新检索索引。支持 "
               f"{'、'.join(sorted(SUPPORTED_EXTENSIONS))}，单个文件不超过 {cfg.upload_max_mb} MB。"
               "处理期间其他页面照常可用。")
    board = job_board()
    kb = str(cfg.kb)
    if board.running(kb) is None:
        with st.form("upload", clear_on_submit=True):
            files = st.file_uploader("选择文件（可多选）", type=[e.lstrip(".") for e in SUPPORTED_EXTENSIONS],
                                     accept_multiple_files=True, max_upload_size=cfg.upload_max_mb,
                                     key="upload-files")
            submitted = st.form_submit_button("上传并导入", type="primary")
        if submitted and files:
            _start(cfg, board, folder, files, SUPPORTED_EXTENSIONS)
        elif submitted:
            st.warning("请先选择文件。")
    _progress(kb, board)


def _start(cfg: Config, board: JobBoard, folder: Path, files, extensions) -> None:
    import streamlit as st
    names: dict[str, str] = {}
    refused: list[FileResult] = []
    for f in files:
        try:
            path = save_upload(folder, f.name, f.getvalue(), allowed=extensions,
                               max_bytes=cfg.upload_max_mb * 2**20)
        except IngestError as e:
            refused.append(FileResult(f.name, "", "refused", message=e.message))
            continue
        names[str(path.resolve())] = f.name
    job = IngestJob(names=names, refused=refused)
    if not names:
        job.stage = "完成"
        board.record(str(cfg.kb), job)
        return
    if not board.start(str(cfg.kb), job, lambda j: ingest_and_index(j, str(cfg.kb), cfg, list(names))):
        st.warning("已有文件正在导入，请等它完成后再上传。")


def _progress(kb: str, board: JobBoard) -> None:
    """Progress of the running job, refreshed every second; the results of the last one."""
    import streamlit as st
    job = board.jobs.get(kb)
    if job is None:
        return
    running = not job.finished

    @st.fragment(run_every=1.0 if running else None)
    def panel() -> None:
        if not job.finished:
            total = max(job.total, 1)
            st.progress(min(job.done / total, 1.0), text=f"{job.stage}：{job.done}/{job.total} 个文件")
            return
        if running:
            st.rerun()          # the job ended during this page's life: redraw the page without the timer
        _results(job)

    panel()


def _results(job: IngestJob) -> None:
    import streamlit as st
    if job.error:
        st.error(job.error)
    elif job.summary:
        st.success(f"处理完成。{job.summary}。")
    rows = job.refused + job.results
    for r in rows:
        text = STATUS_TEXT.get(r.status, r.status)
        detail = f"，找到 {r.articles} 条" if r.articles and r.status in ("added", "updated") else ""
        reason = f"：{r.message}" if r.message else ""
        line = f"**{r.name}** — {text}{detail}{reason}"
        (st.error if r.status in ("failed", "refused") else st.markdown)(line)
