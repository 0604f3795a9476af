"""Clean-up on strings: characters, page furniture, wrapped lines, 目录 blocks."""
from __future__ import annotations

import pytest

from ingest.clean import (drop_toc, is_page_number, join_wrapped_lines, looks_hard_wrapped,
                          normalize_chars, remove_page_furniture, squeeze_cjk_spaces,
                          unletterspace, visual_width)
from guards import GUARD_SECONDS, time_limit

# Equal-length lines without end punctuation join into one paragraph: enough of them that
# rebuilding and recounting the paragraph at every line (quadratic) overruns the guard.
HOSTILE_WRAPPED_LINES = 20_000


def test_fullwidth_ascii_becomes_ascii_but_chinese_punctuation_stays():
    assert normalize_chars("第１０５条　ＡＢＣ１２３") == "第105条 ABC123"
    assert normalize_chars("（一）依法，调解：理由；是否！何时？") == "（一）依法，调解：理由；是否！何时？"
    assert normalize_chars("《条例》“引号”〔2024〕") == "《条例》“引号”〔2024〕"


def test_odd_spaces_and_zero_width_characters():
    assert normalize_chars("信\u200b访\ufeff条例\u00a0第一条") == "信访条例 第一条"
    assert normalize_chars("\u3000\u3000第一条\u3000为了") == "  第一条 为了"  # indentation kept


def test_radicals_that_stand_for_characters_become_those_characters():
    # PDFs made from Word documents write 第⼀条 with the Kangxi radical U+2F00 for 一 and ⺠ (CJK
    # Radicals Supplement) for 民: no article heading was found, and no word matched
    assert normalize_chars("第⼀条 ⼈⺠政府⻓期⾏政⾸⻓，⻔⼾⻋辆") == "第一条 人民政府长期行政首长，门户车辆"
    assert normalize_chars("第\uf9d1条 ⾨⾺") == "第六条 门马"    # a compatibility ideograph; Kangxi forms simplified


def test_spaces_between_digits_and_chinese_are_removed():
    assert normalize_chars("本条例自 2022 年 5 月 1 日起施行。") == "本条例自2022年5月1日起施行。"
    assert normalize_chars("中共中央 国务院印发") == "中共中央 国务院印发"
    assert normalize_chars("Article  3   of the law") == "Article 3 of the law"


def test_squeeze_and_unletterspace():
    assert squeeze_cjk_spaces("总 则 第 一") == "总则第一"
    assert squeeze_cjk_spaces("ISO 9001 认证") == "ISO 9001 认证"
    assert unletterspace("信 访 工 作 条 例") == "信访工作条例"
    assert unletterspace("最高人民法院 最高人民检察院关于") == "最高人民法院 最高人民检察院关于"


def test_visual_width_counts_chinese_double():
    assert visual_width("第1条") == 5


@pytest.mark.parametrize("line", ["— 3 —", "- 12 -", "· 3 ·", "第3页 共10页", "第 3 页", "3/10", "7", " 15 "])
def test_page_numbers(line):
    assert is_page_number(line)


@pytest.mark.parametrize("line", ["第三条 本条例", "2022年", "（3）", "第3条"])
def test_not_page_numbers(line):
    assert not is_page_number(line)


def test_running_header_and_footer_removed_from_pages():
    bodies = [("调解委员会应当建立登记制度。", "登记应当载明纠纷事实。"), ("调解员应当公道正派。", "调解不得收费。"),
              ("当事人可以申请回避。", "回避由主任决定。"), ("调解协议应当书面订立。", "协议由双方签名。"),
              ("本办法自公布之日起施行。", "由市司法局负责解释。")]
    pages = [[f"人民公报 2023年第{i + 4}期", *body, f"— {i} —"] for i, body in enumerate(bodies, 1)]
    cleaned = remove_page_furniture(pages)
    assert cleaned == [list(body) for body in bodies]


def test_line_repeated_on_few_pages_is_kept():
    pages = [[text] for text in ("甲条内容。", "乙条内容。", "丙条内容。", "丁条内容。", "戊条内容。", "己条内容。")]
    pages[1].insert(0, "调解原则")
    pages[4].insert(0, "调解原则")  # on 2 of 6 pages: a repeated phrase, not a header
    assert remove_page_furniture(pages)[1] == ["调解原则", "乙条内容。"]


def test_single_flow_text_is_cut_at_page_numbers_and_headers_removed():
    body = ["调解委员会应当建立登记制度。", "调解员应当公道正派。", "当事人可以申请回避。", "协议由双方签名。"]
    flow = []
    for i, line in enumerate(body, 1):
        flow += ["某省人民政府公报", line, f"— {i} —"]
    cleaned = [ln for page in remove_page_furniture([flow]) for ln in page]
    assert cleaned == body


HARD_WRAPPED = [
    "第一条 为了规范社区矛盾调解服务，及时化解邻里纠",
    "纷，维护社区和谐稳定，制定本办法。",
    "第二条 调解员应当遵守本办法第十八条、第十九条、",
    "第二十条的规定。",
    "第三条 本办法自2023年5月1日起施行，有效期至",
    "2028年4月30日止；期满前由市司法局组织评估。",
]


def test_join_hard_wrapped_lines_keeps_cross_references_inside():
    assert join_wrapped_lines(HARD_WRAPPED) == [
        "第一条 为了规范社区矛盾调解服务，及时化解邻里纠纷，维护社区和谐稳定，制定本办法。",
        "第二条 调解员应当遵守本办法第十八条、第十九条、第二十条的规定。",
        "第三条 本办法自2023年5月1日起施行，有效期至2028年4月30日止；期满前由市司法局组织评估。",
    ]


def test_join_uses_indentation_when_the_text_has_it():
    lines = ["  第一条 调解委员会应当建立调解登记、回访和档案管理制",
             "度。调解登记应当载明当事人的基本情况和纠纷事实。",
             "  调解委员会应当定期回访。",
             "第二章 调解员",
             "  第二条 调解员应当公道正派，热心调解工作，并且具有",
             "一定的法律知识。"]
    assert join_wrapped_lines(lines) == [
        "第一条 调解委员会应当建立调解登记、回访和档案管理制度。调解登记应当载明当事人的基本情况和纠纷事实。",
        "调解委员会应当定期回访。", "第二章 调解员",
        "第二条 调解员应当公道正派，热心调解工作，并且具有一定的法律知识。"]


def test_join_open_bracket_and_numbers_split_across_lines():
    lines = ["青禾条例", "（2023年3月1日青禾市人大常委会通过 2023年", "3月10日公布）",
             "第一条 调解委员会应当自收到书面申请之日起1", "5日内作出是否受理的决定。"]
    assert join_wrapped_lines(lines) == [
        "青禾条例", "（2023年3月1日青禾市人大常委会通过 2023年3月10日公布）",
        "第一条 调解委员会应当自收到书面申请之日起15日内作出是否受理的决定。"]


def test_a_bracket_stays_open_over_several_wrapped_lines():
    lines = ["青禾条例", "（2023年3月1日青禾市人大", "常委会通过 2023年3月", "10日公布）", "第一条 甲。"]
    assert join_wrapped_lines(lines) == [
        "青禾条例", "（2023年3月1日青禾市人大常委会通过 2023年3月10日公布）", "第一条 甲。"]


def test_thousands_of_wrapped_lines_join_in_linear_time():
    line = "信访工作事项办理程序" * 2
    with time_limit(GUARD_SECONDS):
        paragraphs = join_wrapped_lines([line] * HOSTILE_WRAPPED_LINES)
    assert paragraphs == [line * HOSTILE_WRAPPED_LINES]


def test_blank_lines_always_end_paragraphs():
    assert join_wrapped_lines(["甲甲甲甲甲甲甲甲", "", "乙乙乙乙乙乙乙乙"]) == ["甲甲甲甲甲甲甲甲", "乙乙乙乙乙乙乙乙"]


def test_looks_hard_wrapped():
    wrapped = ["调解" * 10] * 30 + ["短行。"] * 5
    assert looks_hard_wrapped(wrapped)
    paragraphs = [f"第{i}条 " + "内容" * (5 + 7 * i) + "。" for i in range(1, 30)]
    assert not looks_hard_wrapped(paragraphs)


def test_drop_toc_block():
    lines = ["青禾市社区调解条例", "目  录", "第一章 总则", "第二章 调解组织", "第三章 附则",
             "第一章 总则", "第一条 为了规范调解。", "第二章 调解组织", "第二条 设立调解委员会。"]
    kept, dropped = drop_toc(lines)
    assert dropped
    assert kept == ["青禾市社区调解条例", "第一章 总则", "第一条 为了规范调解。", "第二章 调解组织",
                    "第二条 设立调解委员会。"]


def test_drop_toc_with_page_refs_and_no_toc():
    lines = ["目次", "第一章 总则……1", "第二章 附则……5", "第一章 总则", "第一条 内容。"]
    assert drop_toc(lines) == (["第一章 总则", "第一条 内容。"], True)
    plain = ["第一章 总则", "第一条 目录管理应当规范。"]
    assert drop_toc(plain) == (plain, False)
