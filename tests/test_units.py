"""The units table of a snapshot (index/units.py), on units written into tmp_path."""
import pytest

from index.units import UnitTable, save_units
from ingest.store import StoredArticle
from kb.errors import SearchIndexError


def unit(id: int, path: tuple[str, ...], text: str) -> StoredArticle:
    return StoredArticle(id, "article", id, 0, f"第{id}条", 0, path, (text,), text, 1, 1, "某某条例", "某某条例",
                         "（2020年修订）", "地方性法规", "四川省", "current", "2020-01-01", "某某人大常委会", "",
                         "2020-01-01", "2020-03-01", "a.md", "a.md")


def test_headed_texts_are_what_whole_units_hold(tmp_path):
    # the second stage reads these three columns of its 200 candidates instead of whole units
    units = [unit(1, ("第一章 总则",), "为了规范信访工作，制定本条例。"), unit(2, ("第二章 受理", "第一节 登记"), "应当在十五日内书面告知。"),
             unit(3, (), "本条例自公布之日起施行。")]
    save_units(tmp_path, units)
    table = UnitTable(tmp_path, "python -m index build")
    whole = table.by_ids([3, 1, 2, 404])
    assert sorted(whole) == [1, 2, 3] and whole[2] == units[1]
    assert table.headed_texts([3, 1, 2, 404]) == {u.id: ((u.subtitle, *u.path), u.text) for u in units}
    assert table.headed_texts(list(range(1, 2001))).keys() == {1, 2, 3}      # more ids than SQLite binds at once


def test_a_snapshot_without_units_table_says_how_to_rebuild(tmp_path):
    with pytest.raises(SearchIndexError, match="python -m index build"):
        UnitTable(tmp_path, "python -m index build")
