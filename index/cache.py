"""The embedding cache: passage vectors keyed by (model_id, exact passage text).

One SQLite file, `<cache_dir>/embeddings.sqlite`, outside any knowledge base, so it survives
re-ingestion and even a deleted and rebuilt knowledge base: a passage whose text and model are
unchanged is never embedded twice (nor are identical articles of two versions of a law).
The key is sha1(model_id + NUL + text), stored as the table's integer row id (its first 8 bytes,
so a lookup is one B-tree search) plus the other 12 bytes, checked on every read so that a
row-id collision can only cause a miss, never a wrong vector. The value is the vector as float16, half the size of
float32 and indistinguishable for ranking (cosine to the original > 0.9999). Vectors read back are
re-normalised float32, and freshly embedded ones go through the same round trip, so a first build
and a rebuild from the cache give identical indexes. Every write is one transaction; the file is
in WAL mode, so a search or a second build can read while a build writes.
"""
from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol

import numpy as np

from index.embed import normalise
from kb.errors import ConfigError

CACHE_FILE = "embeddings.sqlite"
SCHEMA_VERSION = 1
STORED_DTYPE = np.float16
WAL_LIMIT = 64 << 20        # bytes the write-ahead log may keep after a checkpoint
WRITE_CHUNK = 512           # passages embedded and committed at a time: an interrupted build keeps its work


def cache_key(model_id: str, text: str) -> tuple[int, bytes]:
    """The key of one passage under one model: (row id, check bytes) of its sha1."""
    digest = hashlib.sha1(f"{model_id}\0{text}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little", signed=True), digest[8:]


def stored_roundtrip(vectors: np.ndarray) -> np.ndarray:
    """What a vector becomes once stored and read back: float16, then unit-length float32."""
    return normalise(np.asarray(vectors, dtype=np.float32).astype(STORED_DTYPE))


class EmbeddingCache:
    """Open with `EmbeddingCache.open(cache_dir)`; use as a context manager or `close()`."""

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(path, timeout=60)
            # 1 KiB float16 rows fill 16 KiB pages to ~96%; 4 KiB pages would waste a quarter (new files only)
            self.conn.execute("PRAGMA page_size=16384")
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")       # WAL stays consistent; a crash loses at most a chunk
            self.conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
            with self.conn:
                if self.conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    # a file of another layout holds nothing this code can read: start it afresh
                    self.conn.execute("DROP TABLE IF EXISTS vectors")
                    self.conn.execute("CREATE TABLE vectors (id INTEGER PRIMARY KEY, tail BLOB NOT NULL, "
                                      "vec BLOB NOT NULL)")
                    self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as err:
            raise ConfigError(f"embedding cache {path}: cannot be opened ({err}); it only keeps vectors that can be "
                              f"made again: delete it and build again") from None

    @classmethod
    def open(cls, cache_dir: str | Path) -> "EmbeddingCache":
        """The cache in `cache_dir` (created if missing; `~` expanded).

        Raises:
            ConfigError: if the folder or the file cannot be created or opened.
        """
        return cls(Path(cache_dir).expanduser() / CACHE_FILE)

    def __enter__(self) -> "EmbeddingCache":
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def __len__(self) -> int:
        return self.conn.execute("SELECT count(*) FROM vectors").fetchone()[0]

    def get_many(self, model_id: str, texts: Sequence[str], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, found): unit-length float32 rows (zeros where not cached) and a bool mask.

        Raises:
            ConfigError: if the cache cannot be read or holds vectors of another dimension.
        """
        vectors = np.zeros((len(texts), dim), dtype=np.float32)
        found = np.zeros(len(texts), dtype=bool)
        if not texts:
            return vectors, found
        try:
            with self.conn:
                # One join against a temporary table of wanted keys: far faster than many IN (...) lists.
                self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (pos INTEGER PRIMARY KEY, id INTEGER, "
                                  "tail BLOB)")
                self.conn.execute("DELETE FROM wanted")
                self.conn.executemany("INSERT INTO wanted VALUES (?, ?, ?)",
                                      ((i, *cache_key(model_id, t)) for i, t in enumerate(texts)))
                rows = self.conn.execute("SELECT wanted.pos, vectors.vec FROM wanted JOIN vectors "
                                         "ON vectors.id = wanted.id AND vectors.tail = wanted.tail").fetchall()
                self.conn.execute("DELETE FROM wanted")
        except sqlite3.Error as err:
            raise ConfigError(f"embedding cache {self.path}: cannot be read ({err})") from None
        if rows:
            positions = np.fromiter((pos for pos, _ in rows), dtype=np.int64, count=len(rows))
            blob = b"".join(vec for _, vec in rows)
            if len(blob) != len(rows) * dim * np.dtype(STORED_DTYPE).itemsize:
                raise ConfigError(f"embedding cache {self.path}: vectors of another dimension under this model id")
            vectors[positions] = normalise(np.frombuffer(blob, dtype=STORED_DTYPE).reshape(len(rows), dim))
            found[positions] = True
        return vectors, found

    def put_many(self, model_id: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store vectors (one row per text) in one transaction.

        Raises:
            ConfigError: if the cache cannot be written.
            ValueError: if texts and vectors differ in number.
        """
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        stored = np.ascontiguousarray(vectors, dtype=STORED_DTYPE)
        try:
            with self.conn:
                self.conn.executemany("INSERT OR REPLACE INTO vectors (id, tail, vec) VALUES (?, ?, ?)",
                                      ((*cache_key(model_id, t), stored[i].tobytes()) for i, t in enumerate(texts)))
        except sqlite3.Error as err:
            raise ConfigError(f"embedding cache {self.path}: cannot be written ({err})") from None


class PassageEncoder(Protocol):
    model_id: str
    dim: int

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def cached_vectors(texts: Sequence[str], embedder: PassageEncoder, cache: EmbeddingCache, *,
                   progress: bool = False) -> tuple[np.ndarray, int]:
    """Vectors of `texts` (in order) and how many distinct texts had to be embedded.

    Cached vectors are read in bulk; the missing distinct texts are embedded longest first in
    chunks, each chunk committed to the cache as soon as it is done. The progress bar counts
    characters, the passages beside them: a passage costs about its length, so with the longest
    first a bar of passages would promise hours for a build of minutes.

    Raises:
        ConfigError: if the cache cannot be read or written.
    """
    from tqdm import tqdm

    vectors, found = cache.get_many(embedder.model_id, texts, embedder.dim)
    # longest first, ties by text: the same chunks whatever the order of `texts` or of the set
    missing = sorted({texts[i] for i in np.flatnonzero(~found)}, key=lambda t: (-len(t), t))
    if missing:
        fresh: dict[str, np.ndarray] = {}
        with tqdm(total=sum(map(len, missing)), unit="字", unit_scale=True, desc="embed", disable=not progress,
                  smoothing=0.05, postfix=f"0/{len(missing):,} passages") as bar:
            for start in range(0, len(missing), WRITE_CHUNK):
                chunk = missing[start:start + WRITE_CHUNK]
                chunk_vectors = embedder.encode_passages(chunk)
                cache.put_many(embedder.model_id, chunk, chunk_vectors)
                fresh.update(zip(chunk, stored_roundtrip(chunk_vectors)))
                bar.set_postfix_str(f"{start + len(chunk):,}/{len(missing):,} passages", refresh=False)
                bar.update(sum(map(len, chunk)))
        for i in np.flatnonzero(~found):
            vectors[i] = fresh[texts[i]]
    return vectors, len(missing)
