"""Judicial interpretations, and laws, by the names people cite them by (real model and index):
interpretations without their issuers (《关于审理…的解释（二）》), and by the full title of the first of
a series, which names that text alone; laws by their common short names (治安法). Before, the search
said the knowledge base lacked the first and the last, answered the second from a sequel that shares
its name without the bracket note, and read an unknown such name written without 书名号 from after
its 适用 (知识库中没有《法律若干问题的解释》)."""
from pathlib import Path

import pytest

from conftest import searcher_of_texts
from index.search import Searcher
from ingest import open_store
from lecture.citations import StoreLookup, check_text

FIRST = "最高人民法院关于审理邻里纠纷案件适用法律若干问题的解释"
SECOND = f"{FIRST}（二）"
APPLYING = "最高人民法院关于适用《中华人民共和国人民调解法》的解释"      # made up
PUBLIC_ORDER = "中华人民共和国治安管理处罚法"                              # its text made up


def _interpretation(title: str, date: str, topic: str) -> str:
    return (f"# {title}\n\n{date} 施行\n\n第一条 为正确审理{topic}纠纷案件，制定本解释。\n\n"
            f"第二条 {topic}纠纷案件由不动产所在地的基层人民法院管辖。\n\n"
            f"第三条 当事人就{topic}问题达成调解协议的，人民法院应当审查。\n")


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("interpretations")
    searcher_of_texts(root, {"first.md": _interpretation(FIRST, "2001年4月16日", "通行"),
                             "second.md": _interpretation(SECOND, "2006年8月14日", "采光"),
                             "applying.md": _interpretation(APPLYING, "2020年12月29日", "调解"),
                             "public-order.md": _interpretation(PUBLIC_ORDER, "2013年1月1日", "治安")})
    return root / "kb"


@pytest.fixture(scope="module")
def searcher(kb: Path) -> Searcher:
    from kb.settings import load_config
    return Searcher(kb, load_config(kb=str(kb)))


def first_hit(searcher: Searcher, query: str) -> tuple[str, str]:
    hit = searcher.search(query, k=3)[0]
    return hit.title, hit.label


def test_the_full_title_of_the_first_of_a_series_names_it_alone(searcher: Searcher) -> None:
    assert first_hit(searcher, f"{FIRST}第三条") == (FIRST, "第三条")
    assert first_hit(searcher, f"《{FIRST}》第三条") == (FIRST, "第三条")
    assert searcher.notices(f"{FIRST}第三条") == []


def test_an_interpretation_is_named_without_its_issuers(searcher: Searcher) -> None:
    for query in ("《关于审理邻里纠纷案件适用法律若干问题的解释（二）》第三条", "关于审理邻里纠纷案件适用法律若干问题的解释（二）第三条"):
        assert first_hit(searcher, query) == (SECOND, "第三条")
        assert searcher.notices(query) == []
    assert first_hit(searcher, "关于审理邻里纠纷案件适用法律若干问题的解释第三条") == (FIRST, "第三条")


def test_an_interpretation_of_a_law_by_its_short_name(searcher: Searcher) -> None:
    # as lawyers write 民诉法解释 for 最高人民法院关于适用《中华人民共和国民事诉讼法》的解释 (was 知识库中没有《…》)
    for query in ("人民调解法解释第二条", "《调解法解释》第二条"):
        assert first_hit(searcher, query) == (APPLYING, "第二条")
        assert searcher.notices(query) == []
    # and cited with the quoted title in 〈〉 (it was 《…关于适用《中华人民共和国人民调解法》的解释》第二条)
    assert searcher.search("调解法解释第二条", k=1)[0].citation == "《最高人民法院关于适用〈中华人民共和国人民调解法〉的解释》第二条"


def test_a_law_by_its_common_short_name(searcher: Searcher) -> None:
    # 引用核对 knew 治安法, 刑诉法, 民诉法 …; the search said 知识库中没有《治安法》 and answered with other articles
    assert first_hit(searcher, "治安法第二条") == (PUBLIC_ORDER, "第二条")
    assert searcher.notices("治安法第二条") == []
    assert searcher.notices("刑诉法第二条") == ["知识库中没有《刑诉法》"]      # a short name of a law not held


def test_an_unknown_interpretation_is_named_whole(searcher: Searcher) -> None:
    assert searcher.notices("依照关于审理物业纠纷案件适用法律若干问题的解释第三条") == [
        "知识库中没有《关于审理物业纠纷案件适用法律若干问题的解释》"]
    # another body's text of the same name is not the one stored
    other = "最高人民检察院关于审理邻里纠纷案件适用法律若干问题的解释"
    assert searcher.notices(f"{other}第三条") == [f"知识库中没有《{other}》"]


def test_the_citation_check_reads_the_same_names_and_keeps_the_issuers_written(kb: Path) -> None:
    with open_store(kb) as store:
        got = [(c.title, c.verdict) for c in check_text(
            "依据《关于审理邻里纠纷案件适用法律若干问题的解释（二）》第三条，参照最高人民检察院关于审理邻里纠纷案件适用法律"
            "若干问题的解释第三条，依照关于审理物业纠纷案件适用法律若干问题的解释第三条；《调解法解释》第二条", StoreLookup(store))]
        ok = check_text("《调解法解释》第二条", StoreLookup(store))[0].message
    assert ok == "《最高人民法院关于适用〈中华人民共和国人民调解法〉的解释》第二条：现行有效，核对无误"
    assert got == [(SECOND, "ok"), ("最高人民检察院关于审理邻里纠纷案件适用法律若干问题的解释", "unknown_document"),
                   ("关于审理物业纠纷案件适用法律若干问题的解释", "unknown_document"), (APPLYING, "ok")]


def test_a_sequel_the_knowledge_base_lacks_is_not_the_one_it_holds(searcher: Searcher, kb: Path) -> None:
    # （三） was read as the name without its note, which names the first: its 第三条 was the answer
    for query in ("《关于审理邻里纠纷案件适用法律若干问题的解释（三）》第三条", "关于审理邻里纠纷案件适用法律若干问题的解释（三）第三条"):
        # shown as typed, not as read (NFKC made （三） ASCII: 《…解释(三)》)
        assert searcher.notices(query) == ["知识库中没有《关于审理邻里纠纷案件适用法律若干问题的解释（三）》"]
        assert "reference" not in searcher.search(query, k=1)[0].match
    with open_store(kb) as store:
        [checked] = check_text("《关于审理邻里纠纷案件适用法律若干问题的解释（三）》第三条", StoreLookup(store))
    assert checked.verdict == "unknown_document"


def test_a_name_typed_one_character_off_is_read_as_the_one_held(searcher: Searcher, kb: Path) -> None:
    # an input method's slip (调节 for 调解, 出罚 for 处罚) said 知识库中没有《…》 and answered from other texts
    for query in ("治安管理出罚法第二条", "《治安管理出罚法》第二条"):
        assert first_hit(searcher, query) == (PUBLIC_ORDER, "第二条")
        assert searcher.notices(query) == ["知识库中没有“治安管理出罚法”：按《治安管理处罚法》检索"]
    with open_store(kb) as store:        # 引用核对 asks, since a draft's name may be meant as written
        [checked] = check_text("《治安管理出罚法》第二条", StoreLookup(store))
    assert checked.verdict == "unknown_document"
    assert checked.message == "知识库中没有《治安管理出罚法》（是否为《治安管理处罚法》？）"
