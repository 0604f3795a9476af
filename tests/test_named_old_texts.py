"""A question that names a text no longer in force, with the real model and index over two made-up
rules: 《社区纠纷调解暂行办法》 (2010), repealed by 《社区纠纷调解规定》 (2020). Search answers with
texts in force; a user who names the old one ("老的暂行办法对调解期限是怎么规定的", an instructor
comparing them) sees it too, beside them. Before, the old text was never searched unless named
in the document filter, so such a question got only the new rules."""
from pathlib import Path

import pytest

from conftest import searcher_of_texts
from index.search import Filters, Hit, Searcher

OLD = "社区纠纷调解暂行办法"
NEW = "社区纠纷调解规定"
TRIAL = "社区纠纷调解试行办法"       # repealed by NEW too, its own text not held


def rules(title: str, year: int, days: str, last: str) -> str:
    return f"""# {title}

{year}年1月1日 司法部部务会议通过
{year}年3月1日 施行

第一条 为了规范社区纠纷调解工作，及时化解矛盾纠纷，制定本{title[-2:]}。

第二条 社区调解组织调解纠纷，应当遵循自愿、平等、合法的原则，尊重当事人的权利。

第三条 调解组织应当自受理之日起{days}内调结纠纷；当事人同意的，可以延长十五日。

第四条 调解组织应当建立调解档案，记录调解情况和结果。

第五条 {last}
"""


TEXTS = {
    f"{OLD}.md": rules(OLD, 2010, "六十日", "本办法自2010年3月1日起施行。"),
    f"{NEW}.md": rules(NEW, 2020, "三十日", f"本规定自2020年3月1日起施行，《{OLD}》、《{TRIAL}》同时废止。"),
}


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    return searcher_of_texts(tmp_path_factory.mktemp("named-old"), TEXTS)


def cited(hits: list[Hit]) -> list[str]:
    return [f"{h.title}{h.label}" for h in hits]


def test_the_old_text_is_repealed_by_the_new(searcher: Searcher) -> None:
    hits = searcher.search("调解档案", k=10, filters=Filters(statuses=("current", "repealed")))
    assert {h.title: h.status for h in hits} == {OLD: "repealed", NEW: "current"}


def test_a_question_that_names_no_document_gets_texts_in_force_only(searcher: Searcher) -> None:
    hits = searcher.search("社区纠纷调解要在多少天内调结", k=10)
    assert {h.title for h in hits} == {NEW}
    assert cited(hits)[0] == f"{NEW}第三条"


@pytest.mark.parametrize("question", [f"{OLD}对调解期限是怎么规定的", f"老的《{OLD}》规定多少天内调结纠纷",
                                      "社区纠纷调解暂行办法第三条和现行规定有什么不同"])
def test_naming_an_old_text_shows_it_beside_the_texts_in_force(searcher: Searcher, question: str) -> None:
    hits = cited(searcher.search(question, k=10))
    assert f"{OLD}第三条" in hits and f"{NEW}第三条" in hits, hits


@pytest.mark.parametrize("k", [1, 2, 3])
def test_the_old_text_and_the_text_in_force_share_even_a_short_page(searcher: Searcher, k: int) -> None:
    hits = searcher.search(f"{OLD}对调解期限是怎么规定的", k=k)
    assert {h.title for h in hits} == ({OLD, NEW} if k > 1 else {hits[0].title}), cited(hits)


def test_naming_an_old_text_does_not_raise_it_as_a_named_text_in_force_is(searcher: Searcher) -> None:
    # the boost for a named document would put all five old articles above the new ones
    hits = searcher.search(f"{OLD}对调解期限是怎么规定的", k=10)
    assert len({h.title for h in hits[:5]}) == 2, cited(hits)


def test_the_document_filter_still_narrows_a_question_naming_an_old_text(searcher: Searcher) -> None:
    hits = searcher.search(f"{OLD}对调解期限是怎么规定的", k=10, filters=Filters(documents=(NEW,)))
    assert {h.title for h in hits} == {NEW}


def test_asking_for_old_texts_ranks_them_as_any_other(searcher: Searcher) -> None:
    statuses = Filters(statuses=("current", "repealed"))
    hits = searcher.search(f"{OLD}对调解期限是怎么规定的", k=10, filters=statuses)
    assert cited(hits)[0] == f"{OLD}第三条", "named, and allowed by the filter: raised as a named document is"


def test_the_notice_says_why_a_text_not_in_force_is_listed(searcher: Searcher) -> None:
    question = f"{OLD}对调解期限是怎么规定的"
    assert searcher.notices(question) == [f"问题提到的《{OLD}》没有现行有效的版本：一并列出其最新文本（已废止）"]
    assert searcher.notices(question, Filters(statuses=("current", "repealed"))) == []
    assert searcher.notices("社区纠纷调解要在多少天内调结") == []


@pytest.mark.parametrize("question", [f"{TRIAL}第三条", f"《{TRIAL}》第三条说什么", f"以前的{TRIAL}对调解期限怎么规定"])
def test_a_repealed_text_not_held_is_said_to_be_repealed(searcher: Searcher, question: str) -> None:
    # "试行办法第三条" was said to name no document ("“第三条”没有指明是哪部法规的"), and the name alone
    # was said nothing of: the knowledge base knows it only as repealed by the text in force
    assert searcher.notices(question) == [f"知识库中没有《{TRIAL}》：它已于2020-03-01被《{NEW}》废止"]
    assert all("reference" not in h.match for h in searcher.search(question, k=5))


def test_the_app_links_the_text_that_repealed_it(searcher: Searcher, open_page) -> None:
    at = open_page(Path(searcher.kb_dir), "search", q=f"{TRIAL}第三条")
    assert not at.exception and at.info[0].value.startswith("知识库中没有")
    assert [link.value for link in at.get("page_link") if link.value.startswith("法规浏览：")] == [f"法规浏览：《{NEW}》"]
