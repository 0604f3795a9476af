"""Linked reading: references and definitions extracted from articles (pure), stored at ingest,
resolved and reversed when read."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import kb_of_texts
from ingest.parse import parse_text
from ingest.records import Article
from ingest.references import DEFINITION_WINDOW, Definition, extract_definitions, extract_references
from guards import GUARD_SECONDS, time_limit

# Terms on one unpunctuated line: enough that searching to the line's end and start for each
# (quadratic) overruns the guard several times over.
HOSTILE_TERMS = 16_000

RULES = """# 某市社区调解条例

<!-- INFO END -->

第一条 为了规范社区调解，根据《中华人民共和国人民调解法》第三十四条，制定本条例。

第二条 本条例所称社区调解，是指社区调解室促使当事人自愿达成协议的活动。

第三条 社区调解室应当受理下列纠纷：
（一）邻里纠纷；
（二）物业纠纷。
前款第（二）项所列纠纷，可以邀请物业服务人参加。

第四条 违反本条例第三条规定的，依照前条处理；情节严重的，依照《某省调解条例》第九条处理。

第五条 本条例下列用语的含义：
（一）当事人，是指纠纷的各方；
调解员是指社区调解室聘任的人员。
"""


@pytest.fixture(scope="module")
def doc():
    return parse_text(RULES, source="某市社区调解条例.md", markdown=True)


def spans(doc, refs) -> list[tuple]:
    return [(doc.articles[r.article].label, doc.articles[r.article].text[r.start:r.end], r.target_key, r.no,
             r.paragraph, r.item) for r in refs]


def test_references_of_each_article(doc) -> None:
    assert spans(doc, extract_references(doc.meta.title, doc.articles)) == [
        ("第一条", "《中华人民共和国人民调解法》第三十四条", "人民调解法", 34, None, None),
        ("第三条", "前款第（二）项", "", 3, 1, 2),
        ("第四条", "本条例第三条", "", 3, None, None),
        ("第四条", "前条", "", 3, None, None),
        ("第四条", "《某省调解条例》第九条", "某省调解条例", 9, None, None),
    ]


def test_definitions(doc) -> None:
    got = [(doc.articles[d.article].label, d.term, d.definition) for d in extract_definitions(doc.articles)]
    assert got == [
        ("第二条", "社区调解", "本条例所称社区调解，是指社区调解室促使当事人自愿达成协议的活动。"),
        ("第五条", "当事人", "（一）当事人，是指纠纷的各方；"),
        ("第五条", "调解员", "调解员是指社区调解室聘任的人员。"),
    ]


def test_no_definitions_outside_defining_articles() -> None:
    doc = parse_text("# 某办法\n\n<!-- INFO END -->\n\n第一条 调解员是指定的人员之一。\n", source="x.md", markdown=True)
    assert extract_definitions(doc.articles) == []


TARGET = """# 某省调解条例

<!-- INFO END -->

第九条 调解不得收费。
"""


@pytest.fixture()
def linked_kb(tmp_path: Path) -> Path:
    return kb_of_texts(tmp_path, {"某市社区调解条例.md": RULES, "某省调解条例.md": TARGET})


def article(store, key: str, no: int):
    return next(a for a in store.iter_articles() if a.doc_key == key and a.no == no)


def test_stored_references_resolve_when_read(linked_kb: Path) -> None:
    from ingest import open_store
    with open_store(linked_kb) as store:
        fourth = article(store, "某市社区调解条例", 4)
        refs = store.references(fourth.id)
        assert [(r.target_key, r.no, r.target_id) for r in refs] == [
            ("", 3, article(store, "某市社区调解条例", 3).id), ("", 3, article(store, "某市社区调解条例", 3).id),
            ("某省调解条例", 9, article(store, "某省调解条例", 9).id)]
        assert fourth.text[refs[2].start:refs[2].end] == "《某省调解条例》第九条"
        # 人民调解法 is not in this knowledge base: the reference is kept, unresolved
        [unresolved] = store.references(article(store, "某市社区调解条例", 1).id)
        assert (unresolved.target_key, unresolved.target_id) == ("人民调解法", None)
        assert store.link_counts() == {"references": 5, "resolved": 4, "definitions": 3}
        assert [d.term for d in store.definitions(fourth.version_id)] == ["社区调解", "当事人", "调解员"]


def test_reverse_links(linked_kb: Path) -> None:
    from ingest import open_store
    with open_store(linked_kb) as store:
        cited = store.cited_by(article(store, "某省调解条例", 9).id)
        assert [(a.doc_key, a.no) for a, _ in cited] == [("某市社区调解条例", 4)]
        third = store.cited_by(article(store, "某市社区调解条例", 3).id)
        # its own 前款第（二）项 is not a link from another article
        assert [(a.no, a.text[r.start:r.end]) for a, r in third] == [(4, "本条例第三条"), (4, "前条")]


RANGED = """# 某县调解办法

<!-- INFO END -->

第一条 调解员依照本办法第三条至第五条、第七条开展工作，并遵守《某省调解条例》第八条至第十条。

第二条 第六条第一至二款的规定，不适用于第三条。

第三条 调解员应当公正。

第四条 调解员应当保密。

第四条之一 调解员应当回避。

第五条 调解员应当及时。

第六条 调解员应当耐心。

第七条 调解员应当记录。
"""


def test_a_range_of_articles_cites_those_between(tmp_path: Path) -> None:
    # 第三条至第五条 was stored as 第三条 and 第五条: 第四条 (and 第四条之一) did not list 第一条 among the
    # articles citing them
    doc = parse_text(RANGED, source="某县调解办法.md", markdown=True)
    refs = extract_references(doc.meta.title, doc.articles)
    assert [(r.target_key, r.no, r.paragraph, r.range_from) for r in refs] == [
        ("", 3, None, None), ("", 5, None, 3), ("", 7, None, None),
        ("某省调解条例", 8, None, None), ("某省调解条例", 10, None, 8),
        ("", 6, 1, None), ("", 6, 2, None), ("", 3, None, None)]        # 第一至二款: within one article
    from ingest import open_store
    kb = kb_of_texts(tmp_path, {"某县调解办法.md": RANGED, "某省调解条例.md": TARGET})
    with open_store(kb) as store:
        def citing(key: str, no: int, suffix: int = 0) -> list[tuple[int, str]]:
            target = next(a for a in store.iter_articles() if (a.doc_key, a.no, a.suffix) == (key, no, suffix))
            return [(a.no, a.text[r.start:r.end]) for a, r in store.cited_by(target.id)]
        assert citing("某县调解办法", 3) == [(1, "本办法第三条"), (2, "第三条")]
        assert citing("某县调解办法", 4) == citing("某县调解办法", 4, 1) == [(1, "第五条")]
        assert citing("某县调解办法", 5) == [(1, "第五条")]
        assert [no for no, _ in citing("某县调解办法", 6)] == [2, 2]     # its 第一至二款 only: no range of 第一条
        assert citing("某省调解条例", 9) == [(1, "第十条")]     # the range's end, not yet stored, still cites


def test_removing_a_file_removes_its_links(linked_kb: Path) -> None:
    from ingest import open_store, run
    (linked_kb.parent / "docs" / "某市社区调解条例.md").unlink()
    run([linked_kb.parent / "docs"], linked_kb, prune=True)
    with open_store(linked_kb) as store:
        assert store.link_counts() == {"references": 0, "resolved": 0, "definitions": 0}
        assert store.cited_by(article(store, "某省调解条例", 9).id) == []


def test_linked_paragraphs_cut_links_and_terms() -> None:
    from lecture.linked import Link, Piece, linked_paragraphs
    paragraphs = ("调解员依照本条例第三条处理。", "前款规定的调解员，第九条另有规定的除外。")
    links = [Link(5, 11, 3, True), Link(15, 17, 4, False), Link(24, 27, None, False)]
    got = linked_paragraphs(paragraphs, links, {"调解员": "调解员是指……"})
    assert got == [
        [Piece("调解员", definition="调解员是指……"), Piece("依照"), Piece("本条例第三条", 3, True), Piece("处理。")],
        [Piece("前款", 4, False), Piece("规定的"), Piece("调解员", definition="调解员是指……"),
         Piece("，第九条另有规定的除外。")]]


@pytest.mark.skipif(not (Path(__file__).resolve().parents[2] / "shared" / "samples").is_dir(),
                    reason="shared samples not found")
def test_reading_view_links_references_terms_and_citing_articles(app_store_kb, open_page) -> None:
    from ingest import open_store
    with open_store(app_store_kb) as store:
        art15, art16 = (store.find_articles("信访条例", n)[0] for n in (15, 16))
    at = open_page(app_store_kb, "browse", doc=str(art16.document_id), art=str(art16.id))
    assert not at.exception and not at.error
    text = next(m.value for m in at.markdown if f'id="art-{art15.id}"' in m.value)
    block = text.split(f'id="art-{art15.id}"')[1].split('class="kb-article')[0]
    assert f'<a class="kb-ref" href="#art-{art16.id}"' in block and "本条例第十六条</a>" in block
    assert '<abbr class="kb-term" title="本条例所称信访，是指' in text
    # the article page lists what cites it
    assert any(link.label.endswith("（本条例第十六条）") and f"art={art15.id}" in link.proto.query_string
               for link in at.get("page_link"))


def test_a_name_without_shu_ming_hao_resolves_by_its_ending(tmp_path: Path) -> None:
    from ingest import open_store
    citing = ("# 某县调解规定\n\n<!-- INFO END -->\n\n第一条 调解员收费的，属于某省调解条例第九条禁止的行为。\n\n"
              "第二条 依照调解条例第九条处理。\n")
    kb = kb_of_texts(tmp_path, {"某县调解规定.md": citing, "某省调解条例.md": TARGET,
                                "某市调解条例.md": TARGET.replace("某省", "某市")})
    with open_store(kb) as store:
        first = article(store, "某县调解规定", 1)
        [ref] = store.references(first.id)
        assert ref.target_id == article(store, "某省调解条例", 9).id
        assert first.text[ref.start:ref.end] == "某省调解条例第九条"
        assert [a.id for a, _ in store.cited_by(ref.target_id)] == [first.id]
        # 调解条例 is the end of two stored titles: a short title of either, so not resolved
        [ref] = store.references(article(store, "某县调解规定", 2).id)
        assert (ref.target_key, ref.target_id) == ("调解条例", None)


def test_definition_terms_lose_their_bracket_note() -> None:
    text = "本条例所称住宅物业管理（以下简称物业管理），是指业主委托物业服务人的活动。"
    doc = parse_text(f"# 某条例\n\n<!-- INFO END -->\n\n第二条 {text}\n", source="x.md", markdown=True)
    assert [d.term for d in extract_definitions(doc.articles)] == ["住宅物业管理"]
    text = "本解释所称“计算机信息系统”和“计算机系统”，是指具备自动处理数据功能的系统。"
    doc = parse_text(f"# 某解释\n\n<!-- INFO END -->\n\n第十一条 {text}\n", source="y.md", markdown=True)
    assert extract_definitions(doc.articles) == []


def test_a_long_line_of_definitions_is_read_in_linear_time() -> None:
    body = "本法所称甲乙，是指" * HOSTILE_TERMS
    with time_limit(GUARD_SECONDS):
        definitions = extract_definitions([Article(1, 0, "第一条", (), (body,), body)])
    assert len(definitions) == HOSTILE_TERMS
    # a sentence with no end in sight is cut at the window
    assert definitions[0] == Definition(0, "甲乙", body[:DEFINITION_WINDOW], 0, DEFINITION_WINDOW)
