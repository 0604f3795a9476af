"""The SQLite store on hand-made records: versions, statuses, duplicates, atomicity, reads."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ingest import store as store_module
from ingest.records import Article, Document, DocumentMeta, Node, Section
from ingest.store import StoreWriter, derive_statuses, open_store
from kb.chinese import article_label
from kb.errors import StoreError


def make_doc(title: str, version_date: str, n: int = 3, *, subtitle: str = "", first: int = 1,
             region: str = "全国", effective: str = "", status: str = "", source: str = "x.md") -> Document:
    chapter = "第一章 总则"
    articles = tuple(Article(no=i, suffix=0, label=article_label(i), path=(chapter,),
                             paragraphs=(f"{title}第{i}条的内容。",), text=f"{title}第{i}条的内容。")
                     for i in range(first, first + n))
    meta = DocumentMeta(title=title, subtitle=subtitle, level="行政法规", region=region,
                        version_date=version_date, effective=effective or version_date, status=status)
    return Document(source=source, meta=meta, nodes=(Node("章", chapter),), articles=articles)


def test_derive_statuses_newest_in_force_is_current():
    got = derive_statuses([(1, "2005-01-10", "", "2005-05-01"), (2, "2022-02-25", "", "2022-05-01")], "2026-01-01")
    assert got == {1: "superseded", 2: "current"}


def test_derive_statuses_future_version_is_pending_and_previous_stays_current():
    got = derive_statuses([(1, "2017-09-01", "", "2018-01-01"), (2, "2023-09-01", "", "2027-01-01")], "2026-01-01")
    assert got == {1: "current", 2: "pending"}


def test_derive_statuses_repealed_newest_repeals_all():
    got = derive_statuses([(1, "2000-01-01", "", ""), (2, "2010-01-01", "repealed", "")], "2026-01-01")
    assert got == {1: "repealed", 2: "repealed"}


def test_versions_of_one_title_are_one_document(tmp_path):
    w = StoreWriter(tmp_path)
    with w.transaction():
        assert w.put_file("/c/a2017.md", "a2017.md", "h1", "p", make_doc("中华人民共和国行政复议法", "2017-09-01")) == "added"
        assert w.put_file("/c/a2023.md", "a2023.md", "h2", "p", make_doc("中华人民共和国行政复议法", "2023-09-01", 5)) == "added"
    w.close()
    with open_store(tmp_path) as s:
        docs = s.documents()
        assert len(docs) == 1 and docs[0].key == "行政复议法" and docs[0].versions == 2 and docs[0].articles == 5
        versions = s.versions(docs[0].id)
        assert [(v.version_date, v.status) for v in versions] == [("2023-09-01", "current"), ("2017-09-01", "superseded")]
        hits = s.find_articles("行政复议法", 2)
        assert [h.version_date for h in hits] == ["2023-09-01", "2017-09-01"]
        assert hits[0].status == "current" and hits[0].label == "第二条"


def test_parts_share_a_version_and_duplicates_are_not_stored_twice(tmp_path):
    w = StoreWriter(tmp_path)
    with w.transaction():
        w.put_file("/c/p1.md", "p1.md", "h1", "p", make_doc("某法典", "2020-05-28", 3, subtitle="总则"))
        w.put_file("/c/p2.md", "p2.md", "h2", "p", make_doc("某法典", "2020-05-28", 3, subtitle="物权编", first=4))
        assert w.put_file("/c/p1.pdf", "p1.pdf", "h3", "p", make_doc("某法典", "2020-05-28", 3, subtitle="总则")) == "duplicate"
    with open_store(tmp_path) as s:
        (doc,) = s.documents()
        (version,) = s.versions(doc.id)
        assert version.articles == 6
        units = s.version_articles(version.id)
        assert [a.no for a in units] == [1, 2, 3, 4, 5, 6]
        assert {a.subtitle for a in units} == {"总则", "物权编"}
    # removing the primary forgets its duplicate too, so a later run ingests the duplicate instead
    with w.transaction():
        w.remove_file("/c/p1.md")
    assert set(w.file_states()) == {"/c/p2.md"}
    w.close()


def test_replacing_a_file_and_removing_the_last_file_of_a_document(tmp_path):
    w = StoreWriter(tmp_path)
    with w.transaction():
        w.put_file("/c/a.md", "a.md", "h1", "p", make_doc("甲条例", "2001-01-01", 3))
    with w.transaction():
        assert w.put_file("/c/a.md", "a.md", "h2", "p", make_doc("甲条例", "2001-01-01", 4)) == "updated"
    with open_store(tmp_path) as s:
        assert s.count_articles() == 4
        gen = s.generation()
    with w.transaction():
        w.remove_file("/c/a.md")
    w.close()
    with open_store(tmp_path) as s:
        assert s.documents() == [] and s.count_articles() == 0 and s.generation() == gen + 1


def test_interrupted_transaction_leaves_previous_state(tmp_path):
    w = StoreWriter(tmp_path)
    with w.transaction():
        w.put_file("/c/a.md", "a.md", "h1", "p", make_doc("甲条例", "2001-01-01", 3))
    with pytest.raises(KeyboardInterrupt):
        with w.transaction():
            w.put_file("/c/a.md", "a.md", "h2", "p", make_doc("甲条例", "2001-01-01", 9))
            w.put_file("/c/b.md", "b.md", "h3", "p", make_doc("乙条例", "2002-01-01", 2))
            raise KeyboardInterrupt
    w.close()
    with open_store(tmp_path) as s:
        assert [d.title for d in s.documents()] == ["甲条例"] and s.count_articles() == 3


def test_reads_neighbours_nodes_sections_and_failures(tmp_path):
    doc = make_doc("甲条例", "2001-01-01", 5)
    outline = Document(source="y.md", meta=DocumentMeta(title="关于某事的意见", doc_type="意见"),
                       sections=(Section("一、总体要求", 1, (), "要求。"), Section("（一）指导思想", 2, ("一、总体要求",), "思想。")))
    w = StoreWriter(tmp_path)
    with w.transaction():
        w.put_file("/c/a.md", "a.md", "h1", "p", doc)
        w.put_file("/c/y.md", "y.md", "h2", "p", outline)
        w.record_failure("/c/bad.pdf", "no_text_layer", "scanned", "no text layer: OCR is needed")
    w.close()
    with open_store(tmp_path) as s:
        third = next(a for a in s.iter_articles() if a.no == 3)
        before, after = s.neighbours(third.id, before=2, after=5)
        assert [a.no for a in before] == [1, 2] and [a.no for a in after] == [4, 5]
        (node,) = s.version_nodes(third.version_id)
        assert node.heading == "第一章 总则" and s.article(node.first_article_id).no == 1
        sections = [a for a in s.iter_articles() if a.kind == "section"]
        assert [(a.label, a.level, a.path) for a in sections] == [("一、总体要求", 1, ()), ("（一）指导思想", 2, ("一、总体要求",))]
        assert [f.path for f in s.failures()] == ["/c/bad.pdf"]
        assert s.stats()["level"] == {"行政法规": 1, "": 1}
        ids = [third.id, 999999, before[0].id]
        assert [a.no for a in s.articles_by_ids(ids)] == [3, 1]


def test_open_store_without_knowledge_base_says_how_to_create_it(tmp_path):
    with pytest.raises(StoreError, match="python -m ingest"):
        with open_store(tmp_path / "nothing"):
            pass


def test_a_text_that_repeals_another_marks_it_repealed_until_the_repealer_goes(tmp_path):
    import dataclasses
    old = make_doc("某某条例", "1995-10-28")
    new = make_doc("某某工作条例", "2022-02-25")
    new = dataclasses.replace(new, meta=dataclasses.replace(new.meta, repeals=("某某条例",)))
    w = StoreWriter(tmp_path)
    with w.transaction():
        w.put_file("/c/old.md", "old.md", "h1", "p", old)
    with w.transaction():
        w.put_file("/c/new.md", "new.md", "h2", "p", new)
    with open_store(tmp_path) as s:
        by_title = {d.title: d for d in s.documents()}
        assert by_title["某某条例"].status == "repealed" and by_title["某某工作条例"].status == "current"
        assert [t for _, t, _ in s.repealed_by(by_title["某某条例"].id)] == ["某某工作条例"]
        assert [t for _, t, _ in s.repeals(by_title["某某工作条例"].id)] == ["某某条例"]
    with w.transaction():
        w.remove_file("/c/new.md")
    w.close()
    with open_store(tmp_path) as s:
        assert [d.status for d in s.documents()] == ["current"]


def test_titles_declared_repealed_and_not_held_are_listed(tmp_path):
    import dataclasses
    new = make_doc("某某工作条例", "2022-02-25")
    new = dataclasses.replace(new, meta=dataclasses.replace(new.meta, repeals=("某某条例", "某某暂行办法")))
    w = StoreWriter(tmp_path)
    with w.transaction():
        w.put_file("/c/old.md", "old.md", "h1", "p", make_doc("某某条例", "1995-10-28"))
        w.put_file("/c/new.md", "new.md", "h2", "p", new)
    w.close()
    with open_store(tmp_path) as s:
        assert [(key, by) for key, _, by in s.repealed_not_held()] == [("某某暂行办法", "某某工作条例")]


def test_derive_statuses_repeal_by_another_text_spares_a_later_reenactment():
    versions = [(1, "1995-10-28", "", ""), (2, "2005-01-10", "", "")]
    assert derive_statuses(versions, "2026-01-01", repealed_since="2022-05-01") == {1: "repealed", 2: "repealed"}
    assert derive_statuses(versions, "2026-01-01", repealed_since="2000-01-01") == {1: "superseded", 2: "current"}
    assert derive_statuses(versions, "2020-01-01", repealed_since="2022-05-01") == {1: "superseded", 2: "current"}


def _article_ids(kb) -> set[int]:
    with open_store(kb) as s:
        return {a.id for a in s.iter_articles()}


def test_ids_of_replaced_rows_are_never_reused(tmp_path):
    w = StoreWriter(tmp_path)
    with w.transaction():
        w.put_file("/c/a.md", "a.md", "h1", "p", make_doc("某市信访条例", "2020-01-01", 5))
    first = _article_ids(tmp_path)
    with w.transaction():
        w.put_file("/c/a.md", "a.md", "h2", "p", make_doc("某市信访条例", "2020-01-01", 5, first=2))
    w.close()
    assert not first & _article_ids(tmp_path)


def test_a_store_made_before_autoincrement_never_reuses_ids_either(tmp_path):
    legacy = sqlite3.connect(tmp_path / store_module.DB_NAME)
    legacy.executescript(store_module._SCHEMA.replace("AUTOINCREMENT", ""))
    legacy.execute("INSERT INTO meta VALUES ('schema_version', ?), ('generation', '0')",
                   (str(store_module.SCHEMA_VERSION),))
    legacy.commit()
    legacy.close()
    w = StoreWriter(tmp_path)
    with w.transaction():
        w.put_file("/c/a.md", "a.md", "h1", "p", make_doc("某市信访条例", "2020-01-01", 5))
    first = _article_ids(tmp_path)
    with w.transaction():
        w.remove_file("/c/a.md")
    w.close()
    w = StoreWriter(tmp_path)                # a later run, after the rows are gone
    with w.transaction():
        w.put_file("/c/a.md", "a.md", "h2", "p", make_doc("某市信访条例", "2020-01-01", 5, first=2))
    w.close()
    assert _article_ids(tmp_path) and not first & _article_ids(tmp_path)


def test_an_amended_version_says_which_amendment_made_it(tmp_path):
    # a card of the 2017 text of an amended law must not show only the original law's 施行 date
    from ingest import open_store, run
    from ui.common import card_meta
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "某某法(2017-06-27).md").write_text(
        "# 某某法\n\n1989年4月4日 第七届全国人民代表大会第二次会议通过\n"
        "2014年11月1日 第十二届全国人民代表大会常务委员会第十一次会议第一次修正\n"
        "2017年6月27日 第十二届全国人民代表大会常务委员会第二十八次会议第二次修正\n"
        "1990年10月1日 施行\n\n<!-- INFO END -->\n\n第一条 为了规范某某工作，制定本法。\n", encoding="utf-8")
    (corpus / "另一法.md").write_text("# 另一法\n\n2020年1月1日 施行\n\n<!-- INFO END -->\n\n第一条 为了规范另一工作，制定本法。\n",
                                   encoding="utf-8")
    run([corpus], tmp_path / "kb")
    with open_store(tmp_path / "kb") as store:
        every = list(store.iter_articles())
        # the read of every article (each version's amendment worked out once) gives what reading
        # them one by one gives, by id
        assert every == store.articles_by_ids(sorted(a.id for a in every)) == [store.article(a.id) for a in every]
    by_title = {a.title: a for a in every}
    amended, original = by_title["某某法"], by_title["另一法"]
    assert (amended.version_event, amended.version_event_date) == ("amended", "2017-06-27")
    assert "2017-06-27 修正" in card_meta(amended) and "1990-10-01 施行" in card_meta(amended)
    assert (original.version_event, original.version_event_date) == ("", "")
    assert "修正" not in card_meta(original)


def test_derive_statuses_successor_of_another_title_supersedes_every_version():
    versions = [(1, "1995-10-28", "", ""), (2, "2005-01-10", "", "")]
    assert derive_statuses(versions, "2026-01-01", superseded_since="2022-05-01") == {1: "superseded", 2: "superseded"}
    assert derive_statuses(versions, "2020-01-01", superseded_since="2022-05-01") == {1: "superseded", 2: "current"}
    assert derive_statuses(versions, "2026-01-01", superseded_since="2000-01-01") == {1: "superseded", 2: "current"}
    assert derive_statuses([(1, "2005-01-10", "current", "")], "2026-01-01", superseded_since="2022-05-01") \
        == {1: "current"}                                            # a declared status still wins


def test_parse_successors_reads_pairs_and_names_a_bad_line():
    from ingest.successors import parse_successors
    listed = parse_successors("# comment\n\n信访条例\t信访工作条例\treason\n《中华人民共和国甲法》\t乙法\t\n丙\t丙\tsame\n")
    assert listed.by_replaced == {"信访条例": frozenset({"信访工作条例"}), "甲法": frozenset({"乙法"})}
    assert listed.replaced_by({"信访工作条例", "其他"}) == {"信访条例"}
    assert parse_successors("信访条例\t信访工作条例\tother words").fingerprint \
        == parse_successors("信访条例\t信访工作条例\treason").fingerprint
    with pytest.raises(ValueError, match="line 2"):
        parse_successors("甲\t乙\n只有一个标题\n")


def test_a_successor_of_another_title_supersedes_its_predecessor_while_it_is_stored(tmp_path):
    # the bundled list names 《信访工作条例》 (2022) as the successor of 《信访条例》 (2005)
    old = make_doc("信访条例", "2005-01-10", effective="2005-05-01", source="old.md")
    local = make_doc("某省信访条例", "2016-07-29", region="某省", source="local.md")
    new = make_doc("信访工作条例", "2022-02-25", effective="2022-05-01", source="new.md")
    w = StoreWriter(tmp_path)
    with w.transaction():
        w.put_file("/c/old.md", "old.md", "h1", "p", old)
        w.put_file("/c/local.md", "local.md", "h3", "p", local)
    with open_store(tmp_path) as s:
        assert {d.title: d.status for d in s.documents()} == {"信访条例": "current", "某省信访条例": "current"}
    with w.transaction():
        w.put_file("/c/new.md", "new.md", "h2", "p", new)
    with open_store(tmp_path) as s:
        assert {d.title: d.status for d in s.documents()} == {
            "信访条例": "superseded", "某省信访条例": "current", "信访工作条例": "current"}
    with w.transaction():
        w.remove_file("/c/new.md")
    w.close()
    with open_store(tmp_path) as s:
        assert {d.title: d.status for d in s.documents()} == {"信访条例": "current", "某省信访条例": "current"}


def test_a_changed_successors_list_re_derives_a_store_written_before(tmp_path, monkeypatch):
    from ingest.successors import parse_successors
    monkeypatch.setattr(store_module, "load_successors", lambda: parse_successors(""))
    w = StoreWriter(tmp_path)
    with w.transaction():
        w.put_file("/c/old.md", "old.md", "h1", "p", make_doc("甲条例", "2005-01-10", source="old.md"))
        w.put_file("/c/new.md", "new.md", "h2", "p", make_doc("乙条例", "2022-02-25", source="new.md"))
    w.close()
    with open_store(tmp_path) as s:
        generation = s.generation()
        assert [d.status for d in s.documents()] == ["current", "current"]
    monkeypatch.setattr(store_module, "load_successors", lambda: parse_successors("甲条例\t乙条例\tlisted later"))
    StoreWriter(tmp_path).close()                    # opening a writer applies the new list
    with open_store(tmp_path) as s:
        assert {d.title: d.status for d in s.documents()} == {"甲条例": "superseded", "乙条例": "current"}
        assert s.generation() == generation + 1      # so the index is rebuilt with the new status
    monkeypatch.setattr(store_module, "load_successors", lambda: parse_successors(""))
    StoreWriter(tmp_path).close()                    # and a pair taken off the list is undone
    with open_store(tmp_path) as s:
        assert [d.status for d in s.documents()] == ["current", "current"]


def older_store(kb: Path, script: str) -> None:
    """A store of one document at `kb`, then made as an older program left it by `script` (SQL)."""
    w = StoreWriter(kb)
    with w.transaction():
        w.put_file("/c/a.md", "a.md", "h1", "p", make_doc("某市信访条例", "2020-01-01", 3))
    w.close()
    old = sqlite3.connect(kb / store_module.DB_NAME)
    old.executescript(script)
    old.close()


def test_a_store_of_schema_1_is_upgraded_in_place_when_read_or_written(tmp_path):
    # knowledge bases made before OCR lack the source kind of files and the doubts of articles
    for kb in (tmp_path / "read", tmp_path / "write"):
        older_store(kb, "ALTER TABLE files DROP COLUMN source_kind; ALTER TABLE files DROP COLUMN ocr_confidence;"
                        "ALTER TABLE articles DROP COLUMN doubts;"
                        "UPDATE meta SET value='1' WHERE key='schema_version';")
    with open_store(tmp_path / "read") as store:
        articles = list(store.iter_articles())
        assert len(articles) == 3 and {(a.source_kind, a.ocr_confidence) for a in articles} == {("text", None)}
        assert store.version_doubts(articles[0].version_id) == []
    w = StoreWriter(tmp_path / "write")
    with w.transaction():
        w.put_file("/c/b.md", "b.md", "h2", "p", make_doc("某市调解条例", "2021-01-01", 2))
    w.close()
    with open_store(tmp_path / "write") as store:
        assert store.count_articles() == 5
        assert store._meta("schema_version") == str(store_module.SCHEMA_VERSION)


def test_a_store_last_written_before_references_and_time_limits_gets_their_tables_when_read(tmp_path):
    # Such a store (schema 1, then migrated to 2 by a reader) had no `deadlines`, `article_refs`,
    # `definitions`: the app failed on its clause cards with "no such table: article_refs".
    older_store(tmp_path, "DROP TABLE deadlines; DROP TABLE article_refs; DROP TABLE definitions;"
                          "UPDATE meta SET value='2' WHERE key='schema_version';")
    with open_store(tmp_path) as store:
        article = next(store.iter_articles())
        assert store.references(article.id) == [] and store.version_references(article.version_id) == {}
        assert store._meta("schema_version") == str(store_module.SCHEMA_VERSION) == "4"


def test_a_store_of_schema_3_gets_the_range_column_of_references(tmp_path):
    # stores made before references kept a range's start (第十条至第十二条) lack `range_from`
    older_store(tmp_path, "ALTER TABLE article_refs RENAME TO refs; CREATE TABLE article_refs AS SELECT article_id, "
                          "span_start, span_end, target_key, target_title, no, suffix, paragraph, item, loose "
                          "FROM refs; DROP TABLE refs; UPDATE meta SET value='3' WHERE key='schema_version';")
    with open_store(tmp_path) as store:
        article = next(store.iter_articles())
        assert store.cited_by(article.id) == []
        assert store._meta("schema_version") == str(store_module.SCHEMA_VERSION)
        assert "range_from" in {row[1] for row in store.conn.execute("PRAGMA table_info(article_refs)")}
