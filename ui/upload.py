"""添加文件: upload PDF/DOCX/TXT/MD/HTML files; they are saved into the corpus folder under safe
names, ingested and indexed incrementally in the background (search keeps working meanwhile),
with a progress bar and a result per file. Served to a network (setting `public`, or a server
address beyond this machine), uploads need the `upload_password` first.
"""
from __future__ import annotations

import hmac
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.records import MADE_SIMPLIFIED
from kb.errors import ConfigError, IngestError
from ui.common import escape
from ui.jobs import UPLOAD_SUBDIR, FileResult, IngestJob, ingest_and_index, save_upload
from ui.queue import enqueue

if TYPE_CHECKING:
    from kb.settings import Config
    from ui.jobs import JobBoard

STATUS_TEXT = {"added": "已导入", "updated": "已更新", "unchanged": "内容未变，无需重新导入",
               "duplicate": "与已导入的文件是同一版本，未重复保存", "skipped": "跳过（不是法规正文）",
               "failed": "失败", "refused": "未接收", "repeated": "未重复保存",
               "queued": "已加入导入队列：写入进程导入并更新索引后即可检索"}
SHOWN_REASONS = ("failed", "refused", "repeated")     # statuses whose line adds why
UNLOCKED_KEY = "upload-unlocked"
LOOPBACK = ("127.", "::1", "localhost")
WRONG_PASSWORD_DELAY = 1.0      # seconds: slows password guessing


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
    where = (f"文件放入导入队列 {cfg.upload_queue}，由写入进程导入知识库 {cfg.kb} 并更新检索索引" if cfg.upload_queue
             else f"文件保存到 {folder}，导入知识库 {cfg.kb} 并更新检索索引")
    st.caption(escape(f"{where}。支持 {'、'.join(sorted(SUPPORTED_EXTENSIONS))}，单个文件不超过 {cfg.upload_max_mb} MB。"
                      "处理期间其他页面照常可用。"))
    board = job_board()
    kb = str(cfg.kb)
    if board.running(kb) is None and uploads_allowed(cfg):
        with st.form("upload", clear_on_submit=True):
            # No type filter here: a file of another type reaches the server, which lists it with
            # the reason it is refused instead of the browser dropping it silently.
            files = st.file_uploader("选择文件（可多选）", accept_multiple_files=True,
                                     max_upload_size=cfg.upload_max_mb, key="upload-files")
            submitted = st.form_submit_button("上传并导入", type="primary")
        if submitted and files:
            _start(cfg, board, folder, files, SUPPORTED_EXTENSIONS)
        elif submitted:
            st.warning("请先选择文件。")
    _progress(kb, board)


def served_to_network(cfg: Config) -> bool:
    """Whether other machines may reach the app: the `public` setting, or a server address that
    is set and is not a loopback one. (`make run` and the repository's .streamlit/config.toml
    set 127.0.0.1 unless `PUBLIC=1`.)"""
    import streamlit as st
    address = st.get_option("server.address")
    return cfg.public or (bool(address) and not str(address).startswith(LOOPBACK))


def upload_password(cfg: Config) -> str:
    """The `upload_password` setting, else `upload_password` in Streamlit's secrets
    (.streamlit/secrets.toml), else "".

    Raises:
        ConfigError: when a secrets file is there but is no TOML (it counted as no password: a
            public app refused uploads without saying why).
    """
    import streamlit as st
    from streamlit import config
    if cfg.upload_password:
        return cfg.upload_password
    try:
        return str(st.secrets.get("upload_password") or "")
    except FileNotFoundError as err:       # no secrets file at all, or one Streamlit cannot parse
        if any(Path(f).expanduser().is_file() for f in config.get_option("secrets.files")):
            raise ConfigError(" ".join(str(err).split())) from None
        return ""


def uploads_allowed(cfg: Config) -> bool:
    """True when this session may upload: always when the app serves this machine only; when
    it serves a network, once the session gave the upload password (a form asks for it), and
    never while no password is set (an error says how to set one)."""
    import streamlit as st
    if not served_to_network(cfg) or st.session_state.get(UNLOCKED_KEY):
        return True
    password = upload_password(cfg)
    if not password:
        st.error("本应用对网络开放，但没有设置上传密码，因此不接收上传。请设置环境变量 `POLICYKB_UPLOAD_PASSWORD`，"
                 "或在 `.streamlit/secrets.toml` 中写入 `upload_password = \"…\"`，然后重新启动应用。")
        return False
    with st.form("upload-unlock"):
        given = st.text_input("上传密码", type="password", key="upload-password")
        submitted = st.form_submit_button("解锁上传")
    if submitted:
        if hmac.compare_digest(given.encode(), password.encode()):
            st.session_state[UNLOCKED_KEY] = True
            st.rerun()
        time.sleep(WRONG_PASSWORD_DELAY)
        st.error("密码不正确，不能上传。")
    return False


def _enqueue(cfg: Config, board: JobBoard, files, extensions) -> None:
    """Replicas of one deployment (`upload_queue` set): the files go to the writer's queue."""
    job = IngestJob(names={})
    for f in files:
        try:
            queued = enqueue(Path(cfg.upload_queue), f.name, f.getvalue(), allowed=extensions,
                             max_bytes=cfg.upload_max_mb * 2**20)
        except IngestError as e:
            job.refused.append(FileResult(f.name, "", "refused", message=e.message))
            continue
        job.results.append(FileResult(f.name, str(queued), "queued"))
    job.stage = "完成"
    board.record(str(cfg.kb), job)


def _start(cfg: Config, board: JobBoard, folder: Path, files, extensions) -> None:
    import streamlit as st
    if cfg.upload_queue:
        _enqueue(cfg, board, files, extensions)
        return
    names: dict[str, str] = {}
    refused: list[FileResult] = []
    for f in files:
        try:
            path = save_upload(folder, f.name, f.getvalue(), allowed=extensions,
                               max_bytes=cfg.upload_max_mb * 2**20)
        except IngestError as e:
            refused.append(FileResult(f.name, "", "refused", message=e.message))
            continue
        saved = str(path.resolve())
        if saved in names:          # one file chosen twice: ingested once, a line for each
            refused.append(FileResult(f.name, saved, "repeated",
                                      message=f"与本批中的“{names[saved]}”是同一个文件，只导入一次"))
            continue
        names[saved] = f.name
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
            if job.ocr_total:       # scans are read page by page, seconds each on 2 cores
                st.progress(min(job.ocr_pages / job.ocr_total, 1.0),
                            text=f"OCR 识别扫描件：{job.ocr_pages}/{job.ocr_total} 页")
            return
        if running:
            st.rerun()          # the job ended during this page's life: redraw the page without the timer
        _results(job)

    panel()


def _results(job: IngestJob) -> None:
    import streamlit as st
    if job.error:
        st.error(escape(job.error))
    elif job.summary:
        st.success(f"处理完成。{job.summary}。")
    rows = job.refused + job.results
    for r in rows:
        text = STATUS_TEXT.get(r.status, r.status)
        detail = f"，找到 {r.articles} 条" if r.articles and r.status in ("added", "updated") else ""
        if MADE_SIMPLIFIED in r.notes:
            detail += "，繁体字已转为简体字存储"
        # ingest's words for the other statuses (e.g. a duplicate's) would repeat `text` in English
        reason = f"：{r.message}" if r.message and r.status in SHOWN_REASONS else ""
        line = f"**{escape(r.name)}** — {text}{detail}{escape(reason)}"
        (st.error if r.status in ("failed", "refused") else st.markdown)(line)
