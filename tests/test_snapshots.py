"""One writer, many readers: index snapshots through concurrent builds, ingests and interruptions.

Tiny made-up corpora in tmp_path, the real bundled model; the module's embedding cache lives in
a temporary folder (POLICYKB_CACHE_DIR), never the user's, with the run's converted and exported model.
"""
from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from bench.faults_bench import descendants
from conftest import cache_sharing_models
from index.build import INDEX_DIR, POINTER, build, current_folder, searchable
from index.search import Searcher, searcher_for
from index.units import UnitTable
from ingest import run
from ingest.store import open_store
from kb.settings import load_config

REPO = Path(__file__).resolve().parents[1]
TITLE = "某县信访事项测试条例"
OTHER = "某县调解工作测试办法"
T = TypeVar("T")
CONTENTS = ("信访工作坚持属地管理", "信访人应当如实反映情况", "行政机关应当登记信访事项", "调解委员会受理纠纷",
            "复查机关应当在三十日内答复", "听证应当公开进行", "督查部门负责督办", "信访档案妥善保管",
            "举报人受到保护", "工作人员回避规则", "复核意见为最终意见", "违反本条例的处分")


def regulation(title: str, contents: tuple[str, ...] | list[str]) -> str:
    from kb.chinese import article_label
    body = "\n\n".join(f"{article_label(i)} {text}。" for i, text in enumerate(contents, start=1))
    return f"# {title}\n\n<!-- INFO END -->\n\n{body}\n"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cache_sharing_models(tmp_path_factory.mktemp("policykb-cache"))


@pytest.fixture()
def env(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The embedding cache in tmp (for this process and the CLIs it starts)."""
    monkeypatch.setenv("POLICYKB_CACHE_DIR", str(cache_dir))
    return {**os.environ, "POLICYKB_CACHE_DIR": str(cache_dir)}


def write(corpus: Path, title: str, contents) -> Path:
    corpus.mkdir(parents=True, exist_ok=True)
    path = corpus / f"{title}.md"
    path.write_text(regulation(title, contents), encoding="utf-8")
    return path


@pytest.fixture()
def kb(tmp_path: Path, env: dict[str, str]) -> Path:
    """An indexed knowledge base of two documents."""
    corpus = tmp_path / "corpus"
    write(corpus, TITLE, CONTENTS)
    write(corpus, OTHER, ("调解应当自愿", "调解不收费"))
    kb = tmp_path / "kb"
    assert run([corpus], kb).failed == 0
    build(kb, load_config(kb=str(kb)), progress=False)
    return kb


def ingested_kb(tmp_path: Path) -> Path:
    """A knowledge base of one document, ingested and never indexed."""
    corpus = tmp_path / "corpus"
    write(corpus, TITLE, CONTENTS)
    kb = tmp_path / "kb"
    assert run([corpus], kb).failed == 0
    return kb


def cli(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True,
                          env=env, timeout=600)


def assert_complete(kb: Path) -> Path:
    folder = current_folder(kb)
    for name in ("catalog.npz", "lexical", "dense", "meta.json"):
        assert (folder / name).exists(), f"{folder} has no {name}"
    return folder


# ---- one writer -------------------------------------------------------------------------------
def test_two_builds_at_once_leave_a_complete_searchable_index(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import index.dense
    original = index.dense.build_dense
    first_in_dense, second_done = threading.Event(), threading.Event()
    calls = []

    def slow_first_build_dense(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:             # the first build pauses here until the second is done (or 8 s)
            first_in_dense.set()
            second_done.wait(8)
        return original(*args, **kwargs)

    monkeypatch.setattr(index.dense, "build_dense", slow_first_build_dense)
    reports, errors = {}, []

    def one_build(name: str) -> None:
        try:
            reports[name] = build(kb, load_config(kb=str(kb)), progress=False, force=True)
        except BaseException as e:      # noqa: BLE001 - the test reports whatever broke
            errors.append(e)
        if name == "second":
            second_done.set()

    first = threading.Thread(target=one_build, args=("first",))
    first.start()
    # (a loaded machine may take minutes to get there; a build that died says why)
    deadline = time.monotonic() + 600
    while first.is_alive() and not first_in_dense.wait(1) and time.monotonic() < deadline:
        pass
    assert first_in_dense.is_set(), errors or "the first build did not reach its dense stage"
    second = threading.Thread(target=one_build, args=("second",))
    second.start()
    first.join(300)
    second.join(300)
    assert not errors, errors
    assert not reports["first"].skipped and not reports["second"].skipped
    folder = assert_complete(kb)
    assert folder.name == Path(reports["second"].folder).name
    hits = Searcher(kb, load_config(kb=str(kb))).search(f"{TITLE}第五条")
    assert hits[0].text == "复查机关应当在三十日内答复。"


def test_two_builds_in_the_same_second_get_their_own_folders(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a forced rebuild within the second of the previous build (same process, same generation)
    # once collided with its folder and failed with "cannot write the search index"
    monkeypatch.setattr(time, "strftime", lambda fmt, *a: "20260101000000")
    folders = [build(kb, load_config(kb=str(kb)), progress=False, force=True).folder for _ in range(2)]
    assert folders[0] != folders[1]
    assert assert_complete(kb).name == Path(folders[1]).name


HOLD = """
import sys, time
from kb.lock import writer_lock
with writer_lock(sys.argv[1], wait=0):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_lock(kb: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(kb), str(seconds)], cwd=REPO, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_writers_wait_for_the_lock_or_fail_in_one_line(kb: Path, tmp_path: Path, env: dict[str, str]) -> None:
    holder = hold_lock(kb, 60)
    try:
        busy = f"knowledge base {kb} is being written by pid {holder.pid} since "
        for module, args in (("index", ("build", "--kb", str(kb), "--force")),
                             ("ingest", (str(tmp_path / "corpus"), "--kb", str(kb)))):
            refused = cli(module, *args, "--no-wait", env=env)
            assert refused.returncode == 1 and refused.stderr.startswith(f"error: {busy}"), refused.stderr
            assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
        gave_up = cli("index", "build", "--kb", str(kb), "--wait", "1", "--quiet", env=env)
        assert gave_up.returncode == 1 and f"{busy}" in gave_up.stderr and "waiting" in gave_up.stderr
    finally:
        holder.kill()
        holder.wait()
    rebuilt = cli("index", "build", "--kb", str(kb), "--force", "--quiet", "--no-wait", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert_complete(kb)


@pytest.mark.slow
def test_two_build_commands_at_once(kb: Path, env: dict[str, str]) -> None:
    args = [sys.executable, "-m", "index", "build", "--force", "--quiet", "--kb", str(kb)]
    first = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    second = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, (err, second.stderr)
    assert "built" in out and "built" in second.stdout
    assert_complete(kb)
    found = cli("index", "search", f"{TITLE}第十一条", "--kb", str(kb), env=env)
    assert found.returncode == 0 and "复核意见为最终意见" in found.stdout, found.stderr


def test_the_upload_job_waits_for_another_writer(kb: Path, tmp_path: Path) -> None:
    from ui.jobs import IngestJob, ingest_and_index
    new = write(tmp_path / "uploads", "某县听证测试规则", ("听证由信访部门主持",))
    job = IngestJob(names={str(new): new.name})
    holder = hold_lock(kb, 3)
    worker = threading.Thread(target=ingest_and_index, args=(job, str(kb), load_config(kb=str(kb)), [str(new)]))
    worker.start()
    stages = set()
    while worker.is_alive():
        stages.add(job.stage)
        time.sleep(0.05)
    holder.wait()
    assert any(str(holder.pid) in s and s.startswith("等待") for s in stages), stages
    assert job.stage == "完成" and [r.status for r in job.results] == ["added"]


def test_a_first_build_serves_keywords_while_it_embeds_and_an_interrupted_one_keeps_them(
        tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, open_page) -> None:
    # a first build of a large corpus embeds for an hour on slow machines: before this, nothing
    # could be searched until it ended, and an interrupted one left nothing to search at all
    import index.dense
    kb = ingested_kb(tmp_path)
    original, seen = index.dense.build_dense, []

    def cut_off_while_embedding(*args, **kwargs):
        searcher = Searcher(kb, load_config(kb=str(kb)))
        seen.append((searcher.keywords_only, searcher.staleness(), searcher.search("复查机关答复期限", k=3)))
        raise RuntimeError("power cut")

    monkeypatch.setattr(index.dense, "build_dense", cut_off_while_embedding)
    with pytest.raises(RuntimeError, match="power cut"):
        build(kb, load_config(kb=str(kb)), progress=False)
    [(keywords_only, staleness, hits)] = seen
    assert keywords_only and "只按关键词" in staleness and "正在重建" in staleness
    assert hits[0].citation == f"《{TITLE}》第五条" and hits[0].match == ("keywords",)
    serving = current_folder(kb)
    assert not (serving / "dense").exists()
    after = Searcher(kb, load_config(kb=str(kb)))
    assert after.keywords_only and after.search(f"{TITLE}第二条")[0].text == "信访人应当如实反映情况。"
    assert "需要重建：python -m index build" in after.staleness()
    result = cli("index", "search", "复查机关答复期限", "--kb", str(kb), env=env)
    assert result.returncode == 0 and "复查机关应当在三十日内答复" in result.stdout
    assert "只按关键词" in result.stderr
    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps({"qid": "q1", "query": "复查机关答复期限",
                                     "gold": [{"title": TITLE, "article_no": 5}]}, ensure_ascii=False) + "\n",
                         encoding="utf-8")
    measured = cli("index", "eval", str(questions), "--kb", str(kb), env=env)
    assert measured.returncode == 0 and "Recall@1 1.0000" in measured.stdout and "只按关键词" in measured.stderr
    page = open_page(kb, "search", q="复查机关答复期限")
    assert not page.exception and not page.error, [e.value for e in page.error]
    assert any(f"《{TITLE}》第五条" in m.value for m in page.markdown), [m.value for m in page.markdown]
    assert any("只按关键词" in c.value for c in page.caption), [c.value for c in page.caption]

    monkeypatch.setattr(index.dense, "build_dense", original)
    report = build(kb, load_config(kb=str(kb)), progress=False)     # the same generation: not skipped
    assert not report.skipped and assert_complete(kb).name == Path(report.folder).name
    assert report.keywords_seconds == 0     # a keywords-only snapshot serves: this is no first build
    full = searcher_for(str(kb))
    assert not full.keywords_only and full.staleness() == ""
    top = full.search("复查机关答复期限", k=3)[0]
    assert top.citation == f"《{TITLE}》第五条" and "meaning" in top.match
    assert serving.is_dir()                 # kept one generation: a searcher may be loading it


def clause_kb(tmp_path: Path) -> Path:
    """A knowledge base of one document whose first article has two 款, ingested and never indexed."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / f"{TITLE}.md").write_text(f"# {TITLE}\n\n<!-- INFO END -->\n\n第一条 信访事项应当在十五日内告知。\n"
                                        "对告知不服的，可以在五个工作日内提出复查。\n\n第二条 复查机关应当在三十日内答复。\n",
                                        encoding="utf-8")
    kb = tmp_path / "kb"
    assert run([corpus], kb).failed == 0
    return kb


def test_a_large_first_build_serves_whole_articles_before_their_clauses(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # the 款 passages are about 40% of a first build's embedding: meaning search over whole
    # articles need not wait for them
    from index.dense import read_dense_meta
    builds = importlib.import_module("index.build")     # `index.build` is also the package's function
    kb = clause_kb(tmp_path)
    monkeypatch.setattr(builds, "STAGED_MIN_UNITS", 2)
    swap_in, served = builds._swap_in, []

    def watched(root: Path, folder: Path) -> None:
        swap_in(root, folder)
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        searcher = Searcher(kb, load_config(kb=str(kb)))
        passages = read_dense_meta(folder / "dense").passages if (folder / "dense").exists() else 0
        served.append((searcher.keywords_only, meta["clauses"], passages,
                       searcher.search("多少天内告知信访人", k=1)[0].match))

    monkeypatch.setattr(builds, "_swap_in", watched)
    report = build(kb, load_config(kb=str(kb)), progress=False)
    assert [s[:3] for s in served] == [(True, None, 0), (False, None, 2), (False, 0, 4)]
    assert "meaning" in served[1][3] and "meaning" in served[2][3]
    assert 0 < report.keywords_seconds < report.articles_seconds < report.seconds
    assert "whole articles' meanings from" in report.summary()
    assert build(kb, load_config(kb=str(kb)), progress=False).skipped


def test_a_first_build_cut_off_in_its_clauses_keeps_whole_articles_and_the_next_adds_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import index.dense
    kb = clause_kb(tmp_path)
    monkeypatch.setattr(importlib.import_module("index.build"), "STAGED_MIN_UNITS", 2)
    original = index.dense.build_dense

    def cut_off_in_the_clauses(*args, **kwargs):
        if index.dense.clause_threshold(kwargs["cfg"]) is not None:
            raise RuntimeError("power cut")
        return original(*args, **kwargs)

    monkeypatch.setattr(index.dense, "build_dense", cut_off_in_the_clauses)
    with pytest.raises(RuntimeError, match="power cut"):
        build(kb, load_config(kb=str(kb)), progress=False)
    searcher = Searcher(kb, load_config(kb=str(kb)))
    assert not searcher.keywords_only and "meaning" in searcher.search("多少天内告知信访人", k=1)[0].match
    monkeypatch.setattr(index.dense, "build_dense", original)
    report = build(kb, load_config(kb=str(kb)), progress=False)
    assert not report.skipped and report.articles_seconds == 0 and report.keywords_seconds == 0
    assert json.loads((assert_complete(kb) / "meta.json").read_text(encoding="utf-8"))["clauses"] == 0


def test_a_small_first_build_is_one_stage(tmp_path: Path) -> None:
    kb = clause_kb(tmp_path)
    report = build(kb, load_config(kb=str(kb)), progress=False)
    assert report.keywords_seconds > 0 and report.articles_seconds == 0
    assert "whole articles" not in report.summary()


def test_a_first_build_searches_by_keywords_before_it_loads_the_model(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # the model's first conversion and export take a minute on a new machine: they came before
    # the keyword snapshot, and a searcher of that snapshot loaded (so exported) the model too
    import index.embed
    kb = ingested_kb(tmp_path)
    original, seen = index.embed.load_embedder, []

    def load_embedder(*args, **kwargs):
        if not seen:                # the first time the model is asked for
            seen.append(None)
            if searchable(kb):
                searcher = Searcher(kb, load_config(kb=str(kb)))    # no model to load here: keywords alone
                seen[0] = (searcher.keywords_only, searcher.embedder, searcher.search("复查机关答复期限", k=1))
        return original(*args, **kwargs)

    monkeypatch.setattr(index.embed, "load_embedder", load_embedder)
    report = build(kb, load_config(kb=str(kb)), progress=False)
    assert seen[0] is not None, "the model was loaded before keyword search worked"
    [(keywords_only, embedder, hits)] = seen
    assert keywords_only and embedder is None and hits[0].citation == f"《{TITLE}》第五条"
    assert report.keywords_seconds > 0 and not Searcher(kb, load_config(kb=str(kb))).keywords_only
    model_id = json.loads((current_folder(kb) / "meta.json").read_text(encoding="utf-8"))["model_id"]
    assert model_id == original(load_config(kb=str(kb))).model_id


def test_a_build_with_a_model_it_cannot_find_fails_before_any_snapshot(tmp_path: Path) -> None:
    from kb.errors import ConfigError
    kb = ingested_kb(tmp_path)
    with pytest.raises(ConfigError, match="no-such-model"):
        build(kb, load_config(kb=str(kb), model=str(tmp_path / "no-such-model")), progress=False)
    assert not (kb / INDEX_DIR / POINTER).exists()


def test_only_a_first_build_swaps_in_keywords_alone(kb: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # a later build's users search the last complete snapshot meanwhile, meanings and all
    published = []
    monkeypatch.setattr(importlib.import_module("index.build"), "_publish_keywords_only",
                        lambda *args: published.append(args))
    run([write(tmp_path / "more", "某县听证测试规则", ("听证由信访部门主持",))], kb)
    build(kb, load_config(kb=str(kb)), progress=False)
    assert not published and not Searcher(kb, load_config(kb=str(kb))).keywords_only


def build_ended(kb: Path, timeout: float = 300) -> Path:
    """The snapshot in use once it is complete and reflects the whole store (a build started in
    the background has ended), within `timeout` seconds."""
    from ingest.store import open_store

    deadline = time.monotonic() + timeout
    while True:
        with open_store(kb) as store:
            generation = store.generation()
        folder = current_folder(kb)
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if (folder / "dense").exists() and meta["generation"] == generation:
            return assert_complete(kb)
        assert time.monotonic() < deadline, "the background build did not end"
        time.sleep(0.3)


def ingest_in_background(corpus: Path, kb: Path, env: dict[str, str], log: Path) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of `python -m ingest … --index-in-background`, once that
    command has returned: its output goes to files, since the build it leaves running holds the
    same output (pipes would stay open until the build ends)."""
    with open(log.with_suffix(".out"), "w+") as out, open(log.with_suffix(".err"), "w+") as err:
        code = subprocess.run([sys.executable, "-m", "ingest", str(corpus), "--kb", str(kb), "--index-in-background",
                               "--quiet"], cwd=REPO, stdout=out, stderr=err, env=env, timeout=600).returncode
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read()


def test_ingest_returns_once_search_works_and_indexes_in_the_background(tmp_path: Path, env: dict[str, str]) -> None:
    # `make run` serves the app then: a first build of a large corpus embeds for an hour on slow
    # machines, and a failed file no longer keeps the others from being served
    corpus = tmp_path / "corpus"
    write(corpus, TITLE, CONTENTS)
    (corpus / "empty.txt").write_bytes(b"")
    kb = tmp_path / "kb"
    code, _, stderr = ingest_in_background(corpus, kb, env, tmp_path / "first")
    assert code == 3, stderr          # one file failed, the rest is in
    assert "failed" in stderr and "empty.txt" in stderr
    hit = Searcher(kb, load_config(kb=str(kb))).search("复查机关答复期限", k=1)[0]
    assert hit.citation == f"《{TITLE}》第五条"
    serving = build_ended(kb)
    assert not Searcher(kb, load_config(kb=str(kb))).keywords_only

    write(corpus, OTHER, ("调解应当自愿", "调解不收费"))
    code, stdout, _ = ingest_in_background(corpus, kb, env, tmp_path / "second")
    # the snapshot in use answers at once (behind the store, and says so) while the build goes on
    assert code == 3 and "goes on in the background (process " in stdout, stdout
    assert current_folder(kb) == serving
    assert "索引落后于知识库" in Searcher(kb, load_config(kb=str(kb))).staleness()
    assert build_ended(kb) != serving
    assert Searcher(kb, load_config(kb=str(kb))).search(f"{OTHER}第二条")[0].text == "调解不收费。"


def test_a_background_build_that_cannot_start_says_why_and_ingest_fails(tmp_path: Path, env: dict[str, str]) -> None:
    corpus = tmp_path / "corpus"
    write(corpus, TITLE, CONTENTS)
    no_model = {**env, "POLICYKB_MODEL": str(tmp_path / "no-such-model")}
    code, stdout, stderr = ingest_in_background(corpus, tmp_path / "kb", no_model, tmp_path / "log")
    assert code == 1 and "no-such-model" in stderr and "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if line.startswith("error:")] == stderr.splitlines()
    assert "files: 1 added" in stdout


def test_a_background_build_killed_before_search_works_is_said_in_one_line(tmp_path: Path,
                                                                             env: dict[str, str]) -> None:
    # killed (the OOM killer, kill -9), the build says nothing itself; ingest exited with -9's 247
    kb = tmp_path / "kb"
    corpus = tmp_path / "corpus"
    write(corpus, TITLE, CONTENTS)
    with open(tmp_path / "out", "w+") as out, open(tmp_path / "err", "w+") as err:
        ingest = subprocess.Popen([sys.executable, "-m", "ingest", str(corpus), "--kb", str(kb),
                                   "--index-in-background", "--quiet"], cwd=REPO, stdout=out, stderr=err,
                                  env={**env, "PYTHONUNBUFFERED": "1"})      # its lines as they come
        deadline = time.monotonic() + 60
        # once the files are in (their parse workers gone), the one child left is the build
        while "knowledge base " not in Path(out.name).read_text() or not (builds := descendants(ingest.pid)):
            assert ingest.poll() is None and time.monotonic() < deadline, "no background build started"
            time.sleep(0.01)
        [build_pid] = builds
        os.kill(build_pid, 9)
        assert ingest.wait(timeout=60) == 1
        err.seek(0)
        stderr = err.read()
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert "stopped by signal 9 before search worked" in stderr and "python -m index build --kb" in stderr
    assert not searchable(kb)


# ---- readers ----------------------------------------------------------------------------------
def test_a_searcher_serves_the_last_snapshot_while_the_store_moves_on(kb: Path, tmp_path: Path,
                                                                      env: dict[str, str]) -> None:
    run([write(tmp_path / "more", "某县听证测试规则", ("听证由信访部门主持",))], kb)
    searcher = Searcher(kb, load_config(kb=str(kb)))
    assert searcher.behind() == 1
    assert searcher.search(f"{TITLE}第二条")[0].text == "信访人应当如实反映情况。"
    result = cli("index", "search", f"{TITLE}第二条", "--kb", str(kb), env=env)
    assert result.returncode == 0 and "信访人应当如实反映情况" in result.stdout
    assert "索引落后于知识库 1 次更新" in result.stderr and "python -m index build" in result.stderr


def test_an_interrupted_build_leaves_the_snapshot_serving_and_the_next_writer_cleans_up(kb: Path) -> None:
    root = kb / INDEX_DIR
    serving = current_folder(kb)
    leftover = root / "build-9-20000101000000-99999"
    leftover.mkdir()
    (leftover / "catalog.npz").write_bytes(b"half")
    (root / f".{POINTER}.99999").write_text(leftover.name, encoding="utf-8")
    assert Searcher(kb, load_config(kb=str(kb))).search(f"{TITLE}第一条")[0].text == "信访工作坚持属地管理。"
    assert leftover.exists()                # readers never clean
    report = build(kb, load_config(kb=str(kb)), progress=False)
    assert report.skipped and current_folder(kb) == serving
    assert not leftover.exists() and not (root / f".{POINTER}.99999").exists()


def test_an_update_works_on_what_changed_and_searches_as_a_build_afresh(kb: Path, tmp_path: Path) -> None:
    cfg = load_config(kb=str(kb))
    # a re-ingested document (every article a new id), one article changed; and a new document
    run([write(tmp_path / "corpus", TITLE, (*CONTENTS[:-1], "违反本条例的，依法给予处分"))], kb)
    run([write(tmp_path / "more", "某县听证测试规则", ("听证由信访部门主持", "听证笔录应当存档"))], kb)
    report = build(kb, cfg, progress=False)
    units = report.units
    assert report.stages == (f"tokenise 3 of {units} units", report.stages[1])
    assert report.stages[1].endswith(" passages + grow FAISS")      # how many it embeds depends on the shared cache
    dense = json.loads((Path(report.folder) / "dense" / "dense.json").read_text(encoding="utf-8"))
    assert (dense["added"], dense["dead"]) == (3, 1)
    assert f"tokenise 3 of {units} units" in report.summary()
    with open_store(kb) as store:                 # the snapshot shows the units as the store held them
        stored = {a.id: a for a in store.iter_articles()}
    assert UnitTable(Path(report.folder), "").by_ids(list(stored)) == stored
    questions = ("复查机关多久答复", "某县信访事项测试条例第十二条", "听证笔录", "调解收费吗", "违反条例怎么处分")
    updated = Searcher(kb, cfg)
    grown = [[(h.article_id, h.score) for h in updated.search(q)] for q in questions]
    afresh = build(kb, cfg, progress=False, force=True)
    assert afresh.stages[0] == f"tokenise {units} of {units} units" and afresh.stages[1].endswith(" passages + FAISS")
    rebuilt = Searcher(kb, cfg)
    for question, hits in zip(questions, grown):
        expected = [(h.article_id, h.score) for h in rebuilt.search(question)]
        assert [a for a, _ in hits] == [a for a, _ in expected], question
        assert [s for _, s in hits] == pytest.approx([s for _, s in expected], abs=1e-6), question


def versioned(title: str, version_date: str, texts: list[str]):
    from ingest.records import Article, Document, DocumentMeta
    from kb.chinese import article_label
    articles = tuple(Article(no=i, suffix=0, label=article_label(i), path=(), paragraphs=(t,), text=t)
                     for i, t in enumerate(texts, start=1))
    meta = DocumentMeta(title=title, level="地方性法规", region="示范市", version_date=version_date,
                        promulgated=version_date, effective=version_date)
    return Document(source=f"/c/{title}{version_date}.md", meta=meta, articles=articles)


def test_an_update_matches_again_only_the_versions_whose_texts_changed(tmp_path: Path, env: dict[str, str],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import index.catalog
    from index.catalog import Catalog
    from ingest.store import StoreWriter

    kb = tmp_path / "kb"
    title = "示范社区调解条例"
    writer = StoreWriter(kb)
    with writer.transaction():
        writer.put_file("/c/v1.md", "v1.md", "a", "p", versioned(title, "2015-01-01", ["调解应当自愿。", "调解不收费。"]))
        writer.put_file("/c/v2.md", "v2.md", "b", "p",
                        versioned(title, "2023-01-01", ["调解应当自愿、合法。", "调解员应当公正。", "调解不收费。"]))
    cfg = load_config(kb=str(kb))
    build(kb, cfg, progress=False)
    matched: list[int] = []
    similarity = index.catalog.similarity_matrix
    monkeypatch.setattr(index.catalog, "similarity_matrix", lambda old, new: matched.append(1) or similarity(old, new))
    with writer.transaction():
        writer.put_file("/c/o.md", "o.md", "c", "p", versioned("示范听证规则", "2024-01-01", ["听证公开进行。"]))
    updated = Path(build(kb, cfg, progress=False).folder)
    assert matched == []                                  # the regulation's versions are as they were
    afresh = Path(build(kb, cfg, progress=False, force=True).folder)
    assert matched == [1]                                 # a forced build works every match out again
    grown, rebuilt = Catalog.load(updated, ""), Catalog.load(afresh, "")
    for name in Catalog._ARRAYS:
        assert getattr(grown, name).tolist() == getattr(rebuilt, name).tolist(), name
    # 调解不收费 (第二条 in 2015, 第三条 in 2023) is one article in two versions
    group = {(version, no): g for version, no, g in zip(grown.version.tolist(), grown.no.tolist(), grown.group.tolist())}
    assert group[20150101, 2] == group[20230101, 3] != group[20230101, 2]
    assert len(set(group.values())) == 4
    with writer.transaction():
        writer.put_file("/c/v3.md", "v3.md", "d", "p",
                        versioned(title, "2025-01-01", ["调解应当自愿、合法。", "调解员应当公正、廉洁。", "调解不收费。"]))
    writer.close()
    build(kb, cfg, progress=False)
    assert matched == [1, 1, 1]                           # a newest version: both older ones are matched to it


def test_a_build_leaves_the_garbage_collector_as_it_found_it(kb: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from ingest.store import StoreWriter
    from kb.errors import SearchIndexError

    building = importlib.import_module("index.build")       # (the package's `build` is the function)
    seen: list[tuple[bool, int]] = []
    made = building._units_in_place
    monkeypatch.setattr(building, "_units_in_place",
                        lambda rows: seen.append((gc.isenabled(), len(rows))) or made(rows))
    run([write(tmp_path / "more", "某县听证测试规则", ("听证由信访部门主持",))], kb)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    build(kb, load_config(kb=str(kb)), progress=False)              # an update
    assert seen == [(False, 15)]                                    # off while the units were made
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert build(kb, load_config(kb=str(kb)), progress=False).skipped
    assert gc.isenabled() and gc.get_freeze_count() == 0
    empty = tmp_path / "empty"
    StoreWriter(empty).close()
    with pytest.raises(SearchIndexError, match="no articles yet"):
        build(empty, load_config(kb=str(empty)), progress=False)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()                                                    # a caller's choice is kept
    try:
        build(kb, load_config(kb=str(kb)), progress=False, force=True)
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_the_previous_snapshot_is_kept_for_one_generation(kb: Path, tmp_path: Path) -> None:
    cfg = load_config(kb=str(kb))
    first = current_folder(kb)
    run([write(tmp_path / "more", "某县听证测试规则", ("听证由信访部门主持",))], kb)
    second = Path(build(kb, cfg, progress=False).folder)
    assert first.is_dir() and second.is_dir()
    run([write(tmp_path / "more", "某县督查测试规则", ("督查每年开展一次",))], kb)
    third = Path(build(kb, cfg, progress=False).folder)
    assert not first.exists() and second.is_dir() and third.is_dir()


def test_a_searcher_retries_once_when_its_snapshot_vanishes_while_loading(kb: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from index.catalog import Catalog
    old = current_folder(kb)
    run([write(tmp_path / "more", "某县听证测试规则", ("听证由信访部门主持",))], kb)
    new = Path(build(kb, load_config(kb=str(kb)), progress=False, force=True).folder)
    (kb / INDEX_DIR / POINTER).write_text(old.name, encoding="utf-8")
    original = Catalog.load
    swapped = []

    def load_while_a_writer_swaps(folder, hint):
        if not swapped:                 # a writer swaps in the new snapshot and removes the old one now
            swapped.append(folder)
            (kb / INDEX_DIR / POINTER).write_text(new.name, encoding="utf-8")
            shutil.rmtree(old)
        return original(folder, hint)

    monkeypatch.setattr(Catalog, "load", staticmethod(load_while_a_writer_swaps))
    searcher = Searcher(kb, load_config(kb=str(kb)))
    assert swapped == [old] and searcher.search("某县听证测试规则第一条")[0].text == "听证由信访部门主持。"


def test_hits_come_from_the_snapshot_while_a_writer_changes_the_store(kb: Path, tmp_path: Path) -> None:
    searcher = Searcher(kb, load_config(kb=str(kb)))
    # the document is re-ingested with a new first article: every article moves down by one
    run([write(tmp_path / "corpus", TITLE, ("新增的第一条内容", *CONTENTS))], kb)
    hit = searcher.search(f"{TITLE}第十一条")[0]
    assert (hit.label, hit.text) == ("第十一条", "复核意见为最终意见。")
    # and removed altogether: its hits are still shown, from the snapshot
    (tmp_path / "corpus" / f"{TITLE}.md").unlink()
    run([tmp_path / "corpus"], kb, prune=True)
    hits = searcher.search("复查机关答复期限", k=3)
    assert any(h.text == "复查机关应当在三十日内答复。" and h.title == TITLE for h in hits)
    # the next snapshot no longer holds it
    build(kb, load_config(kb=str(kb)), progress=False)
    assert all(h.title != TITLE for h in Searcher(kb, load_config(kb=str(kb))).search(f"{TITLE}第一条"))


def all_at_once(call: Callable[[], T], threads: int, *, timeout: float) -> tuple[list[T], list[BaseException]]:
    """Call `call` in `threads` threads released together (a barrier); what the calls returned and
    what they raised, after waiting up to `timeout` seconds for each thread."""
    start, results, errors = threading.Barrier(threads), [], []

    def one_call() -> None:
        start.wait()
        try:
            results.append(call())
        except BaseException as e:      # noqa: BLE001 - returned to the test, which asserts on it
            errors.append(e)

    workers = [threading.Thread(target=one_call) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout)
    return results, errors


def test_searcher_for_loads_one_searcher_for_many_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    search_module = importlib.import_module("index.search")     # (`index.search` is also a function)
    built = []

    class SlowSearcher:
        def __init__(self, kb, cfg=None):
            time.sleep(0.3)
            built.append(self)
            self.kb_dir, self.folder = Path(kb), Path("build-x")

    monkeypatch.setattr(search_module, "Searcher", SlowSearcher)
    monkeypatch.setattr(search_module, "current_folder", lambda kb: Path("build-x"))
    kb = str(tmp_path / "kb")
    got, errors = all_at_once(lambda: searcher_for(kb), 8, timeout=30)
    assert not errors and len(built) == 1 and all(s is built[0] for s in got)


def test_searcher_for_picks_up_a_new_snapshot(kb: Path, tmp_path: Path) -> None:
    before = searcher_for(str(kb))
    assert searcher_for(str(kb)) is before
    run([write(tmp_path / "more", "某县听证测试规则", ("听证由信访部门主持",))], kb)
    build(kb, load_config(kb=str(kb)), progress=False)
    after = searcher_for(str(kb))
    assert after is not before and after.search("某县听证测试规则第一条")[0].text == "听证由信访部门主持。"


def test_the_app_keeps_answering_during_an_ingest_and_loads_the_new_snapshot(kb: Path, tmp_path: Path,
                                                                               open_page) -> None:
    at = open_page(kb, "search", q=f"{TITLE}第二条")
    assert not at.exception and not at.error
    run([write(tmp_path / "more", "某县听证测试规则", ("听证由信访部门主持",))], kb)
    during = open_page(kb, "search", q=f"{TITLE}第二条")
    assert not during.error, [e.value for e in during.error]
    assert any("信访人应当如实反映情况" in m.value for m in during.markdown)
    assert any("索引落后于知识库 1 次更新" in c.value for c in during.caption)
    build(kb, load_config(kb=str(kb)), progress=False)
    during.text_input(key="q").input("某县听证测试规则第一条").run()
    assert not during.error, [e.value for e in during.error]
    assert any("《某县听证测试规则》第一条" in m.value for m in during.markdown)
    assert [t.value for t in during.toast] == ["已载入新的索引（15 条）"]


def test_eight_first_searches_at_once_share_one_searcher(kb: Path) -> None:
    from index import search
    results, errors = all_at_once(lambda: [h.citation for h in search(f"{TITLE}第三条", k=3, kb=str(kb))], 8,
                                  timeout=300)
    assert not errors, errors
    assert len(results) == 8 and all(r == results[0] for r in results) and results[0][0] == f"《{TITLE}》第三条"
