"""Lecture packs on disk, one JSON file per pack under `<kb>/packs/`, written atomically.

A write goes to a temporary file in the same folder, is flushed to disk and then renamed over
the old file, so a crash never leaves a half-written pack. A change (`update_pack`,
`add_to_saved_pack`, `create_pack`) reads, alters and writes a pack holding the folder's lock
file, so two sessions (or processes) changing it at once both keep their change; a whole pack
saved with `save_pack` replaces what was there. Clause references are resolved against the
knowledge base here.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from kb.chinese import parse_article_label
from kb.errors import PackError
from kb.files import exclusive
from lecture.pack import ClauseRef, LecturePack, PackClause, add_clauses, new_pack

if TYPE_CHECKING:
    from ingest.store import Store, StoredArticle

PACKS_DIR = "packs"
FORMAT = 1
_UNSAFE = re.compile(r"[^\w\-]+")
MAX_NAME_CHARS = 60


def safe_stem(name: str, max_chars: int = MAX_NAME_CHARS) -> str:
    """A file-name stem made from a user-given name: letters (incl. Chinese), digits, '-' and
    '_' only, so no separators, '..' or hidden names can reach the file system.

    Raises:
        ValueError: if nothing usable is left of the name.
    """
    stem = _UNSAFE.sub("_", unicodedata.normalize("NFKC", name)).strip("_-")[:max_chars].rstrip("_-")
    if not stem:
        raise ValueError(f"no usable characters in name {name!r}")
    return stem


def packs_dir(kb_dir: str | Path) -> Path:
    return Path(kb_dir) / PACKS_DIR


def pack_path(kb_dir: str | Path, name: str) -> Path:
    """Path of the pack file for a pack name.

    Raises:
        PackError: if the name has no usable characters.
    """
    try:
        return packs_dir(kb_dir) / f"{safe_stem(name)}.json"
    except ValueError:
        raise PackError(f"讲义名称“{name}”无效：请使用汉字、字母或数字") from None


def pack_to_json(pack: LecturePack) -> dict:
    data = asdict(pack)
    data["format"] = FORMAT
    return data


def pack_from_json(data: dict) -> LecturePack:
    """Rebuild a pack from its JSON form.

    Raises:
        KeyError, TypeError, ValueError: if the data does not have the pack shape.
    """
    if data.get("format") != FORMAT:
        raise ValueError(f"unknown pack format {data.get('format')!r}")
    items = []
    for raw in data["items"]:
        raw = dict(raw)
        raw["ref"] = ClauseRef(**raw["ref"])
        raw["paragraphs"] = tuple(raw.get("paragraphs", ()))
        raw["path"] = tuple(raw.get("path", ()))
        items.append(PackClause(**raw))
    return LecturePack(name=data["name"], title=data["title"], items=tuple(items),
                       created=data.get("created", ""), updated=data.get("updated", ""))


def list_packs(kb_dir: str | Path) -> list[str]:
    """Names of the saved packs, sorted; unreadable files are left out (`load_pack` names them)."""
    names = []
    folder = packs_dir(kb_dir)
    if not folder.is_dir():
        return []
    for f in folder.glob("*.json"):
        try:
            names.append(json.loads(f.read_text(encoding="utf-8"))["name"])
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            continue
    return sorted(names)


def load_pack(kb_dir: str | Path, name: str) -> LecturePack:
    """Read a saved pack.

    Raises:
        PackError: if the pack does not exist or its file is damaged.
    """
    path = pack_path(kb_dir, name)
    try:
        return pack_from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise PackError(f"{path}: 讲义“{name}”不存在") from None
    except OSError as e:
        raise PackError(f"{path}: 无法读取讲义（{e.strerror}）") from None
    except (ValueError, KeyError, TypeError, RecursionError) as e:     # RecursionError: JSON nested too deep
        raise PackError(f"{path}: 讲义文件已损坏（{type(e).__name__}: {e}）") from None


def save_pack(kb_dir: str | Path, pack: LecturePack) -> Path:
    """Write a pack atomically (temporary file + rename) and return its path.

    Raises:
        PackError: if the name is unusable or the file cannot be written.
    """
    path = pack_path(kb_dir, pack.name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(pack_to_json(pack), f, ensure_ascii=False, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise PackError(f"{path}: 无法保存讲义（{e.strerror}）") from None
    return path


@contextmanager
def _pack_locked(kb_dir: str | Path, name: str) -> Iterator[Path]:
    """Hold the packs' lock while a change reads, alters and writes pack `name`, yielding its path.
    Two sessions adding clauses to one pack at once each saved what it had read, and the later
    save dropped the earlier's clause. (One lock file for the folder, `packs/.lock`, that stays:
    a change takes milliseconds. Not the knowledge base's writer lock, held through whole ingests.)

    Raises:
        PackError: if the name is unusable or the lock file cannot be made.
    """
    path = pack_path(kb_dir, name)
    try:
        with exclusive(path.parent / ".lock"):
            yield path
    except OSError as e:        # of the lock file: reading and writing the pack raise PackError
        raise PackError(f"{path}: 无法打开讲义（{e.strerror}）") from None


def update_pack(kb_dir: str | Path, name: str, change: Callable[[LecturePack], LecturePack]) -> LecturePack:
    """Apply a pure `change` to saved pack `name` and save the result, holding the pack's lock
    so that no other change made meanwhile is lost; returns the pack saved.

    Raises:
        PackError: if the pack does not exist or cannot be read or written.
    """
    with _pack_locked(kb_dir, name):
        pack = change(load_pack(kb_dir, name))
        save_pack(kb_dir, pack)
    return pack


def add_to_saved_pack(kb_dir: str | Path, name: str, clauses: Sequence[PackClause]
                      ) -> tuple[list[PackClause], list[PackClause]]:
    """Add clauses in order to the saved pack `name` (a new one when there is none) and save it:
    the clauses added, and those it held already (`add_clauses`).

    Raises:
        PackError: if the pack cannot be read or written.
    """
    with _pack_locked(kb_dir, name) as path:
        pack = load_pack(kb_dir, name) if path.exists() else new_pack(name)
        pack, added, held = add_clauses(pack, clauses)
        if added:
            save_pack(kb_dir, pack)
    return added, held


def create_pack(kb_dir: str | Path, pack: LecturePack) -> Path:
    """Save a new pack, refusing to overwrite an existing one with the same file name.

    Raises:
        PackError: if a pack with this name (or one that maps to the same file) exists, or on
            any error of `save_pack`.
    """
    with _pack_locked(kb_dir, pack.name) as path:
        if path.exists():
            raise PackError(f"讲义“{pack.name}”已存在，请换一个名称")
        return save_pack(kb_dir, pack)


def delete_pack(kb_dir: str | Path, name: str) -> None:
    """Delete a saved pack (nothing happens if it does not exist).

    Raises:
        PackError: if the name is unusable or the file cannot be removed.
    """
    path = pack_path(kb_dir, name)
    try:
        path.unlink(missing_ok=True)
    except OSError as e:
        raise PackError(f"{path}: 无法删除讲义（{e.strerror}）") from None


def resolve_clause(store: Store, ref: ClauseRef) -> StoredArticle | None:
    """The knowledge-base unit a clause reference points at now, or None when that document
    version or label is no longer there."""
    try:
        no, suffix = parse_article_label(ref.label)
    except ValueError:      # an outline section of a 意见-style document: look it up by heading
        for doc in store.documents():
            if doc.key == ref.doc_key and doc.region == ref.region:
                for version in store.versions(doc.id):
                    if version.version_date == ref.version_date:
                        return next((a for a in store.version_articles(version.id) if a.label == ref.label), None)
        return None
    return next((a for a in store.find_articles(ref.doc_key, no, suffix)
                 if a.region == ref.region and a.version_date == ref.version_date), None)
