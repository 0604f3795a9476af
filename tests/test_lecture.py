"""Lecture packs: pure operations, JSON files under <kb>/packs, Markdown and DOCX export."""
from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import replace

import pytest

from ingest.records import Article, Document, DocumentMeta, Node, Section
from ingest.store import StoreWriter, open_store
from kb.chinese import article_label
from kb.errors import PackError
from lecture import (add_clause, add_clauses, add_to_saved_pack, changed_since_added, citation, clause_from_article,
                     create_pack, delete_pack, edit_clause, list_packs, load_pack, mark_terms, move_clause, new_pack, pack_handout, remove_clause,
                     resolve_clause, retitle, save_pack, storage, to_docx, to_markdown, update_pack)
from lecture.handout import Handout, Paragraph, Run, Table, runs_text
from lecture.linked import Link, Piece, linked_paragraphs
from lecture.storage import pack_path, safe_stem
from guards import GUARD_SECONDS, time_limit

CHAPTER = "第三章 调解程序"


def _doc(title: str, version_date: str, texts: list[str], *, region: str = "全国") -> Document:
    articles = tuple(Article(no=i, suffix=0, label=article_label(i), path=(CHAPTER,), paragraphs=(t, "第二款内容。"),
                             text=f"{t}\n第二款内容。") for i, t in enumerate(texts, start=1))
    meta = DocumentMeta(title=title, issuer="示范市人民代表大会常务委员会", doc_number="示范公告第3号",
                        level="地方性法规", region=region, version_date=version_date,
                        promulgated=version_date, effective=version_date)
    return Document(source=f"/c/{title}{version_date}.md", meta=meta, nodes=(Node("章", CHAPTER),), articles=articles)


@pytest.fixture()
def kb(tmp_path):
    """A real store: two versions of a made-up regulation and an outline-style opinion."""
    writer = StoreWriter(tmp_path / "kb")
    opinion = Document(source="/c/意见.md",
                       meta=DocumentMeta(title="关于加强示范调解工作的意见", doc_type="意见", version_date="2024-03-01"),
                       sections=(Section("一、总体要求", 1, (), "坚持调解优先。"),))
    with writer.transaction():
        writer.put_file("/c/v1.md", "v1.md", "a", "p", _doc("示范社区调解条例", "2015-01-01", ["调解应当自愿。", "调解不收费。"]))
        writer.put_file("/c/v2.md", "v2.md", "b", "p",
                        _doc("示范社区调解条例", "2023-01-01", ["调解应当自愿、合法。", "调解员应当公正。", "调解不收费。"]))
        writer.put_file("/c/o.md", "o.md", "c", "p", opinion)
    writer.close()
    return tmp_path / "kb"


def _articles(kb_dir) -> dict[tuple[str, str], object]:
    with open_store(kb_dir) as store:
        return {(a.version_date, a.label): a for a in store.iter_articles()}


def test_citation_forms():
    assert citation("信访工作条例", "第三十六条") == "《信访工作条例》第三十六条"
    assert citation("信访条例", "第十四条", status="superseded", version_date="2005-01-10") == "《信访条例》（2005年版）第十四条"
    assert citation("某意见", "一、总体要求", status="current", version_date="2024-03-01") == "《某意见》一、总体要求"
    # a title quoting another nests it in 〈〉 (it was 《…关于适用《中华人民共和国民事诉讼法》的解释》)
    assert citation("最高人民法院关于适用《中华人民共和国民事诉讼法》的解释", "第九十条") == (
        "《最高人民法院关于适用〈中华人民共和国民事诉讼法〉的解释》第九十条")


def test_add_clauses_keeps_order_and_tells_what_the_pack_held(kb):
    arts = _articles(kb)
    first, second, third = (clause_from_article(arts[("2023-01-01", label)]) for label in ("第一条", "第二条", "第三条"))
    start = add_clause(new_pack("第一讲"), second)
    pack, added, held = add_clauses(start, [third, first, second, third])
    assert [c.label for c in pack.items] == ["第二条", "第三条", "第一条"]
    assert [c.label for c in added] == ["第三条", "第一条"]
    assert [c.label for c in held] == ["第二条", "第三条"]          # collected before; cited twice
    assert [c.label for c in start.items] == ["第二条"]              # the pack given is untouched


def test_pack_operations_are_pure_and_keep_order(kb):
    arts = _articles(kb)
    first, second, third = (clause_from_article(arts[("2023-01-01", label)]) for label in ("第一条", "第二条", "第三条"))
    pack = new_pack("第一讲")
    assert pack.title == "第一讲" and pack.items == ()
    pack = add_clause(add_clause(add_clause(pack, first), second), third)
    assert add_clause(pack, first) is pack                      # no duplicates
    assert [c.label for c in pack.items] == ["第一条", "第二条", "第三条"]
    moved = move_clause(pack, 2, -1)
    assert [c.label for c in moved.items] == ["第一条", "第三条", "第二条"]
    assert [c.label for c in pack.items] == ["第一条", "第二条", "第三条"]    # original untouched
    assert move_clause(pack, 0, -5) is pack
    assert [c.label for c in move_clause(pack, 0, 10).items] == ["第二条", "第三条", "第一条"]
    edited = edit_clause(remove_clause(pack, 1), 1, heading="二、费用", note="  强调免费原则  ")
    assert [(c.label, c.heading, c.note) for c in edited.items] == [("第一条", "", ""), ("第三条", "二、费用", "强调免费原则")]
    assert retitle(edited, "社区调解讲义").title == "社区调解讲义"
    with pytest.raises(IndexError):
        remove_clause(pack, 3)


def test_clause_keeps_stable_reference_and_snapshot(kb):
    art = _articles(kb)[("2015-01-01", "第二条")]
    clause = clause_from_article(art)
    assert (clause.ref.doc_key, clause.ref.region, clause.ref.version_date, clause.ref.label) == \
        ("示范社区调解条例", "全国", "2015-01-01", "第二条")
    assert clause.status == "superseded" and clause.citation == "《示范社区调解条例》（2015年版）第二条"
    assert clause.paragraphs == ("调解不收费。", "第二款内容。") and clause.path == (CHAPTER,)


def test_a_paragraph_is_collected_alone_and_cited_as_such(kb):
    art = _articles(kb)[("2023-01-01", "第二条")]
    whole, second = clause_from_article(art), clause_from_article(art, paragraph=2)
    assert second.citation == "《示范社区调解条例》第二条第二款" and second.label == "第二条"
    assert (second.text, second.paragraphs, second.ref.paragraph) == ("第二款内容。", ("第二款内容。",), 2)
    # a 款 the article lacks: the whole article, as 复制引用 copies it
    assert clause_from_article(art, paragraph=5) == whole
    pack = add_clause(add_clause(new_pack("讲义"), whole), second)          # the whole and its 款: two clauses
    assert [c.citation for c in pack.items] == ["《示范社区调解条例》第二条", "《示范社区调解条例》第二条第二款"]
    md = to_markdown(pack_handout(add_clause(new_pack("讲义"), second)))
    assert "**《示范社区调解条例》第二条第二款【现行有效】**" in md and "调解员应当公正" not in md
    create_pack(kb, pack)
    assert load_pack(kb, "讲义") == pack
    # a pack saved before clauses had parts reads as whole articles
    path = pack_path(kb, "讲义")
    data = json.loads(path.read_text(encoding="utf-8"))
    for item in data["items"]:
        del item["ref"]["paragraph"], item["ref"]["item"]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert [c.ref.paragraph for c in load_pack(kb, "讲义").items] == [0, 0]


def test_a_collected_paragraph_is_changed_when_that_paragraph_changes(kb):
    art = _articles(kb)[("2023-01-01", "第二条")]
    first, second = clause_from_article(art, paragraph=1), clause_from_article(art, paragraph=2)
    assert not changed_since_added(first, art) and not changed_since_added(second, art)
    writer = StoreWriter(kb)
    with writer.transaction():
        writer.put_file("/c/v2.md", "v2.md", "b2", "p",
                        _doc("示范社区调解条例", "2023-01-01", ["调解应当自愿、合法。", "调解员应当公正、廉洁。", "调解不收费。"]))
    writer.close()
    with open_store(kb) as store:
        live = resolve_clause(store, second.ref)
    assert changed_since_added(first, live) and not changed_since_added(second, live)
    gone = replace(second, ref=replace(second.ref, paragraph=3))         # a 款 the article no longer has
    assert changed_since_added(gone, live)


def test_resolve_clause_finds_the_unit_again_after_reingest(kb):
    arts = _articles(kb)
    clauses = [clause_from_article(arts[("2023-01-01", "第二条")]),
               clause_from_article(next(a for a in arts.values() if a.kind == "section"))]
    writer = StoreWriter(kb)                  # re-ingest v2: row ids change, references hold
    with writer.transaction():
        writer.put_file("/c/v2.md", "v2.md", "b2", "p",
                        _doc("示范社区调解条例", "2023-01-01", ["调解应当自愿、合法。", "调解员应当公正、廉洁。", "调解不收费。"]))
    writer.close()
    with open_store(kb) as store:
        found = resolve_clause(store, clauses[0].ref)
        assert found is not None and found.id != arts[("2023-01-01", "第二条")].id
        assert found.text.startswith("调解员应当公正、廉洁。")
        assert resolve_clause(store, clauses[1].ref).label == "一、总体要求"
        gone = clauses[0].ref.__class__("示范社区调解条例", "全国", "1999-01-01", "第二条")
        assert resolve_clause(store, gone) is None


def test_packs_round_trip_on_disk_atomically(kb):
    arts = _articles(kb)
    pack = add_clause(new_pack("第一讲：调解"), clause_from_article(arts[("2023-01-01", "第一条")]))
    pack = edit_clause(pack, 0, note="注意自愿原则")
    path = create_pack(kb, pack)
    assert path.parent == kb / "packs" and path.name == "第一讲_调解.json"
    assert load_pack(kb, "第一讲：调解") == pack
    assert list_packs(kb) == ["第一讲：调解"]
    with pytest.raises(PackError, match="已存在"):
        create_pack(kb, new_pack("第一讲：调解"))
    save_pack(kb, retitle(pack, "新标题"))
    assert load_pack(kb, "第一讲：调解").title == "新标题"
    assert sorted(p.name for p in (kb / "packs").iterdir()) == [".lock", "第一讲_调解.json"]   # no temp files left
    delete_pack(kb, "第一讲：调解")
    assert list_packs(kb) == []


def test_add_to_saved_pack_creates_the_pack_and_tells_what_it_held(kb):
    arts = _articles(kb)
    first, second = (clause_from_article(arts[("2023-01-01", label)]) for label in ("第一条", "第二条"))
    assert add_to_saved_pack(kb, "第二讲", [first]) == ([first], [])
    assert add_to_saved_pack(kb, "第二讲", [second, first]) == ([second], [first])
    assert [c.label for c in load_pack(kb, "第二讲").items] == ["第一条", "第二条"]


def test_pack_names_cannot_escape_the_packs_folder(tmp_path):
    assert safe_stem("../../etc/passwd") == "etc_passwd"
    assert safe_stem("  第二讲 / 复查复核 ") == "第二讲_复查复核"
    assert pack_path(tmp_path, "..\\..\\x").parent == tmp_path / "packs"
    with pytest.raises(PackError, match="无效"):
        pack_path(tmp_path, "../..")


def test_damaged_or_missing_pack_is_a_pack_error(tmp_path):
    with pytest.raises(PackError, match="不存在"):
        load_pack(tmp_path, "没有这个讲义")
    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / "坏.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(PackError, match="已损坏"):
        load_pack(tmp_path, "坏")
    assert list_packs(tmp_path) == []
    (tmp_path / "packs" / "旧.json").write_text(json.dumps({"format": 99, "name": "旧"}), encoding="utf-8")
    with pytest.raises(PackError, match="已损坏"):
        load_pack(tmp_path, "旧")
    (tmp_path / "packs" / "深.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(PackError, match="已损坏"):      # a RecursionError traceback, on every page's sidebar
        load_pack(tmp_path, "深")
    assert list_packs(tmp_path) == ["旧"]          # (a pack of another format is listed, and named when opened)


def test_mark_terms_prefers_longer_terms():
    runs = mark_terms("信访人提出信访事项", ["信访", "信访事项", ""])
    assert [(r.text, r.mark) for r in runs] == [("信访", "hit"), ("人提出", ""), ("信访事项", "hit")]
    assert mark_terms("没有命中", ["信访"]) == (Run("没有命中"),)
    assert runs_text(mark_terms("a+b", ["+"])) == "a+b"


def test_linked_paragraphs_of_a_long_article_take_linear_time():
    # every paragraph went through every link of the article (16,000 paragraphs: 7 s)
    paragraphs = ["依照本法第十条办理。"] * 16_000
    links = [Link(11 * i + 2, 11 * i + 7, 1, True) for i in range(len(paragraphs))]
    with time_limit(GUARD_SECONDS):
        got = linked_paragraphs(paragraphs, links)
    assert got[-1] == [Piece("依照"), Piece("本法第十条", 1, True), Piece("办理。")]


def _pack_with_three(kb):
    arts = _articles(kb)
    pack = new_pack("讲义甲", "社区调解法规选编")
    for key in (("2023-01-01", "第一条"), ("2015-01-01", "第二条")):
        pack = add_clause(pack, clause_from_article(arts[key]))
    section = next(a for a in arts.values() if a.kind == "section")
    pack = add_clause(pack, clause_from_article(section))
    return edit_clause(edit_clause(pack, 0, heading="一、调解原则", note="自愿是前提"), 2, heading="二、政策要求")


def test_pack_markdown_has_headings_citations_status_notes_and_sources(kb):
    md = to_markdown(pack_handout(_pack_with_three(kb)))
    assert md.startswith("# 社区调解法规选编\n")
    assert "## 一、调解原则" in md and "## 二、政策要求" in md
    assert "**《示范社区调解条例》第一条【现行有效】**" in md
    assert "**《示范社区调解条例》（2015年版）第二条【已修改】**" in md
    assert "> 讲解：自愿是前提" in md
    assert "调解应当自愿、合法。\n\n第二款内容。" in md
    sources = md[md.index("## 法规来源"):]
    assert sources.count("\n- ") == 3                 # one line per document version
    assert "示范市人民代表大会常务委员会" in sources and "版本2015-01-01" in sources and "已修改" in sources


def test_pack_docx_content_reads_back(kb):
    from docx import Document as WordDocument
    data = to_docx(pack_handout(_pack_with_three(kb)))
    doc = WordDocument(io.BytesIO(data))
    texts = [p.text for p in doc.paragraphs]
    styles = {p.text: p.style.name for p in doc.paragraphs}
    assert texts[0] == "社区调解法规选编" and styles["社区调解法规选编"] == "Title"
    assert styles["一、调解原则"] == "Heading 1" and styles["法规来源"] == "Heading 1"
    assert "《示范社区调解条例》第一条【现行有效】" in texts
    assert "讲解：自愿是前提" in texts
    assert any(t.startswith("《示范社区调解条例》，示范市人民代表大会常务委员会，示范公告第3号") for t in texts)
    assert doc.core_properties.title == "社区调解法规选编"


def test_docx_marks_runs_and_writes_tables():
    from docx import Document as WordDocument
    handout = Handout("对照", blocks=(
        Paragraph((Run("保留"), Run("删去", "del"), Run("新增", "ins"), Run("命中", "hit"))),
        Table(("旧", "新"), (((Run("甲"),), (Run("乙", "ins"),)),))))
    doc = WordDocument(io.BytesIO(to_docx(handout)))
    runs = {r.text: r for p in doc.paragraphs for r in p.runs}
    assert runs["删去"].font.strike and runs["新增"].font.underline and runs["命中"].font.highlight_color is not None
    assert not runs["保留"].font.strike
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["旧", "新"] and [c.text for c in table.rows[1].cells] == ["甲", "乙"]


def test_markdown_escapes_markup_characters():
    md = to_markdown(Handout("标题*", blocks=(Paragraph((Run("a|b_c"), Run(" 重点 ", "hit"), Run("尾"))),)))
    assert "# 标题\\*" in md and "a\\|b\\_c **重点** 尾" in md


def test_changes_to_one_pack_at_once_keep_every_clause(kb, monkeypatch):
    # two sessions each read the pack, added a clause and saved: the later save dropped the other's
    arts = _articles(kb)
    base = clause_from_article(arts[("2023-01-01", "第一条")])
    clauses = [replace(base, ref=replace(base.ref, label=f"第{n}条"), label=f"第{n}条") for n in range(1, 13)]
    reading = storage.pack_from_json

    def slow_read(data):
        time.sleep(0.02)        # as a busy server would: the other session reads meanwhile
        return reading(data)
    monkeypatch.setattr(storage, "pack_from_json", slow_read)
    create_pack(kb, new_pack("合编"))

    def add(mine):
        for clause in mine:
            add_to_saved_pack(kb, "合编", [clause])

    def retitle_often():
        for n in range(6):
            update_pack(kb, "合编", lambda p, n=n: retitle(p, f"标题{n}"))
    writers = [threading.Thread(target=add, args=(clauses[k::2],)) for k in (0, 1)]
    writers.append(threading.Thread(target=retitle_often))
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    pack = load_pack(kb, "合编")
    assert sorted(c.label for c in pack.items) == sorted(c.label for c in clauses) and pack.title == "标题5"
    with pytest.raises(PackError, match="已存在"):     # checked under the lock too
        create_pack(kb, new_pack("合编"))
