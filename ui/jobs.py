"""Uploads: saving files safely into the corpus folder, and ingesting + indexing them in a
background thread so the rest of the app keeps answering meanwhile.

No Streamlit here: the upload page starts an `IngestJob` and polls its state; `JobBoard` holds
the one job per knowledge base. A job holds the knowledge base's writer lock, so it never runs
at the same time as a command-line writer; the app's searcher picks up the new index snapshot
by itself (`index.search.searcher_for`).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kb.errors import IngestError, KBError
from kb.lock import Holder, writer_lock
from lecture.storage import safe_stem

if TYPE_CHECKING:
    from kb.settings import Config

UPLOAD_SUBDIR = "uploads"


@dataclass(frozen=True)
class FileResult:
    """What became of one uploaded file."""
    name: str               # the name the user uploaded
    path: str               # where it was saved ("" if it was refused before saving)
    status: str             # added | updated | unchanged | duplicate | skipped | failed | refused | repeated
    articles: int = 0
    message: str = ""
    notes: tuple[str, ...] = ()


def safe_upload_name(name: str, allowed: Iterable[str]) -> str:
    """A safe file name for an upload: the base name only (no folders, no '..'), its stem reduced
    to letters, digits, '-' and '_', and an extension from `allowed` (lower-cased).

    Raises:
        IngestError: kind "unsupported" for a type not in `allowed` or a name with no usable characters.
    """
    base = Path(name.replace("\\", "/")).name
    suffix = Path(base).suffix.lower()
    allowed = {e.lower() for e in allowed}
    if suffix not in allowed:
        raise IngestError(name, "unsupported", f"不支持的文件类型“{suffix or '无扩展名'}”；可上传："
                          + "、".join(sorted(allowed)), reason="file_type")
    try:
        return safe_stem(Path(base).stem, max_chars=120) + suffix
    except ValueError:
        raise IngestError(name, "unsupported", "文件名中没有可用的字符", reason="file_name") from None


def save_upload(folder: Path, name: str, data: bytes, *, allowed: Iterable[str], max_bytes: int) -> Path:
    """Save uploaded bytes under a safe name in `folder`. A file of the same name and the same
    content is reused; a different one gets a numbered name ("条例-2.pdf"), never overwritten.
    Anything but a regular file under a name (a symlink someone planted, a folder) is left alone
    and the next name taken: a link is never written through, nor reused.

    Raises:
        IngestError: kind "unsupported" for a bad type or name or a file over `max_bytes`, kind
            "empty" for an empty file, kind "unsupported" if it cannot be written.
    """
    safe = safe_upload_name(name, allowed)
    if not data:
        raise IngestError(name, "empty", "文件是空的", reason="empty")
    if len(data) > max_bytes:
        raise IngestError(name, "unsupported", f"文件大小 {len(data) / 2**20:.1f} MB 超过上限 "
                          f"{max_bytes / 2**20:.0f} MB", reason="too_large")
    stem, suffix = Path(safe).stem, Path(safe).suffix
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            target = folder / (safe if n == 1 else f"{stem}-{n}{suffix}")
            if target.is_symlink() or target.exists():
                if not target.is_symlink() and target.is_file() and target.read_bytes() == data:
                    return target
                continue
            if _write_new(target, data):
                return target
    except OSError as e:
        raise IngestError(name, "unsupported", f"无法保存到 {folder}（{e.strerror}）", reason="write") from None
    raise IngestError(name, "unsupported", f"{folder} 中同名文件过多", reason="write")


def _write_new(target: Path, data: bytes) -> bool:
    """Create `target` with `data`; False if something appeared under that name meanwhile (the
    creation neither follows a symlink nor replaces anything).

    Raises:
        OSError: if it cannot be written (a partly written file is removed).
    """
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except OSError:
        target.unlink(missing_ok=True)
        raise
    return True


@dataclass
class IngestJob:
    """One batch of uploads being ingested and indexed. Fields are written by the worker thread
    and read by the page; each assignment is atomic, which is all the page needs to show progress."""
    names: dict[str, str]                       # saved path → uploaded name
    refused: list[FileResult] = field(default_factory=list)
    stage: str = "等待开始"
    done: int = 0
    results: list[FileResult] = field(default_factory=list)
    error: str = ""
    finished: bool = False
    summary: str = ""
    ocr_pages: int = 0                          # pages of scans read so far …
    ocr_total: int = 0                          # … of the pages of the scans begun

    @property
    def total(self) -> int:
        return len(self.names)


class JobBoard:
    """At most one running job per knowledge base (the store has one writer)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jobs: dict[str, IngestJob] = {}

    def running(self, kb: str) -> IngestJob | None:
        job = self.jobs.get(kb)
        return job if job is not None and not job.finished else None

    def record(self, kb: str, job: IngestJob) -> None:
        """Keep a job that needed no work (every file was refused) as the last one, to show its results."""
        with self._lock:
            job.finished = True
            self.jobs[kb] = job

    def start(self, kb: str, job: IngestJob, work: Callable[[IngestJob], None]) -> bool:
        """Run `work(job)` in a daemon thread unless a job for `kb` is running; False if one is."""
        with self._lock:
            if self.running(kb):
                return False
            self.jobs[kb] = job

        def target() -> None:
            try:
                work(job)
            except KBError as e:
                job.error = str(e)
            except Exception as e:  # the page must learn the job ended, whatever broke in it
                job.error = f"处理中断：{type(e).__name__}: {e}"
            finally:
                job.finished = True

        threading.Thread(target=target, name=f"ingest-{Path(kb).name}", daemon=True).start()
        return True


def ingest_and_index(job: IngestJob, kb: str, cfg: Config, paths: Sequence[str]) -> None:
    """The work of an upload job: `ingest.run` over the saved files, then `index.build`, under one
    hold of the knowledge base's writer lock (waiting up to the `wait` setting while another
    writer, e.g. a command-line ingest, holds it; searches go on meanwhile).

    Raises:
        KBError: from the store or the index, or another writer holding the knowledge base too
            long (the job shows its message).
    """
    from index.build import build     # (`from index import build` yields the submodule of that name)
    from ingest.batch import FileOutcome, run

    def on_file(outcome: FileOutcome) -> None:
        name = job.names.get(outcome.path, Path(outcome.path).name)
        job.results.append(FileResult(name, outcome.path, outcome.status, outcome.articles, outcome.message,
                                      outcome.notes))
        job.done += 1

    def on_page(read: int, total: int) -> None:
        job.ocr_pages, job.ocr_total = read, total

    def waiting(who: Holder) -> None:
        job.stage = f"等待其他写入完成（进程 {who.pid} 自 {who.since} 起正在写入知识库）"

    with writer_lock(kb, wait=cfg.wait, on_wait=waiting):
        job.stage = "导入文件"
        summary = run(list(paths), kb, on_file=on_file, on_page=on_page)
        job.stage = "更新检索索引"
        build(kb, cfg, progress=False)
    job.summary = f"知识库现有 {summary.documents} 部法规、{summary.articles} 条"
    job.stage = "完成"
