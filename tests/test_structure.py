"""Structure recovery on strings: headings, articles (款/项, 之一, cross-references), outline
sections (levels, breadcrumbs, size cap), 附则/序言/附件 — and the Chinese numerals they use."""
from __future__ import annotations

import pytest

from ingest.structure import (SECTION_MAX_CHARS, is_article_text, match_heading, match_outline,
                              normalize_heading, parse_structure, split_section)
from kb.chinese import article_label, cn_to_int, int_to_cn, parse_article_label
from guards import GUARD_SECONDS, time_limit

# Hostile sizes: each makes the former quadratic code overrun the guard several times over.
HOSTILE_ATTACHMENT_LINES = 60_000       # "附件：" lines, each of which copied the rest of the body
HOSTILE_ITEMS = 14_000                  # long 项 of one 款, each of which copied the 款 so far
HOSTILE_PARAGRAPH_CHARS = 12_000_000    # one paragraph without 。, cut into pieces by copying the rest


# --- numerals (kb.chinese) -----------------------------------------------------------------

@pytest.mark.parametrize("text,value", [("一", 1), ("十", 10), ("十一", 11), ("二十", 20), ("一百零五", 105),
                                        ("一百一十", 110), ("一千二百六十", 1260), ("一千零一十", 1010),
                                        ("两千", 2000), ("二〇二二", 2022), ("105", 105), ("１０５", 105)])
def test_cn_to_int(text, value):
    assert cn_to_int(text) == value


@pytest.mark.parametrize("value", [1, 10, 11, 20, 105, 110, 119, 1000, 1010, 1165, 1260, 10010])
def test_int_to_cn_round_trips(value):
    assert cn_to_int(int_to_cn(value)) == value


def test_article_labels():
    assert article_label(120, 1) == "第一百二十条之一"
    assert parse_article_label("第十条之一") == (10, 1)
    assert parse_article_label("第105条") == (105, 0)
    with pytest.raises(ValueError):
        cn_to_int("十x")


# --- headings --------------------------------------------------------------------------------

def test_heading_normalisation():
    assert normalize_heading("一", "章", "总  则") == "第一章 总则"
    assert match_heading("第一章　总　　则".replace("\u3000", " ")) == ("章", "第一章 总则")
    assert match_heading("第一分编 通则") == ("分编", "第一分编 通则")
    assert match_heading("第二编 物权") == ("编", "第二编 物权")
    assert match_heading("第三节调解员") == ("节", "第三节 调解员")


@pytest.mark.parametrize("line", ["第三章规定的事项，由市政府负责。", "第二节的规定适用于调解员。",
                                  "第一章、第二章的规定"])
def test_sentences_are_not_headings(line):
    assert match_heading(line) is None


# --- articles --------------------------------------------------------------------------------

REGULATION = """\
## 第一编 总则
## 第一分编 通则
## 第一章 一般规定
第一条 为了规范调解，制定本办法。
第二条 调解遵循下列原则：
（一）自愿平等；
（二）依法调解。
调解不得收费。
### 第一节 调解员
第三条 调解员应当公道正派。
第三条之一 调解员每年参加培训。
## 第二章 附则
第四条 本办法自2023年5月1日起施行。
"""


def test_articles_with_breadcrumbs_and_suffix_articles():
    s = parse_structure(REGULATION.splitlines(), markdown=True)
    assert [(a.label, a.no, a.suffix) for a in s.articles] == [
        ("第一条", 1, 0), ("第二条", 2, 0), ("第三条", 3, 0), ("第三条之一", 3, 1), ("第四条", 4, 0)]
    assert s.articles[0].path == ("第一编 总则", "第一分编 通则", "第一章 一般规定")
    assert s.articles[3].path == ("第一编 总则", "第一分编 通则", "第一章 一般规定", "第一节 调解员")
    assert s.articles[4].path == ("第一编 总则", "第一分编 通则", "第二章 附则")
    assert [n.kind for n in s.nodes] == ["编", "分编", "章", "节", "章"]
    assert s.nodes[3].path == ("第一编 总则", "第一分编 通则", "第一章 一般规定")
    assert not s.notes


def test_items_belong_to_the_paragraph_that_introduces_them():
    s = parse_structure(REGULATION.splitlines(), markdown=True)
    second = s.articles[1]
    assert second.paragraphs == ("调解遵循下列原则：\n（一）自愿平等；\n（二）依法调解。", "调解不得收费。")
    assert second.text == "调解遵循下列原则：\n（一）自愿平等；\n（二）依法调解。\n调解不得收费。"


def test_cross_reference_at_line_start_is_not_an_article():
    lines = ["第一条 调解员应当遵守本办法", "第十九条、第二十条的规定。", "第二条 本办法自公布之日起施行。"]
    s = parse_structure(lines)
    assert [a.label for a in s.articles] == ["第一条", "第二条"]
    assert s.articles[0].paragraphs == ("调解员应当遵守本办法", "第十九条、第二十条的规定。")


def test_glued_labels_count_only_in_sequence():
    # some PDFs lose the space after the label; a glued label must be the next number
    lines = ["第一条为了规范调解，制定本办法。", "第二条本办法适用于本市。",
             "第五条规定的期限届满后，调解终止。", "第三条调解不收费。"]
    s = parse_structure(lines)
    assert [a.label for a in s.articles] == ["第一条", "第二条", "第三条"]
    assert s.articles[1].paragraphs == ("本办法适用于本市。", "第五条规定的期限届满后，调解终止。")
    assert is_article_text(lines)
    assert not is_article_text(["第五条规定的期限届满后，调解终止。"])


def test_arabic_article_numbers_and_out_of_sequence_note():
    s = parse_structure(["第1条 甲。", "第2条 乙。", "第105条 丙。"])
    assert [a.no for a in s.articles] == [1, 2, 105]
    assert s.articles[2].label == "第一百零五条"
    assert s.notes == ("第一百零五条 follows 第二条 out of sequence",)


def test_preamble_and_standalone_fuze():
    lines = ["序言", "为了纪念调解工作，特制定本条例。", "第一章 总则", "第一条 甲。", "附则", "第二条 乙。"]
    s = parse_structure(lines)
    assert s.preamble == "为了纪念调解工作，特制定本条例。"
    assert s.articles[1].path == ("附则",)
    assert [n.kind for n in s.nodes] == ["序言", "章", "附则"]


def test_attachment_list_and_attachment_body():
    lines = ["第一条 甲。", "第二条 乙。", "附件：1.调解登记表 2.调解协议书", "附件1", "调解登记表",
             "第一条 登记表由调解员填写。"]
    s = parse_structure(lines)
    assert s.attachments == ("调解登记表", "调解协议书")
    assert s.articles[-1].path == ("附件1",)
    assert s.articles[1].paragraphs == ("乙。",)


def test_signing_date_after_last_article_is_not_article_text():
    s = parse_structure(["第一条 甲。", "第二条 乙。", "2023年6月1日"])
    assert s.articles[-1].text == "乙。"


def test_markdown_headings_of_other_kinds_group_articles():
    s = parse_structure(["## 一、管辖", "第一条 甲。", "## 二、回避", "第二条 乙。"], markdown=True)
    assert [(n.kind, n.heading) for n in s.nodes] == [("标题", "一、管辖"), ("标题", "二、回避")]
    assert s.articles[1].path == ("二、回避",)


# --- outline sections ------------------------------------------------------------------------

NOTICE = """\
各区县信访局：
为方便群众，通知如下。
一、明确服务内容
（一）代理范围。代理员可以代为提出信访事项。
（二）工作要求。
1. 代理员应当如实记录诉求。
2. 代理员应当严格保密，具体要求如下：
（1）不得泄露姓名；
（2）不得泄露住址。
二、加强组织保障
（一）经费保障。各区县应当将经费纳入预算。
附件：
1. 代理登记表
2. 服务流程图
"""


def test_outline_sections_levels_breadcrumbs_and_attachments():
    s = parse_structure(NOTICE.splitlines())
    assert not s.articles
    assert [(x.heading, x.level) for x in s.sections] == [
        ("一、明确服务内容", 1), ("（一）代理范围", 2), ("（二）工作要求", 2), ("1.代理员应当如实记录诉求", 3),
        ("2.代理员应当严格保密，具体要求如下", 3), ("二、加强组织保障", 1), ("（一）经费保障", 2)]
    assert s.sections[1].text == "代理员可以代为提出信访事项。"
    assert s.sections[3].path == ("一、明确服务内容", "（二）工作要求")
    assert s.sections[4].text == "（1）不得泄露姓名；\n（2）不得泄露住址。"  # (1) items stay inside
    assert s.sections[6].path == ("二、加强组织保障",)
    assert s.preamble == "各区县信访局：\n为方便群众，通知如下。"
    assert s.attachments == ("代理登记表", "服务流程图")


def test_match_outline_heading_and_inline_body():
    assert match_outline("（一）指导思想。坚持以人民为中心。") == (2, "（一）指导思想", "坚持以人民为中心。")
    assert match_outline("一、总体要求") == (1, "一、总体要求", "")
    assert match_outline("1.5倍工资") is None
    assert match_outline("第一条 甲") is None


def test_section_size_cap_splits_at_paragraphs():
    body = ["甲" * 700 + "。", "乙" * 700 + "。", "丙" * 700 + "。"]
    parts = split_section("一、总体要求", 1, (), body, max_chars=1500)
    assert [p.heading for p in parts] == ["一、总体要求（1/2）", "一、总体要求（2/2）"]
    assert parts[0].text == body[0] + "\n" + body[1]
    assert all(len(p.text) <= 1500 for p in parts)


def test_section_size_cap_splits_long_paragraph_after_sentences():
    para = ("调解员应当公道正派。" * 40)  # 400 characters
    parts = split_section("二、要求", 1, (), [para], max_chars=150)
    assert len(parts) == 3
    assert all(p.text.endswith("。") and len(p.text) <= 150 for p in parts)
    assert "".join(p.text for p in parts) == para


def test_a_body_of_attachment_lists_is_read_in_linear_time():
    names = [f"表{i}" for i in range(HOSTILE_ATTACHMENT_LINES)]
    with time_limit(GUARD_SECONDS):
        s = parse_structure([f"附件：{name}" for name in names])
    assert s.attachments == tuple(names)


def test_a_paragraph_of_many_items_is_built_in_linear_time():
    item = "（一）" + "甲乙丙丁" * 25 + "；"
    with time_limit(GUARD_SECONDS):
        s = parse_structure(["第一条 规定如下："] + [item] * HOSTILE_ITEMS)
    assert s.articles[0].paragraphs == ("\n".join(["规定如下："] + [item] * HOSTILE_ITEMS),)


def test_a_huge_paragraph_is_split_in_linear_time():
    para = "甲" * HOSTILE_PARAGRAPH_CHARS
    with time_limit(GUARD_SECONDS):
        parts = split_section("一、要求", 1, (), [para])
    assert len(parts) == HOSTILE_PARAGRAPH_CHARS // SECTION_MAX_CHARS
    assert all(len(p.text) == SECTION_MAX_CHARS for p in parts)


def test_large_outline_document_sections_respect_the_cap():
    lines = ["一、总体要求"] + ["调解工作应当依法进行，做到公平公正。" * 10] * 20
    s = parse_structure(lines)
    assert len(s.sections) > 1
    assert all(len(x.text) <= 1500 for x in s.sections)


def test_text_without_articles_or_headings_is_one_body_section():
    s = parse_structure(["为规范海事案件管辖，解释如下：", "海事法院不受理行政案件。"])
    assert [(x.heading, x.text) for x in s.sections] == [
        ("正文", "为规范海事案件管辖，解释如下：\n海事法院不受理行政案件。")]
