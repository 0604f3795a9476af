"""Build or update the search indexes of a knowledge base from its store.

Layout under `<kb>/index/`: each build writes a fresh folder `build-<generation>-<time>-<pid>-<random>/`
(catalog, lexical index, dense index, units table, `meta.json`): a snapshot. It then atomically
replaces the one-line file `CURRENT` that names the snapshot in use, so a searcher never sees a
half-written index. A build holds the knowledge base's writer lock (`kb.lock`) throughout, so
builds never overlap; the snapshot it replaced is kept until the next swap (a searcher may be
loading it), older ones and the leftovers of interrupted builds are removed by the next build,
never by a reader. A build is skipped when the store generation, the tokeniser fingerprint, the
embedding model and the settings that shape the indexes (`clause_passages` and `clause_min_chars`, the
dense index's kind) are unchanged; unchanged passages are never embedded twice (the embedding
cache of `index.cache` survives rebuilds). Otherwise the backend is given the snapshot in use
(unless forced to build afresh, or the tokeniser changed) and takes from it what has not changed
(`index.backends.embedded`): an update of a large knowledge base costs about what changed.

A first build (no snapshot in use yet) swaps in a keywords-only snapshot as soon as its keyword
index is written, then goes on embedding (`_publish_keywords_only`): embedding a whole corpus takes
an hour or more on slow 2-core machines, and its users can search by keywords meanwhile. Its
record says `keywords_only`; searchers skip the meaning side on it (and load no model), and the next
build never skips it. The model is checked before any work (`index.embed.find_model`) and loaded when
first needed, after that snapshot: its first conversion and export take a minute on a new machine.
A first build of `STAGED_MIN_UNITS` units or more with 款 passages then swaps in a snapshot of
whole-article passages and grows the 款 passages into it as an update (`build`), so meaning search
comes before about 40% of the embedding; cut off in that update, it leaves whole articles in use.
`build_in_background` runs a build in a process of its own and returns once search works (what
`python -m ingest --index-in-background`, and so `make run`, do).
"""
from __future__ import annotations

import dataclasses
import functools
import gc
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from index.backends import EMBEDDED, backend_module
from index.catalog import Catalog, load_matches, newest_counterparts, save_matches, save_repealed
from index.dense import clause_threshold
from index.tokenize import STOP_WORDS, USER_DICT, Tokenizer
from index.units import save_units
from ingest.store import StoredArticle, open_store, stored_article
from kb.errors import SearchIndexError
from kb.files import write_atomically
from kb.lock import writer_lock
from kb.settings import Config, load_config
from kb.workers import die_with_parent, usable_cores

INDEX_DIR = "index"
POINTER = "CURRENT"
META = "meta.json"
LEXICAL_DIR = "lexical"
DENSE_DIR = "dense"
FORMAT = 3                  # 2: snapshots carry their units table; 3: passages headed by the title alone
TOKENIZE_CHUNK = 2000
# A first build of this many units or more swaps in a snapshot of whole-article passages before it
# embeds the 款 passages (`build`): those are about 40% of a first build's embedding.
STAGED_MIN_UNITS = 20_000


@dataclass(frozen=True)
class BuildReport:
    kb_dir: str
    folder: str             # the build folder in use afterwards
    skipped: bool           # nothing changed since the last build
    generation: int         # store generation the index reflects
    units: int              # articles and sections indexed
    seconds: float
    tokenize_seconds: float = 0.0
    dense_seconds: float = 0.0
    stages: tuple[str, str] = ("tokenise", "embed + FAISS")       # the backend's words for the two times
    keywords_seconds: float = 0.0   # when a first build's keywords-only snapshot was swapped in (0: none was)
    articles_seconds: float = 0.0   # when a staged first build's whole-article snapshot was (0: none was)

    def summary(self) -> str:
        """One line for the CLIs."""
        if self.skipped:
            return f"index of {self.kb_dir}: unchanged, up to date ({self.units} units), nothing to do"
        keywords = f"; keyword search from {self.keywords_seconds:.1f} s" if self.keywords_seconds else ""
        if self.articles_seconds:
            keywords += f", whole articles' meanings from {self.articles_seconds:.1f} s"
        return (f"index of {self.kb_dir}: built {self.units} units in {self.seconds:.1f} s ({self.stages[0]} "
                f"{self.tokenize_seconds:.1f} s, {self.stages[1]} {self.dense_seconds:.1f} s{keywords}), "
                f"store generation {self.generation}")


def rebuild_hint(kb_dir: str | Path) -> str:
    return f"python -m index build --kb {kb_dir}"


def index_root(kb_dir: str | Path) -> Path:
    return Path(kb_dir) / INDEX_DIR


def current_folder(kb_dir: str | Path) -> Path:
    """The build folder in use.

    Raises:
        SearchIndexError: if the knowledge base has no index yet.
    """
    pointer = index_root(kb_dir) / POINTER
    try:
        folder = index_root(kb_dir) / pointer.read_text(encoding="utf-8").strip()
    except OSError:
        raise SearchIndexError(f"{kb_dir}: no search index; build it: {rebuild_hint(kb_dir)}") from None
    if not (folder / META).is_file():
        raise SearchIndexError(f"{folder}: search index is incomplete; rebuild it: {rebuild_hint(kb_dir)}")
    return folder


def read_meta(folder: Path, kb_dir: str | Path) -> dict:
    """Raises:
        SearchIndexError: if `meta.json` is unreadable or of another format."""
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SearchIndexError(f"{folder / META}: unreadable ({err}); rebuild it: {rebuild_hint(kb_dir)}") from None
    if meta.get("format") != FORMAT:
        raise SearchIndexError(f"{folder}: index format {meta.get('format')} is not {FORMAT}; "
                               f"rebuild it: {rebuild_hint(kb_dir)}")
    return meta


def _write_meta(folder: Path, meta: dict) -> None:
    """Write a snapshot's `meta.json` (before it is swapped in): `meta`, stamped with the time.

    Raises:
        OSError: if it cannot be written.
    """
    stamped = {**meta, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (folder / META).write_text(json.dumps(stamped, ensure_ascii=False, indent=1), encoding="utf-8")


def lexical_fingerprint(tokenizer: Tokenizer) -> str:
    """Changes whenever the lexical rows would change: word lists, mode, unit composition."""
    h = hashlib.sha256(f"format={FORMAT};search_mode={tokenizer.search_mode};fields=title,path,text".encode())
    for path in (USER_DICT, STOP_WORDS):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def unit_headings(unit) -> list[str]:
    """The heading field of a unit: title, sub-title (e.g. a 民法典 编) and breadcrumb."""
    return [unit.title, unit.subtitle, *unit.path]


_worker_tokenizer: Tokenizer | None = None      # a tokeniser worker's own, set once by `_start_tokenizer_worker`


def _start_tokenizer_worker(parent_pid: int, tokenizer: Tokenizer) -> None:
    """Pool initializer: keep one tokeniser for the worker's life. Sent with every chunk instead,
    each chunk unpickled a fresh one and loaded jieba's dictionaries again: over the whole corpus
    that took 57–60 s of each worker's 130 s (py-spy)."""
    global _worker_tokenizer
    die_with_parent(parent_pid)
    _worker_tokenizer = tokenizer


def _tokenize_chunk(chunk: list[tuple[str, list[str]]], tokenizer: Tokenizer | None = None) -> list[list[str]]:
    tokenizer = tokenizer or _worker_tokenizer
    cache: dict[str, list[str]] = {}
    out = []
    for text, headings in chunk:
        tokens = tokenizer.tokens(text)
        for heading in headings:
            if heading not in cache:
                cache[heading] = tokenizer.tokens(heading)
            tokens.extend(cache[heading])
        out.append(tokens)
    return out


def tokenize_units(tokenizer: Tokenizer, fields: Sequence[tuple[str, list[str]]], *,
                   progress: bool, workers: int = 0) -> list[list[str]]:
    """Token lists of (text, headings) pairs, in order (see `tokenized_chunks`)."""
    return [tokens for chunk in tokenized_chunks(tokenizer, fields, progress=progress, workers=workers)
            for tokens in chunk]


def tokenized_chunks(tokenizer: Tokenizer, fields: Sequence[tuple[str, list[str]]], *,
                     progress: bool, workers: int = 0) -> Iterator[list[list[str]]]:
    """Token lists of (text, headings) pairs, in order, a chunk of `TOKENIZE_CHUNK` at a time, on
    `workers` processes (0: two, or one where this process may use one core, `usable_cores`;
    each process loads its own dictionaries once)."""
    from tqdm import tqdm

    workers = workers or min(2, usable_cores())

    chunks = [fields[i:i + TOKENIZE_CHUNK] for i in range(0, len(fields), TOKENIZE_CHUNK)]
    with tqdm(total=len(fields), unit="unit", desc="tokenise", disable=not progress) as bar:
        if workers <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                part = _tokenize_chunk(chunk, tokenizer)
                bar.update(len(part))
                yield part
        else:
            with ProcessPoolExecutor(workers, initializer=_start_tokenizer_worker,
                                     initargs=(os.getpid(), tokenizer)) as pool:
                for part in pool.map(_tokenize_chunk, chunks):
                    bar.update(len(part))
                    yield part


def _swap_in(root: Path, folder: Path) -> None:
    """Point CURRENT at `folder` atomically."""
    write_atomically(root / POINTER, lambda tmp: tmp.write_text(folder.name, encoding="utf-8"))


def _link_or_copy(source: str, target: str) -> None:
    """Hard-link a snapshot file (files of a snapshot are never written again once written), or
    copy it where the file system has no hard links."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _publish_keywords_only(root: Path, building: Path, meta: dict, record: dict) -> Path:
    """Swap in a copy of the snapshot folder `building` as it stands once the backend has written
    its keyword side, with `meta` and the backend's `record` marked `keywords_only`; returns its folder.

    Raises:
        OSError: if the copy cannot be written.
    """
    interim = building.with_name(f"{building.name}-keywords")
    shutil.copytree(building, interim, copy_function=_link_or_copy)
    _write_meta(interim, {**meta, "previous": "", "backend": {**record, "keywords_only": True}})
    _swap_in(root, interim)
    return interim


def _remove_all_but(root: Path, keep: set[str]) -> None:
    """Remove the build folders not in `keep` and the pointer files of interrupted swaps.
    Only a writer holding the lock calls this: no build is under way meanwhile."""
    for entry in root.glob("build-*"):
        if entry.is_dir() and entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)
    for tmp in root.glob(f".{POINTER}.*"):
        tmp.unlink(missing_ok=True)


def build(kb_dir: str | Path, cfg: Config | None = None, progress: bool = True, *,
          force: bool = False) -> BuildReport:
    """Build the catalog, lexical and dense indexes and the units table of `kb_dir` as a new
    snapshot, or skip if nothing changed. Holds the knowledge base's writer lock, waiting for
    another writer up to the `wait` setting (a caller holding it already is not kept waiting).

    Raises:
        StoreError: if there is no readable knowledge base in `kb_dir`, or another writer holds
            it longer than the `wait` setting.
        ConfigError: if the embedding model or a word list cannot be loaded, or the `backend`,
            `milvus_uri` or `workers` setting is invalid.
        BackendError: if the Milvus server or the Ray cluster the settings name cannot be reached
            or refuses the work.
        SearchIndexError: if the index folder cannot be written, or the knowledge base has no articles.
    """
    cfg = cfg or load_config(kb=str(kb_dir))
    with open_store(kb_dir) as store:   # a missing knowledge base is reported before a lock file is made for it
        units = store.count_articles()

    def build_with(settings: Config, afresh: bool) -> BuildReport:
        with _collector_spares_the_units() as units_made:
            return _build_locked(kb_dir, settings, progress, afresh, units_made)

    with writer_lock(kb_dir, wait=cfg.wait):
        if not (units >= STAGED_MIN_UNITS and clause_threshold(cfg) is not None and not _has_meanings(kb_dir)):
            return build_with(cfg, force)
        # A first build: meaning search over whole articles first, their 款 grown in after it (an
        # update of that snapshot, which its crash leaves in use)
        over_articles = build_with(dataclasses.replace(cfg, clause_passages=False), force)
        if progress:
            print(f"meaning search is ready over whole articles ({over_articles.seconds:.1f} s); the 款 passages "
                  f"go on", file=sys.stderr, flush=True)
        full = build_with(cfg, False)
        return dataclasses.replace(full, seconds=over_articles.seconds + full.seconds,
                                   keywords_seconds=over_articles.keywords_seconds,
                                   articles_seconds=over_articles.seconds)


@contextmanager
def _collector_spares_the_units() -> Iterator[Callable[[], None]]:
    """Keep Python's cyclic garbage collector off the units a build reads and keeps. It walks the
    objects it tracks each time enough new ones pile up, and a build makes hundreds of thousands
    (a row, a unit and its tuples per article). The collector is off until the build calls the
    callable this gives, once its units are made; everything made so far is then frozen out of the
    collector's walks (`gc.freeze`), which go on for what is made next; all is as before when the
    build ends. An update of the whole corpus took 1.2–2.1 s less (six runs, each alternated with
    one of the code before), its tokenising stage 1.9–2.5 → 1.3–1.6 s."""
    enabled = gc.isenabled()

    def units_made() -> None:
        gc.freeze()
        if enabled:
            gc.enable()

    gc.disable()
    try:
        yield units_made
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


def _snapshot_in_use(kb_dir: str | Path) -> tuple[Path | None, dict]:
    """The folder CURRENT names and its meta, or (None, {}) where it names no complete snapshot
    of this format that a searcher can load."""
    try:
        folder = current_folder(kb_dir)
        return folder, read_meta(folder, kb_dir)
    except SearchIndexError:
        return None, {}


def searchable(kb_dir: str | Path) -> bool:
    """Whether CURRENT names a complete snapshot of this format that a searcher can load (a
    first build's keywords-only one counts)."""
    return _snapshot_in_use(kb_dir)[0] is not None


def _has_meanings(kb_dir: str | Path) -> bool:
    """Whether the snapshot in use has its dense side: there is one, and no first build's
    keywords-only one."""
    folder, meta = _snapshot_in_use(kb_dir)
    return folder is not None and not backend_record(meta).get("keywords_only")


def build_in_background(kb_dir: str | Path, *, quiet: bool = False, poll_seconds: float = 0.2) -> subprocess.Popen:
    """Start `python -m index build --kb KB` in a process of its own (the settings come from the
    environment, as for this process) and return it once the knowledge base can be searched:
    an earlier snapshot, which stays in use until the new one is done, or a first build's
    keywords-only one (`_publish_keywords_only`), or else the build's end, when its `returncode`
    says how it went. The build shares this process's terminal (its progress, summary and any
    error print there) and process group, so Ctrl-C there stops it too; an interrupted build
    leaves the snapshot in use as it was.

    Raises:
        SearchIndexError: if the build was killed by a signal before search worked (the OOM
            killer, kill -9), when it could say nothing itself.
    """
    command = [sys.executable, "-m", "index", "build", "--kb", str(kb_dir), *(["--quiet"] if quiet else [])]
    process = subprocess.Popen(command)
    while process.poll() is None and not searchable(kb_dir):
        time.sleep(poll_seconds)
    if process.returncode is not None and process.returncode < 0:
        raise SearchIndexError(f"{kb_dir}: the index build was stopped by signal {-process.returncode} "
                               f"before search worked; build it: {rebuild_hint(kb_dir)}")
    return process


def backend_record(meta: dict) -> dict:
    """What a snapshot records about its search backend (snapshots from before backends: embedded)."""
    return meta.get("backend") or {"name": EMBEDDED}


def same_backend(cfg: Config, record: dict) -> Config:
    """`cfg` with the backend and Milvus address it leaves empty taken from the current snapshot's
    record: an ingest or an app upload rebuilds a knowledge base on the backend it is on."""
    backend = cfg.backend or record["name"]
    uri = cfg.milvus_uri or (record.get("uri", "") if backend == record["name"] else "")
    return dataclasses.replace(cfg, backend=backend, milvus_uri=uri)


def dense_index_settings(cfg: Config) -> list:
    """The settings that choose the kind of dense index, recorded in a snapshot's meta so that
    changing one rebuilds it (a snapshot of a release before records none, and is rebuilt once)."""
    return [cfg.dense_index, cfg.quantize_threshold, cfg.ann_threshold]


def _units_in_place(rows: list[tuple]) -> list[StoredArticle]:
    """The units of the store's rows (`Store.article_rows`), each made in its row's place, so that
    the row's JSON texts are let go as it goes: both lists at once took the peak of an update of
    the whole corpus 80 MB higher."""
    for i, row in enumerate(rows):
        rows[i] = stored_article(row)
    return rows


def _build_locked(kb_dir: str | Path, cfg: Config, progress: bool, force: bool,
                  units_made: Callable[[], None]) -> BuildReport:
    from index.embed import find_model, load_embedder

    start = time.perf_counter()
    root = index_root(kb_dir)
    backend_module(cfg.backend or EMBEDDED)           # an unknown backend is refused before any work
    find_model(cfg)                                   # and so is a model that cannot be found
    # Loaded when first needed: a first build's keyword index comes before the model's export,
    # which takes a minute the first time on a machine.
    embedder = functools.cache(functools.partial(load_embedder, cfg))
    fingerprint = lexical_fingerprint(Tokenizer())
    with open_store(kb_dir) as store:
        generation = store.generation()
        folder, meta = _snapshot_in_use(kb_dir)
        if root.is_dir():
            _remove_all_but(root, {folder.name, meta.get("previous", "")} if folder is not None else set())
        cfg = same_backend(cfg, backend_record(meta))
        backend = backend_module(cfg.backend)
        if (not force and folder is not None and meta.get("generation") == generation
                and not backend_record(meta).get("keywords_only")
                and meta.get("lexical") == fingerprint
                and "clauses" in meta and meta["clauses"] == clause_threshold(cfg)
                and meta.get("dense_index") == dense_index_settings(cfg)
                and backend_record(meta)["name"] == cfg.backend
                and backend_record(meta).get("uri", "") == (cfg.milvus_uri if cfg.backend != EMBEDDED else "")
                and meta.get("model_id") == embedder().model_id):
            return BuildReport(str(kb_dir), str(folder), True, generation, meta["units"],
                               time.perf_counter() - start)
        rows = list(store.article_rows())
        repealed = store.repealed_not_held()
    if not rows:
        raise SearchIndexError(f"{kb_dir}: the knowledge base has no articles yet, so there is nothing to index; "
                               f"add files: python -m ingest PATH --kb {kb_dir}")
    # what the backend may take from the snapshot in use: its rows were tokenised the same way
    reusable = folder if folder is not None and not force and meta.get("lexical") == fingerprint else None
    # a unique suffix: two builds of one process within one second at one generation (a forced
    # rebuild) once collided on a name made of generation, time and pid
    new = root / f"build-{generation}-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    meta = {"format": FORMAT, "generation": generation, "units": len(rows), "lexical": fingerprint,
            "clauses": clause_threshold(cfg), "dense_index": dense_index_settings(cfg)}
    previous, keywords_seconds = folder.name if folder else "", 0.0

    def keywords_ready(record: dict) -> None:
        nonlocal previous, keywords_seconds
        previous = _publish_keywords_only(root, new, meta, record).name
        keywords_seconds = time.perf_counter() - start
        if progress:
            print(f"keyword search is ready ({meta['units']} units, {keywords_seconds:.1f} s); embedding goes on",
                  file=sys.stderr, flush=True)

    try:
        new.mkdir(parents=True)
        save_units(new, rows)
        units = _units_in_place(rows)
        units_made()
        newest, matches = newest_counterparts(units, load_matches(folder if not force else None))
        Catalog.from_units(units, newest).save(new)
        save_matches(new, matches)
        save_repealed(new, repealed)
        loaded = backend.load(units, embedder, new, cfg=cfg, generation=generation, progress=progress,
                              keywords_ready=keywords_ready if folder is None else None, previous=reusable)
        meta = {**meta, "model_id": embedder().model_id, "seconds": round(time.perf_counter() - start, 1),
                "stages": list(loaded.stages), "previous": previous, "backend": loaded.record}
        _write_meta(new, meta)
        _swap_in(root, new)
    except (OSError, sqlite3.Error) as err:
        shutil.rmtree(new, ignore_errors=True)
        raise SearchIndexError(f"{new}: cannot write the search index ({err}); the previous index stays in use") \
            from None
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    # the replaced snapshot stays one generation: a searcher may be loading it right now
    _remove_all_but(root, {new.name, meta["previous"]})
    return BuildReport(str(kb_dir), str(new), False, generation, meta["units"], time.perf_counter() - start,
                       loaded.tokenize_seconds, loaded.dense_seconds, loaded.stages, keywords_seconds)
