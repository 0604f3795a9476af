"""Shared fixtures: small knowledge bases built once per test session in a temporary folder.

`app_store_kb`: the store only (`ingest.run`) over the synthetic corpus in `tests/app_corpus/`
plus two real sample files of ../shared (by path, when present): 《信访条例》(2005, GB18030 text)
and 《信访工作条例》(2022, DOCX). `app_kb`: a copy of it with the search index built
(`index.build`, real bundled model). Tests that write into a knowledge base (lecture packs,
uploads) take `writable_kb`, a per-test copy. `run_until_done` reruns a page until its upload job ends.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from kb.files import exclusive
from kb.workers import usable_cores

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
APP_CORPUS = Path(__file__).resolve().parent / "app_corpus"
SAMPLE_FILES = ("xinfang-tiaoli-2005.gb18030.txt", "xinfang-gongzuo-tiaoli-2022.docx")

# pytest-xdist's workers share the cores: each worker's parallel steps, and the commands it
# starts, get its share (`usable_cores`). Threads of one worker waiting for each other on a core
# the other worker kept busy made learning tests 8 to 25 times slower (3 s alone, 74 s in the suite).
MACHINE_CORES = usable_cores()
if os.environ.get("PYTEST_XDIST_WORKER_COUNT") and "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = str(max(1, MACHINE_CORES // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than ~30 s (CI still runs it)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The demo corpus's tests first: its build (~350 s of one core on the slowest machine) then
    # overlaps the rest of the run instead of ending it beside an idle worker. pytest-xdist first
    # hands each worker a block of consecutive tests, so one worker builds it.
    items.sort(key=lambda item: "demo_kb" not in getattr(item, "fixturenames", ()))


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of this test run, shared by its worker processes (pytest-xdist gives
    each worker a folder of its own inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory):
    """The embedding cache and exported models of every test (and of the commands tests start)
    live in a temporary folder of the run, never in the user's ~/.cache. The workers share it
    (writes to it are atomic; exports take turns), so the model is converted and exported once
    and a text embedded by one worker is not embedded again by the other."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POLICYKB_CACHE_DIR", str(run_folder(tmp_path_factory) / "policykb-cache"))
        yield


def cache_sharing_models(folder: Path) -> Path:
    """A new, empty embedding cache `folder` whose converted and exported model files (`models/`,
    `onnx/`: they depend on the model alone) are the run's: converting and exporting e5-small
    again would cost each such test ~25 s."""
    session = Path(os.environ["POLICYKB_CACHE_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("models", "onnx"):
        (session / name).mkdir(parents=True, exist_ok=True)
        (folder / name).symlink_to(session / name, target_is_directory=True)
    return folder


def app_corpus_paths() -> list[Path]:
    """The synthetic documents (the corpus README is not one) and the shared samples that exist."""
    paths = sorted(p for p in APP_CORPUS.rglob("*.md") if p.name != "README.md")
    paths += [SHARED / "samples" / name for name in SAMPLE_FILES if (SHARED / "samples" / name).is_file()]
    return paths


def kb_of_texts(root: Path, texts: dict[str, str]) -> Path:
    """A knowledge base `root/kb` (store only) of made-up documents: file name → text, written
    under `root/docs`."""
    from ingest import run
    (root / "docs").mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")
    summary = run([root / "docs"], root / "kb")
    assert summary.failed == 0, summary.failures
    return root / "kb"


def searcher_of_texts(root: Path, texts: dict[str, str]):
    """A `Searcher` over a knowledge base of made-up documents (`kb_of_texts`), its index built
    with the default (bundled) model."""
    from index.build import build
    from index.search import Searcher
    from kb.settings import load_config
    kb = kb_of_texts(root, texts)
    cfg = load_config(kb=str(kb))
    build(kb, cfg, progress=False)
    return Searcher(kb, cfg)


def shared_samples_present() -> bool:
    return all((SHARED / "samples" / name).is_file() for name in SAMPLE_FILES)


needs_samples = pytest.mark.skipif(not shared_samples_present(),
                                   reason=f"shared sample files not found under {SHARED / 'samples'}")


@pytest.fixture(scope="session")
def app_store_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A knowledge base (store only, no index) of the app test corpus."""
    from ingest import run
    kb = tmp_path_factory.mktemp("app-store") / "kb"
    summary = run(app_corpus_paths(), kb)
    assert summary.failed == 0, summary.failures
    return kb


@pytest.fixture(scope="session")
def app_kb(app_store_kb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same knowledge base with its search index, built with the default (bundled) model."""
    kb = Path(shutil.copytree(app_store_kb, tmp_path_factory.mktemp("app-indexed") / "kb"))
    # one worker at a time: the second finds every vector in the shared cache
    with exclusive(run_folder(tmp_path_factory) / "app-kb.lock"):
        build_on_every_core(kb)
    return kb


def build_on_every_core(kb: Path) -> None:
    """Build the index of a session's shared knowledge base with the default settings, embedding
    on every core of the machine, not on this worker's share: its passages are embedded one per
    thread, independently, so the threads never wait for each other, and the other worker is idle
    whenever it waits for the same knowledge base or has run out of tests (the demo corpus's
    4,146 passages take ~350 s on one core of the slowest machine)."""
    from index.build import build     # (`from index import build` yields the submodule of that name)
    from kb.settings import load_config
    build(kb, load_config(kb=str(kb), embed_threads=MACHINE_CORES), progress=False)


@pytest.fixture(scope="module")
def indexed_kb(request: pytest.FixtureRequest) -> Path:
    """The app knowledge base with its index (`app_kb`); skipped, saying why, without the shared samples."""
    if not shared_samples_present():
        pytest.skip(f"shared sample files not found under {SHARED / 'samples'}")
    return request.getfixturevalue("app_kb")


@pytest.fixture()
def writable_kb(app_store_kb: Path, tmp_path: Path) -> Path:
    """A private copy of the store-only knowledge base, for tests that write into it."""
    return Path(shutil.copytree(app_store_kb, tmp_path / "kb"))


@pytest.fixture()
def writable_indexed_kb(app_kb: Path, tmp_path: Path) -> Path:
    """A private copy of the indexed knowledge base, for tests that write into it."""
    return Path(shutil.copytree(app_kb, tmp_path / "kb"))


def _serve_page(kb: str, page: str) -> None:
    """AppTest script: one run of the app with `page` as the landing page."""
    from kb.settings import load_config
    from ui.pages import serve
    serve(load_config(kb=kb), default=page)


@pytest.fixture()
def open_page():
    """Factory: `open_page(kb, "browse", doc="3")` runs the app on that page with those URL
    parameters and returns the `AppTest` after its first run."""
    from streamlit.testing.v1 import AppTest

    def run(kb: Path, page: str = "search", **query: str) -> AppTest:
        at = AppTest.from_function(_serve_page, args=(str(kb), page), default_timeout=60)
        at.query_params.update(query)
        return at.run()
    return run


def run_until_done(at, timeout: float = 240.0):
    """Rerun the page `at` until the background upload job reports its end (success or error).

    Raises:
        AssertionError: if it has not ended after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(1.0)
        at.run()
        if at.success or (at.error and not at.get("progress")):
            return at
    raise AssertionError("upload job did not finish in time")
