"""Named collections of documents (文件集): a training base's core documents, preferred in search.

A collection is a name and a list of document names (full titles, or the short names search
understands, e.g. 信访工作条例, 人民调解法). One of them may be the knowledge base's default.
Search *prefers* a collection's documents (their score is multiplied by the `collection_boost`
setting); it never restricts to them, so an answer outside the collection still appears.

They live in `<kb>/collections.yaml`, a file people may edit by hand:

    default: 信访课程
    collections:
      信访课程:
        - 信访工作条例
        - 中华人民共和国人民调解法

`parse_collections` / `format_collections` are pure (tested on strings); `load_collections`,
`save_collections` and `update_collections` are the only file access (the write is atomic: a
temporary file renamed into place, so a reader never sees half a file; a change is made under a
lock, so two sessions' changes are both kept).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kb.errors import ConfigError, QueryError
from kb.files import exclusive, write_atomically

COLLECTIONS_FILE = "collections.yaml"
NO_COLLECTION = "none"          # the `collection` setting's word for "prefer no collection"
MAX_NAME_CHARS = 60


@dataclass(frozen=True)
class Collections:
    """All collections of a knowledge base: name → document names, and the default's name ("" = none)."""
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    default: str = ""

    def names(self) -> list[str]:
        return list(self.members)

    def chosen(self, setting: str) -> str:
        """The collection a search prefers: the `collection` setting ("" = the default, "none" =
        no collection) resolved against these collections; "" when none applies.

        Raises:
            QueryError: if the setting names a collection that does not exist.
        """
        if setting == NO_COLLECTION:
            return ""
        if not setting:
            return self.default
        if setting not in self.members:
            known = "、".join(self.members) or "（尚无文件集）"
            raise QueryError(f"unknown collection {setting!r}: the knowledge base has {known}")
        return setting

    def with_collection(self, name: str, documents: list[str] | tuple[str, ...], *,
                        make_default: bool = False) -> "Collections":
        """A copy with collection `name` set to `documents` (added or replaced).

        Raises:
            QueryError: for an empty or over-long name, the name "none", or no documents.
        """
        name = name.strip()
        if not name or len(name) > MAX_NAME_CHARS or "\n" in name:
            raise QueryError(f"bad collection name {name!r}: 1–{MAX_NAME_CHARS} characters on one line")
        if name == NO_COLLECTION:
            raise QueryError(f"bad collection name {name!r}: the word for no collection")
        docs = tuple(dict.fromkeys(d.strip() for d in documents if d.strip()))
        if not docs:
            raise QueryError(f"collection {name!r} has no documents")
        members = dict(self.members) | {name: docs}
        return Collections(members, name if make_default else self.default)

    def without(self, name: str) -> "Collections":
        """A copy without collection `name` (and without it as the default)."""
        members = {k: v for k, v in self.members.items() if k != name}
        return Collections(members, "" if self.default == name else self.default)


def parse_collections(text: str, source: str = COLLECTIONS_FILE) -> Collections:
    """Collections from the YAML text of a collections file.

    Raises:
        ConfigError: if the text is not valid YAML of the documented shape (names `source`).
    """
    import yaml

    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{source}:{line} not valid YAML") from None
    if not isinstance(data, dict) or not isinstance(data.get("collections", {}), dict):
        raise ConfigError(f"{source}: expected `collections:` mapping names to lists of document names")
    members: dict[str, tuple[str, ...]] = {}
    for name, docs in (data.get("collections") or {}).items():
        if str(name) == NO_COLLECTION:      # `--collection none` could never choose it
            raise ConfigError(f"{source}: {NO_COLLECTION!r} names no collection; rename that collection")
        if not isinstance(docs, list) or not all(isinstance(d, str) for d in docs):
            raise ConfigError(f"{source}: collection {name!r} must be a list of document names")
        members[str(name)] = tuple(d.strip() for d in docs if d.strip())
    default = data.get("default") or ""
    if not isinstance(default, (str, int)):     # (never str() of it: aliases may nest it a billion deep)
        raise ConfigError(f"{source}: `default:` must be the name of one collection")
    default = str(default)
    if default and default not in members:
        raise ConfigError(f"{source}: default collection {default!r} is not defined")
    return Collections(members, default)


def format_collections(collections: Collections) -> str:
    """The YAML text of `collections` (what `parse_collections` reads back)."""
    import yaml

    head = "# 文件集：检索时优先（不限于）其中的文件。default 为默认文件集。\n"
    body = {"default": collections.default or None,
            "collections": {name: list(docs) for name, docs in collections.members.items()}}
    return head + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)


def collections_path(kb_dir: str | Path) -> Path:
    return Path(kb_dir) / COLLECTIONS_FILE


def load_collections(kb_dir: str | Path) -> Collections:
    """The knowledge base's collections (none if it has no collections file).

    Raises:
        ConfigError: if the file exists but cannot be read or parsed.
    """
    path = collections_path(kb_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Collections()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read ({err})") from None
    return parse_collections(text, str(path))


def update_collections(kb_dir: str | Path, change: Callable[[Collections], Collections]) -> Collections:
    """Apply a pure `change` to the knowledge base's collections and save them, holding
    `<kb>/.collections.yaml.lock` so that a change another session saves meanwhile is not lost
    (each saved what it had read before); returns what was saved.

    Raises:
        ConfigError: if the file cannot be read, parsed or written, or the lock file made.
        QueryError: from `change` (e.g. a bad name); nothing is written then.
    """
    lock = Path(kb_dir) / f".{COLLECTIONS_FILE}.lock"
    try:
        with exclusive(lock):
            collections = change(load_collections(kb_dir))
            save_collections(kb_dir, collections)
    except OSError as err:      # of the lock file: the collections file's own say ConfigError
        raise ConfigError(f"{lock}: cannot lock ({err.strerror})") from None
    return collections


def save_collections(kb_dir: str | Path, collections: Collections) -> None:
    """Write the collections file atomically.

    Raises:
        ConfigError: if it cannot be written.
    """
    path = collections_path(kb_dir)
    text = format_collections(collections)
    try:
        write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot write ({err.strerror})") from None
