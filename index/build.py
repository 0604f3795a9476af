"""Build or update the search indexes of a knowledge base from its store.

Layout under `<kb>/index/`: each build writes a fresh folder `build-<generation>-<time>/`
(catalog, lexical index, dense index, `meta.json`) and then atomically replaces the one-line
file `CURRENT` that names the folder in use, so a searcher never sees a half-written index;
older build folders are removed afterwards. A build is skipped when the store generation, the
tokeniser fingerprint and the embedding model are unchanged; unchanged passages are never
embedded twice (the embedding cache of `index.cache` survives rebuilds).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from index.catalog import Catalog
from index.lexical import LexicalIndex
from index.tokenize import STOP_WORDS, USER_DICT, Tokenizer
from kb.errors import SearchIndexError
from kb.settings import Config, load_config

INDEX_DIR = "index"
POINTER = "CURRENT"
META = "meta.json"
LEXICAL_DIR = "lexical"
DENSE_DIR = "dense"
from kb.workers import die_with_parent
FORMAT = 1
TOKENIZE_CHUNK = 2000


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

    def summary(self) -> str:
        """One line for the CLIs."""
        if self.skipped:
            return f"index of {self.kb_dir}: unchanged, up to date ({self.units} units), nothing to do"
        return (f"index of {self.kb_dir}: built {self.units} units in {self.seconds:.1f} s (tokenise "
                f"{self.tokenize_seconds:.1f} s, embed + FAISS {self.dense_seconds:.1f} s), store generation "
                f"{self.generation}")


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


def lexical_fingerprint(tokenizer: Tokenizer) -> str:
    """Changes whenever the lexical rows would change: word lists, mode, unit composition."""
    h = hashlib.sha256(f"format={FORMAT};search_mode={tokenizer.search_mode};fields=title,path,text".encode())
    for path in (USER_DICT, STOP_WORDS):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def unit_headings(unit) -> list[str]:
    """The heading field of a unit: title, sub-title (e.g. a 民法典 编) and breadcrumb."""
    return [unit.title, unit.subtitle, *unit.path]


def _tokenize_chunk(args: tuple[Tokenizer, list[tuple[str, list[str]]]]) -> list[list[str]]:
    tokenizer, chunk = args
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
                   progress: bool, workers: int = 2) -> list[list[str]]:
    """Token lists of (text, headings) pairs, in order, on `workers` processes."""
    from tqdm import tqdm

    chunks = [fields[i:i + TOKENIZE_CHUNK] for i in range(0, len(fields), TOKENIZE_CHUNK)]
    out: list[list[str]] = []
    with tqdm(total=len(fields), unit="unit", desc="tokenise", disable=not progress) as bar:
        if workers <= 1 or len(chunks) <= 1:
            results: Iterator[list[list[str]]] = map(_tokenize_chunk, ((tokenizer, c) for c in chunks))
            for part in results:
                out.extend(part)
                bar.update(len(part))
        else:
            with ProcessPoolExecutor(workers, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
                for part in pool.map(_tokenize_chunk, ((tokenizer, c) for c in chunks)):
                    out.extend(part)
                    bar.update(len(part))
    return out


def _swap_in(root: Path, folder: Path) -> None:
    """Point CURRENT at `folder` atomically, then remove older build folders."""
    tmp = root / f".{POINTER}.{os.getpid()}"
    tmp.write_text(folder.name, encoding="utf-8")
    os.replace(tmp, root / POINTER)
    for old in root.glob("build-*"):
        if old.is_dir() and old.name != folder.name:
            shutil.rmtree(old, ignore_errors=True)


def build(kb_dir: str | Path, cfg: Config | None = None, progress: bool = True, *,
          force: bool = False) -> BuildReport:
    """Build the catalog, lexical and dense indexes of `kb_dir`, or skip if nothing changed.

    Raises:
        StoreError: if there is no readable knowledge base in `kb_dir`.
        ConfigError: if the embedding model or a word list cannot be loaded.
        SearchIndexError: if the index folder cannot be written.
    """
    from index.dense import build_dense
    from index.embed import load_embedder
    from ingest.store import open_store

    start = time.perf_counter()
    cfg = cfg or load_config(kb=str(kb_dir))
    root = index_root(kb_dir)
    tokenizer = Tokenizer()
    embedder = load_embedder(cfg)
    fingerprint = lexical_fingerprint(tokenizer)
    with open_store(kb_dir) as store:
        generation = store.generation()
        try:
            folder = current_folder(kb_dir)
            meta = read_meta(folder, kb_dir)
        except SearchIndexError:
            folder, meta = None, {}
        if (not force and folder is not None and meta.get("generation") == generation
                and meta.get("lexical") == fingerprint and meta.get("model_id") == embedder.model_id):
            return BuildReport(str(kb_dir), str(folder), True, generation, meta["units"],
                               time.perf_counter() - start)
        units = sorted(store.iter_articles(), key=lambda u: u.id)
    new = root / f"build-{generation}-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}"
    try:
        new.mkdir(parents=True)
        catalog = Catalog.from_units(units)
        catalog.save(new)
        t = time.perf_counter()
        tokens = tokenize_units(tokenizer, [(u.text, unit_headings(u)) for u in units], progress=progress)
        tokenize_seconds = time.perf_counter() - t
        LexicalIndex.build(tokens).save(new / LEXICAL_DIR)
        del tokens
        t = time.perf_counter()
        build_dense(units, embedder, new / DENSE_DIR, cfg=cfg, generation=generation, progress=progress)
        dense_seconds = time.perf_counter() - t
        meta = {"format": FORMAT, "generation": generation, "units": len(units), "lexical": fingerprint,
                "model_id": embedder.model_id, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "seconds": round(time.perf_counter() - start, 1)}
        (new / META).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        _swap_in(root, new)
    except OSError as err:
        shutil.rmtree(new, ignore_errors=True)
        raise SearchIndexError(f"{new}: cannot write the search index ({err})") from None
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    return BuildReport(str(kb_dir), str(new), False, generation, len(units), time.perf_counter() - start,
                       tokenize_seconds, dense_seconds)
