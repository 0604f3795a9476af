"""The units table of a snapshot (index/units.py), on units written into tmp_path."""
import json
from dataclasses import astuple

import pytest

from index.units import UnitTable, save_units
from ingest.store import StoredArticle
from kb.errors import SearchIndexError


def unit(id: int, path: tuple[str, ...], text: str) -> StoredArticle:
    return StoredArticle(id, "article", id, 0, f"第{id}条", 0, path, (text,), text, 1, 1, "某某条例", "某某条例",
                         "（2020年修订）", "地方性法规", "四川省", "current", "2020-01-01", "某某人大常委会", "",
                         "2020-01-01", "2020-03-01", "a.md", "a.md")


def row(unit: StoredArticle) -> tuple:
    """The unit as `Store.article_rows` gives it."""
    values = list(astuple(unit))
    values[6], values[7] = json.dumps(values[6], ensure_ascii=False), json.dumps(values[7], ensure_ascii=False)
    return tuple(values)


def test_headed_texts_are_what_whole_units_hold(tmp_path):
    # the second stage reads these three columns of its 200 candidates instead of whole units
    units = [unit(1, ("第一章 总则",), "为了规范信访工作，制定本条例。"), unit(2, ("第二章 受理", "第一节 登记"), "应当在十五日内书面告知。"),
             unit(3, (), "本条例自公布之日起施行。")]
    save_units(tmp_path, map(row, units))
    table = UnitTable(tmp_path, "python -m index build")
    whole = table.by_ids([3, 1, 2, 404])
    assert sorted(whole) == [1, 2, 3] and whole[2] == units[1]
    assert table.headed_texts([3, 1, 2, 404]) == {u.id: ((u.subtitle, *u.path), u.text) for u in units}
    assert table.headed_texts(list(range(1, 2001))).keys() == {1, 2, 3}      # more ids than SQLite binds at once


def test_a_snapshot_without_units_table_says_how_to_rebuild(tmp_path):
    with pytest.raises(SearchIndexError, match="python -m index build"):
        UnitTable(tmp_path, "python -m index build")


def test_a_units_table_written_before_the_last_fields_reads_them_as_their_defaults(tmp_path):
    import sqlite3
    whole = unit(7, ("第一章 总则",), "本条例自公布之日起施行。")
    short = row(whole)[:24]                   # no version event, source kind nor OCR confidence yet
    conn = sqlite3.connect(tmp_path / "units.sqlite")
    conn.execute(f"CREATE TABLE units (id INTEGER PRIMARY KEY, {', '.join(f'c{i}' for i in range(1, 24))})")
    conn.execute(f"INSERT INTO units VALUES ({','.join('?' * 24)})", short)
    conn.commit()
    conn.close()
    read = UnitTable(tmp_path, "python -m index build").by_ids([7])[7]
    assert read == whole and (read.source_kind, read.ocr_confidence, read.version_event) == ("text", None, "")
