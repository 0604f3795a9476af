"""The units table of an index snapshot: what each indexed unit shows (text, label, title,
status, source…), written into the build folder as `units.sqlite`.

A searcher shows its hits from here, never from the live store: while a writer changes the
store (an article re-ingested, a file removed), the snapshot still shows exactly what it
indexed, and a search never shows a text its index row does not stand for.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path

from ingest.store import StoredArticle, stored_article
from kb.errors import SearchIndexError

UNITS = "units.sqlite"
_COLUMNS = [f.name for f in fields(StoredArticle)]


def save_units(folder: Path, rows: Iterable[tuple]) -> None:
    """Write the units table of a snapshot into `folder`: the rows as `Store.article_rows` gives
    them. Writing them as read, rather than turning units back into rows, took the table of the
    whole corpus from 2.1–2.3 s to 1.1 s.

    Raises:
        OSError, sqlite3.Error: if it cannot be written.
    """
    conn = sqlite3.connect(folder / UNITS)
    try:
        conn.execute("PRAGMA journal_mode=OFF")     # a new file in a build folder nobody reads yet
        conn.execute(f"CREATE TABLE units (id INTEGER PRIMARY KEY, {', '.join(_COLUMNS[1:])})")
        conn.executemany(f"INSERT INTO units VALUES ({','.join('?' * len(_COLUMNS))})", rows)
        conn.commit()
    finally:
        conn.close()


class UnitTable:
    """Read access to a snapshot's units table. The open file stays readable even when a later
    writer removes the folder, so a searcher keeps its snapshot for as long as it lives."""

    def __init__(self, folder: Path, rebuild_hint: str) -> None:
        """Raises:
            SearchIndexError: if the table is missing or unreadable."""
        path = folder / UNITS
        if not path.is_file():
            raise SearchIndexError(f"{folder}: the index has no units table; rebuild it: {rebuild_hint}")
        try:
            self._conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            self._conn.execute("SELECT id FROM units LIMIT 1").fetchall()
        except sqlite3.Error as err:
            raise SearchIndexError(f"{path}: unreadable ({err}); rebuild it: {rebuild_hint}") from None
        self._guard = threading.Lock()      # one connection, shared by the app's threads
        self._by_doc_number: dict[str, list[int]] | None = None

    def by_ids(self, ids: Sequence[int]) -> dict[int, StoredArticle]:
        """The units of the given ids that the snapshot holds, by id."""
        return {row[0]: stored_article(row) for row in self._rows("*", ids)}

    def first_units_by_doc_number(self) -> dict[str, list[int]]:
        """文号 → the first unit of each version that carries it (read once: a whole scan of the
        table, which only questions naming a 文号 need)."""
        if self._by_doc_number is None:
            with self._guard:
                rows = self._conn.execute("SELECT doc_number, MIN(id) FROM units WHERE doc_number != '' "
                                          "GROUP BY version_id").fetchall()
            by_number: dict[str, list[int]] = {}
            for number, unit_id in rows:
                by_number.setdefault(number, []).append(unit_id)
            self._by_doc_number = by_number
        return self._by_doc_number

    def headed_texts(self, ids: Sequence[int]) -> dict[int, tuple[tuple[str, ...], str]]:
        """(subtitle and headings, text) of the units of the given ids that the snapshot holds, by
        id: what the second stage reads of its 200 candidates. Reading these columns instead of
        whole units (every field, two of them JSON) took 200 random units of the whole corpus from
        12.5–13.5 ms to 1.7–1.8 ms (one machine, two other jobs running)."""
        return {row[0]: ((row[1], *json.loads(row[2])), row[3]) for row in self._rows("id, subtitle, path, text", ids)}

    def _rows(self, columns: str, ids: Sequence[int]) -> list[tuple]:
        ids = [int(i) for i in ids]
        rows: list[tuple] = []
        with self._guard:
            for start in range(0, len(ids), 900):   # SQLite's bound-parameter limit
                chunk = ids[start:start + 900]
                marks = ",".join("?" * len(chunk))
                rows += self._conn.execute(f"SELECT {columns} FROM units WHERE id IN ({marks})", chunk).fetchall()
        return rows
