"""Query understanding on strings: references, document names, expansions."""
import os
from pathlib import Path

import pytest

from index.query import (EXPANSIONS, DivisionReference, NamedVersion, Reference, TitleMatcher, division_of,
                         division_path, expand, find_references, load_expansions, normalise_query, parse_query,
                         unknown_names)
from kb.chinese import title_key, to_simplified
from kb.citations import alias_index, documents_named, title_aliases
from kb.errors import QueryError

TITLES = ["信访工作条例", "信访条例", "北京市信访条例", "中华人民共和国民法典", "中华人民共和国人民调解法",
          "中华人民共和国刑法", "中华人民共和国公司法", "中华人民共和国劳动法",
          "最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释",
          "最高人民法院关于审理劳动争议案件适用法律问题的解释（一）", "某某办法（试行）"]


@pytest.fixture(scope="module")
def titles() -> TitleMatcher:
    return TitleMatcher(TITLES)


def refs(text: str, titles: TitleMatcher) -> list[tuple[tuple[str, ...], int, int]]:
    return [(r.doc_keys, r.no, r.suffix) for r in parse_query(text, titles).references]


@pytest.mark.parametrize("text, expected", [
    ("信访工作条例第三十三条", [(("信访工作条例",), 33, 0)]),
    ("《人民调解法》第十七条", [(("人民调解法",), 17, 0)]),
    ("民法典1165条", [(("民法典",), 1165, 0)]),
    ("民法典 第 1165 条", [(("民法典",), 1165, 0)]),
    ("《中华人民共和国民法典》第一千一百六十五条规定了什么", [(("民法典",), 1165, 0)]),
    ("刑法第一百二十条之一", [(("刑法",), 120, 1)]),
    ("刑法120条之1", [(("刑法",), 120, 1)]),
    ("第33条", [((), 33, 0)]),
    ("信访工作条例第三十三条第二款", [(("信访工作条例",), 33, 0)]),
    # a name and a number alone, as people type quickly: read as no reference before
    ("信访工作条例 33", [(("信访工作条例",), 33, 0)]),
    ("《民法典》1165？", [(("民法典",), 1165, 0)]),
    ("人民调解法 第十七", [(("人民调解法",), 17, 0)]),
])
def test_references(text: str, expected: list, titles: TitleMatcher) -> None:
    assert refs(text, titles) == expected


def test_the_paragraph_and_item_a_reference_asks_for_are_kept(titles: TitleMatcher) -> None:
    # 第三十六条第二款 was read as the whole article: the card could not mark the 款 asked for
    parts = [(r.no, r.paragraph, r.item) for r in
             parse_query("信访工作条例第三十六条第二款、第三十一条第六项和第35条第1款第（2）项", titles).references]
    assert parts == [(36, 2, 0), (31, 0, 6), (35, 1, 2)]


def test_lists_and_ranges_share_the_document(titles: TitleMatcher) -> None:
    assert refs("民法典第十条、第十二条", titles) == [(("民法典",), 10, 0), (("民法典",), 12, 0)]
    assert [no for _, no, _ in refs("民法典第十条至第十三条", titles)] == [10, 11, 12, 13]
    # several numbers under one 第…条 found nothing: 第三十五 has no 条 of its own
    assert refs("信访工作条例第三十五、三十六条", titles) == [(("信访工作条例",), 35, 0), (("信访工作条例",), 36, 0)]
    assert [no for _, no, _ in refs("民法典第十至十三条、第二十条", titles)] == [10, 11, 12, 13, 20]
    parts = [(r.no, r.suffix, r.paragraph) for r in parse_query("刑法第一、二条之一第二款", titles).references]
    assert parts == [(1, 0, 0), (2, 1, 2)]


def test_each_reference_takes_the_nearest_document(titles: TitleMatcher) -> None:
    assert refs("北京市信访条例第五条和信访条例第六条", titles) == [
        (("北京市信访条例",), 5, 0), (("信访条例",), 6, 0)]


def test_bare_reference_attaches_to_the_only_named_document(titles: TitleMatcher) -> None:
    assert refs("第十七条 在人民调解法里怎么说", titles) == [(("人民调解法",), 17, 0)]


def test_numbers_without_di_need_a_document(titles: TitleMatcher) -> None:
    assert refs("一条路三条建议", titles) == []
    assert refs("他提了3条意见", titles) == []
    # a number after a name is an article only when the query holds nothing else
    for text in ("人民调解法规定3日内", "我看了信访工作条例 33", "民法典和人民调解法 17", "信访工作条例 33 34"):
        assert refs(text, titles) == [], text


def test_resolve_attaches_unnamed_references() -> None:
    parsed = parse_query("第33条").resolve(("信访工作条例",))
    assert parsed.references == (Reference(("信访工作条例",), 33, 0),)


def test_title_inside_longer_title_is_matched_as_the_longer_one(titles: TitleMatcher) -> None:
    text = normalise_query("最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释第二十六条")
    [mention] = titles.find(text)
    assert mention.doc_keys == ("最高人民法院关于适用民法典有关担保制度的解释",)
    assert text[mention.start:mention.end].startswith("最高人民法院")


def test_mentioned_documents(titles: TitleMatcher) -> None:
    assert parse_query("信访工作条例规定的复查期限是多久", titles).mentioned == ("信访工作条例",)
    assert parse_query("公司法人可以起诉吗", titles).mentioned == ()          # 法人, not 公司法
    assert parse_query("劳动法律法规有哪些", titles).mentioned == ()          # 法律, not 劳动法
    assert parse_query("劳动法规定的工作时间", titles).mentioned == ("劳动法",)


def test_aliases_are_derived_from_titles() -> None:
    assert "民法典" in title_aliases("中华人民共和国民法典")
    assert title_aliases("某某办法（试行）") == {"某某办法(试行)", "某某办法"}
    assert "最高人民法院关于审理劳动争议案件适用法律问题的解释" in title_aliases(
        "最高人民法院关于审理劳动争议案件适用法律问题的解释（一）")
    # judicial interpretations and State Council texts are cited without their issuers
    assert {"关于审理劳动争议案件适用法律问题的解释(一)", "关于审理劳动争议案件适用法律问题的解释"} <= title_aliases(
        "最高人民法院关于审理劳动争议案件适用法律问题的解释（一）")
    assert "关于加强某某工作的决定" in title_aliases("国务院、中央军委关于加强某某工作的决定")
    assert "关于某某工作的通知" in title_aliases("最高人民法院、最高人民检察院关于某某工作的通知")
    assert not any(a.startswith("关于") for a in title_aliases("国家机关、事业单位贯彻国务院关于某某工作的通知"))
    # an interpretation of a law by the short names lawyers use
    assert {"民事诉讼法解释", "民诉法解释"} <= title_aliases("最高人民法院关于适用《中华人民共和国民事诉讼法》的解释")
    assert {"民法典婚姻家庭编解释(一)", "民法典婚姻家庭编解释"} <= title_aliases(
        "最高人民法院关于适用《中华人民共和国民法典》婚姻家庭编的解释（一）")
    assert {"保险法解释(三)", "民法典担保制度解释", "担保制度解释"} <= (title_aliases("最高人民法院关于适用《中华人民共和国保险法》若干问题的解释（三）")
                                                   | title_aliases("最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释"))


def test_a_title_spelt_out_names_itself_alone() -> None:
    # the interpretation of 2001 was answered from its sequel （四）, which shares its name without the note
    first, fourth = "最高人民法院关于审理某某案件适用法律若干问题的解释", "最高人民法院关于审理某某案件适用法律若干问题的解释（四）"
    matcher = TitleMatcher([fourth, first])
    for name in (first, "关于审理某某案件适用法律若干问题的解释"):
        assert [m.doc_keys for m in matcher.find(f"{name}第十条")] == [(first,)]
    assert [m.doc_keys for m in matcher.find("关于审理某某案件适用法律若干问题的解释（四）第十条")] == [(title_key(fourth),)]
    assert [m.doc_keys for m in TitleMatcher(["甲乙办法", "甲乙办法（试行）"]).find("甲乙办法第三条")] == [("甲乙办法",)]
    index = alias_index([(fourth, title_key(fourth)), (first, first)])
    assert documents_named(["关于审理某某案件适用法律若干问题的解释"], index) == [1]
    assert documents_named(["关于审理某某案件适用法律若干问题的解释（四）"], index) == [0]


def test_ambiguous_alias_names_all_its_documents() -> None:
    matcher = TitleMatcher(["甲乙办法（试行）", "甲乙办法（暂行）"])
    [mention] = matcher.find("甲乙办法第三条")
    assert mention.doc_keys == ("甲乙办法(暂行)", "甲乙办法(试行)")


def test_a_national_title_after_a_place_is_that_place_s_rules() -> None:
    # 四川省信访条例 is Sichuan's regulation, not the national 信访条例 it ends with
    titles = TitleMatcher(["信访条例", "北京市信访条例"])
    assert [m.doc_keys for m in titles.find("依照四川省信访条例第二十条")] == []
    assert [m.doc_keys for m in titles.find("成都市武侯区信访条例")] == []
    assert [m.doc_keys for m in titles.find("依照信访条例第二十条和北京市信访条例")] == [("信访条例",), ("北京市信访条例",)]


def test_a_known_name_inside_a_name_the_knowledge_base_lacks_is_not_mentioned() -> None:
    # 四川省信访条例 (not held) holds 信访条例 (the 2005 text, held): the question is not about the
    # national text, whose superseded articles it drew into the results
    titles = TitleMatcher(["信访条例", "信访工作条例"])
    for text in ("四川省信访条例第二十条", "《四川省信访条例》怎么规定的"):
        parsed = parse_query(text, titles)
        assert (parsed.mentioned, parsed.unknown) == ((), ("四川省信访条例",)), text
    assert parse_query("四川省信访条例和信访条例第十条", titles).mentioned == ("信访条例",)


def test_empty_query_is_an_error() -> None:
    with pytest.raises(QueryError, match="empty query"):
        parse_query("  \u3000 ")
    with pytest.raises(QueryError, match="empty query"):       # nothing to search for: not an arbitrary list
        parse_query("？？？……")


def test_an_article_after_a_name_the_knowledge_base_lacks_is_no_other_documents() -> None:
    # 第十条 of 《民法典》 was attached to the only known document named, and 信访工作条例第十条 came first
    parsed = parse_query("《民法典》第十条、第十二条和信访工作条例第三条", TitleMatcher(["信访工作条例"]))
    assert parsed.references == (Reference((), 10, 0, "民法典"), Reference((), 12, 0, "民法典"),
                                 Reference(("信访工作条例",), 3))
    assert parsed.resolve(("信访工作条例",)).references == parsed.references


def test_names_in_title_marks_the_knowledge_base_lacks() -> None:
    titles = TitleMatcher(["信访工作条例"])
    text = "《民法典》和《 信访工作条例 》第三条，《》"
    assert unknown_names(text, titles.find(text)) == {5: "民法典"}
    assert unknown_names("《" * 5000 + "民法典", []) == {}


def test_a_longer_name_in_title_marks_is_another_document() -> None:
    # 《信访工作条例实施细则》 holds the name 信访工作条例 but is another document: its 第三条 was taken
    # as 《信访工作条例》第三条 and answered first
    titles = TitleMatcher(["信访工作条例", "中华人民共和国行政诉讼法"])
    parsed = parse_query("《信访工作条例实施细则》第三条", titles)
    assert parsed.references == (Reference((), 3, 0, "信访工作条例实施细则"),)
    assert parsed.unknown == ("信访工作条例实施细则",)
    # the country's name or a version note does not make another document (the note was said to
    # be a document the knowledge base lacks)
    for text, year in (("《行政诉讼法（2017年修正）》第二十五条", "2017"), ("《中华人民共和国行政诉讼法》第二十五条", ""),
                       ("《 行政诉讼法 》第二十五条", "")):
        parsed = parse_query(text, titles)
        assert parsed.references == (Reference(("行政诉讼法",), 25, year=year),) and parsed.unknown == (), text


def test_a_name_without_title_marks_before_an_article_the_knowledge_base_lacks() -> None:
    # "劳动合同法第十条" over a knowledge base without 劳动合同法 was told that "第十条" named no
    # document, though the question names one; and where 民法典 declares 合同法 repealed, that it
    # asked for 《合同法》 (the longest name known was read inside the longer one)
    titles, repealed = TitleMatcher(["中华人民共和国民法典", "信访工作条例"]), TitleMatcher(["中华人民共和国合同法"])
    for text in ("劳动合同法第十条", "我想问劳动合同法 第十条", "民法典和劳动合同法第十条", "中华人民共和国劳动合同法第十条"):
        parsed = parse_query(text, titles, repealed=repealed)
        assert parsed.unknown in (("劳动合同法",), ("中华人民共和国劳动合同法",)), text
        assert [(r.doc_keys, r.no, bool(r.unknown)) for r in parsed.references] == [((), 10, True)], text
    parsed = parse_query("信访工作条例实施细则第三条", titles)
    assert parsed.unknown == ("信访工作条例实施细则",) and parsed.references == (Reference((), 3, 0, "信访工作条例实施细则"),)
    # the text's own (本法), a word alone (规定), a name known with its version (原, 新的) is no unknown name
    for text in ("本法第十条", "这个办法第三条", "用人单位违反规定第十条", "原信访工作条例第三条", "新的信访工作条例第三条",
                 "民法典第十条", "2005年信访工作条例第三条", "第三条和第四条"):
        assert parse_query(text, titles, repealed=repealed).unknown == (), text
    assert unknown_names("刑法第二十条和治安管理处罚法第一条", []) == {2: "刑法", 14: "治安管理处罚法"}
    assert unknown_names("劳动合同法10条", []) == {5: "劳动合同法"} and unknown_names("他提了3条意见", []) == {}
    asked = "关于审理劳动争议案件适用法律若干问题的解释"          # not 《法律若干问题的解释》
    assert unknown_names(f"{asked}第十条怎么理解", []) == {len(asked): asked}
    # 新 starts names too: it was cut off (《疆维吾尔自治区信访条例》, 《闻出版管理条例》)
    for text in ("新疆维吾尔自治区信访条例第十条", "新闻出版管理条例第三条"):
        assert list(unknown_names(text, titles.find(text)).values()) == [text[:text.index("第")]], text
    assert parse_query("新信访工作条例第三条", titles).unknown == ()


@pytest.mark.parametrize("text, year, earlier", [
    ("《行政诉讼法》（2017年修正）第二十五条", "2017", False),
    ("《行政诉讼法（2017年修正）》第二十五条", "2017", False),
    ("行政诉讼法(2017)第二十五条", "2017", False),
    ("2017年修正的《行政诉讼法》第二十五条", "2017", False),
    ("2017年的行政诉讼法第二十五条讲的什么", "2017", False),
    ("原《行政诉讼法》第二十五条", "", True),
    ("修订前的行政诉讼法第二十五条", "", True),
    ("以前的行政诉讼法第二十五条", "", True),           # as trainees say it: read as nothing before
    ("老的行政诉讼法第二十五条", "", True),
    ("行政诉讼法第二十五条", "", False),
])
def test_a_version_hint_goes_with_the_articles_of_the_name(text: str, year: str, earlier: bool) -> None:
    # the note was read as nothing: "《行政诉讼法》（2017年修正）第二十五条" got the text in force
    titles = TitleMatcher(["中华人民共和国行政诉讼法"])
    assert parse_query(text, titles).references == (Reference(("行政诉讼法",), 25, 0, "", year, earlier),)


def test_a_version_hint_is_for_its_own_name_and_list() -> None:
    titles = TitleMatcher(["中华人民共和国行政诉讼法", "中华人民共和国民法典"])
    parsed = parse_query("2017年修正的行政诉讼法第二条、第三条和民法典第四条", titles)
    assert [(r.no, r.year) for r in parsed.references] == [(2, "2017"), (3, "2017"), (4, "")]
    parsed = parse_query("《行政诉讼法》（2017年修正）第三章第二节和民法典第四章", titles)
    assert parsed.divisions == (DivisionReference(("行政诉讼法",), (("章", 3), ("节", 2)), "2017"),
                                DivisionReference(("民法典",), (("章", 4),)))
    assert parse_query("原行政诉讼法第三章", titles).divisions == (
        DivisionReference(("行政诉讼法",), (("章", 3),), earlier=True),)


def test_a_document_named_with_a_version_is_kept_for_the_search() -> None:
    titles = TitleMatcher(["中华人民共和国行政诉讼法", "中华人民共和国民法典"])
    assert parse_query("原行政诉讼法对起诉期限怎么规定", titles).versions == (NamedVersion(("行政诉讼法",), earlier=True),)
    assert parse_query("2017年修正的行政诉讼法和民法典有什么关系", titles).versions == (
        NamedVersion(("行政诉讼法",), "2017"),)
    assert parse_query("行政诉讼法和民法典有什么关系", titles).versions == ()
    # an older version beside the text in force: both searched, the text in force shown first
    assert not parse_query("以前的行政诉讼法对起诉期限怎么规定", titles).asks_current
    compared = parse_query("以前的行政诉讼法说六个月内起诉，修订后变了没有", titles)
    assert compared.versions == (NamedVersion(("行政诉讼法",), earlier=True),) and compared.asks_current
    assert not parse_query("行政诉讼法修订后变了没有", titles).asks_current     # no older version named


def test_a_question_on_a_documents_layout() -> None:
    titles = TitleMatcher(["信访工作条例", "中华人民共和国民法典"])
    for text in ("信访工作条例有几章", "民法典一共多少条", "信访工作条例的结构", "民法典分哪几部分", "民法典和信访工作条例各有几章"):
        assert parse_query(text, titles).asks_outline, text
    for text in ("有几章", "信访工作条例哪几条讲期限", "信访工作条例第三章", "民法典规定几天内",
                 "信访工作条例第四章有几条", "信访工作条例第三十一条有几项"):    # the chapter's notice counts them
        assert not parse_query(text, titles).asks_outline, text


def test_expansion_table_loads_and_expands() -> None:
    table = load_expansions()
    added = expand("老板不给工资，我想去上访", table)
    assert "信访" in added and "用人单位" in added
    assert expand("信访人上访", table).count("信访") == 0      # already in the text


def test_expansion_file_has_a_comment_header() -> None:
    assert EXPANSIONS.read_text(encoding="utf-8").startswith("#")


def test_bad_expansion_line_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "exp.txt"
    bad.write_text("# header\n上访 信访\n", encoding="utf-8")
    with pytest.raises(QueryError, match="exp.txt"):
        load_expansions(bad)


def test_find_references_without_mentions() -> None:
    assert find_references("第十条之二", []) == [Reference((), 10, 2)]


def divisions(text: str, titles: TitleMatcher) -> list[tuple[tuple[str, ...], str]]:
    return [(d.doc_keys, d.label) for d in parse_query(text, titles).divisions]


@pytest.mark.parametrize("text, expected", [
    ("信访工作条例第四章", [(("信访工作条例",), "第四章")]),
    ("《刑法》第二编第三章讲的是什么", [(("刑法",), "第二编第三章")]),
    ("刑法 第 2 编 第 3 章", [(("刑法",), "第二编第三章")]),
    ("信访工作条例第四章和第五章有什么区别", [(("信访工作条例",), "第四章"), (("信访工作条例",), "第五章")]),
    ("信访工作条例的第四章第一节", [(("信访工作条例",), "第四章第一节")]),
    ("第四章讲什么", [((), "第四章")]),
    ("信访工作条例规定，第四章", [(("信访工作条例",), "第四章")]),   # the only document named, as for 第33条
    ("民法典和刑法里面，第四章", [((), "第四章")]),     # other words between and two documents: neither's
    ("第零章", []),
    ("信访工作条例第三十条", []),
])
def test_divisions(text: str, expected: list, titles: TitleMatcher) -> None:
    assert divisions(text, titles) == expected


def test_an_article_after_a_chapter_is_the_documents(titles: TitleMatcher) -> None:
    # before, the chapter between the name and the article left the article without a document
    assert refs("信访条例和信访工作条例第四章第三十条", titles) == [(("信访工作条例",), 30, 0)]


def test_resolve_attaches_unnamed_divisions() -> None:
    parsed = parse_query("第四章讲什么").resolve(("信访工作条例",))
    assert parsed.divisions == (DivisionReference(("信访工作条例",), (("章", 4),)),)


def test_division_of_a_heading() -> None:
    assert division_of("第四章 信访事项的办理") == ("章", 4)
    assert division_of("第二编 分则") == ("编", 2)
    assert division_of("第一分编 通则") == ("分编", 1)
    assert division_of("附则") is None and division_of("") is None


def test_division_path_finds_the_divisions_in_order() -> None:
    headings = ("", "第二编 分则", "第三章 破坏社会主义市场经济秩序罪", "第一节 生产、销售伪劣商品罪")
    assert division_path(headings, [("编", 2), ("章", 3)]) == headings[:3]
    assert division_path(headings, [("章", 3)]) == headings[:3]
    assert division_path(headings, [("节", 1)]) == headings
    assert division_path(headings, [("章", 3), ("编", 2)]) is None          # out of order
    assert division_path(headings, [("章", 4)]) is None


@pytest.mark.parametrize("text, simplified", [
    ("信訪工作條例第三十六條", "信访工作条例第三十六条"),
    ("對處理意見不服還能找誰？", "对处理意见不服还能找谁？"),
    ("乾淨的頭髮", "干净的头发"),                        # a phrase read as one
    ("乾隆年間", "乾隆年间"),                            # 乾 of a name stays
    ("破壞土地和破坏土地", "破坏土地和破坏土地"),          # OpenCC alone makes the second 破坯土地
    ("二噁英是甚麼", "二噁英是甚么"),                    # not 𫫇, which no law text writes
    ("破坏土地的，依法处罚", "破坏土地的，依法处罚"),      # simplified text is left as it is
])
def test_traditional_characters_are_made_simplified_in_place(text: str, simplified: str) -> None:
    assert to_simplified(text) == simplified
    assert len(to_simplified(text)) == len(text)


def test_a_query_in_traditional_characters_asks_what_its_simplified_form_asks(titles: TitleMatcher) -> None:
    assert normalise_query("信訪工作條例　第三十六條") == "信访工作条例 第三十六条"
    assert refs("信訪工作條例第三十六條第二款", titles) == refs("信访工作条例第三十六条第二款", titles) != []
    assert parse_query("人民調解法規定的調解協議", titles).mentioned == ("人民调解法",)


def test_a_number_of_articles_alone_is_a_reference(titles: TitleMatcher) -> None:
    assert refs("36条", titles) == [((), 36, 0)]
    assert refs(" 36 条？", titles) == [((), 36, 0)]
    assert parse_query("35条").resolve(("信访工作条例",)).references == (Reference(("信访工作条例",), 35, 0),)
    assert [(r.no, r.paragraph) for r in parse_query("36条第2款").references] == [(36, 2)]
    for text in ("他提了3条意见", "3条建议", "有几条规定"):           # a count in a sentence is not
        assert refs(text, titles) == [], text


def test_the_topic_of_a_question_that_names_documents_leaves_their_names_out(titles: TitleMatcher) -> None:
    # the retrievers score the topic: the title's words matched each document's first and last articles
    assert parse_query("信访工作条例对重复信访是怎么规定的", titles).topic == "对重复信访是怎么规定的"
    assert parse_query("《中华人民共和国民法典》中离婚冷静期怎么算", titles).scored_text == "中离婚冷静期怎么算"
    assert parse_query("《某某小区用户手册》里有没有物业费", titles).topic == ""                  # not a document held
    assert parse_query("请问人民调解法和《劳动法》里有哪些期限", titles).topic == "里有哪些期限"
    assert parse_query("重复信访是怎么规定的", titles).topic == ""                                # names none
    # inside a question a law's name is often what it asks about, and the answer in another text
    assert parse_query("违反劳动法规定不签合同怎么办", titles).topic == ""
    assert parse_query("信访工作条例第三十三条讲什么", titles).topic == ""                      # by number
    plain = parse_query("信访工作条例的", titles)                                             # nothing left
    assert (plain.topic, plain.scored_text) == ("", "信访工作条例的")


@pytest.mark.parametrize("text, corrected, doc_keys", [
    ("信访工作条列第三十五条", ("信访工作条列", "信访工作条例"), ("信访工作条例",)),       # no name found before it
    ("人民调节法第十七条", ("人民调节法", "人民调解法"), ("人民调解法",)),               # a name it lacks
    ("《人民调节法》第十七条", ("人民调节法", "人民调解法"), ("人民调解法",)),
    ("民法典第十条和信访工作条列第三十五条", ("信访工作条列", "信访工作条例"), ("信访工作条例",)),
])
def test_a_name_typed_one_character_off_is_read_as_the_one_known(text: str, corrected: tuple, doc_keys: tuple,
                                                                titles: TitleMatcher) -> None:
    parsed = parse_query(text, titles)
    assert parsed.corrected == (corrected,) and parsed.references[-1].doc_keys == doc_keys and not parsed.unknown


def test_what_is_not_read_as_a_slip() -> None:
    titles = TitleMatcher(["河南省信访条例", "某市调解办法（一）", "某市调解办法（二）", "甲乙丙丁条例", "甲乙丙戊条例"])
    assert titles.near("湖南省信访条例") is None          # another place's text
    assert titles.near("某市调解办法(三)") is None         # another number
    assert titles.near("甲乙丙己条例") is None            # two texts one character off: which is not known
    assert titles.near("信访条列") is None and titles.near("条列") is None      # nothing near; too short
    assert parse_query("湖南省信访条例第五条", titles).unknown == ("湖南省信访条例",)


def test_a_part_named_before_its_chapter(titles: TitleMatcher) -> None:
    # 民法典婚姻家庭编第二章: the part narrows the chapter (民法典 has seven 第二章, one per 编)
    [division] = parse_query("民法典婚姻家庭编第二章讲什么", titles).divisions
    assert (division.doc_keys, division.part, division.divisions) == (("民法典",), "婚姻家庭编", (("章", 2),))
    assert division.label == "婚姻家庭编第二章"
    assert parse_query("《民法典》的总则第六章", titles).divisions[0].part == "总则"
    assert parse_query("信访工作条例第四章", titles).divisions[0].part == ""


def test_a_lone_surrogate_in_a_question_is_no_crash() -> None:
    """A JSON batch line may escape half a surrogate pair ("\\udce5"), which no encoder takes."""
    assert normalise_query("\udce5信访") == "\ufffd信访"


def test_doc_numbers_asked_for_are_read_with_their_years_in_tortoise_shell_brackets() -> None:
    assert parse_query("根据国办发﹝2013﹞1号和国务院令第 431 号，信访事项怎么办？").doc_numbers == (
        "根据国办发〔2013〕1号", "和国务院令第431号")
    assert parse_query("信访事项怎么办").doc_numbers == ()


def test_radicals_copied_from_a_pdf_read_as_the_characters_they_stand_for() -> None:
    assert normalise_query("⼈⺠调解委员会⻓期不处理怎么办") == "人民调解委员会长期不处理怎么办"


def test_a_question_typed_in_a_gbk_terminal_reads_as_chinese() -> None:
    from index.__main__ import _parser
    args = _parser().parse_args(["search", os.fsdecode("对处理意见不服".encode("gb18030")),
                                 "--doc", os.fsdecode("信访工作条例".encode("gb18030"))])
    assert (args.query, args.doc) == ("对处理意见不服", ["信访工作条例"])
