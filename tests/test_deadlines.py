"""Time limits drawn from articles (`ingest.deadlines`): each shape of a limit and each thing that
is not one, on strings; actors, triggers, 款 and 项; and 《信访工作条例》 from ../shared/samples."""
from __future__ import annotations

import json

import pytest

from conftest import SHARED
from ingest.deadlines import Deadline, clause_actor, extract_deadlines, written_limits
from ingest.records import Article
from kb.chinese import article_label, ascii_digits

XINFANG_2022 = SHARED / "samples" / "xinfang-gongzuo-tiaoli-2022.docx"


def art(no: int, *paragraphs: str) -> Article:
    return Article(no, 0, article_label(no), (), paragraphs, "\n".join(paragraphs))


def limits(*paragraphs: str) -> list[Deadline]:
    return list(extract_deadlines([art(1, *paragraphs)]))


def periods(*paragraphs: str) -> list[tuple[int | None, str]]:
    return [(d.amount, d.unit) for d in limits(*paragraphs)]


@pytest.mark.parametrize("text,expected", [
    ("信访部门应当在15日内转送有权处理的机关。", [(15, "日")]),
    ("有关机关应当自收到之日起5个工作日内提出异议。", [(5, "工作日")]),
    ("有关机关应当自收到之日起５个工作日内提出异议。", [(5, "工作日")]),        # full-width digits
    ("公民可以自知道该行政行为之日起六十日内提出申请。", [(60, "日")]),
    ("当事人可以在三十日内申请复查。", [(30, "日")]),
    ("复查机关应当在十五日内答复。", [(15, "日")]),
    ("行政机关应当在一百二十日内作出决定。", [(120, "日")]),
    ("当事人可以自知道之日起三个月内起诉。", [(3, "个月")]),
    ("申请人的申请期限为三个月。", [(3, "个月")]),
    ("当事人应当自收到通知之日起三个月提出。", [(3, "个月")]),             # 之日起 without 内
    ("审查期限不超过30日。", [(30, "日")]),
    ("办案机关应当在二十四小时内将申请转交法律援助机构。", [(24, "小时")]),
    ("权利人可以自知道之日起一年内行使撤销权。", [(1, "年")]),
    ("检察院可以在十日以内提出意见。", [(10, "日")]),
    ("人民代表大会常务委员会应当于会议举行七日前通知代表。", [(7, "日")]),
    ("被申请人自期限届满之日起十五日内可以起诉。", [(15, "日")]),
    ("用人单位应当提前三十日以书面形式通知劳动者本人。", [(30, "日")]),
    ("供水单位应当至少提前两个工作日通知用户。", [(2, "工作日")]),
    ("被许可人应当在许可证有效期届满三十日前向作出行政许可决定的机关提出申请。", [(30, "日")]),
    ("持证人应当在有效期届满前一个月向检验机构提出定期检验要求。", [(1, "个月")]),
    ("行政机关应当在收到申请之日起5个自然日内答复。", [(5, "日")]),            # was not found
    ("复核机关应当在半年内办结。", [(6, "个月")]), ("调解委员会应当在半个月内答复。", [(15, "日")]),   # were not found
])
def test_each_shape_of_a_limit(text, expected):
    assert periods(text) == expected


def test_extension_of_a_limit():
    found = limits("有权处理的机关应当自受理之日起60日内办结；情况复杂的，经本机关负责人批准，可以适当延长办理期限，"
                   "但延长期限不得超过30日，并告知信访人延期理由。")
    assert [(d.amount, d.extension) for d in found] == [(60, False), (30, True)]
    assert found[1].phrase == "不得超过30日" and found[1].action == "延长期限"
    assert found[1].actor == "有权处理的机关"        # carried over from the sentence before
    assert [(d.amount, d.extension) for d in limits("复议机关可以延长三十日。")] == [(30, True)]
    asking = limits("需要延长审限的，合议庭应当在期限届满十五日前向院长提出申请。")
    assert [(d.amount, d.extension, d.action) for d in asking] == [(15, False, "向院长提出申请")]


def test_immediate_and_timely_have_no_fixed_period():
    found = limits("人民法院应当及时对调解协议进行审查。", "公安机关发现后，必须立即报告上级机关。")
    assert [(d.amount, d.unit, d.phrase, d.period) for d in found] == [
        (None, "", "及时", "无固定期限"), (None, "", "立即", "无固定期限")]
    assert found[0].actor == "人民法院" and found[0].action == "对调解协议进行审查"
    assert limits("及时化解矛盾纠纷是各级机关的责任。") == []      # an aim, not a duty with a limit


@pytest.mark.parametrize("text", [
    "本条例自2022年5月1日起施行。",
    "本条例自二〇二二年五月一日起施行。",
    "本法自公布之日起三十日后施行。",
    "本办法自印发之日起施行，有效期5年。",
    "年满十八周岁的公民可以担任人民调解员。",
    "对违法者处五千元以上一万元以下罚款。",
    "犯前款罪的，处三年以下有期徒刑或者拘役。",
    "刑罚执行完毕以后，在五年以内再犯应当判处有期徒刑以上刑罚之罪的，是累犯。",
    "处五日以上十日以下拘留。",
    "行政拘留处罚合并执行的，最长不超过二十日。",
    "人民调解委员会由委员三人以上九人组成。",
    "人民调解委员会委员每届任期三年，可以连选连任。",
    "信访部门每年向本级党委报告工作。",
    "法律规定的申请期限超过六十日的除外。",
    "委员会在2021年12月31日前完成换届。",
    "从事法律工作满三年的，可以申请。",
    "二十日内不能作出决定的，经负责人批准，可以延期。",                 # a condition restating a limit
    "项目完成后一年内未实施转化的，可以由成果完成人实施。",
    "审判人员从人民法院离任后二年内，不得以律师身份担任辩护人。",       # a ban, not a duty to act
    "工会委员从事工会工作，每月不超过三个工作日。",                   # a quota
    "海员证的有效期不超过5年。",                                       # how long a thing lasts
    "排污许可证的有效期限为三年。",
    "处分期最长不得超过48个月。",
    "公安机关可以决定自处罚完毕之日起六个月至三年以内不准其出境。",
    "记录保存期限不得少于二年。",                                     # how long, not when to act
    "调解委员会每半年向司法所报告一次工作。", "工作人员应当在半小时内到场。",   # a period of duties; half an hour
])
def test_what_is_not_a_limit(text):
    assert limits(text) == []


def test_actor_trigger_and_action_of_each_limit():
    found = limits("信访人对复查意见不服的，可以自收到书面答复之日起30日内向复查机关、单位的上一级机关、单位请求复核。"
                   "收到复核请求的机关、单位应当自收到复核请求之日起30日内提出复核意见。")
    assert [(d.actor, d.trigger, d.action) for d in found] == [
        ("信访人", "自收到书面答复之日起", "请求复核"),
        ("收到复核请求的机关、单位", "自收到复核请求之日起", "提出复核意见")]
    assert found[0].sentence.startswith("信访人对复查意见不服的") and found[0].sentence.endswith("请求复核。")


def test_a_limit_with_nothing_after_it_is_named_by_what_it_is_the_length_of():
    # "询问查证的时间不得超过八小时" left the action empty: a blank 事项 in 期限一览 and a box without a
    # label in 流程图
    found = limits("对违反治安管理行为人，公安机关传唤后应当及时询问查证，询问查证的时间不得超过八小时。",
                   "劳动争议申请仲裁的时效期间为一年。",
                   "公安机关办理治安案件的期限，自受理之日起不得超过三十日。",
                   "人民法院委派调解的案件，调解期限为30日。")
    assert [(d.period, d.action) for d in found if d.amount is not None] == [
        ("8小时", "询问查证"), ("1年", "劳动争议申请仲裁"), ("30日", "办理治安案件"), ("30日", "调解")]
    assert limits("当事人可以在3个工作日内补正材料。")[0].action == "补正材料"       # an action after it wins


def test_actor_named_after_the_limit_or_in_an_opening_condition():
    (found,) = limits("工程竣工验收合格后三十日内，建设单位应当报主管部门备案。")
    assert (found.actor, found.action) == ("建设单位", "报主管部门备案")
    (found,) = limits("调解员调解纠纷，应当在十五日内调解结束。")
    assert found.actor == "调解员"
    (found,) = limits("房地产开发企业变更企业名称的，应当在变更后二十日内向主管部门办理变更手续。")
    assert (found.actor, found.action) == ("房地产开发企业", "办理变更手续")


def test_the_body_named_before_this_body_and_not_the_actor_of_a_phrase_naming_a_thing():
    found = limits("行政复议机关在对被申请人作出的行政行为进行审查时，认为其依据不合法，本机关有权处理的，应当在三十日内依法处理。")
    assert found[0].actor == "行政复议机关"
    found = limits("办理机关应当依法办理。", "信访人提出的信访事项，属于本机关职权范围的，应当在15日内受理。")
    assert found[0].actor == "办理机关"                # not 信访人: it names whose matter it is


def test_trigger_written_with_zai_or_cong_instead_of_zi():
    # "在收到决定书之日起" and "从…之日起" had no trigger
    found = limits("当事人对决定不服的，可以在收到决定书之日起三个月内申请复核。所在地行政机关应当于受理之日起十日内办结。"
                   "利害关系人可以从知道之日起六十日内提出异议。")
    assert [(d.actor, d.trigger, d.action) for d in found] == [
        ("当事人", "收到决定书之日起", "申请复核"), ("所在地行政机关", "受理之日起", "办结"),
        ("利害关系人", "从知道之日起", "提出异议")]


def test_trigger_of_a_clause_ending_in_after():
    (found,) = limits("法律援助机构收到通知后，应当在三日内指派律师。")
    assert (found.actor, found.trigger, found.action) == ("法律援助机构", "收到通知后", "指派律师")


def test_paragraph_and_item_of_each_limit():
    found = limits("各级信访部门收到信访事项，应当予以登记，并在15日内分别按照下列方式处理：\n"
                   "（一）属于本级机关处理的，转送有权处理的机关；\n"
                   "（二）情况重大、紧急的，应当及时提出建议。",
                   "有关机关应当自收到之日起5个工作日内提出异议。")
    assert [(d.paragraph, d.item, d.amount) for d in found] == [(1, 0, 15), (1, 2, None), (2, 0, 5)]
    assert found[1].actor == "各级信访部门"            # an item carries the actor of its lead
    # not the actor of the article a sibling item cites: 《信访条例》(2005) 第二十一条 listed 信访人 (who
    # acts in 第十五条, which its item (一) cites) as who 提出建议 in item (二)
    found = extract_deadlines([
        art(15, "信访人对人民法院职权范围内的信访事项，应当向人民法院提出。"),
        art(21, "信访工作机构收到信访事项，应当在15日内分别按下列方式处理：\n"
                "(一)对本条例第十五条规定的信访事项，应当告知信访人向人民法院提出。\n"
                "(二)情况重大、紧急的，应当及时提出建议。")])
    assert [(d.item, d.actor) for d in found] == [(0, "信访工作机构"), (2, "信访工作机构")]


def test_a_sentence_without_subject_takes_the_actor_of_the_article_it_cites():
    articles = [art(1, "对信访人提出的申诉求决类事项，有权处理的机关、单位应当区分情况办理。"),
                art(2, "各级机关、单位在处理信访事项过程中，可以进行调解。"),
                art(3, "对本条例第一条规定的信访事项应当自受理之日起60日内办结。")]
    (found,) = extract_deadlines(articles)
    assert (found.article, found.label, found.actor) == (2, "第三条", "有权处理的机关、单位")
    assert extract_deadlines([art(2, "各级机关、单位应当依法办理。"), art(3, "信访事项应当在30日内办结。")])[0].actor \
        == "各级机关、单位"                              # no subject, no citation: the article before


@pytest.mark.parametrize("clause,actor", [
    ("有关机关、单位应当自收到之日起", "有关机关、单位"),
    ("党委和政府信访部门以外的其他机关、单位收到信访人直接提出的信访事项", "党委和政府信访部门以外的其他机关、单位"),
    ("公民、法人或者其他组织认为行政行为侵犯其合法权益的", "公民、法人或者其他组织"),
    ("人民法院、人民检察院、公安机关办理刑事案件", "人民法院、人民检察院、公安机关"),
    ("（二）双方当事人认为有必要的", "双方当事人"),
    ("可以自知道或者应当知道该行政行为之日起", ""),
    ("对本条例第三十一条第六项规定的信访事项应当", ""),
    ("并书面告知当事人", ""),
])
def test_clause_actor(clause, actor):
    assert clause_actor(clause) == actor


def test_hostile_sentence_is_fast():
    import time
    text = "日内" * 5000 + "之日起" * 2000 + "机关、" * 2000 + "应当及时" * 500
    start = time.perf_counter()
    extract_deadlines([art(1, text)])
    assert time.perf_counter() - start < 1.0


@pytest.mark.skipif(not XINFANG_2022.is_file(), reason=f"{XINFANG_2022} not found (../shared/samples)")
def test_xinfang_gongzuo_tiaoli_2022():
    from ingest.parse import parse_file
    found = [d for d in extract_deadlines(parse_file(XINFANG_2022).articles) if d.amount is not None]
    rows = {(d.label, d.paragraph, d.amount, d.unit, d.extension, d.actor, d.action) for d in found}
    assert rows == {
        ("第二十二条", 1, 15, "日", False, "各级党委和政府信访部门", "分别按照下列方式处理"),
        ("第二十三条", 2, 15, "日", False, "有关机关、单位", "书面告知信访人"),
        ("第二十三条", 3, 15, "日", False, "有关机关、单位", "书面告知信访人接收情况以及处理途径和程序"),
        ("第二十三条", 3, 5, "工作日", False, "有关机关、单位", "提出异议"),
        ("第三十四条", 1, 60, "日", False, "有权处理的机关、单位", "办结"),
        ("第三十四条", 1, 30, "日", True, "有权处理的机关、单位", "延长期限"),
        ("第三十五条", 1, 30, "日", False, "信访人", "请求复查"),
        ("第三十五条", 1, 30, "日", False, "收到复查请求的机关、单位", "提出复查意见"),
        ("第三十六条", 1, 30, "日", False, "信访人", "请求复核"),
        ("第三十六条", 1, 30, "日", False, "收到复核请求的机关、单位", "提出复核意见"),
    }
    assert not any(d.label == "第五十条" for d in found)            # 本条例自2022年5月1日起施行


# ---- stored at ingest, read back by `python -m lecture deadlines` ----------------------------------

REGULATION = """# 示范调解条例

第一条 为了规范调解工作，制定本条例。

第二条 调解委员会收到调解申请，应当在10日内决定是否受理。

第三条 当事人对调解结果不服的，可以自收到调解书之日起三十日内向上一级调解委员会申请复查。
上一级调解委员会应当自收到复查申请之日起30日内作出复查决定；情况复杂的，可以延长，但延长期限不得超过十五日。

第四条 本条例自2024年1月1日起施行。
"""


@pytest.fixture()
def deadline_kb(tmp_path):
    from ingest import run
    source = tmp_path / "corpus" / "示范调解条例(2024-01-01).md"
    source.parent.mkdir()
    source.write_text(REGULATION, encoding="utf-8")
    (tmp_path / "corpus" / "没有期限的规定.md").write_text("# 没有期限的规定\n\n第一条 调解应当尊重当事人意愿。\n",
                                                            encoding="utf-8")
    kb = tmp_path / "kb"
    summary = run([source.parent], kb)
    assert summary.failed == 0, summary.failures
    return kb


def test_cli_names_a_document_in_traditional_characters_too(deadline_kb, capsys):
    from lecture.__main__ import main
    assert main(["deadlines", "--kb", str(deadline_kb), "--doc", "示範調解條例", "--json"]) == 0
    assert [r["title"] for r in json.loads(capsys.readouterr().out)][:1] == ["示范调解条例"]


def test_cli_lists_the_stored_deadlines_as_json(deadline_kb, capsys):
    from lecture.__main__ import main
    assert main(["deadlines", "--kb", str(deadline_kb), "--doc", "示范调解条例", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["article_label"], r["paragraph"], r["amount"], r["unit"], r["actor"], r["extension"]) for r in rows] == [
        ("第二条", 1, 10, "日", "调解委员会", False),
        ("第三条", 1, 30, "日", "当事人", False),
        ("第三条", 2, 30, "日", "上一级调解委员会", False),
        ("第三条", 2, 15, "日", "上一级调解委员会", True)]
    assert set(rows[0]) == {"title", "article_label", "paragraph", "item", "amount", "unit", "actor", "trigger",
                            "action", "extension", "sentence"}
    assert rows[1]["trigger"] == "自收到调解书之日起" and rows[1]["action"] == "申请复查"
    assert rows[0]["title"] == "示范调解条例"


def test_cli_text_output_and_errors(deadline_kb, capsys):
    from lecture.__main__ import main
    assert main(["deadlines", "--kb", str(deadline_kb)]) == 0
    out = capsys.readouterr().out
    assert "《示范调解条例》" in out and "第三条第二款  15日（延长）" in out and "没有期限的规定" not in out
    assert main(["deadlines", "--kb", str(deadline_kb), "--doc", "没有期限的规定"]) == 0
    assert "没有找到期限" in capsys.readouterr().out
    assert main(["deadlines", "--kb", str(deadline_kb), "--doc", "不存在的条例"]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["deadlines", "--kb", str(deadline_kb.parent / "nothing")]) == 1
    with pytest.raises(SystemExit) as usage:
        main(["deadlines", "--bogus"])
    assert usage.value.code == 2


def test_re_ingest_replaces_the_deadlines_of_a_changed_file(deadline_kb):
    from ingest import open_store, run
    from lecture.deadlines import deadline_rows
    source = deadline_kb.parent / "corpus" / "示范调解条例(2024-01-01).md"
    source.write_text(REGULATION.replace("10日内", "7日内"), encoding="utf-8")
    run([source.parent], deadline_kb)
    with open_store(deadline_kb) as store:
        rows = deadline_rows(store, ["示范调解条例"])
    assert [r.deadline.amount for r in rows] == [7, 30, 30, 15]
    assert rows[0].citation == "《示范调解条例》第二条第一款"


@pytest.mark.skipif(not XINFANG_2022.is_file(), reason=f"{XINFANG_2022} not found (../shared/samples)")
def test_cli_on_xinfang_gongzuo_tiaoli(tmp_path, capsys):
    from ingest import run
    from lecture.__main__ import main
    kb = tmp_path / "kb"
    run([XINFANG_2022], kb)
    assert main(["deadlines", "--kb", str(kb), "--doc", "信访工作条例", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    fixed = {(r["article_label"], r["amount"], r["unit"], r["actor"]) for r in rows if r["amount"] is not None}
    assert ("第三十六条", 30, "日", "信访人") in fixed and ("第二十三条", 5, "工作日", "有关机关、单位") in fixed
    assert len(fixed) == 9 and not any(r["article_label"] == "第五十条" for r in rows)


def test_a_knowledge_base_from_before_time_limits_says_to_ingest_again(deadline_kb, capsys):
    import sqlite3

    from lecture.__main__ import main
    with sqlite3.connect(deadline_kb / "kb.sqlite") as conn:
        conn.execute("DROP TABLE deadlines")
    assert main(["deadlines", "--kb", str(deadline_kb), "--doc", "示范调解条例"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "python -m ingest FOLDER --kb" in err


@pytest.mark.parametrize("text,expected", [
    ("应当自收到之日起10个工作日内提出异议，并在三十日内答复。", ((10, "工作日"), (30, "日"))),
    ("信访人可以在３０日内请求复查", ((30, "日"),)),                    # a fragment, full-width digits
    ("本条例自2022年5月1日起施行。", ()),
    ("处十日以下拘留，并处五百元以下罚款。", ()),                        # a penalty
    ("有关机关应当及时处理。", ()),                                      # no fixed period
])
def test_limits_written_in_any_text(text, expected):
    assert written_limits(text) == expected


def test_cli_reads_one_state_of_a_knowledge_base_a_writer_changes(deadline_kb, capsys, monkeypatch):
    # a writer removing the document between reading its time limits and their articles made
    # 期限一览 fail with a KeyError
    from ingest.store import Store, StoreWriter, open_store
    from lecture.__main__ import main
    with open_store(deadline_kb) as store:
        [path] = [p for (p,) in store.conn.execute("SELECT path FROM files") if "示范调解条例" in p]
    read = Store.version_deadlines

    def read_then_remove(self, version_id):
        found = read(self, version_id)
        writer = StoreWriter(deadline_kb)
        with writer.transaction():
            writer.remove_file(path)
        writer.close()
        return found

    monkeypatch.setattr(Store, "version_deadlines", read_then_remove)
    assert main(["deadlines", "--kb", str(deadline_kb), "--doc", "示范调解条例", "--json"]) == 0
    assert [r["article_label"] for r in json.loads(capsys.readouterr().out)] == ["第二条", "第三条", "第三条", "第三条"]


def test_full_width_digits_are_read_as_ascii_and_nothing_else_changes() -> None:
    assert ascii_digits("２０２２年第３条，１５日内") == "2022年第3条，15日内"
    assert ascii_digits("十五日内（二）") == "十五日内（二）"
