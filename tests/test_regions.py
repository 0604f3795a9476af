"""Regions in search, with the real model and index over made-up rules of one subject from four
places: a national text, 四川省's, 成都市's (a city of 四川省) and 山东省's. A Chengdu user works
under national, 四川省 and 成都市 rules; a question that asks for a place's rules (山东对…是怎么规定的)
gets them first."""
import pytest

from conftest import searcher_of_texts
from index.search import Filters, Hit, Searcher
from kb.places import concerns


def rules(title: str, issuer: str, fee: str) -> str:
    return f"""# {title}

2020年1月1日 {issuer}通过
2020年3月1日 施行

## 第一章 总则

第一条 为了规范社区纠纷调解工作，及时化解矛盾纠纷，制定本办法。

第二条 本办法所称社区纠纷调解，是指社区调解组织通过说服、疏导等方法，促使当事人自愿达成调解协议的活动。

第三条 {fee}

第四条 调解组织应当自受理之日起三十日内调结纠纷；当事人同意的，可以延长十五日。

第五条 本办法自2020年3月1日起施行。
"""


TEXTS = {
    "社区纠纷调解规定.md": rules("社区纠纷调解规定", "司法部部务会议", "社区纠纷调解不收取任何费用。"),
    "四川省社区纠纷调解条例.md": rules("四川省社区纠纷调解条例", "四川省人民代表大会常务委员会",
                                "社区纠纷调解不收取任何费用。"),
    "成都市社区纠纷调解办法.md": rules("成都市社区纠纷调解办法", "成都市人民政府常务会议",
                                "社区纠纷调解不收取任何费用。"),
    "山东省社区纠纷调解条例.md": rules("山东省社区纠纷调解条例", "山东省人民代表大会常务委员会",
                                "社区纠纷调解不收取当事人任何费用，调解工作经费由县级人民政府保障，不得向当事人收费。"),
}
FEE = "社区纠纷调解收不收当事人的费用"


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    return searcher_of_texts(tmp_path_factory.mktemp("regions"), TEXTS)


def regions(hits: list[Hit], no: int) -> list[str]:
    """The regions of the hits that are article `no`, in rank order."""
    return [h.region for h in hits if h.article_no == no]


def test_the_documents_have_the_regions_of_their_issuers(searcher: Searcher) -> None:
    assert sorted(d.region for d in searcher.catalog.documents) == ["全国", "四川省", "四川省成都市", "山东省"]


def test_preferring_a_city_prefers_its_provinces_rules_too(searcher: Searcher) -> None:
    plain = regions(searcher.search(FEE, k=20, filters=Filters(prefer_region="")), 3)
    assert plain.index("山东省") < plain.index("四川省"), "山东省's fee article matches the question best"
    city = regions(searcher.search(FEE, k=20, filters=Filters(prefer_region="四川省成都市")), 3)
    assert city.index("四川省") < city.index("山东省") and city.index("四川省成都市") < city.index("山东省")


def test_preferring_a_region_never_hides_other_regions_rules(searcher: Searcher) -> None:
    for preferred in ("四川省", "四川省成都市", "山东省"):
        hits = regions(searcher.search(FEE, k=20, filters=Filters(prefer_region=preferred)), 3)
        assert sorted(hits) == ["全国", "四川省", "四川省成都市", "山东省"], preferred
    shandong = regions(searcher.search(FEE, k=20, filters=Filters(prefer_region="山东省")), 3)
    assert shandong[0] == "山东省"


@pytest.mark.parametrize("place", ["四川", "成都市", "山东"])
def test_a_question_asking_for_a_places_rules_puts_them_first(searcher: Searcher, place: str) -> None:
    question = f"{place}对社区纠纷调解收费是怎么规定的"
    hits = searcher.search(question, k=20, filters=Filters(prefer_region=""))
    assert hits[0].region != "全国" and concerns(hits[0].region, searcher.parse(question, Filters()).places[0])
    assert searcher.notices(question, Filters(prefer_region="")) == []
    # the national rules stay on the first page, however many of the place's own rank above them
    assert "全国" in [h.region for h in searcher.search(question, k=3, filters=Filters(prefer_region=""))]


def test_a_place_whose_rules_are_asked_for_is_preferred_besides_the_users_region(searcher: Searcher) -> None:
    chengdu = Filters(prefer_region="四川省成都市")
    question = f"山东对{FEE[2:]}是怎么规定的"
    assert searcher.preferred_regions(searcher.parse(question, chengdu), chengdu) == ("四川省成都市", "山东省")
    assert searcher.search(question, k=5, filters=chengdu)[0].region == "山东省"
    # a place the question names without asking for its rules is no preference
    story = searcher.parse(f"我在山东打工，{FEE}", chengdu)
    assert story.places == () and searcher.preferred_regions(story, chengdu) == ("四川省成都市",)


@pytest.mark.parametrize("words, asked", [("本市", "四川省成都市"), ("我省", "四川省")])
def test_the_askers_own_place_is_the_preferred_region(searcher: Searcher, words: str, asked: str) -> None:
    chengdu = Filters(prefer_region="四川省成都市")
    question = f"{words}对社区纠纷调解收费是怎么规定的"
    assert searcher.places_asked(searcher.parse(question, chengdu), chengdu) == (asked,)
    assert searcher.search(question, k=10, filters=chengdu)[0].region in {"四川省", "四川省成都市"}
    assert searcher.notices(question, chengdu) == []
    nowhere = Filters(prefer_region="")
    assert searcher.places_asked(searcher.parse(question, nowhere), nowhere) == ()
    assert searcher.notices(question, nowhere) == \
        ["问题问的是本地的规定：请在“地区偏好”中选择所在地区（或设置 region），以便优先显示"]


def test_a_place_whose_rules_the_knowledge_base_lacks_is_said(searcher: Searcher) -> None:
    chengdu = Filters(prefer_region="四川省成都市")
    question = f"上海对{FEE[2:]}是怎么规定的"
    assert searcher.notices(question, chengdu) == ["知识库中没有上海市的地方规定"]
    assert searcher.preferred_regions(searcher.parse(question, chengdu), chengdu) == ("四川省成都市",)
    assert searcher.notices(f"我从上海回来，{FEE}", chengdu) == []     # not asked for: nothing to say
