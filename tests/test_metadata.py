"""Metadata on strings: history dates, 文号, issuers, titles, doc types, level, region, status,
sidecar YAML."""
from __future__ import annotations

import pytest

from ingest.metadata import (SidecarError, declared_status, doc_type_of, event_kind,
                             find_doc_number, find_title, is_issuer_line, issuer_of, level_of,
                             organ_of_event, parse_history, parse_sidecar, region_of,
                             repealed_titles, resolve_dates, split_front_matter)
from guards import GUARD_SECONDS, time_limit

# Hostile sizes: each makes the former list searches (quadratic) overrun the guard several times over.
HOSTILE_REPEALED = 30_000         # 《》 names in one 同时废止 clause
HOSTILE_HEADLINE_NAMES = 200_000  # 《》 names in a page headline, none of them a head line…
HOSTILE_HEAD_LINES = 4_000        # …each searched for among these


def test_history_lines_and_kinds():
    events = parse_history(["2022年1月24日 中共中央政治局会议审议批准", "2022年2月25日 中共中央、国务院发布"])
    assert [(e.date, e.event, e.kind) for e in events] == [
        ("2022-01-24", "中共中央政治局会议审议批准", "approved"),
        ("2022-02-25", "中共中央、国务院发布", "promulgated")]


def test_bracketed_history_with_several_events_on_one_line():
    events = parse_history(["（2005年1月5日国务院第76次常务会议通过 2005年1月10日中华人民共和国国务院令"
                            "第431号公布 自2005年5月1日起施行）"])
    assert [(e.date, e.kind) for e in events] == [
        ("2005-01-05", "adopted"), ("2005-01-10", "promulgated"), ("2005-05-01", "effective")]


def test_wrapped_history_line_continues_the_event_and_chinese_numeral_dates():
    events = parse_history(["1991年6月29日 全国人大常委会《关于修改<文物保护法>第三十条", "第三十一条的决定》第一次修正",
                            "二〇二二年二月二十五日 发布"])
    assert events[0].event.endswith("第三十一条的决定》第一次修正")
    assert events[0].kind == "amended"
    assert (events[1].date, events[1].kind) == ("2022-02-25", "promulgated")


@pytest.mark.parametrize("event,kind", [
    ("国务院第N次常务会议修订通过", "revised"),
    ("《国务院关于废止和修改部分行政法规的决定》第二次修订", "revised"),
    ("第五届全国人民代表大会第五次会议通过的《中华人民共和国宪法修正案》", "amended"),
    ("全国人民代表大会公告公布施行", "effective"),
    ("浙江省人民代表大会常务委员会第十三次会议批准", "approved"),
    ("某某决定废止", "repealed"),
    ("最高人民法院审判委员会第1次会议", "other")])
def test_event_kinds(event, kind):
    assert event_kind(event) == kind


def test_event_without_verb_takes_the_next_events_kind():
    events = parse_history(["2001年1月1日 最高人民法院审判委员会第1次会议、2001年2月1日最高人民检察院检察委员会第2次会议通过"])
    assert [e.kind for e in events] == ["adopted", "adopted"]


def test_resolve_dates():
    events = parse_history(["2019年5月28日 丽水市人民代表大会常务委员会第十六次会议通过",
                            "2019年8月1日 浙江省人民代表大会常务委员会第十三次会议批准",
                            "2020年1月1日 施行"])
    d = resolve_dates(events, "", "地方性法规/浙江/丽水市传统村落保护条例.md")
    assert (d.promulgated, d.effective, d.version) == ("2019-05-28", "2020-01-01", "2019-08-01")
    d = resolve_dates(events, "", "地方性法规/浙江/丽水市传统村落保护条例(2019-09-01).md")
    assert d.version == "2019-09-01"


def test_effective_date_from_body_text():
    events = parse_history(["2023年3月10日 青禾市人民政府令第7号公布"])
    assert resolve_dates(events, "第九条 本办法自2023年5月1日起施行。", "").effective == "2023-05-01"
    assert resolve_dates(events, "第九条 本办法自公布之日起施行。", "").effective == "2023-03-10"
    assert resolve_dates([], "", "").version == ""


@pytest.mark.parametrize("line,number", [
    ("×信发〔2024〕7号", "×信发〔2024〕7号"),
    ("中发〔2022〕5号", "中发〔2022〕5号"),
    ("国务院办公厅关于印发国办发〔2014〕10号文件的通知", "国办发〔2014〕10号"),
    ("2005年1月10日中华人民共和国国务院令第431号公布", "国务院令第431号"),
    ("川府发[2023]12号", "川府发〔2023〕12号"),                     # the year in 〔〕, as GB/T 9704 prints it
    ("国办发﹝2013﹞1号", "国办发〔2013〕1号"), ("川办发〖2021〗8号", "川办发〔2021〕8号"),   # were not found
    ("成府发（2020）3号", "成府发〔2020〕3号"), ("蓉信发【2024】2号", "蓉信发〔2024〕2号"),
    ("国家市场监督管理总局令第 5 号", "国家市场监督管理总局令第5号")])
def test_doc_numbers(line, number):
    assert find_doc_number([line]) == number


def test_no_doc_number():
    assert find_doc_number(["第一条 本办法自2023年5月1日起施行。"]) == ""


@pytest.mark.parametrize("event,organ", [
    ("山东省第十三届人民代表大会常务委员会第二十次会议通过", "山东省人民代表大会常务委员会"),
    ("中华人民共和国国务院令第431号公布", "国务院"),
    ("最高人民法院审判委员会第1823次会议通过", "最高人民法院"),
    ("国务院第76次常务会议通过", "国务院"),
    ("中共中央、国务院发布", "中共中央、国务院"),
    ("《国务院关于修改部分行政法规的决定》第二次修订", "")])
def test_organ_of_event(event, organ):
    assert organ_of_event(event) == organ


def test_issuer_from_history_then_issuer_lines():
    history = parse_history(["2019年8月1日 浙江省第十三届人民代表大会常务委员会第十三次会议批准",
                             "2019年5月28日 丽水市第四届人民代表大会常务委员会第十六次会议通过"])
    assert issuer_of(history, [], []) == "丽水市人民代表大会常务委员会"
    assert issuer_of([], ["青禾市信访局\u3000青禾市民政局"], []) == "青禾市信访局、青禾市民政局"
    assert issuer_of([], [], ["青禾市人民政府办公室", "2023年6月1日"]) == "青禾市人民政府办公室"
    assert is_issuer_line("国务院办公厅文件")
    assert not is_issuer_line("各区县信访局、民政局：")


@pytest.mark.parametrize("title,kind", [
    ("中华人民共和国刑法修正案（十一）", "修正案"), ("关于加强信访工作的指导意见", "意见"),
    ("青禾市社区调解办法（试行）", "办法"), ("某法实施细则", "细则"), ("中华人民共和国人民调解法", "法"),
    ("最高人民法院关于审理案件若干问题的解释（二）", "解释"), ("一份报告", "")])
def test_doc_type(title, kind):
    assert doc_type_of(title) == kind


def test_title_prefers_headline_name_then_doc_type_line():
    head = ["新华社北京4月7日电 近日，中共中央、国务院印发了《信访工作条例》。", "《信访工作条例》全文如下。",
            "信访工作条例", "（2022年2月25日中共中央、国务院发布）"]
    assert find_title(head, headline="中共中央 国务院印发《信访工作条例》") == 2
    assert find_title(head) == 2
    red_head = ["青禾市信访局 青禾市民政局", "青信发〔2023〕12号", "关于做好社区信访代理服务工作的通知"]
    assert find_title(red_head) == 2
    assert find_title(["青禾纪要材料", "会议纪实汇编"], hints=["会议纪实汇编"]) == 1
    assert find_title(["这是一个句子。"]) is None
    assert find_title(["索引号：000-2023-01", "青禾市调解规则汇编"], headline="青禾市调解规则汇编") == 1
    assert find_title(["索引号 000-2023-01"], headline="青禾市调解规则汇编") is None  # caller uses the headline


@pytest.mark.parametrize("path,title,issuer,doc_type,number,level", [
    ("lawrefbook/宪法/宪法.md", "中华人民共和国宪法", "", "", "", "宪法"),
    ("lawrefbook/民法典/总则.md", "中华人民共和国民法典", "", "", "", "法律"),
    ("lawrefbook/地方性法规/浙江/x.md", "x条例", "", "条例", "", "地方性法规"),
    ("lawrefbook/司法解释/x.md", "x解释", "", "解释", "", "司法解释"),
    ("in/x.pdf", "中华人民共和国宪法修正案", "", "修正案", "", "宪法"),
    ("in/x.pdf", "最高人民法院关于审理案件的解释", "最高人民法院", "解释", "", "司法解释"),
    ("in/x.pdf", "中华人民共和国某某法", "全国人民代表大会常务委员会", "法", "", "法律"),
    ("in/x.pdf", "某某条例", "国务院", "条例", "国务院令第431号", "行政法规"),
    ("in/x.pdf", "信访工作条例", "中共中央、国务院", "条例", "", "党内法规"),
    ("in/x.pdf", "青禾市某条例", "青禾市人民代表大会常务委员会", "条例", "", "地方性法规"),
    ("in/x.pdf", "青禾市某办法", "青禾市人民政府", "办法", "青禾市人民政府令第7号", "地方政府规章"),
    ("in/x.pdf", "某某办法", "公安部", "办法", "公安部令第5号", "部门规章"),
    ("in/x.pdf", "关于做好工作的通知", "青禾市信访局", "通知", "青信发〔2023〕12号", "规范性文件"),
    ("in/x.pdf", "一份材料", "", "", "", "")])
def test_level(path, title, issuer, doc_type, number, level):
    assert level_of(path, title, issuer, doc_type, number) == level


@pytest.mark.parametrize("path,title,issuer,region", [
    ("lawrefbook/地方性法规/浙江/丽水市传统村落保护条例.md", "丽水市传统村落保护条例", "丽水市人民代表大会常务委员会", "浙江省丽水市"),
    ("lawrefbook/地方性法规/上海/上海市信访条例.md", "上海市信访条例", "上海市人民代表大会常务委员会", "上海市"),
    ("lawrefbook/地方性法规/浙江/浙江省信访条例.md", "浙江省信访条例", "", "浙江省"),
    ("in/x.pdf", "四川省成都市社区发展治理促进条例", "", "四川省成都市"),
    ("in/x.pdf", "某条例", "四川省人民代表大会常务委员会", "四川省"),
    ("in/x.pdf", "广西壮族自治区信访条例", "", "广西壮族自治区"),
    ("in/x.pdf", "浙江省市场监督管理条例", "", "浙江省"),
    ("in/x.pdf", "关于做好信访代理工作的通知", "成都市信访局", "四川省成都市"),
    ("in/x.pdf", "甘孜藏族自治州某条例", "", "四川省甘孜藏族自治州"),
    ("in/x.pdf", "青禾市社区调解办法", "青禾市人民政府", "青禾市"),
    ("in/x.pdf", "信访工作条例", "中共中央、国务院", "全国"),
    ("in/x.pdf", "中华人民共和国人民调解法", "全国人民代表大会常务委员会", "全国")])
def test_region(path, title, issuer, region):
    assert region_of(path, title, issuer) == region


def test_declared_status():
    assert declared_status(["某某条例【已废止】"]) == "repealed"
    assert declared_status(["时效性：现行有效"]) == "current"
    assert declared_status(["《国务院关于废止和修改部分行政法规的决定》第二次修订"]) == ""


def test_sidecar_values_and_status_labels():
    meta = parse_sidecar("title: 青禾市调解办法\nlevel: 地方政府规章\nstatus: 已废止\nversion_date: 2023-03-10\n")
    assert meta == {"title": "青禾市调解办法", "level": "地方政府规章", "status": "repealed",
                    "version_date": "2023-03-10"}
    assert parse_sidecar("") == {}


@pytest.mark.parametrize("text,message", [
    ("title: [unclosed", "invalid YAML"), ("- a\n- b\n", "not a mapping"),
    ("titel: x\n", "unknown key"), ("effective: 2023/05/01\n", "YYYY-MM-DD"),
    ("level: 省级法规\n", "level must be"), ("status: maybe\n", "status must be"),
    ("version_date: 2022-13-45\n", "is no date"), ("effective: '2023-02-30'\n", "is no date"),   # a ValueError escaped
    ("title: [甲, 乙]\n", "not a list"), ("issuer: {x: 1}\n", "not a mapping"),
    ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
     "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
     "title: [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n", "not a list")])
def test_bad_sidecars(text, message):
    with pytest.raises(SidecarError, match=message):
        parse_sidecar(text, strict=message == "unknown key")     # front matter's other keys (a–h) are allowed


def test_sidecar_values_are_the_text_written():
    # YAML 1.1 read `yes` as True, 012 as the octal 10 and an unquoted date as a date object
    assert parse_sidecar("issuer: yes\ndoc_number: 012\nsubtitle: 2022-02-25\ntitle: ~\nregion:\n") == \
        {"issuer": "yes", "doc_number": "012", "subtitle": "2022-02-25"}
def test_front_matter_allows_other_keys_and_splits_the_text():
    yaml_text, rest = split_front_matter("---\ntitle: 青禾办法\nweight: 3\n---\n# 正文标题\n")
    assert rest == "# 正文标题\n"
    assert parse_sidecar(yaml_text, strict=False) == {"title": "青禾办法"}
    assert split_front_matter("# 没有前言\n") == (None, "# 没有前言\n")


def test_repealed_titles_come_only_from_same_sentence_repeal_clauses():
    lines = ["第四十三条 本法自1999年10月1日起施行。1990年12月24日国务院发布的《行政复议条例》同时废止。",
             "第二条 依照《中华人民共和国行政诉讼法》的规定办理。",
             "第五十条 本条例自2005年5月1日起施行。《甲办法》、《乙规定》同时废止；《丙条例》继续有效。"]
    assert repealed_titles(lines) == ("行政复议条例", "甲办法", "乙规定")


def test_a_title_repealed_twice_is_listed_once_where_it_first_appears():
    assert repealed_titles(["《甲》、《乙》同时废止；", "《乙》、《丙》、《甲》同时废止。"]) == ("甲", "乙", "丙")


def test_a_long_repeal_clause_is_read_in_linear_time():
    names = [f"规定{i}" for i in range(HOSTILE_REPEALED)]
    line = "本办法自公布之日起施行，" + "".join(f"《{name}》" for name in names) + "同时废止。"
    with time_limit(GUARD_SECONDS):
        assert repealed_titles([line]) == tuple(names)


def test_a_headline_of_many_quoted_names_is_matched_in_linear_time():
    head = [f"第{i}行说明文字" for i in range(HOSTILE_HEAD_LINES)] + ["某市信访办法"]
    with time_limit(GUARD_SECONDS):
        assert find_title(head, headline="《甲》" * HOSTILE_HEADLINE_NAMES + "《某市信访办法》") == len(head) - 1
