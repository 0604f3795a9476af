"""The knowledge-base store: one SQLite database, `<kb>/kb.sqlite`, written only by `ingest`.

Tables: `documents` (one per title and region) ← `versions` (one per version date) ← `files`
(one per source file; several files may form one version, like the 编 of 民法典) ← `nodes`
(编/章/节 headings) and `articles` (条, or outline sections of 意见-style texts) ← `deadlines` (the
time limits of an article, `ingest.deadlines`), `article_refs` and `definitions` (its references
and the terms it defines, `ingest.references`). `repeals` records
the titles a file declares repealed ("《信访条例》同时废止"), which marks them 已废止. `failures` keeps
the last error of every file that could not be read; `meta` holds the schema version, the
parser fingerprint and a `generation` counter that grows with every committed change of what
the store holds (a failure noted is none: no index reads them), so indexes can tell whether
they are stale.

Row ids are never reused (AUTOINCREMENT; a store made before that keeps a high-water mark per
table in `meta`): an index snapshot built earlier may name an id, and that id must never come to
mean another article.

Every change happens inside a transaction (WAL mode, so readers keep reading the previous
state meanwhile): a crash or Ctrl-C mid-ingest leaves the last committed state intact.
"""
from __future__ import annotations

import datetime as _dt
import functools
import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from ingest.deadlines import Deadline
from ingest.records import Document
from ingest.successors import Successors, load_successors
from kb.chinese import title_key
from kb.errors import StoreError
from kb.places import PLACE_ENDS

DB_NAME = "kb.sqlite"
SCHEMA_VERSION = 4
ID_TABLES = ("documents", "versions", "files", "nodes", "articles")
_MARK = "max_id."              # meta key prefix of a table's id high-water mark (stores made before AUTOINCREMENT)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,              -- kb.chinese.title_key(title)
    region TEXT NOT NULL,
    title TEXT NOT NULL,            -- title of the newest version
    level TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    UNIQUE (key, region)
);
CREATE TABLE IF NOT EXISTS versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL REFERENCES documents(id),
    version_date TEXT NOT NULL,
    title TEXT NOT NULL,
    issuer TEXT NOT NULL,
    doc_number TEXT NOT NULL,
    promulgated TEXT NOT NULL,
    effective TEXT NOT NULL,
    history TEXT NOT NULL,          -- JSON list of {date, event, kind}
    declared_status TEXT NOT NULL,  -- from the text or sidecar, '' if none
    status TEXT NOT NULL,           -- derived: current | superseded | repealed | pending
    UNIQUE (document_id, version_date)
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,      -- absolute path
    relpath TEXT NOT NULL,          -- path relative to the folder it was ingested from
    sha256 TEXT NOT NULL,           -- of the file and its metadata sidecar
    parser TEXT NOT NULL,           -- parser fingerprint that produced the rows
    version_id INTEGER NOT NULL REFERENCES versions(id),
    duplicate_of INTEGER REFERENCES files(id),  -- same version and part as another file
    subtitle TEXT NOT NULL,
    part_order INTEGER NOT NULL,    -- orders the files of one version (first article number)
    encoding TEXT NOT NULL,
    preamble TEXT NOT NULL,
    attachments TEXT NOT NULL,      -- JSON list
    notes TEXT NOT NULL,            -- JSON list
    ingested_at TEXT NOT NULL,
    source_kind TEXT NOT NULL DEFAULT 'text',   -- text | ocr | converted (ingest.records.SOURCE_KINDS)
    ocr_confidence REAL             -- mean recognition confidence of the OCR'd characters, NULL without OCR
);
CREATE TABLE IF NOT EXISTS nodes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id INTEGER NOT NULL REFERENCES files(id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    heading TEXT NOT NULL,
    path TEXT NOT NULL              -- JSON list of enclosing headings
);
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id INTEGER NOT NULL REFERENCES files(id),
    version_id INTEGER NOT NULL REFERENCES versions(id),
    seq INTEGER NOT NULL,           -- reading order within the file
    kind TEXT NOT NULL,             -- article | section
    no INTEGER,                     -- NULL for sections
    suffix INTEGER NOT NULL,
    label TEXT NOT NULL,
    level INTEGER NOT NULL,         -- outline level of a section, 0 for articles
    path TEXT NOT NULL,             -- JSON list (breadcrumb)
    paragraphs TEXT NOT NULL,       -- JSON list (款)
    text TEXT NOT NULL,
    doubts TEXT NOT NULL DEFAULT '[]'   -- JSON list of [char, context, confidence] OCR was unsure of
);
CREATE TABLE IF NOT EXISTS failures (
    path TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS repeals (
    file_id INTEGER NOT NULL REFERENCES files(id),
    target_key TEXT NOT NULL,       -- title key of a title the file declares repealed (《…》同时废止)
    since TEXT NOT NULL             -- from when: the repealing text's effective (or promulgation) date
);
CREATE TABLE IF NOT EXISTS deadlines (
    article_id INTEGER NOT NULL REFERENCES articles(id),
    file_id INTEGER NOT NULL REFERENCES files(id),
    seq INTEGER NOT NULL,           -- reading order within the file (ingest.deadlines.extract_deadlines)
    paragraph INTEGER NOT NULL,     -- 款, from 1
    item INTEGER NOT NULL,          -- 项, from 1; 0 outside items
    amount INTEGER,                 -- NULL for 立即/及时 (no fixed period)
    unit TEXT NOT NULL,             -- 日 | 工作日 | 个月 | 年 | 小时 | '' (no fixed period)
    phrase TEXT NOT NULL,
    actor TEXT NOT NULL,
    "trigger" TEXT NOT NULL,
    action TEXT NOT NULL,
    extension INTEGER NOT NULL,
    sentence TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deadlines_file ON deadlines(file_id);
CREATE TABLE IF NOT EXISTS article_refs (  -- what an article cites (ingest.references), resolved when read
    article_id INTEGER NOT NULL REFERENCES articles(id),
    span_start INTEGER NOT NULL,    -- span in the citing article's text
    span_end INTEGER NOT NULL,
    target_key TEXT NOT NULL,       -- title key of the cited document, '' for the citing document itself
    target_title TEXT NOT NULL,     -- as written
    no INTEGER NOT NULL,
    suffix INTEGER NOT NULL,
    paragraph INTEGER,
    item INTEGER,
    loose INTEGER NOT NULL,         -- 1: a name written without 书名号, matched by its longest stored ending
    range_from INTEGER              -- a range's end (第十二条 of 第十条至第十二条): the 条 it starts at
);
CREATE TABLE IF NOT EXISTS definitions (   -- terms an article defines (本法所称X，是指……)
    article_id INTEGER NOT NULL REFERENCES articles(id),
    term TEXT NOT NULL,
    definition TEXT NOT NULL,
    span_start INTEGER NOT NULL,
    span_end INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS article_refs_article ON article_refs(article_id);
CREATE INDEX IF NOT EXISTS article_refs_target ON article_refs(target_key, no, suffix);
CREATE INDEX IF NOT EXISTS definitions_article ON definitions(article_id);
CREATE INDEX IF NOT EXISTS articles_file ON articles(file_id);
CREATE INDEX IF NOT EXISTS repeals_target ON repeals(target_key);
CREATE INDEX IF NOT EXISTS articles_version ON articles(version_id, no, suffix);
CREATE INDEX IF NOT EXISTS nodes_file ON nodes(file_id);
CREATE INDEX IF NOT EXISTS files_version ON files(version_id);
CREATE INDEX IF NOT EXISTS versions_document ON versions(document_id);
"""


def _statements(script: str) -> list[str]:
    """The SQL statements of a script, one by one (a ";" in a comment ends none)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


# Schema version → the statements that bring a store of that version to the next one. Columns are
# only added, with defaults, so a migrated store reads as if its files had been parsed as text.
# 2 → 3: the tables of time limits, references and definitions came without a version of their
# own, and only writers create missing tables; a store last written before them, then migrated
# to 2 by a reader, lacked them and the app failed on its clause cards ("no such table"). Every
# table and index of the schema is created if missing (they stay empty until the files change).
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE files ADD COLUMN source_kind TEXT NOT NULL DEFAULT 'text'",
        "ALTER TABLE files ADD COLUMN ocr_confidence REAL",
        "ALTER TABLE articles ADD COLUMN doubts TEXT NOT NULL DEFAULT '[]'"),
    2: tuple(_statements(_SCHEMA)),
    3: ("ALTER TABLE article_refs ADD COLUMN range_from INTEGER",),
}
_ADD_COLUMN = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+)")


@dataclass(frozen=True)
class StoredArticle:
    """One retrievable unit (an article, or an outline section) with its document's context."""
    id: int
    kind: str
    no: int | None
    suffix: int
    label: str
    level: int
    path: tuple[str, ...]
    paragraphs: tuple[str, ...]
    text: str
    version_id: int
    document_id: int
    doc_key: str
    title: str
    subtitle: str
    doc_level: str
    region: str
    status: str
    version_date: str
    issuer: str
    doc_number: str
    promulgated: str
    effective: str
    source: str
    relpath: str
    # the amendment or revision that made this version (kind "amended"/"revised" and its date), "" for
    # an original text: an amended law's `effective` is the original law's 施行 date
    version_event: str = ""
    version_event_date: str = ""
    source_kind: str = "text"          # of its file: text | ocr | converted
    ocr_confidence: float | None = None

    @property
    def ocr(self) -> bool:
        return self.source_kind == "ocr"


@dataclass(frozen=True)
class StoredVersion:
    id: int
    document_id: int
    version_date: str
    title: str
    issuer: str
    doc_number: str
    promulgated: str
    effective: str
    history: tuple[dict, ...]
    status: str
    sources: tuple[str, ...]
    articles: int


@dataclass(frozen=True)
class StoredDocument:
    id: int
    key: str
    title: str
    level: str
    region: str
    doc_type: str
    status: str             # status of the newest version
    versions: int
    articles: int           # units in the newest version


@dataclass(frozen=True)
class StoredNode:
    kind: str
    heading: str
    path: tuple[str, ...]
    first_article_id: int | None   # where this heading starts in the text, for anchors


@dataclass(frozen=True)
class StoredReference:
    """A provision an article cites; `target_id` is the article it resolves to now, None if none."""
    article_id: int
    start: int                      # span in the citing article's text
    end: int
    target_key: str                 # '' for the citing document itself
    target_title: str
    no: int
    suffix: int
    paragraph: int | None
    item: int | None
    target_id: int | None


@dataclass(frozen=True)
class StoredDefinition:
    article_id: int
    term: str
    definition: str


@dataclass(frozen=True)
class StoredFailure:
    path: str
    kind: str
    reason: str
    message: str
    at: str


@dataclass(frozen=True)
class FileState:
    id: int
    sha256: str
    parser: str
    duplicate_of: int | None


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def derive_statuses(versions: Sequence[tuple[int, str, str, str]], today: str,
                    repealed_since: str = "", superseded_since: str = "") -> dict[int, str]:
    """Status of each version of one document from (id, version_date, declared_status, effective).

    A declared status wins. Otherwise the newest version already in force is "current", newer
    ones whose effective date lies ahead are "pending" and older ones "superseded". A document
    whose newest version is declared repealed, or was repealed by another text from
    `repealed_since` (a date not after `today`) on, has every version repealed; one replaced by
    a successor of another title from `superseded_since` on has every version superseded.
    """
    ordered = sorted(versions, key=lambda v: v[1], reverse=True)

    def replaced_from(since: str) -> bool:
        return bool(since) and since <= today and bool(ordered) and ordered[0][1] < since

    if ordered and (ordered[0][2] == "repealed" or replaced_from(repealed_since)):
        return {v[0]: "repealed" for v in ordered}
    current_seen = replaced_from(superseded_since)       # the successor is the current one
    statuses = {}
    for vid, _date, declared, effective in ordered:
        if declared:
            statuses[vid] = declared
            current_seen = current_seen or declared == "current"
        elif not current_seen and effective and effective > today:
            statuses[vid] = "pending"
        elif not current_seen:
            statuses[vid] = "current"
            current_seen = True
        else:
            statuses[vid] = "superseded"
    return statuses


def _bundled_successors() -> Successors:
    """Raises:
        StoreError: if the bundled list of successors cannot be read."""
    try:
        return load_successors()
    except (OSError, ValueError) as e:
        raise StoreError(f"cannot read the list of successor documents ({e})") from None


def _successor_rows(conn: sqlite3.Connection, successors: Successors, document_id: int) -> list[tuple[int, str, str]]:
    """(document id, title, from when) of the stored successors of another title that replace a
    document (`ingest.successors`): of the same or a wider region, in force from their earliest
    version's effective (or version) date."""
    row = conn.execute("SELECT key, region FROM documents WHERE id=?", (document_id,)).fetchone()
    keys = sorted(successors.by_replaced.get(row[0], ())) if row else []
    if not keys:
        return []
    return conn.execute(f"""
        SELECT d.id, d.title, MIN(COALESCE(NULLIF(v.effective, ''), v.version_date)) FROM documents d
        JOIN versions v ON v.document_id = d.id
        WHERE d.key IN ({','.join('?' * len(keys))}) AND (d.region = '全国' OR ? LIKE d.region || '%')
        GROUP BY d.id ORDER BY 3""", (*keys, row[1])).fetchall()


def migrate(conn: sqlite3.Connection, kb_dir: Path) -> None:
    """Bring the store on `conn` (writable) to `SCHEMA_VERSION`, in one transaction.

    Raises:
        StoreError: if the store is newer than this program, or cannot be written.
    """
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else SCHEMA_VERSION
        if version > SCHEMA_VERSION or version not in _MIGRATIONS and version != SCHEMA_VERSION:
            raise StoreError(f"{kb_dir}: knowledge base has schema version {version}, this program "
                             f"writes {SCHEMA_VERSION}; ingest into a new --kb folder")
        if version == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            # read again under the write lock: another process may have migrated meanwhile
            version = int(conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])
            while version < SCHEMA_VERSION:
                for statement in _MIGRATIONS[version]:
                    if not _has_column(conn, statement):
                        conn.execute(statement)
                version += 1
            conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as e:
        raise StoreError(f"{kb_dir}: cannot upgrade the knowledge base to schema version {SCHEMA_VERSION} "
                         f"({e})") from None


def _has_column(conn: sqlite3.Connection, statement: str) -> bool:
    """Whether `statement` adds a column its table already has: step 2 creates a missing table as
    the schema has it now, with the columns later steps add."""
    added = _ADD_COLUMN.match(statement)
    return bool(added) and any(row[1] == added[2] for row in conn.execute(f"PRAGMA table_info({added[1]})"))


def _connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class StoreWriter:
    """Write access to a knowledge base; create it if needed. Use `with writer.transaction():`.

    Raises:
        StoreError: if the folder cannot be created or holds a store of another schema version.
    """

    def __init__(self, kb_dir: str | Path):
        self.kb_dir = Path(kb_dir)
        try:
            self.kb_dir.mkdir(parents=True, exist_ok=True)
            self.conn = _connect(self.kb_dir / DB_NAME)
            self.conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"{self.kb_dir}: cannot open the knowledge base for writing ({e})") from None
        version = self._meta("schema_version")
        if version is None:
            self._set_meta("schema_version", str(SCHEMA_VERSION))
            self._set_meta("generation", "0")
        else:
            migrate(self.conn, self.kb_dir)
        self._dirty_documents: set[int] = set()
        self._failure_rows = 0              # rows of `failures` written in the open transaction
        self.successors = _bundled_successors()
        self._marked_tables = {t for t in ID_TABLES if "AUTOINCREMENT" not in self._table_sql(t).upper()}
        if self._marked_tables:
            # before anything is deleted, so no id handed out so far can come back
            self.conn.execute("BEGIN IMMEDIATE")
            for table in self._marked_tables:
                self._set_meta(_MARK + table, str(self._next_id(table) - 1))
            self.conn.execute("COMMIT")
        if version is None:
            self._set_meta("successors", self.successors.fingerprint)
        elif self._meta("successors") != self.successors.fingerprint:
            # The bundled list changed (or the store predates it): re-derive what it names now and
            # what an earlier list may have named (documents with no current version).
            self._touch_documents_with_keys(set(self.successors.by_replaced))
            self._dirty_documents.update(i for (i,) in self.conn.execute(
                "SELECT document_id FROM versions GROUP BY document_id HAVING SUM(status = 'current') = 0"))
            if self._dirty_documents:
                with self.transaction():
                    self._set_meta("successors", self.successors.fingerprint)
            else:
                self._set_meta("successors", self.successors.fingerprint)

    def _table_sql(self, table: str) -> str:
        row = self.conn.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()
        return row[0] if row else ""

    def _next_id(self, table: str) -> int:
        (largest,) = self.conn.execute(f"SELECT MAX(id) FROM {table}").fetchone()
        return max(int(self._meta(_MARK + table) or 0), largest or 0) + 1

    def _new_ids(self, table: str, count: int) -> list[int | None]:
        """Ids for `count` new rows of `table`: None lets AUTOINCREMENT choose; a store made before
        it gets ids above its high-water mark, which moves past them."""
        if table not in self._marked_tables:
            return [None] * count
        start = self._next_id(table)
        self._set_meta(_MARK + table, str(start + count - 1))
        return list(range(start, start + count))

    def close(self) -> None:
        self.conn.close()

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of change; statuses of touched documents are re-derived before commit,
        and the generation grows if it changed more than the failures noted."""
        self.conn.execute("BEGIN IMMEDIATE")
        start, self._failure_rows = self.conn.total_changes, 0
        try:
            yield
            self._finish_documents()
            # A run that only skips its navigation pages again, or notes its broken files' failures
            # again, changed nothing an index or a page reads: each such run was a new generation,
            # so the whole index was built again (LawRefBook's 26 navigation pages: 11 s a run).
            if self.conn.total_changes - start > self._failure_rows:
                self._set_meta("generation", str(int(self._meta("generation") or 0) + 1))
                self._set_meta("last_ingest", _now())
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._dirty_documents.clear()
            raise

    def file_states(self) -> dict[str, FileState]:
        rows = self.conn.execute("SELECT path, id, sha256, parser, duplicate_of FROM files")
        return {p: FileState(i, h, parser, dup) for p, i, h, parser, dup in rows}

    def _document_id(self, doc: Document) -> int:
        m = doc.meta
        key = title_key(m.title)
        row = self.conn.execute("SELECT id FROM documents WHERE key=? AND region=?",
                                (key, m.region)).fetchone()
        if row:
            return row[0]
        return self.conn.execute(
            "INSERT INTO documents(id, key, region, title, level, doc_type) VALUES (?,?,?,?,?,?)",
            (self._new_ids("documents", 1)[0], key, m.region, m.title, m.level, m.doc_type)).lastrowid

    def _version_id(self, document_id: int, doc: Document) -> int:
        m = doc.meta
        history = json.dumps([{"date": h.date, "event": h.event, "kind": h.kind} for h in m.history],
                             ensure_ascii=False)
        values = (m.title, m.issuer, m.doc_number, m.promulgated, m.effective, history, m.status)
        row = self.conn.execute("SELECT id FROM versions WHERE document_id=? AND version_date=?",
                                (document_id, m.version_date)).fetchone()
        if row:
            # parts of one version (民法典 编) share the version row; keep what any part knows
            self.conn.execute(
                "UPDATE versions SET title=?, issuer=COALESCE(NULLIF(?, ''), issuer), "
                "doc_number=COALESCE(NULLIF(?, ''), doc_number), promulgated=COALESCE(NULLIF(?, ''), promulgated), "
                "effective=COALESCE(NULLIF(?, ''), effective), history=?, "
                "declared_status=COALESCE(NULLIF(?, ''), declared_status) WHERE id=?", (*values, row[0]))
            return row[0]
        return self.conn.execute(
            "INSERT INTO versions(id, document_id, version_date, title, issuer, doc_number, promulgated, "
            "effective, history, declared_status, status) VALUES (?,?,?,?,?,?,?,?,?,?,'current')",
            (self._new_ids("versions", 1)[0], document_id, m.version_date, *values)).lastrowid

    def put_file(self, path: str, relpath: str, sha256: str, parser: str, doc: Document,
                 file_date: str = "") -> str:
        """Store a parsed file, replacing what an earlier parse of the same path stored.

        Returns "added", "updated", "duplicate" (another file already holds the same version
        and part of this document with the same text: the file is recorded but its articles are
        not stored twice), "dated" (an undated file of the same title and part holds another
        text: this one is stored as a distinct version dated `file_date`, the file's day, and the
        undated one counts as older), "redated" (the same, for a path stored before) or
        "conflict" (such a file exists and there is no `file_date`, or that date holds yet another
        text; or a file of the same title, date and part holds another text: nothing is stored or
        replaced).
        """
        dated = False
        if doc.meta.version_date and self._holds_other_text(doc, doc.meta.version_date, path):
            return "conflict"
        if not doc.meta.version_date and self._holds_other_text(doc, "", path):
            if not file_date or self._holds_other_text(doc, file_date, path):
                return "conflict"
            doc = replace(doc, meta=replace(doc.meta, version_date=file_date))
            dated = True
        existing = self.conn.execute("SELECT id FROM files WHERE path=?", (path,)).fetchone()
        if existing:
            self.remove_file(path)
        document_id = self._document_id(doc)
        version_id = self._version_id(document_id, doc)
        self._dirty_documents.add(document_id)
        twin = self.conn.execute(
            "SELECT id FROM files WHERE version_id=? AND subtitle=? AND duplicate_of IS NULL",
            (version_id, doc.meta.subtitle)).fetchone()
        first_no = next((a.no for a in doc.articles), 0)
        file_id = self.conn.execute(
            "INSERT INTO files(id, path, relpath, sha256, parser, version_id, duplicate_of, subtitle, part_order, "
            "encoding, preamble, attachments, notes, ingested_at, source_kind, ocr_confidence) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (self._new_ids("files", 1)[0], path, relpath, sha256, parser, version_id, twin[0] if twin else None,
             doc.meta.subtitle, first_no, doc.encoding, doc.preamble,
             json.dumps(list(doc.attachments), ensure_ascii=False),
             json.dumps(list(doc.notes), ensure_ascii=False), _now(), doc.source_kind,
             doc.ocr_confidence if doc.ocr else None)).lastrowid
        self.conn.execute("DELETE FROM failures WHERE path=?", (path,))
        if twin:
            return "duplicate"
        dumps = lambda xs: json.dumps(list(xs), ensure_ascii=False)  # noqa: E731
        self.conn.executemany(
            "INSERT INTO nodes(id, file_id, seq, kind, heading, path) VALUES (?,?,?,?,?,?)",
            [(node_id, file_id, i, n.kind, n.heading, dumps(n.path))
             for node_id, (i, n) in zip(self._new_ids("nodes", len(doc.nodes)), enumerate(doc.nodes))])
        rows = [(file_id, version_id, i, "article", a.no, a.suffix, a.label, 0, dumps(a.path),
                 dumps(a.paragraphs), a.text) for i, a in enumerate(doc.articles)]
        rows += [(file_id, version_id, len(rows) + i, "section", None, 0, s.heading, s.level,
                  dumps(s.path), dumps([s.text]), s.text) for i, s in enumerate(doc.sections)]
        doubts: dict[int, list] = {}
        for d in doc.doubts:
            doubts.setdefault(d.unit, []).append([d.char, d.context, d.confidence])
        self.conn.executemany(
            "INSERT INTO articles(id, file_id, version_id, seq, kind, no, suffix, label, level, path, "
            "paragraphs, text, doubts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(article_id, *row, dumps(doubts.get(seq, ()))) for seq, (article_id, row)
             in enumerate(zip(self._new_ids("articles", len(rows)), rows))])
        self._put_facts(file_id, doc)
        since = doc.meta.effective or doc.meta.promulgated or doc.meta.version_date
        targets = {title_key(t) for t in doc.meta.repeals} - {title_key(doc.meta.title)}
        if since and targets:
            self.conn.executemany("INSERT INTO repeals(file_id, target_key, since) VALUES (?,?,?)",
                                  [(file_id, key, since) for key in sorted(targets)])
            self._touch_documents_with_keys(targets)
        if dated:
            return "redated" if existing else "dated"
        return "updated" if existing else "added"

    def _put_facts(self, file_id: int, doc: Document) -> None:
        """Store what the parser drew from a file's articles: time limits, references and definitions
        (`doc.deadlines`, `doc.references`, `doc.definitions`)."""
        ids = [i for (i,) in self.conn.execute(
            "SELECT id FROM articles WHERE file_id=? AND kind='article' ORDER BY seq", (file_id,))]
        self.conn.executemany(
            'INSERT INTO deadlines(article_id, file_id, seq, paragraph, item, amount, unit, phrase, actor, "trigger", '
            "action, extension, sentence) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(ids[d.article], file_id, seq, d.paragraph, d.item, d.amount, d.unit, d.phrase, d.actor,
              d.trigger, d.action, int(d.extension), d.sentence) for seq, d in enumerate(doc.deadlines)])
        self.conn.executemany(
            "INSERT INTO article_refs(article_id, span_start, span_end, target_key, target_title, no, suffix, "
            "paragraph, item, loose, range_from) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(ids[r.article], r.start, r.end, r.target_key, r.target_title, r.no, r.suffix, r.paragraph, r.item,
              int(r.loose), r.range_from) for r in doc.references])
        self.conn.executemany(
            "INSERT INTO definitions(article_id, term, definition, span_start, span_end) VALUES (?,?,?,?,?)",
            [(ids[d.article], d.term, d.definition, d.start, d.end) for d in doc.definitions])

    def _holds_other_text(self, doc: Document, version_date: str, path: str) -> bool:
        """Whether another file stores this document's version `version_date` and part with a
        different text (of its articles and sections, in order)."""
        m = doc.meta
        row = self.conn.execute("""
            SELECT f.id FROM files f JOIN versions v ON v.id = f.version_id JOIN documents d ON d.id = v.document_id
            WHERE d.key=? AND d.region=? AND v.version_date=? AND f.subtitle=? AND f.duplicate_of IS NULL
              AND f.path != ?""", (title_key(m.title), m.region, version_date, m.subtitle, path)).fetchone()
        if row is None:
            return False
        stored = [t for (t,) in self.conn.execute("SELECT text FROM articles WHERE file_id=? ORDER BY seq", row)]
        return stored != [a.text for a in doc.articles] + [s.text for s in doc.sections]

    def _touch_documents_with_keys(self, keys: set[str]) -> None:
        for key in keys:
            self._dirty_documents.update(i for (i,) in self.conn.execute("SELECT id FROM documents WHERE key=?", (key,)))

    def remove_file(self, path: str) -> None:
        """Forget a file and everything parsed from it. Its duplicates are forgotten too, so the
        next run ingests one of them in its place."""
        row = self.conn.execute("SELECT id, version_id FROM files WHERE path=?", (path,)).fetchone()
        self.conn.execute("DELETE FROM failures WHERE path=?", (path,))
        if not row:
            return
        file_id, version_id = row
        dup_paths = [p for (p,) in self.conn.execute("SELECT path FROM files WHERE duplicate_of=?", (file_id,))]
        for p in dup_paths:
            self.remove_file(p)
        targets = {k for (k,) in self.conn.execute("SELECT target_key FROM repeals WHERE file_id=?", (file_id,))}
        self._touch_documents_with_keys(targets)
        self.conn.execute("DELETE FROM repeals WHERE file_id=?", (file_id,))
        self.conn.execute("DELETE FROM deadlines WHERE file_id=?", (file_id,))
        for table in ("article_refs", "definitions"):
            self.conn.execute(f"DELETE FROM {table} WHERE article_id IN (SELECT id FROM articles WHERE file_id=?)",
                              (file_id,))
        self.conn.execute("DELETE FROM articles WHERE file_id=?", (file_id,))
        self.conn.execute("DELETE FROM nodes WHERE file_id=?", (file_id,))
        self.conn.execute("DELETE FROM files WHERE id=?", (file_id,))
        document_id = self.conn.execute("SELECT document_id FROM versions WHERE id=?", (version_id,)).fetchone()[0]
        if not self.conn.execute("SELECT 1 FROM files WHERE version_id=?", (version_id,)).fetchone():
            self.conn.execute("DELETE FROM versions WHERE id=?", (version_id,))
        self._dirty_documents.add(document_id)

    def record_failure(self, path: str, kind: str, reason: str, message: str) -> None:
        """Remember why a file failed. What an earlier, good version of it stored stays usable."""
        before = self.conn.total_changes
        self.conn.execute("INSERT OR REPLACE INTO failures(path, kind, reason, message, at) VALUES (?,?,?,?,?)",
                          (path, kind, reason, message, _now()))
        self._failure_rows += self.conn.total_changes - before

    def _repealed_since(self, document_id: int) -> str:
        """Earliest date from which another text of the same or a wider region repeals this document."""
        (since,) = self.conn.execute("""
            SELECT MIN(r.since) FROM documents target
            JOIN repeals r ON r.target_key = target.key
            JOIN files f ON f.id = r.file_id AND f.duplicate_of IS NULL
            JOIN versions v ON v.id = f.version_id
            JOIN documents d ON d.id = v.document_id
            WHERE target.id = ? AND d.id != target.id
              AND (d.region = '全国' OR target.region LIKE d.region || '%')""", (document_id,)).fetchone()
        return since or ""

    def _superseded_since(self, document_id: int) -> str:
        """Earliest date from which a successor of another title is in force in place of this document."""
        return min((since for _, _, since in _successor_rows(self.conn, self.successors, document_id) if since),
                   default="")

    def _finish_documents(self) -> None:
        today = _dt.date.today().isoformat()
        # a successor that came or went changes the status of what it replaces
        if self._dirty_documents:
            keys = {k for (k,) in self.conn.execute(
                f"SELECT key FROM documents WHERE id IN ({','.join('?' * len(self._dirty_documents))})",
                sorted(self._dirty_documents))}
            self._touch_documents_with_keys(self.successors.replaced_by(keys))
        for document_id in self._dirty_documents:
            versions = self.conn.execute(
                "SELECT id, version_date, declared_status, effective, title FROM versions WHERE document_id=?",
                (document_id,)).fetchall()
            if not versions:
                self.conn.execute("DELETE FROM documents WHERE id=?", (document_id,))
                continue
            statuses = derive_statuses([v[:4] for v in versions], today, self._repealed_since(document_id),
                                       self._superseded_since(document_id))
            for vid, status in statuses.items():
                self.conn.execute("UPDATE versions SET status=? WHERE id=?", (status, vid))
            newest_title = max(versions, key=lambda v: v[1])[4]
            self.conn.execute("UPDATE documents SET title=? WHERE id=?", (newest_title, document_id))
        self._dirty_documents.clear()


# The kind and date of the last amendment or revision a version's history records up to the
# version's own date ("" if none): what made this version.
_LAST_AMENDMENT = """COALESCE((SELECT json_extract(h.value, '$.{field}') FROM json_each(v.history) h
                 WHERE json_extract(h.value, '$.kind') IN ('amended', 'revised')
                   AND json_extract(h.value, '$.date') <= v.version_date
                 ORDER BY json_extract(h.value, '$.date') DESC LIMIT 1), '')"""
_ARTICLE_COLUMNS = """a.id, a.kind, a.no, a.suffix, a.label, a.level, a.path, a.paragraphs, a.text,
       a.version_id, d.id, d.key, v.title, f.subtitle, d.level, d.region, v.status, v.version_date,
       v.issuer, v.doc_number, v.promulgated, v.effective, f.path, f.relpath, {kind}, {date},
       f.source_kind, f.ocr_confidence"""
_ARTICLE_JOINS = """FROM articles a JOIN files f ON f.id = a.file_id JOIN versions v ON v.id = a.version_id
JOIN documents d ON d.id = v.document_id"""
_ARTICLE_SELECT = "SELECT " + _ARTICLE_COLUMNS.format(kind=_LAST_AMENDMENT.format(field="kind"),
                                                      date=_LAST_AMENDMENT.format(field="date")) + "\n" + _ARTICLE_JOINS
# Every article at once works out each version's last amendment once, not once per article: 1.5 →
# 0.8 s over the whole corpus. (MATERIALIZED, SQLite 3.35+: the planner would otherwise fold the
# table into the join and work it out per article again.)
_ALL_ARTICLES_SELECT = (
    f"WITH amended AS MATERIALIZED (SELECT v.id AS version_id, {_LAST_AMENDMENT.format(field='kind')} AS kind, "
    f"{_LAST_AMENDMENT.format(field='date')} AS date FROM versions v)\n"
    f"SELECT {_ARTICLE_COLUMNS.format(kind='am.kind', date='am.date')}\n{_ARTICLE_JOINS}\n"
    f"JOIN amended am ON am.version_id = v.id ORDER BY a.id")
_READING_ORDER = " ORDER BY d.id, v.version_date, f.part_order, f.id, a.seq"


@functools.lru_cache(maxsize=8192)
def _heading_path(text: str) -> tuple[str, ...]:
    # a chapter's articles share one path: 7,579 distinct ones among the 149,244 units of the whole corpus
    return tuple(json.loads(text))


def stored_article(row: tuple) -> StoredArticle:
    """A StoredArticle from a row of its fields in order, `path` and `paragraphs` as JSON lists."""
    r = list(row)
    r[6], r[7] = _heading_path(r[6]), tuple(json.loads(r[7]))
    return StoredArticle(*r)


class Store:
    """Read access to a knowledge base. Open it with `open_store`."""

    def __init__(self, conn: sqlite3.Connection, kb_dir: Path):
        self.conn = conn
        self.kb_dir = kb_dir

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def generation(self) -> int:
        return int(self._meta("generation") or 0)

    @contextmanager
    def consistent(self) -> Iterator[None]:
        """Reads inside see one state of the knowledge base, whatever a writer commits meanwhile
        (a read transaction: SQLite's WAL keeps that state for it). Without it each query sees
        the latest commit, and a document listed by one may have lost its versions by the next."""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    def last_ingest(self) -> str:
        return self._meta("last_ingest") or ""

    def count_articles(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    def iter_articles(self) -> Iterator[StoredArticle]:
        """Every stored article (and outline section), by id."""
        return map(stored_article, self.article_rows())

    def article_rows(self) -> Iterator[tuple]:
        """Every stored article (and outline section), by id, as a row of `StoredArticle`'s fields
        in order with `path` and `paragraphs` as JSON text (`stored_article` makes one of it)."""
        return iter(self.conn.execute(_ALL_ARTICLES_SELECT))

    def article(self, article_id: int) -> StoredArticle | None:
        row = self.conn.execute(_ARTICLE_SELECT + " WHERE a.id=?", (article_id,)).fetchone()
        return stored_article(row) if row else None

    def articles_by_ids(self, ids: Sequence[int]) -> list[StoredArticle]:
        found: dict[int, StoredArticle] = {}
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), 900):   # SQLite's bound-parameter limit
            chunk = ids[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(_ARTICLE_SELECT + f" WHERE a.id IN ({marks})", chunk):
                found[row[0]] = stored_article(row)
        return [found[i] for i in ids if i in found]

    def version_articles(self, version_id: int) -> list[StoredArticle]:
        rows = self.conn.execute(_ARTICLE_SELECT + " WHERE a.version_id=?" + _READING_ORDER, (version_id,))
        return [stored_article(r) for r in rows]

    def version_doubts(self, version_id: int) -> list[tuple[int, str, list[tuple[str, str, float]]]]:
        """The characters OCR was unsure of, per article (or section) of a version, in reading
        order: (article id, label, [(character, its context, confidence)]); articles without any
        are left out."""
        rows = self.conn.execute(
            "SELECT a.id, a.label, a.doubts FROM articles a JOIN files f ON f.id = a.file_id "
            "WHERE a.version_id=? AND a.doubts != '[]' ORDER BY f.part_order, f.id, a.seq", (version_id,))
        return [(i, label, [tuple(d) for d in json.loads(doubts)]) for i, label, doubts in rows]

    def version_deadlines(self, version_id: int) -> list[tuple[int, Deadline]]:
        """(article id, time limit) of every limit of a version's articles, in reading order;
        `Deadline.article` is the article's place in its file.

        Raises:
            StoreError: if the knowledge base was built before time limits were extracted.
        """
        try:
            rows = self.conn.execute("""
                SELECT a.id, a.seq, a.label, t.paragraph, t.item, t.amount, t.unit, t.phrase, t.actor, t."trigger",
                       t.action, t.extension, t.sentence
                FROM deadlines t JOIN articles a ON a.id = t.article_id JOIN files f ON f.id = t.file_id
                WHERE a.version_id=? ORDER BY f.part_order, f.id, t.seq""", (version_id,)).fetchall()
        except sqlite3.OperationalError as e:
            raise StoreError(f"{self.kb_dir}: this knowledge base has no time limits yet ({e}); ingest its files "
                             f"again with: python -m ingest FOLDER --kb {self.kb_dir}") from None
        return [(r[0], Deadline(*r[1:11], bool(r[11]), r[12])) for r in rows]

    def neighbours(self, article_id: int, before: int = 1, after: int = 1
                   ) -> tuple[list[StoredArticle], list[StoredArticle]]:
        """The units just before and after an article in its version's reading order."""
        target = self.article(article_id)
        if target is None:
            return [], []
        units = self.version_articles(target.version_id)
        i = next(i for i, a in enumerate(units) if a.id == article_id)
        return units[max(0, i - before):i], units[i + 1:i + 1 + after]

    def find_articles(self, doc_key: str, no: int, suffix: int = 0) -> list[StoredArticle]:
        """Article `no`/`suffix` in every version of the documents with this title key, current first."""
        rows = self.conn.execute(
            _ARTICLE_SELECT + " WHERE d.key=? AND a.no=? AND a.suffix=? AND a.kind='article'"
            " ORDER BY v.status != 'current', v.version_date DESC", (doc_key, no, suffix))
        return [stored_article(r) for r in rows]

    def documents(self) -> list[StoredDocument]:
        rows = self.conn.execute("""
            SELECT d.id, d.key, d.title, d.level, d.region, d.doc_type,
                   (SELECT status FROM versions WHERE document_id=d.id ORDER BY version_date DESC LIMIT 1),
                   (SELECT COUNT(*) FROM versions WHERE document_id=d.id),
                   (SELECT COUNT(*) FROM articles WHERE version_id=(SELECT id FROM versions WHERE document_id=d.id
                                                                   ORDER BY version_date DESC LIMIT 1))
            FROM documents d ORDER BY d.level, d.region, d.title""")
        return [StoredDocument(*r) for r in rows]

    def versions(self, document_id: int) -> list[StoredVersion]:
        rows = self.conn.execute("""
            SELECT v.id, v.document_id, v.version_date, v.title, v.issuer, v.doc_number, v.promulgated,
                   v.effective, v.history, v.status,
                   (SELECT json_group_array(path) FROM files WHERE version_id=v.id),
                   (SELECT COUNT(*) FROM articles WHERE version_id=v.id)
            FROM versions v WHERE v.document_id=? ORDER BY v.version_date DESC""", (document_id,))
        out = []
        for r in rows:
            r = list(r)
            r[8], r[10] = tuple(json.loads(r[8])), tuple(json.loads(r[10]))
            out.append(StoredVersion(*r))
        return out

    def version_nodes(self, version_id: int) -> list[StoredNode]:
        """Headings of a version in reading order, each with the id of the first unit under it."""
        rows = self.conn.execute("""
            SELECT n.kind, n.heading, n.path, n.file_id, n.seq FROM nodes n JOIN files f ON f.id=n.file_id
            WHERE f.version_id=? ORDER BY f.part_order, f.id, n.seq""", (version_id,)).fetchall()
        units = self.version_articles(version_id)
        out = []
        for kind, heading, path, _file_id, _seq in rows:
            path = tuple(json.loads(path))
            full = path + (heading,)
            first = next((a.id for a in units if a.path[:len(full)] == full), None)
            out.append(StoredNode(kind, heading, path, first))
        return out

    def repealed_by(self, document_id: int) -> list[tuple[int, str, str]]:
        """(document id, title, since) of the texts that declare this document repealed."""
        return self.conn.execute("""
            SELECT DISTINCT d.id, d.title, r.since FROM documents target
            JOIN repeals r ON r.target_key = target.key JOIN files f ON f.id = r.file_id
            JOIN versions v ON v.id = f.version_id JOIN documents d ON d.id = v.document_id
            WHERE target.id = ? AND d.id != target.id ORDER BY r.since""", (document_id,)).fetchall()

    def replaced_by(self, document_id: int) -> list[tuple[int, str, str]]:
        """(document id, title, since) of the stored successors of another title that replace this
        document (`ingest/data/successors.tsv`).

        Raises:
            StoreError: if the bundled list of successors cannot be read.
        """
        return _successor_rows(self.conn, _bundled_successors(), document_id)

    def repealing(self, key: str) -> list[tuple[int, str, str, int]]:
        """(document id, title, since, version id) of the stored texts that declare the title with
        this key repealed, whether or not that title's own text is stored (《婚姻法》 by 《民法典》)."""
        return self.conn.execute("""
            SELECT DISTINCT d.id, d.title, r.since, v.id FROM repeals r JOIN files f ON f.id = r.file_id
            JOIN versions v ON v.id = f.version_id JOIN documents d ON d.id = v.document_id
            WHERE r.target_key = ? AND d.key != ? ORDER BY r.since""", (key, key)).fetchall()

    def repealed_not_held(self) -> list[tuple[str, str, str]]:
        """(title key, since, title of the repealing text) of each title a stored text declares
        repealed whose own text the store does not hold (婚姻法, by 民法典 from 2021-01-01), by the
        earliest repeal."""
        return self.conn.execute("""
            SELECT r.target_key, MIN(r.since), d.title FROM repeals r JOIN files f ON f.id = r.file_id
            JOIN versions v ON v.id = f.version_id JOIN documents d ON d.id = v.document_id
            WHERE r.target_key NOT IN (SELECT key FROM documents) GROUP BY r.target_key ORDER BY r.target_key""").fetchall()

    def repeals(self, document_id: int) -> list[tuple[int, str, str]]:
        """(document id, title, since) of the stored documents this document declares repealed."""
        return self.conn.execute("""
            SELECT DISTINCT target.id, target.title, r.since FROM files f
            JOIN versions v ON v.id = f.version_id JOIN repeals r ON r.file_id = f.id
            JOIN documents target ON target.key = r.target_key
            WHERE v.document_id = ? AND target.id != v.document_id ORDER BY target.title""",
            (document_id,)).fetchall()

    def document_key(self, key: str, loose: bool = False) -> str:
        """`key` if a stored document has it; for a `loose` name (written without 书名号, possibly
        with the words leading into it: 实施刑法) the one stored key ending with it, else the longest
        stored key it ends with, unless a place comes right before that (四川省信访条例 is not 信访条例);
        else ""."""
        if self.conn.execute("SELECT 1 FROM documents WHERE key=?", (key,)).fetchone():
            return key
        if not loose:
            return ""
        longer = self.conn.execute("SELECT DISTINCT key FROM documents WHERE length(key) > length(?) "
                                   "AND substr(key, -length(?)) = ? LIMIT 2", (key, key, key)).fetchall()
        if longer:
            # itself the end of stored titles (调解仲裁法 of 劳动争议调解仲裁法): a short title, not
            # words leading into a shorter one; it names that title only if it is the only one
            return longer[0][0] if len(longer) == 1 else ""
        row = self.conn.execute(
            "SELECT key FROM documents WHERE length(key) >= 2 AND length(key) < length(?) "
            "AND substr(?, -length(key)) = key ORDER BY length(key) DESC LIMIT 1", (key, key)).fetchone()
        return row[0] if row and key[-len(row[0]) - 1] not in PLACE_ENDS else ""

    def _resolve(self, version_id: int, target_key: str, no: int, suffix: int, loose: bool = False) -> int | None:
        """The article a reference names: in the citing version for the document itself, else in the
        version in force (or the newest) of the document with that title key (`document_key`)."""
        if target_key:
            target_key = self.document_key(target_key, loose)
            if not target_key:
                return None
        if not target_key:
            row = self.conn.execute("SELECT id FROM articles WHERE version_id=? AND no=? AND suffix=? "
                                    "AND kind='article' LIMIT 1", (version_id, no, suffix)).fetchone()
        else:
            row = self.conn.execute("""
                SELECT a.id FROM articles a JOIN versions v ON v.id = a.version_id JOIN documents d ON d.id = v.document_id
                WHERE d.key=? AND a.no=? AND a.suffix=? AND a.kind='article'
                ORDER BY v.status != 'current', v.version_date DESC LIMIT 1""", (target_key, no, suffix)).fetchone()
        return row[0] if row else None

    def references(self, article_id: int) -> list[StoredReference]:
        """What an article cites, in text order, each resolved to an article where one answers."""
        return self._references("r.article_id=?", article_id)

    def version_references(self, version_id: int) -> dict[int, list[StoredReference]]:
        """What each article of a version cites (article id → references in text order)."""
        out: dict[int, list[StoredReference]] = {}
        for ref in self._references("a.version_id=?", version_id):
            out.setdefault(ref.article_id, []).append(ref)
        return out

    def _references(self, where: str, value: int) -> list[StoredReference]:
        rows = self.conn.execute(f"""
            SELECT r.article_id, r.span_start, r.span_end, r.target_key, r.target_title, r.no, r.suffix,
                   r.paragraph, r.item, a.version_id, r.loose
            FROM article_refs r JOIN articles a ON a.id = r.article_id WHERE {where}
            ORDER BY r.article_id, r.span_start""", (value,)).fetchall()
        resolved: dict[tuple, int | None] = {}
        out = []
        for r in rows:
            key = (r[9], r[3], r[5], r[6], bool(r[10]))
            if key not in resolved:
                resolved[key] = self._resolve(*key)
            ref = StoredReference(*r[:9], resolved[key])
            ending = self.document_key(ref.target_key, True) if r[10] and ref.target_id is not None else ""
            if ending and ending != ref.target_key and ref.target_title.endswith(ending):
                # 属于刑法第五十条: the link starts where the name it ends with does
                ref = replace(ref, start=ref.start + len(ref.target_title) - len(ending), target_key=ending,
                              target_title=ending)
            out.append(ref)
        return out

    def cited_by(self, article_id: int) -> list[tuple[StoredArticle, StoredReference]]:
        """The articles that cite this one, with the reference: in its own version (本法第N条, 前款 …),
        then in other documents (《信访工作条例》第二十二条 in a local regulation), reading order. An
        article inside a range (第十一条 of 第十条至第十二条) is cited by the reference to its end."""
        target = self.article(article_id)
        if target is None or target.no is None:
            return []
        rows = [r[:9] for r in self.conn.execute("""
            SELECT r.article_id, r.span_start, r.span_end, r.target_key, r.target_title, r.no, r.suffix,
                   r.paragraph, r.item, r.loose
            FROM article_refs r JOIN articles a ON a.id = r.article_id
            WHERE ((r.no = :no AND r.suffix = :suffix)
                   OR (r.range_from IS NOT NULL AND (r.range_from < :no OR (r.range_from = :no AND :suffix > 0))
                       AND (:no < r.no OR (:no = r.no AND :suffix < r.suffix))))
              AND ((r.target_key = '' AND a.version_id = :version AND a.id != :id)
                   OR r.target_key = :key
                   OR (r.loose = 1 AND substr(r.target_key, -length(:key)) = :key))
            ORDER BY r.target_key != '', a.version_id, a.seq, r.span_start""",
            {"no": target.no, "suffix": target.suffix, "version": target.version_id, "id": article_id,
             "key": target.doc_key})
            if r[3] in ("", target.doc_key) or self.document_key(r[3], True) == target.doc_key]
        citing = {a.id: a for a in self.articles_by_ids(sorted({r[0] for r in rows}))}
        return [(citing[r[0]], StoredReference(*r, article_id)) for r in rows if r[0] in citing]

    def definitions(self, version_id: int) -> list[StoredDefinition]:
        """The terms a version defines, in reading order."""
        rows = self.conn.execute("""
            SELECT d.article_id, d.term, d.definition FROM definitions d JOIN articles a ON a.id = d.article_id
            JOIN files f ON f.id = a.file_id WHERE a.version_id=? ORDER BY f.part_order, f.id, a.seq, d.span_start""",
            (version_id,)).fetchall()
        return [StoredDefinition(*r) for r in rows]

    def link_counts(self) -> dict[str, int]:
        """References stored, those resolving to a stored article now, and definitions."""
        total = resolved = 0
        rows = self.conn.execute("SELECT a.version_id, r.target_key, r.no, r.suffix, r.loose, COUNT(*) "
                                 "FROM article_refs r JOIN articles a ON a.id = r.article_id GROUP BY 1, 2, 3, 4, 5")
        for version_id, key, no, suffix, loose, count in rows:
            total += count
            resolved += count * (self._resolve(version_id, key, no, suffix, bool(loose)) is not None)
        (definitions,) = self.conn.execute("SELECT COUNT(*) FROM definitions").fetchone()
        return {"references": total, "resolved": resolved, "definitions": definitions}

    def failures(self) -> list[StoredFailure]:
        return [StoredFailure(*r) for r in self.conn.execute(
            "SELECT path, kind, reason, message, at FROM failures ORDER BY path")]

    def stats(self) -> dict[str, dict[str, int]]:
        """Counts of documents by level, region and status of their newest version."""
        out: dict[str, dict[str, int]] = {"level": {}, "region": {}, "status": {}}
        for d in self.documents():
            for field, value in (("level", d.level), ("region", d.region), ("status", d.status)):
                out[field][value] = out[field].get(value, 0) + 1
        return out


@contextmanager
def open_store(kb_dir: str | Path) -> Iterator[Store]:
    """Open a knowledge base for reading.

    Raises:
        StoreError: if there is no knowledge base in `kb_dir` or it has another schema version.
    """
    kb_dir = Path(kb_dir)
    db = kb_dir / DB_NAME
    if not db.is_file():
        raise StoreError(f"{kb_dir}: no knowledge base here; create one with: python -m ingest corpus/ --kb {kb_dir}")
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if version and int(version[0]) in _MIGRATIONS:     # an older store: upgrade it in place, once
            conn.close()
            writable = _connect(db)
            try:
                migrate(writable, kb_dir)
            finally:
                writable.close()
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30, check_same_thread=False)
            version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.Error as e:
        raise StoreError(f"{db}: cannot read the knowledge base ({e})") from None
    if not version or int(version[0]) != SCHEMA_VERSION:
        conn.close()
        raise StoreError(f"{db}: knowledge base schema {version[0] if version else '?'} is not {SCHEMA_VERSION}; "
                         f"re-ingest into a new --kb folder")
    try:
        yield Store(conn, kb_dir)
    finally:
        conn.close()
