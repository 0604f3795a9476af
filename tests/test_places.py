"""The gazetteer and the places a question names (`kb.places`), on strings."""
import pytest

from guards import GUARD_SECONDS, time_limit
from index.query import TitleMatcher, parse_query
from kb.places import HOME, HOME_PROVINCE, NATIONAL, PlaceMatcher, concerns, province_of

REGIONS = ("全国", "上海市", "山东省青岛市", "四川省", "四川省成都市", "河南省开封市")


@pytest.fixture(scope="module")
def places() -> PlaceMatcher:
    return PlaceMatcher(REGIONS)


@pytest.mark.parametrize("text, expected", [
    ("上海对重复信访是怎么规定的", ("上海市",)),
    ("成都市信访人对复查意见不服怎么办", ("四川省成都市",)),
    ("成都有没有规定", ("四川省成都市",)),
    ("四川省和山东的规定有什么不同", ("四川省", "山东省")),
    ("青岛对重复信访怎么规定", ("山东省青岛市",)),
    ("山东省青岛市的规定", ("山东省青岛市",)),
    ("广东对重复信访怎么规定", ("广东省",)),           # a province the regions lack: found, to say so
    ("内蒙古自治区的规定", ("内蒙古自治区",)),
    ("上海、上海市和上海", ("上海市", "上海市", "上海市")),
    ("对复查意见不服还能找谁", ()),
    ("达州来的农民工讨薪", ()),                       # a city no region names: not by its short name
    ("达州市有没有信访方面的规定", ("四川省达州市",)),    # ... but by its full name, to say it has none
    ("凉山彝族自治州的规定", ("四川省凉山彝族自治州",)),
    ("我市有没有物业纠纷调解的办法", (HOME,)),          # the asker's own place, read by the searcher
    ("本省和上海的规定有什么不同", (HOME_PROVINCE, "上海市")),
    ("在城市里打工", ()),
])
def test_places_a_question_names(places: PlaceMatcher, text: str, expected: tuple) -> None:
    assert tuple(p.region for p in places.find(text)) == expected


@pytest.mark.parametrize("text, asks", [
    ("上海对重复信访是怎么规定的", True),
    ("成都有没有物业纠纷调解的办法", True),
    ("四川省的信访条例", True),
    ("山东省关于社区调解的地方性法规", True),
    ("区里解决不了，我能不能直接去北京上访？", False),
    ("我在广东打工，村里换届选举回不去，法律有规定吗", False),     # the rule word is in another clause
    ("成都市民去社区居委会调解纠纷，调解员说要收费，这有什么依据，具体的规定又在哪里查", False),
])
def test_a_question_asks_for_a_places_rules_when_a_rule_word_follows_in_its_clause(
        places: PlaceMatcher, text: str, asks: bool) -> None:
    assert [p.asks_for_rules for p in places.find(text)] == [asks]


def test_spans_end_inside_the_text(places: PlaceMatcher) -> None:
    # a place at the end of a question once ran past it (end 9 in a text of 3 characters)
    assert [(p.start, p.end) for p in places.find("去上海")] == [(1, 3)]
    assert [(p.start, p.end) for p in places.find("上海市和成都")] == [(0, 3), (4, 6)]


def test_a_province_wins_over_a_city_of_the_same_short_name() -> None:
    assert [p.region for p in PlaceMatcher(["吉林省吉林市"]).find("吉林对信访怎么规定")] == ["吉林省"]
    assert [p.region for p in PlaceMatcher(["吉林省吉林市"]).find("吉林市对信访怎么规定")] == ["吉林省吉林市"]


def test_a_document_name_is_not_a_place(places: PlaceMatcher) -> None:
    titles = TitleMatcher(["上海市信访条例", "信访工作条例"])
    assert parse_query("上海市信访条例第二十七条", titles, places=places).places == ()
    both = parse_query("《上海市信访条例》和成都的规定", titles, places=places)
    assert both.places == ("四川省成都市",)
    assert parse_query("上海的信访工作条例在上海怎么执行", titles, places=places).places == ("上海市",)
    assert parse_query("去北京上访、北京的信访部门不受理怎么办", titles, places=places).places == ()
    assert parse_query("上海对重复信访怎么规定", titles).places == ()      # no matcher, no places


def test_rules_of_a_region_hold_in_the_places_within_it_and_around_it() -> None:
    assert concerns(NATIONAL, "四川省成都市")
    assert concerns("四川省", "四川省成都市")          # the province's rules hold in its cities
    assert concerns("四川省成都市", "四川省成都市")
    assert concerns("四川省成都市", "四川省")          # a city's rule is a rule of its province
    assert not concerns("四川省绵阳市", "四川省成都市")
    assert not concerns("山东省", "四川省成都市")
    assert not concerns("", "四川省")                 # a document of no known region is no place's


def test_province_of_names_and_short_names() -> None:
    assert province_of("浙江省宁波市") == province_of("浙江") == "浙江省"
    assert province_of("广西壮族自治区南宁市") == province_of("广西") == "广西壮族自治区"
    assert province_of("全国人民代表大会") == ""


def test_a_hostile_question_is_searched_for_places_in_linear_time(places: PlaceMatcher) -> None:
    for text in ("上" * 100_000, "上海" * 50_000, "四川省成都市" * 20_000):
        with time_limit(GUARD_SECONDS):
            places.find(text, [(0, len(text) // 2)])
