"""Faults a deployment meets in its first week, run for real against a small knowledge base.

    python -m bench faults [-- --kb-corpus DIR] [--only NAME ...]

Over a temporary copy of a dozen files (default: from ../shared/corpus/xinfang, read by path)
it ingests a base set, then runs each fault and checks what is left, printing one table row
per fault (fault | what happened | what was lost | verdict):

* kill -9 of `python -m ingest` at each stage: parsing, store commit (one file written, its
  transaction open), tokenising, embedding, FAISS writing (file written, not yet renamed), just
  before the CURRENT swap; and once without any hook, as soon as a new build folder's
  `units.sqlite` appears (found by watching the files). The hooked moments are found by a
  pause hook: the command runs as `python -m ingest` does (`runpy`), with one function of the
  stage wrapped to write a marker file and sleep; the bench kills the process with SIGKILL as
  soon as the marker appears. The base's 信访工作条例 is edited before the fault runs, so its
  articles are replaced (new ids) by every run. After
  each kill: searches (one `python -m index search --json` and in-process probes) answer with
  correct articles, `PRAGMA integrity_check` is ok (store and embedding cache), no worker
  survives the kill by 2 s, nothing previously ingested is missing; a re-run completes and the
  knowledge base then holds exactly the content of a clean run, without leftovers.
* Two writers at once (two `index build --force`, two ingests, and `--no-wait`).
* Searches during an ingest + build (in-process via `searcher_for`, as the app does, and the CLI).
* Hostile files among good ones (catastrophic-backtracking HTML, DOCX whitespace bomb, a DOCX of
  two million paragraphs, a PDF without text, a symlink loop, ANSI escapes and a newline in a
  file name): each alone (time, peak RSS of its parse worker from /proc VmHWM), then all in one
  batch with good files.

"Wrong article": a hit whose id, citation or text differs from what the live store held under
that id (article ids are never reused, so every id ever stored has one text), or whose id the
store never held. Any "Traceback" on any command's stderr is counted as well.
"""
from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import re
import runpy
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench import SHARED
from kb.errors import FILES_FAILED, printable

REPO = Path(__file__).resolve().parents[1]
CORPUS = SHARED / "corpus" / "xinfang"
BASE_FILES = ("行政法规/信访工作条例(2022-02-25).md", "行政法规/信访条例(2005-01-10).md",
              "诉讼与非诉讼程序法/人民调解法(2010-08-28).md", "地方性法规/北京/北京市信访条例.md",
              "行政法规/法律援助条例(2003-07-21).md", "行政法规/人民调解委员会组织条例(1989-06-16).md",
              "社会法/反家庭暴力法(2015-12-27).md", "司法解释/最高人民法院关于人民法院特邀调解的规定(2016-06-28).md")
NEW_FILES = ("地方性法规/浙江/浙江省信访条例(2016-07-29).md", "诉讼与非诉讼程序法/行政复议法(2017-09-01).md",
             "地方性法规/浙江/宁波市人民调解条例(2015-04-13).md", "行政法规/志愿服务条例(2017-08-22).md")
EDITED = "信访工作条例(2022-02-25).md"     # re-ingested with its text changed: its articles get new ids
REFERENCE_PROBE = ("信访工作条例第三十三条", "信访工作条例", "第三十三条")
PROBES = ("信访工作条例第三十三条", "对复查意见不服怎么办", "人民调解委员会调解民间纠纷", "法律援助的申请条件",
          "家庭暴力告诫书", "信访事项的受理期限")
STAGES = ("parse", "commit", "tokenise", "embed", "faiss", "swap", "watch")
STAGE_LABELS = {"parse": "kill -9 ingest: parsing", "commit": "kill -9 ingest: store commit",
                "tokenise": "kill -9 ingest: tokenising", "embed": "kill -9 ingest: embedding",
                "faiss": "kill -9 ingest: FAISS writing", "swap": "kill -9 ingest: before CURRENT swap",
                "watch": "kill -9 ingest (no hook): a new build folder's units.sqlite appears"}
PAUSE_SECONDS = 600.0           # a paused command sleeps this long at most (the bench kills it long before)
MARKER_TIMEOUT = 300.0
COMMAND_TIMEOUT = 600.0
ONE_GB = 1024


# ---- the pause hook, run inside the command under test ----------------------------------------

def run_hooked() -> None:
    """`python -c "from bench.faults_bench import run_hooked; run_hooked()" STAGE MARKER MODULE ARGS...`:
    run `python -m MODULE ARGS` with the pause of STAGE installed (writes MARKER, then sleeps)."""
    stage, marker, module, *argv = sys.argv[1:]
    _install_pause(stage, Path(marker))
    sys.argv = [module, *argv]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def _pause(marker: Path) -> None:
    try:
        with open(marker, "x", encoding="utf-8") as fh:      # the first process to get here says so
            fh.write(str(os.getpid()))
    except FileExistsError:
        pass
    time.sleep(PAUSE_SECONDS)


def _paused(function: Callable, marker: Path, *, before: bool) -> Callable:
    """`function` pausing (see `_pause`) just before or just after it runs. It passes on whatever
    it is called with and returns what `function` returns: a hook that named the arguments of its
    day died of TypeError once `Embedder.encode_passages` lost one, and that fault went untested.
    It takes `function`'s module and name, so a wrapped module function pickles by name."""
    @functools.wraps(function)
    def paused(*args, **kwargs):  # noqa: ANN002, ANN003
        if before:
            _pause(marker)
        result = function(*args, **kwargs)
        if not before:
            _pause(marker)
        return result
    return paused


def _install_pause(stage: str, marker: Path) -> None:
    """Wrap one function of the stage so that it pauses (see `_pause`)."""
    if stage == "parse":            # files handed to the parse workers, nothing stored yet
        from ingest.batch import ParsePool
        ParsePool._dispatch = _paused(ParsePool._dispatch, marker, before=False)
    elif stage == "commit":         # one file written inside the open transaction
        from ingest.store import StoreWriter
        StoreWriter.put_file = _paused(StoreWriter.put_file, marker, before=False)
    elif stage == "tokenise":       # inside the tokeniser workers (small chunks, so a pool is used)
        build = importlib.import_module("index.build")     # `index.build` the attribute is the function
        build._tokenize_chunk = _paused(build._tokenize_chunk, marker, before=True)
        build.TOKENIZE_CHUNK = 100
    elif stage == "embed":          # 20 passages embedded, the embedding threads at work
        from index.embed import Embedder
        encode = Embedder.encode_passages

        # the arguments passed on whatever they are, as `_paused` passes them
        def paused_encode(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
            embed_one, done = self.backend.embed_one, [0]

            def counted(text, max_length):  # noqa: ANN001
                done[0] += 1
                if done[0] > 20:
                    _pause(marker)
                return embed_one(text, max_length)
            self.backend.embed_one = counted
            return encode(self, *args, **kwargs)
        Embedder.encode_passages = paused_encode
    elif stage == "faiss":          # the FAISS file written to its temporary name, not yet renamed
        import faiss
        faiss.write_index = _paused(faiss.write_index, marker, before=False)
    elif stage == "swap":           # the snapshot complete (meta.json written), CURRENT not yet replaced
        build = importlib.import_module("index.build")     # `index.build` the attribute is the function
        build._swap_in = _paused(build._swap_in, marker, before=True)
    else:
        raise SystemExit(f"error: unknown stage {stage!r}")


# ---- processes -------------------------------------------------------------------------------

@dataclass
class Ran:
    code: int | None
    out: str
    err: str
    seconds: float

    @property
    def tracebacks(self) -> int:
        return self.err.count("Traceback") + self.out.count("Traceback")


TRACEBACKS: list[str] = []      # commands whose output held a traceback


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "POLICYKB_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1"}


def _note_tracebacks(what: str, ran: Ran) -> Ran:
    if ran.tracebacks:
        TRACEBACKS.append(f"{what}: {ran.err.strip().splitlines()[-1] if ran.err.strip() else '?'}")
    return ran


def run(args: list[str], cache: Path, what: str, timeout: float = COMMAND_TIMEOUT) -> Ran:
    """Run `python ARGS` in the repository and wait for it."""
    start = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, *args], cwd=REPO, env=_env(cache), capture_output=True, text=True,
                           timeout=timeout)
        ran = Ran(p.returncode, p.stdout, p.stderr, time.perf_counter() - start)
    except subprocess.TimeoutExpired as e:
        ran = Ran(None, e.stdout or "", (e.stderr or "") if isinstance(e.stderr, str) else "", timeout)
    return _note_tracebacks(what, ran)


def start(args: list[str], cache: Path, logs: Path, name: str) -> subprocess.Popen:
    """Start `python ARGS` in the repository, its output into LOGS/NAME.out/.err."""
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.out", "wb") as out, open(logs / f"{name}.err", "wb") as err:
        return subprocess.Popen([sys.executable, *args], cwd=REPO, env=_env(cache), stdout=out, stderr=err)


def index_build_args(kb: Path) -> list[str]:
    """The arguments (after `python`) of a quiet `index build --force` of `kb`."""
    return ["-m", "index", "build", "--force", "--quiet", "--kb", str(kb)]


def start_build_holding_lock(kb: Path, cache: Path, logs: Path, name: str) -> subprocess.Popen:
    """Start `index build --force` of `kb` (output into LOGS/NAME.out/.err) and return once it
    holds the knowledge base's write lock, has ended, or MARKER_TIMEOUT seconds have passed."""
    from kb.lock import holder
    proc = start(index_build_args(kb), cache, logs, name)
    deadline = time.monotonic() + MARKER_TIMEOUT
    while holder(kb) is None and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc


def finished(proc: subprocess.Popen, logs: Path, name: str, started: float, what: str,
             timeout: float = COMMAND_TIMEOUT) -> Ran:
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = None
        proc.wait()
    ran = Ran(code, (logs / f"{name}.out").read_text(errors="replace"), (logs / f"{name}.err").read_text(
        errors="replace"), time.perf_counter() - started)
    return _note_tracebacks(what, ran)


def _proc_stat(pid: int) -> tuple[int, str, int, int] | None:
    """(parent pid, state, start time, process group) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields_ = text[text.rindex(")") + 2:].split()
    return int(fields_[1]), fields_[0], int(fields_[19]), int(fields_[2])


def _living() -> dict[int, tuple[int, str, int, int]]:
    """`_proc_stat` of every process that is alive (not a zombie), by pid."""
    stats = {int(entry): _proc_stat(int(entry)) for entry in os.listdir("/proc") if entry.isdigit()}
    return {pid: stat for pid, stat in stats.items() if stat and stat[1] != "Z"}


def descendants(pid: int) -> dict[int, int]:
    """Living descendants of `pid`: {pid: start time}."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry, stat in _living().items():
        children.setdefault(stat[0], []).append(entry)
        starts[entry] = stat[2]
    out: dict[int, int] = {}
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        out[child] = starts[child]
        todo.extend(children.get(child, []))
    return out


def group_members(group: int) -> list[int]:
    """The living processes of process group `group` (a command's children that outlived it, and
    were given to init, stay in its group)."""
    return sorted(pid for pid, stat in _living().items() if stat[3] == group)


def survivors(pids: dict[int, int]) -> list[int]:
    """The processes of `pids` still alive (same start time, not a zombie)."""
    alive = []
    for pid, started in pids.items():
        stat = _proc_stat(pid)
        if stat and stat[1] != "Z" and stat[2] == started:
            alive.append(pid)
    return alive


def kill_leftovers(pids: Iterable[int]) -> None:
    """SIGKILL processes this bench started (by id) that outlived their parent."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def vm_hwm_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process in MB, 0 if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# ---- the knowledge base's state ---------------------------------------------------------------

@dataclass(frozen=True)
class Content:
    """What a knowledge base holds: documents, articles and (id → citation, text) of every article."""
    documents: int
    articles: int
    by_id: dict[int, tuple[str, str, str]]     # id → (title, label, text)
    generation: int

    def texts(self) -> set[tuple[str, str, str]]:
        return set(self.by_id.values())


def content(kb: Path) -> Content:
    from ingest.store import open_store
    with open_store(kb) as store:
        by_id = {a.id: (a.title, a.label, a.text) for a in store.iter_articles()}
        return Content(len(store.documents()), store.count_articles(), by_id, store.generation())


def integrity(db: Path) -> str:
    """`PRAGMA integrity_check` of an SQLite file ("ok" when sound, "missing" if absent)."""
    if not db.is_file():
        return "missing"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return ";".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def leftovers(kb: Path) -> list[str]:
    """Entries of the index folder other than CURRENT, the snapshot it names and the one that
    snapshot replaced (kept one generation by design), and temporary files under the KB."""
    from index.build import META, POINTER, index_root
    root = index_root(kb)
    try:
        current = (root / POINTER).read_text(encoding="utf-8").strip()
        previous = json.loads((root / current / META).read_text(encoding="utf-8")).get("previous", "")
    except (OSError, ValueError):
        return ["CURRENT unreadable"]
    extra = [e.name for e in root.iterdir() if e.name not in {POINTER, current, previous}]
    extra += [str(p.relative_to(kb)) for p in (root / current).rglob("*.tmp*")]
    return extra


class Truth:
    """Every (id → title, label, text) the store ever showed in this bench's knowledge bases."""

    def __init__(self) -> None:
        self.by_id: dict[int, tuple[str, str, str]] = {}
        self.reused: list[int] = []         # ids seen with two different texts

    def add(self, c: Content) -> None:
        for i, row in c.by_id.items():
            if i in self.by_id and self.by_id[i] != row:
                self.reused.append(i)
            self.by_id.setdefault(i, row)

    def wrong(self, hit_id: int, title: str, label: str, text: str) -> bool:
        return self.by_id.get(hit_id) != (title, label, text) or hit_id in self.reused


def probe_in_process(kb: Path, truth: Truth) -> tuple[int, int, str]:
    """(hits checked, wrong hits, problem or "") of the PROBES in a fresh in-process Searcher."""
    from index.search import Searcher
    checked = wrong = 0
    try:
        searcher = Searcher(kb)
        for q in PROBES:
            hits = searcher.search(q, 10)
            if not hits:
                return checked, wrong, f"no hits for {q}"
            for h in hits:
                checked += 1
                wrong += truth.wrong(h.article_id, h.title, h.label, h.text)
        top = searcher.search(REFERENCE_PROBE[0], 1)[0]
        if (top.title, top.label) != REFERENCE_PROBE[1:]:
            return checked, wrong, f"{REFERENCE_PROBE[0]} → {top.citation}"
    except Exception as err:        # noqa: BLE001 - any failure to search is what we count
        return checked, wrong, f"{type(err).__name__}: {err}"
    return checked, wrong, ""


def probe_cli(kb: Path, cache: Path, truth: Truth, what: str) -> tuple[int, int, str]:
    """(hits, wrong hits, problem or "") of `python -m index search REFERENCE --json`."""
    ran = run(["-m", "index", "search", REFERENCE_PROBE[0], "--json", "--kb", str(kb)], cache, what)
    if ran.code != 0:
        return 0, 0, f"exit {ran.code}: {ran.err.strip()[-200:]}"
    hits = json.loads(ran.out)
    wrong = sum(truth.wrong(h["article_id"], h["title"], h["label"], h["text"]) for h in hits)
    if not hits or (hits[0]["title"], hits[0]["label"]) != REFERENCE_PROBE[1:]:
        return len(hits), wrong, "reference query not answered first"
    return len(hits), wrong, ""


# ---- the corpus --------------------------------------------------------------------------------

@dataclass
class Corpus:
    base: Path              # folder ingested first; EDITED is then changed in place (see `edit`)
    new: Path               # folder added by the fault runs

    def edit(self) -> None:
        """Change the text of EDITED (its articles then get new ids when it is re-ingested)."""
        edited = self.base / EDITED
        edited.write_text(edited.read_text(encoding="utf-8").replace("应当", "必须"), encoding="utf-8")


def make_corpus(source: Path, root: Path) -> Corpus:
    """Copy the base and new files of `source` into `root`.

    Raises:
        SystemExit: if a file is missing from `source`.
    """
    corpus = Corpus(root / "base", root / "new")
    for folder, names in ((corpus.base, BASE_FILES), (corpus.new, NEW_FILES)):
        folder.mkdir(parents=True)
        for name in names:
            if not (source / name).is_file():
                raise SystemExit(f"error: {source / name}: missing from the corpus (--kb-corpus)")
            shutil.copyfile(source / name, folder / Path(name).name)
    return corpus


def copy_kb(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("writer.lock"))
    return dst


def copy_cache(src: Path, dst: Path) -> Path:
    """A private copy of an embedding cache (exported models hard-linked: nobody writes them)."""
    def link_or_copy(s: str, d: str) -> None:
        if "embeddings.sqlite" in Path(s).name:
            shutil.copy2(s, d)
        else:
            try:
                os.link(s, d)
            except OSError:
                shutil.copy2(s, d)
    shutil.copytree(src, dst, copy_function=link_or_copy)
    return dst


# ---- the table -----------------------------------------------------------------------------------

@dataclass
class Row:
    fault: str
    happened: str
    lost: str
    ok: bool
    notes: list[str] = field(default_factory=list)


def print_table(rows: list[Row]) -> None:
    print()
    print("| fault | what happened | what was lost | verdict |")
    print("|---|---|---|---|")
    def cell(text: str) -> str:
        return " ".join(text.split()).replace("|", "/")
    for r in rows:
        print(f"| {cell(r.fault)} | {cell(r.happened)} | {cell(r.lost)} | {'PASS' if r.ok else 'FAIL'} |")
    print()


# ---- the faults ----------------------------------------------------------------------------------

class Bench:
    def __init__(self, root: Path, corpus: Corpus, cache: Path) -> None:
        self.root, self.corpus, self.seed_cache = root, corpus, cache
        self.truth = Truth()
        self.base_kb = root / "kb-base"
        self.base_cache = root / "cache-base"
        self.reference: Content | None = None
        self.rows: list[Row] = []
        self.n = 0

    def fresh(self, name: str, kb_from: Path | None = None) -> tuple[Path, Path, Path]:
        """A new (knowledge base copy of the base, cache copy, logs folder)."""
        self.n += 1
        where = self.root / f"{self.n:02d}-{name}"
        where.mkdir()
        kb = copy_kb(kb_from or self.base_kb, where / "kb")
        return kb, copy_cache(self.base_cache, where / "cache"), where / "logs"

    def ingest_args(self, kb: Path, *extra: str) -> list[str]:
        return ["-m", "ingest", str(self.corpus.base), str(self.corpus.new), "--kb", str(kb), "-q", *extra]

    def setup(self) -> None:
        """Ingest + index the base files (the base every fault starts from)."""
        print(f"base: {len(BASE_FILES)} files, new: {len(NEW_FILES)} files (+ {EDITED} edited)", flush=True)
        copy_cache(self.seed_cache, self.base_cache)
        ran = run(["-m", "ingest", str(self.corpus.base), "--kb", str(self.base_kb), "-q"], self.base_cache,
                  "base ingest")
        if ran.code != 0:
            raise SystemExit(f"error: base ingest failed ({ran.code}): {ran.err.strip()[-300:]}")
        base = content(self.base_kb)
        self.truth.add(base)
        print(f"base ingest + index: {ran.seconds:.1f} s, {base.documents} documents, {base.articles} articles",
              flush=True)
        self.corpus.edit()

    # -- searches during an ingest + build (also the clean reference run) --
    def searches_during_ingest(self) -> None:
        kb, cache, logs = self.fresh("searches")
        from index.search import searcher_for
        searcher_for(str(kb))                   # loaded before the writer starts, as a running app has it
        stop = threading.Event()
        seen: list[tuple[int, str, str, str]] = []
        errors: list[str] = []
        counts = {"in-process": 0, "cli": 0, "reloads": 0, "stale": 0}

        def in_process() -> None:
            folder = None
            i = 0
            while not stop.is_set() or i < len(PROBES):      # a round more after the writer is done
                try:
                    searcher = searcher_for(str(kb))
                    if folder is not None and searcher.folder != folder:
                        counts["reloads"] += 1
                    folder = searcher.folder
                    counts["stale"] += bool(searcher.behind())
                    for h in searcher.search(PROBES[i % len(PROBES)], 10):
                        seen.append((h.article_id, h.title, h.label, h.text))
                except Exception as err:    # noqa: BLE001 - counted
                    errors.append(f"in-process: {type(err).__name__}: {err}")
                counts["in-process"] += 1
                i += 1

        def cli() -> None:
            while not stop.is_set() and counts["cli"] < 20:
                ran = run(["-m", "index", "search", PROBES[counts["cli"] % len(PROBES)], "--json", "--kb", str(kb)],
                          cache, "search during ingest (CLI)")
                counts["cli"] += 1
                if ran.code != 0:
                    errors.append(f"cli: exit {ran.code}: {ran.err.strip()[-200:]}")
                    continue
                seen.extend((h["article_id"], h["title"], h["label"], h["text"]) for h in json.loads(ran.out))

        threads = [threading.Thread(target=in_process), threading.Thread(target=cli)]
        for t in threads:
            t.start()
        started = time.perf_counter()
        proc = start(self.ingest_args(kb), cache, logs, "ingest")
        ran = finished(proc, logs, "ingest", started, "ingest during searches")
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join(timeout=COMMAND_TIMEOUT)
        after = content(kb)
        self.truth.add(after)
        self.reference = after
        wrong = sum(self.truth.wrong(*h) for h in seen)
        ok = ran.code == 0 and not errors and not wrong and counts["reloads"] >= 1 and not self.truth.reused
        self.rows.append(Row(
            "searches during ingest + build",
            f"ingest exit {ran.code} in {ran.seconds:.0f} s; {counts['in-process']} in-process searches "
            f"({counts['stale']} on a snapshot behind the store, {counts['reloads']} snapshot reload(s)) and "
            f"{counts['cli']} CLI searches; {len(seen)} hits checked; errors {len(errors)}; wrong articles {wrong}",
            "nothing" if ran.code == 0 else "ingest failed", ok, errors[:3]))
        said = ran.out.strip().splitlines()[0] if ran.out.strip() else "-"
        print(f"reference (clean ingest of the edited base + new): {after.documents} documents, {after.articles} "
              f"articles, {ran.seconds:.1f} s; ingest said: {said}", flush=True)

    # -- kill -9 at a stage --
    def kill_at(self, stage: str) -> None:
        kb, cache, logs = self.fresh(f"kill-{stage}")
        before = content(kb)
        marker = logs.parent / "marker"
        logs.mkdir()
        started = time.perf_counter()
        hooked = ["-c", "from bench.faults_bench import run_hooked; run_hooked()", stage, str(marker),
                  *self.ingest_args(kb)[1:]]
        proc = start(hooked if stage != "watch" else self.ingest_args(kb), cache, logs, "hooked")
        deadline = time.monotonic() + MARKER_TIMEOUT
        present = set(kb.glob("index/build-*/units.sqlite"))        # the snapshot in use has one already
        reached = (lambda: bool(set(kb.glob("index/build-*/units.sqlite")) - present)) if stage == "watch" \
            else marker.exists
        while not reached() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if not reached():
            proc.kill()
            proc.wait()
            self.rows.append(Row(STAGE_LABELS[stage], f"stage not reached (exit {proc.returncode}): "
                                 + (logs / "hooked.err").read_text(errors="replace").strip()[-200:], "?", False))
            return
        if stage != "watch":
            time.sleep(0.3)                 # let the workers of the stage settle
        children = descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_after = time.perf_counter() - started
        time.sleep(2)
        alive = survivors(children)
        kill_leftovers(alive)
        after_kill = content(kb)
        missing_base = len({r[0] for r in before.by_id.values()} - {r[0] for r in after_kill.by_id.values()})
        store_ok = integrity(kb / "kb.sqlite")
        cache_ok = integrity(cache / "embeddings.sqlite")
        checked, wrong, problem = probe_in_process(kb, self.truth)
        cli_hits, cli_wrong, cli_problem = probe_cli(kb, cache, self.truth, f"search after kill ({stage})")
        rerun = run(self.ingest_args(kb), cache, f"re-run after kill ({stage})")
        final = content(kb)
        self.truth.add(final)
        extra = leftovers(kb)
        checked2, wrong2, problem2 = probe_in_process(kb, self.truth)
        same = self.reference is not None and final.texts() == self.reference.texts()
        lost = []
        if missing_base:
            lost.append(f"{missing_base} base documents gone after the kill")
        if not same:
            ref = self.reference
            lost.append(f"after re-run {final.documents} docs/{final.articles} articles vs clean run "
                        f"{ref.documents if ref else '?'}/{ref.articles if ref else '?'}")
        ok = (not alive and store_ok == "ok" and cache_ok == "ok" and not problem and not cli_problem
              and not wrong and not cli_wrong and rerun.code == 0 and not extra and same and not problem2
              and not wrong2 and not missing_base and not self.truth.reused)
        happened = (f"killed {killed_after:.0f} s in ({len(children)} child process(es), {len(alive)} alive 2 s "
                    f"later); store gen {before.generation}→{after_kill.generation}, integrity {store_ok}, cache "
                    f"{cache_ok}; search: {checked + cli_hits} hits, {wrong + cli_wrong} wrong"
                    f"{'; ' + (problem or cli_problem) if problem or cli_problem else ''}; re-run exit {rerun.code} "
                    f"in {rerun.seconds:.0f} s, leftovers {extra or 'none'}, then {checked2} hits, {wrong2} wrong"
                    f"{'; ' + problem2 if problem2 else ''}")
        self.rows.append(Row(STAGE_LABELS[stage], happened, "; ".join(lost) or "nothing", ok))
        self.worker_counts.append((stage, len(children), len(alive)))
        print(f"  {stage}: {'PASS' if ok else 'FAIL'} ({happened})", flush=True)

    worker_counts: list[tuple[str, int, int]]

    # -- two writers --
    def two_builds(self) -> None:
        kb, cache, logs = self.fresh("two-builds")
        started = time.perf_counter()
        first = start_build_holding_lock(kb, cache, logs, "build1")
        second = start(index_build_args(kb), cache, logs, "build2")
        a = finished(first, logs, "build1", started, "first of two builds")
        b = finished(second, logs, "build2", started, "second of two builds")
        waited = "waiting" in b.err
        self._after_writers("two `index build --force` at once", kb, cache, [a, b], waited,
                            content(self.base_kb))

    def two_ingests(self) -> None:
        kb, cache, logs = self.fresh("two-ingests")
        started = time.perf_counter()
        first = start(["-m", "ingest", str(self.corpus.base), "--kb", str(kb), "-q"], cache, logs, "ingest1")
        time.sleep(0.5)
        second = start(["-m", "ingest", str(self.corpus.new), "--kb", str(kb), "-q"], cache, logs, "ingest2")
        a = finished(first, logs, "ingest1", started, "first of two ingests")
        b = finished(second, logs, "ingest2", started, "second of two ingests")
        waited = "waiting" in a.err or "waiting" in b.err
        self._after_writers("two ingests at once (edited base | new files)", kb, cache, [a, b], waited,
                            self.reference)

    def _after_writers(self, fault: str, kb: Path, cache: Path, runs: list[Ran], waited: bool,
                       expected: Content | None) -> None:
        final = content(kb)
        self.truth.add(final)
        checked, wrong, problem = probe_in_process(kb, self.truth)
        from index.build import current_folder, read_meta
        try:
            meta = read_meta(current_folder(kb), kb)
            complete = meta["units"] == final.articles and meta["generation"] == final.generation
        except Exception as err:        # noqa: BLE001 - reported
            complete, meta = False, {"error": str(err)}
        extra = leftovers(kb)
        same = expected is not None and final.texts() == expected.texts()
        codes = [r.code for r in runs]
        ok = codes == [0, 0] and waited and complete and not problem and not wrong and not extra and same
        self.rows.append(Row(
            fault, f"exits {codes} in {max(r.seconds for r in runs):.0f} s; second waited: "
            f"{'yes' if waited else 'no'}; "
            f"index complete ({meta.get('units')} units = store, generation {meta.get('generation')}): "
            f"{'yes' if complete else 'no'}; search {checked} hits, {wrong} wrong{'; ' + problem if problem else ''}; "
            f"leftovers {extra or 'none'}",
            "nothing" if same else f"content differs from a clean run ({final.documents} docs/{final.articles} "
            "articles)", ok))
        print(f"  {fault}: {'PASS' if ok else 'FAIL'}", flush=True)

    def no_wait(self) -> None:
        kb, cache, logs = self.fresh("no-wait")
        started = time.perf_counter()
        first = start_build_holding_lock(kb, cache, logs, "build1")
        b = run(["-m", "ingest", str(self.corpus.new), "--kb", str(kb), "--no-wait", "-q"], cache,
                "ingest --no-wait while a build runs")
        a = finished(first, logs, "build1", started, "build holding the lock")
        lines = [line for line in b.err.splitlines() if line.strip()]
        ok = a.code == 0 and b.code == 1 and len(lines) == 1 and lines[0].startswith("error:") \
            and content(kb).texts() == content(self.base_kb).texts()
        self.rows.append(Row("ingest --no-wait while a build holds the lock",
                             f"build exit {a.code}; ingest exit {b.code}: {lines[0] if lines else '(no message)'}",
                             "nothing (the ingest was refused, nothing written)" if ok else "?", ok))
        print(f"  no-wait: {'PASS' if ok else 'FAIL'}", flush=True)

    # -- hostile files --
    def hostile(self) -> None:
        where = self.root / "hostile"
        files = where / "files"
        files.mkdir(parents=True)
        cache = copy_cache(self.base_cache, where / "cache")
        bad = make_hostile(files)
        good = [files / Path(name).name for name in NEW_FILES]
        for name, path in zip(NEW_FILES, good):
            shutil.copyfile(self.corpus.new / Path(name).name, path)
        singles: dict[str, tuple[float, float, float, str, str, int]] = {}
        for label, path in bad.items():
            kb = where / f"kb-{len(singles)}"
            seconds, worker_mb, main_mb, ran = measured_ingest([str(path)], kb, cache, f"hostile alone: {label}")
            kinds = failure_kinds(kb)
            singles[label] = (seconds, worker_mb, main_mb, kinds.get(str(path.absolute()), ""),
                              one_line_of(ran, path), ran.code)
        kb = where / "kb-batch"
        seconds, worker_mb, main_mb, ran = measured_ingest([str(files), str(bad["symlink loop"])], kb, cache,
                                                           "hostile batch")
        stored = stored_paths(kb)
        kinds = failure_kinds(kb)
        good_in = sum(_real(p) in stored for p in good)
        raw_control = [line for line in (ran.out + ran.err).splitlines()
                       if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", line)]
        for label, path in bad.items():
            t, w, m, kind, line, code = singles[label]
            committed = _real(path) in stored
            batch_kind = kinds.get(str(path.absolute()), "") or kinds.get(_real(path), "")
            said = next((line.strip() for line in ran.err.splitlines() if path.name in line or
                         printable(str(path)) in line), "")
            outcome = "stored" if committed else f"{batch_kind or kind or 'no kind'}: {said[:120] or 'no line'}"
            reported = committed or bool(line)
            ok = t < 60 and w < ONE_GB and m < ONE_GB and reported and code in (0, FILES_FAILED) and not raw_control
            print(f"  {label}: alone {t:.1f} s, worker peak {w:.0f} MB, {outcome}", flush=True)
            self.rows.append(Row(
                f"hostile file: {label}",
                f"alone: exit {code}, {t:.1f} s, worker peak {w:.0f} MB, ingest process peak {m:.0f} MB, "
                f"{line or 'no error line'}; in the batch: {outcome}",
                "nothing (a bad file is reported, not stored)" if not committed else "nothing", ok))
        ok = (good_in == len(good) and ran.code == FILES_FAILED and seconds < 60 * (len(bad) + len(good))
              and not raw_control)
        self.rows.append(Row(
            f"batch: {len(good)} good + {len(bad)} hostile files",
            f"exit {ran.code} in {seconds:.1f} s; good files stored {good_in}/{len(good)}; worker peak "
            f"{worker_mb:.0f} MB; lines with raw control characters: {len(raw_control)}",
            "nothing" if good_in == len(good) else f"{len(good) - good_in} good files", ok))
        print(f"  hostile: {'PASS' if all(r.ok for r in self.rows[-len(bad) - 1:]) else 'FAIL'}", flush=True)


def make_hostile(folder: Path) -> dict[str, Path]:
    """Write the hostile files into `folder` and return them by label."""
    out: dict[str, Path] = {}
    run_ = 6000
    html = folder / "backtracking.html"
    html.write_text(
        "<html><head><title>某市信访工作办法" + "-" * run_ + "x-</title></head><body><h1>" + "《" * run_
        + "</h1><p>附件：" + "\u1680" * run_ + "x</p><p>目录</p><p>第一章 总则" + "." * run_ + "x</p>"
        + "".join(f"<p>第{n}条 信访事项应当依法办理。" + "（）" * 200 + "</p>" for n in range(1, 30))
        + "<p>第100000条 超大条号。</p></body></html>", encoding="utf-8")
    out["HTML backtracking bait"] = html
    # 1 GiB of whitespace in one member
    out["DOCX zip bomb (1 GiB member)"] = docx_of_repeated_body(folder / "zipbomb.docx", b" " * (1 << 20), 1024)
    # 2,000,000 paragraphs (12 MB: under the size caps)
    out["DOCX of 2,000,000 paragraphs"] = docx_of_repeated_body(folder / "paragraphs.docx", b"<w:p/>" * 10_000, 200)
    pdf = folder / "blank.pdf"
    pdf.write_bytes(blank_pdf())
    out["PDF without text"] = pdf
    loop = folder / "loop.txt"
    os.symlink(loop.name, loop)
    out["symlink loop"] = loop
    named = folder / "\x1b[31m红色\n第二行.txt"
    named.write_text("\n\n", encoding="utf-8")     # no text: its error line must name it in printable form
    out["ANSI escapes + newline in the name"] = named
    return out


def docx_of_repeated_body(path: Path, block: bytes, times: int) -> Path:
    """Write a DOCX at `path` whose document body is `block` `times` over, streamed into the zip
    member so that a body of any size is never held in memory; return `path`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/'
                    b'2006/main"><w:body>')
            for _ in range(times):
                f.write(block)
            f.write(b"</w:body></w:document>")
    return path


_CONTENT_TYPES = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                  '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                  '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
                  '</Types>')
_RELS = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         'officeDocument" Target="word/document.xml"/></Relationships>')


def blank_pdf() -> bytes:
    """A valid one-page PDF with no text on the page."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>",
               b"<< /Length 0 >>\nstream\n\nendstream"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def measured_ingest(paths: list[str], kb: Path, cache: Path, what: str) -> tuple[float, float, float, Ran]:
    """Run `python -m ingest PATHS --no-index` while sampling /proc every 20 ms: (seconds, peak RSS
    of any parse worker in MB, peak RSS of the ingest process in MB, the run)."""
    logs = kb.parent / f"logs-{kb.name}"
    started = time.perf_counter()
    proc = start(["-m", "ingest", *paths, "--kb", str(kb), "--no-index", "-q"], cache, logs, "ingest")
    worker_peak: dict[int, float] = {}
    main_peak = 0.0
    while proc.poll() is None:
        main_peak = max(main_peak, vm_hwm_mb(proc.pid))
        for pid in descendants(proc.pid):
            worker_peak[pid] = max(worker_peak.get(pid, 0.0), vm_hwm_mb(pid))
        time.sleep(0.02)
    ran = finished(proc, logs, "ingest", started, what)
    return ran.seconds, max(worker_peak.values(), default=0.0), main_peak, ran


def _real(path: Path) -> str:
    """The resolved path as the store keeps it, "" for a link that cannot be resolved (a loop)."""
    try:
        return str(path.resolve(strict=True))
    except (OSError, RuntimeError):
        return ""


def failure_kinds(kb: Path) -> dict[str, str]:
    from ingest.store import open_store
    if not (kb / "kb.sqlite").is_file():
        return {}
    with open_store(kb) as store:
        return {f.path: f.kind for f in store.failures()}


def stored_paths(kb: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{kb / 'kb.sqlite'}?mode=ro", uri=True)
    try:
        return {r[0] for r in conn.execute("SELECT path FROM files WHERE duplicate_of IS NULL")}
    finally:
        conn.close()


def one_line_of(ran: Ran, path: Path) -> str:
    """The `failed`/`skipped`/`error` line of a run about `path` (printable form), or ""."""
    for line in ran.err.splitlines():
        if line.startswith(("failed", "skipped", "error")):
            return line.strip()[:160]
    return ""


def _default_cache() -> Path:
    from kb.settings import load_config
    return Path(load_config().cache_dir).expanduser()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb-corpus", type=Path, default=CORPUS,
                        help="folder holding the sample files (default ../shared/corpus/xinfang)")
    parser.add_argument("--only", nargs="*", default=None,
                        help="run only these faults: searches, " + ", ".join(STAGES)
                             + ", writers, hostile (searches always runs: it is the clean reference)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = parser.parse_args(argv)
    wanted = set(args.only) if args.only else {"searches", *STAGES, "writers", "hostile"}
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="faults-bench-"))
    try:
        seed = tmp / "seed-cache"
        models = _default_cache() / "onnx"      # exported models are reused (read only), never the vectors
        if models.is_dir():
            shutil.copytree(models, seed / "onnx", copy_function=shutil.copy2)
        else:
            seed.mkdir()
        bench = Bench(tmp, make_corpus(args.kb_corpus, tmp / "corpus"), seed)
        # this process's own searchers load the exported model from the private cache (bench code, not library)
        os.environ["POLICYKB_CACHE_DIR"] = str(bench.base_cache)
        bench.worker_counts = []
        bench.setup()
        bench.searches_during_ingest()
        for stage in STAGES:
            if stage in wanted:
                bench.kill_at(stage)
        if "writers" in wanted:
            bench.two_builds()
            bench.two_ingests()
            bench.no_wait()
        if bench.worker_counts:
            alive = sum(a for _, _, a in bench.worker_counts)
            bench.rows.append(Row("workers outliving kill -9 of the parent",
                                  "; ".join(f"{s}: {c} child process(es), {a} alive 2 s later"
                                            for s, c, a in bench.worker_counts),
                                  "nothing", alive == 0))
        if "hostile" in wanted:
            bench.hostile()
        bench.rows.append(Row("tracebacks on any command's output", f"{len(TRACEBACKS)}"
                              + (": " + " | ".join(TRACEBACKS[:3]) if TRACEBACKS else ""), "-", not TRACEBACKS))
        print_table(bench.rows)
        for r in bench.rows:
            for note in r.notes:
                print(f"note ({r.fault}): {note}")
        failed = [r.fault for r in bench.rows if not r.ok]
        print(f"{len(bench.rows) - len(failed)}/{len(bench.rows)} faults pass in {time.perf_counter() - started:.0f} s"
              + (f"; failing: {', '.join(failed)}" if failed else ""))
        return 1 if failed else 0
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
