"""End to end on our own fixtures: parse_file / parse_text, metadata, sidecars and front
matter, the inspect JSON shape, and plain-text variants (BOM, CRLF, 目录, hard wraps)."""
from __future__ import annotations

from pathlib import Path

import pytest

from ingest.parse import document_to_json, parse_file, parse_text, place_doubts
from ingest.records import Doubt
from kb.errors import IngestError, NotADocument
from guards import GUARD_SECONDS, time_limit

FIXTURES = Path(__file__).parent / "fixtures"
REGULATION = FIXTURES / "made-up-regulation.md"
NOTICE = FIXTURES / "made-up-notice.md"
# OCR doubts against as many units: enough that searching every unit for each (quadratic)
# overruns the guard several times over.
HOSTILE_DOUBTS = 8_000


def test_markdown_regulation_metadata():
    doc = parse_file(REGULATION)
    m = doc.meta
    assert (m.title, m.doc_type, m.issuer) == ("青禾市社区矛盾调解服务办法", "办法", "青禾市人民政府")
    assert (m.doc_number, m.level, m.region) == ("青禾市人民政府令第7号", "地方政府规章", "青禾市")
    assert (m.promulgated, m.effective, m.version_date) == ("2023-03-10", "2023-05-01", "2023-03-10")
    assert [e.kind for e in m.history] == ["adopted", "promulgated", "effective"]
    assert len(doc.articles) == 10 and doc.encoding == "utf-8"


def test_markdown_notice_outline_attachments_and_signature():
    doc = parse_file(NOTICE)
    m = doc.meta
    assert (m.title, m.doc_type, m.doc_number) == ("关于做好社区信访代理服务工作的通知", "通知", "青信发〔2023〕12号")
    assert (m.issuer, m.level, m.promulgated) == ("青禾市信访局、青禾市民政局", "规范性文件", "2023-06-01")
    assert [(s.heading, s.level) for s in doc.sections] == [
        ("一、明确服务内容", 1), ("（一）代理范围", 2), ("（二）工作要求", 2), ("1.代理员应当如实记录群众诉求", 3),
        ("2.代理员应当严格保守群众个人信息", 3), ("二、加强组织保障", 1), ("（一）经费保障", 2)]
    assert doc.attachments == ("社区信访代理登记表", "社区信访代理服务流程图")
    assert all("此件公开发布" not in s.text for s in doc.sections)
    assert doc.preamble.startswith("各区县信访局、民政局：")


def test_document_to_json_shape():
    data = document_to_json(parse_file(REGULATION))
    for key in ("title", "subtitle", "issuer", "doc_number", "dates", "level", "region", "status",
                "chapters", "articles", "sections", "attachments"):
        assert key in data
    assert set(data["dates"]) == {"promulgated", "effective", "version", "history"}
    assert data["dates"]["history"][0] == {"date": "2023-03-01", "event": "青禾市人民政府第12次常务会议通过",
                                           "kind": "adopted"}
    assert data["chapters"] == ["第一章 总则", "第二章 调解组织", "第三章 附则"]
    suffixed = data["articles"][6]
    assert suffixed == {"no": 6, "suffix": 1, "label": "第六条之一", "path": ["第二章 调解组织", "第二节 调解员"],
                        "paragraphs": ["调解员每年参加业务培训不少于十六学时。"], "text": "调解员每年参加业务培训不少于十六学时。"}
    outline = document_to_json(parse_file(NOTICE))
    assert outline["articles"] == [] and outline["dates"]["effective"] is None
    assert outline["sections"][1] == {"heading": "（一）代理范围", "level": 2, "path": ["一、明确服务内容"],
                                      "text": "社区信访代理员可以代为提出信访事项、跟踪办理进度、反馈处理结果。"}


@pytest.mark.parametrize("suffix", [".meta.yaml", ".meta.yml"])
def test_sidecar_overrides_inferred_metadata(tmp_path, suffix):
    path = tmp_path / "办法.md"
    path.write_bytes(REGULATION.read_bytes())
    (tmp_path / ("办法.md" + suffix)).write_text(
        "title: 青禾市社区调解办法\nlevel: 规范性文件\nregion: 四川省成都市\nstatus: 已废止\neffective: 2024-01-01\n",
        encoding="utf-8")
    m = parse_file(path).meta
    assert (m.title, m.level, m.region, m.status, m.effective) == (
        "青禾市社区调解办法", "规范性文件", "四川省成都市", "repealed", "2024-01-01")
    assert m.issuer == "青禾市人民政府"  # not overridden


def test_bad_sidecar_names_the_sidecar(tmp_path):
    path = tmp_path / "办法.md"
    path.write_bytes(REGULATION.read_bytes())
    sidecar = tmp_path / "办法.md.meta.yaml"
    sidecar.write_text("level: 省级法规\n", encoding="utf-8")
    with pytest.raises(IngestError) as err:
        parse_file(path)
    assert (err.value.kind, err.value.reason) == ("corrupt", "bad_sidecar")
    assert str(err.value).startswith(str(sidecar) + ": ") and "\n" not in str(err.value)


def test_front_matter_overrides_and_front_matter_only_files():
    text = "---\ntitle: 另一个标题\nlevel: 部门规章\nweight: 5\n---\n" + REGULATION.read_text(encoding="utf-8")
    doc = parse_text(text, source="规章/办法.md")
    assert (doc.meta.title, doc.meta.level) == ("另一个标题", "部门规章")
    assert len(doc.articles) == 10
    with pytest.raises(NotADocument):
        parse_text("---\nbookCollapseSection: true\n---", source="法律/_index.md")
    with pytest.raises(IngestError) as err:
        parse_text("---\nstatus: [x\n---\n# 标题\n", source="a.md")
    assert err.value.reason == "bad_sidecar"


def test_markdown_without_info_end_marker():
    doc = parse_text("# 青禾市调解规定\n\n2023年3月1日 青禾市人民政府发布\n\n第一条 甲。\n\n第二条 乙。\n", source="a.md")
    assert doc.meta.title == "青禾市调解规定" and doc.meta.promulgated == "2023-03-01"
    assert [a.text for a in doc.articles] == ["甲。", "乙。"]


def plain_regulation() -> list[str]:
    lines = []
    for line in REGULATION.read_text(encoding="utf-8").splitlines():
        line = line.lstrip("#").strip()
        if line and line != "<!-- INFO END -->":
            lines.append(line)
    return lines


def test_bom_crlf_ideographic_spaces_and_toc(tmp_path):
    lines = plain_regulation()
    body_start = lines.index("第一章 总则")
    toc = ["目\u3000\u3000录", "第一章\u3000总\u3000\u3000则", "第二章\u3000调解组织", "第三章\u3000附\u3000\u3000则"]
    spaced = [("\u3000\u3000" + ln.replace(" ", "\u3000", 1)) for ln in lines]
    text = "\r\n".join(["青 禾 市 社 区 矛 盾 调 解 服 务 办 法"] + spaced[1:body_start] + toc + spaced[body_start:])
    path = tmp_path / "regulation.txt"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    doc = parse_file(path)
    assert doc.encoding == "utf-8-sig"
    assert doc.meta.title == "青禾市社区矛盾调解服务办法"
    assert doc.chapters == ["第一章 总则", "第二章 调解组织", "第三章 附则"]
    assert "目录 block dropped" in doc.notes
    assert len(doc.articles) == 10 and doc.articles[0].path == ("第一章 总则",)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\v", "\f\n", "\r", "\x85"])
def test_every_kind_of_line_break_separates_lines(tmp_path, separator):
    # text joined by U+2028 (web editors', Word's exports) or vertical tabs (Word's manual line
    # breaks, copied) was one line: no article was found
    path = tmp_path / "regulation.txt"
    path.write_text(separator.join(plain_regulation()), encoding="utf-8")
    doc = parse_file(path)
    assert doc.meta.title == "青禾市社区矛盾调解服务办法" and len(doc.articles) == 10


def test_hard_wrapped_text_with_page_furniture():
    width, lines = 18, []
    for line in plain_regulation():
        lines += [line[i:i + width] for i in range(0, len(line), width)]
    paged = []
    for n, start in enumerate(range(0, len(lines), 15), 1):
        paged += lines[start:start + 15] + [f"- {n} -", "青禾市人民政府公报"]
    doc = parse_text("\n".join(paged), source="in/regulation.txt")
    assert doc.meta.title == "青禾市社区矛盾调解服务办法"
    assert [a.label for a in doc.articles][-3:] == ["第七条", "第八条", "第九条"]
    assert doc.articles[8].text == "依照本办法第四条、第五条设立的调解委员会，应当在设立之日起三十日内向所在街道办事处备案。"
    assert all("公报" not in a.text and "-" not in a.text for a in doc.articles)


def test_many_doubts_are_placed_in_linear_time():
    units = [f"信访人应当在五日内提出复查请求第{i}项" for i in range(HOSTILE_DOUBTS)]
    # contexts found in no unit (the costly case: every unit was searched), then one in the last
    doubts = [Doubt("丂", f"丂丂丂{i}", 0.3) for i in range(HOSTILE_DOUBTS)]
    doubts.append(Doubt("求", f"复查请求第{HOSTILE_DOUBTS - 1}项", 0.5))
    with time_limit(GUARD_SECONDS):
        placed = place_doubts(doubts, units)
    assert [d.unit for d in placed] == [-1] * HOSTILE_DOUBTS + [HOSTILE_DOUBTS - 1]


TRADITIONAL_RULES = """社區糾紛調處辦法

第一章 總則

第一條 為了規範社區糾紛調處工作，制定本辦法。

第二條 鄰里之間發生糾紛的，社區調處委員會應當在七日內組織雙方協商。
"""


def test_a_text_in_traditional_characters_is_stored_simplified() -> None:
    doc = parse_text(TRADITIONAL_RULES, source="社區糾紛調處辦法.txt")
    assert doc.meta.title == "社区纠纷调处办法"
    assert [(a.label, a.path) for a in doc.articles] == [("第一条", ("第一章 总则",)), ("第二条", ("第一章 总则",))]
    assert doc.articles[1].text == "邻里之间发生纠纷的，社区调处委员会应当在七日内组织双方协商。"
    assert "traditional characters made simplified" in doc.notes
    untitled = parse_text(TRADITIONAL_RULES.split("\n", 1)[1], source="社區糾紛調處辦法.txt")
    assert untitled.meta.title == "社区纠纷调处办法"             # named by its file


def test_a_simplified_text_with_a_rare_traditional_form_is_left_as_written() -> None:
    text = "某某条例\n\n第一条 乾坤湾景区的管理适用本条例。\n\n第二条 本条例自公布之日起施行。\n"
    doc = parse_text(text, source="某某条例.txt")
    assert doc.articles[0].text == "乾坤湾景区的管理适用本条例。"
    assert "traditional characters made simplified" not in doc.notes
