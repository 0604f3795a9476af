"""A document written in traditional characters: it is stored simplified, so its 第二條 is an
article, its title one a simplified citation names, and a simplified question finds it by its
keywords (real model and index). Before, the text was one section (第X條 started no article) whose
traditional words (糾紛, 調處) no simplified question shares."""

import pytest

from conftest import searcher_of_texts
from index.search import MATCH_KEYWORDS, Searcher

TRADITIONAL = """# 社區糾紛調處辦法

2020年1月1日 施行

第一條 為了規範社區糾紛調處工作，制定本辦法。

第二條 鄰里之間因圍牆滲漏發生糾紛的，社區調處委員會應當在七日內組織雙方協商。
"""

SIMPLIFIED = """# 社区服务规定

2020年1月1日 施行

第一条 为了规范社区服务工作，制定本规定。

第二条 社区服务中心应当公布服务时间和联系电话。
"""


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    return searcher_of_texts(tmp_path_factory.mktemp("traditional"), {
        "社區糾紛調處辦法.md": TRADITIONAL, "社区服务规定.md": SIMPLIFIED})


def test_a_simplified_question_finds_a_traditional_article_by_its_keywords(searcher: Searcher) -> None:
    hits = searcher.search("邻居围墙渗漏闹纠纷，调处委员会几天内要组织协商？", k=3)
    first = hits[0]
    assert (first.title, first.label) == ("社区纠纷调处办法", "第二条")
    assert MATCH_KEYWORDS in first.match and "纠纷" in first.matched_terms
    assert first.text.startswith("邻里之间因围墙渗漏发生纠纷")


def test_a_citation_in_simplified_characters_names_the_article(searcher: Searcher) -> None:
    assert [(h.title, h.label) for h in searcher.search("社区纠纷调处办法第二条", k=1)] == [("社区纠纷调处办法", "第二条")]
