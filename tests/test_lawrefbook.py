"""Integration: the whole LawRefBook corpus (../shared) ingests with zero failures and known facts hold."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest import run
from ingest.store import open_store

LAWREFBOOK = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "lawrefbook"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not LAWREFBOOK.is_dir(), reason=f"shared corpus not found at {LAWREFBOOK}")]


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    kb = tmp_path_factory.mktemp("lawrefbook-kb")
    skipped = []
    summary = run([LAWREFBOOK], kb, on_file=lambda o: o.status == "skipped" and skipped.append(o.path))
    return kb, summary, skipped


def test_whole_corpus_ingests_without_failures(kb):
    _, summary, skipped = kb
    assert summary.failed == 0, summary.failures[:5]
    assert sorted(Path(p).name for p in skipped) == ["_index.md"] * 22
    assert summary.articles > 145_000


def test_every_title_is_the_first_heading_and_articles_run_in_sequence(kb):
    """Read from the store the fixture filled, not by parsing the 3,445 files a second time: each
    file's version title is its first '#' heading, and article numbers run in sequence in all but
    a few files (source gaps, reported in the file's notes)."""
    path, _, _ = kb
    with open_store(path) as s:
        rows = s.conn.execute("SELECT f.path, v.title, f.notes FROM files f JOIN versions v ON v.id = f.version_id").fetchall()
    assert len(rows) == 3_445 - 22          # every file but the 22 _index.md
    unordered = []
    for file, title, notes in rows:
        first_h1 = next(ln for ln in Path(file).read_text(encoding="utf-8").splitlines() if ln.startswith("# "))
        assert title == " ".join(first_h1[2:].split()), file
        if any("out of sequence" in note for note in json.loads(notes)):
            unordered.append(file)
    assert len(unordered) <= 20, unordered


def test_no_change_rerun_touches_nothing(kb):
    path, first, _ = kb
    again = run([LAWREFBOOK], path)
    assert (again.added, again.updated, again.failed) == (0, 0, 0)
    assert again.articles == first.articles


def _document(store, key):
    (doc,) = [d for d in store.documents() if d.key == key and d.region == "全国"]
    return doc, store.versions(doc.id)


def test_known_facts(kb):
    path, _, _ = kb
    with open_store(path) as s:
        doc, (version,) = _document(s, "信访工作条例")
        assert version.articles == 50 and version.version_date == "2022-02-25"
        chapters = [n.heading for n in s.version_nodes(version.id) if n.kind == "章"]
        assert len(chapters) == 6 and chapters[0] == "第一章 总则"

        doc, (code,) = _document(s, "民法典")
        units = s.version_articles(code.id)
        assert len(units) == 1260 and [a.no for a in units] == list(range(1, 1261))
        assert doc.title == "中华人民共和国民法典" and len({a.subtitle for a in units}) >= 7

        (article,) = s.find_articles("刑法", 120, 1)
        assert article.label == "第一百二十条之一" and article.text.startswith("资助恐怖活动组织")

        doc, versions = _document(s, "行政复议法")
        assert [(v.version_date, v.status) for v in versions] == [("2023-09-01", "current"),
                                                                   ("2017-09-01", "superseded")]

        (local,) = [d for d in s.documents() if d.title == "宁波市人民调解条例"]
        assert local.level == "地方性法规" and local.region == "浙江省宁波市"
