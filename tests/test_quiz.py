"""自测 (`lecture.quiz`): questions from time limits (and definitions), deterministic by seed,
distractors from the same document and never the answer; scoring; the Word quiz with its key."""
from __future__ import annotations

import io

from ingest.deadlines import extract_deadlines
from ingest.records import Article
from kb.chinese import article_label
from lecture import to_docx
from lecture.quiz import BLANK, NORM_WORDS, Definition, Norm, is_correct, make_quiz, norm_sentences, quiz_handout, score


def art(no: int, *paragraphs: str) -> Article:
    return Article(no, 0, article_label(no), (), paragraphs, "\n".join(paragraphs))


FACTS = [(d, f"《示范条例》{d.label}") for d in extract_deadlines([
    art(1, "调解委员会收到申请后，应当在5日内决定是否受理。"),
    art(2, "调解委员会应当自受理之日起30日内办结；情况复杂的，可以延长，但延长期限不得超过15日。"),
    art(3, "申请人对调解结果不服的，可以自收到调解书之日起15日内申请复查。"
           "复查机关应当自收到复查申请之日起30日内作出复查决定，并及时告知申请人。"),
    art(4, "当事人可以在3个工作日内补正材料。"),
])]


def test_questions_are_deterministic_for_a_seed():
    assert make_quiz(FACTS, seed=7) == make_quiz(FACTS, seed=7)
    assert make_quiz(FACTS, seed=7) != make_quiz(FACTS, seed=8)


def test_deadline_questions_blank_the_period_and_offer_other_periods():
    questions = make_quiz(FACTS, seed=1, count=50)
    deadline = [q for q in questions if q.kind == "deadline"]
    assert len(deadline) == 5                         # fixed, not extensions, not 及时
    q = next(q for q in deadline if "申请复查" in q.prompt)
    assert q.prompt == f"申请人对调解结果不服的，可以自收到调解书之日起{BLANK}内申请复查。"
    assert q.answer == "15日" and q.citation == "《示范条例》第三条"
    for q in deadline:
        assert q.answer in q.choices and len(set(q.choices)) == len(q.choices) == 4
        assert set(q.choices) <= {"5日", "30日", "15日", "3个工作日"}
        assert BLANK in q.prompt and q.answer not in q.prompt.split(BLANK)[0][-3:]


def test_half_a_year_is_blanked_and_may_be_answered_as_written_or_as_six_months():
    # 半年 was no time limit: no question asked for it
    (q,) = make_quiz([(d, f"《示范条例》{d.label}") for d in extract_deadlines([art(1, "复核机关应当在半年内办结。")])],
                     seed=1)
    assert q.prompt == f"复核机关应当在{BLANK}内办结。" and q.answer == "6个月"
    assert is_correct(q, "半年") and is_correct(q, "六个月") and not is_correct(q, "半个月")


def test_actor_questions_offer_other_actors_of_the_document():
    questions = [q for q in make_quiz(FACTS, seed=3, count=50) if q.kind == "actor"]
    q = next(q for q in questions if "作出复查决定" in q.prompt)
    assert q.answer == "复查机关" and q.answer in q.choices
    assert set(q.choices) <= {"调解委员会", "申请人", "复查机关", "当事人"} and len(set(q.choices)) == len(q.choices)


def test_definitions_make_questions_when_given():
    definitions = [Definition("信访", "通过来信、来访等形式反映情况", "《示范条例》第二条"),
                   Definition("信访人", "采用前款规定形式反映情况的公民", "《示范条例》第二条")]
    questions = [q for q in make_quiz(FACTS, seed=1, count=50, definitions=definitions) if q.kind == "definition"]
    assert {q.answer for q in questions} == {d.meaning for d in definitions}
    assert all(q.answer in q.choices and len(q.choices) == 2 for q in questions)


def test_a_single_limit_makes_a_fill_in_question():
    (q,) = make_quiz(FACTS[:1], seed=1)
    assert q.choices == () and q.answer == "5日"
    assert is_correct(q, "5") and is_correct(q, "五日") and is_correct(q, "５日") and is_correct(q, "5日")
    assert is_correct(q, "五")                                       # the unit may be left out
    assert not is_correct(q, "6") and not is_correct(q, "5个月") and not is_correct(q, "") and not is_correct(q, "五日内外")


def test_score():
    questions = make_quiz(FACTS, seed=2, count=3)
    answers = [questions[0].answer, "错", ""]
    assert score(questions, answers) == [True, False, False]
    assert score(questions, []) == [False, False, False]


def test_word_quiz_has_questions_then_key_with_citations():
    from docx import Document
    questions = make_quiz(FACTS, seed=4, count=4)
    doc = Document(io.BytesIO(to_docx(quiz_handout("示范条例", questions))))
    text = [p.text for p in doc.paragraphs]
    key = text.index("参考答案")
    assert text.index("试题") < key and text[0] == "示范条例 自测题"
    assert sum(1 for t in text[key + 1:] if "《示范条例》第" in t) == 4
    first = questions[0]
    expected = (f"1. {'ABCD'[first.choices.index(first.answer)]}. " if first.choices else "1. ") + first.answer
    assert text[key + 1].startswith(expected)


def test_cli_quiz_json_docx_and_errors(tmp_path, capsys):
    import json

    from ingest import run
    from lecture.__main__ import main
    source = tmp_path / "corpus" / "示范条例.md"
    source.parent.mkdir()
    source.write_text("# 示范条例\n\n" + "\n\n".join(f"{a.label} {a.text}" for a in [
        art(1, "调解委员会收到申请后，应当在5日内决定是否受理。"),
        art(2, "申请人对调解结果不服的，可以自收到调解书之日起15日内申请复查。"),
        art(3, "复查机关应当自收到复查申请之日起30日内作出复查决定。")]) + "\n", encoding="utf-8")
    (tmp_path / "corpus" / "无期限规定.md").write_text("# 无期限规定\n\n第一条 调解应当自愿。\n", encoding="utf-8")
    kb = tmp_path / "kb"
    run([source.parent], kb)
    args = ["quiz", "--kb", str(kb), "--doc", "示范条例", "--seed", "5", "--count", "4"]
    assert main(args + ["--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out) == first and len(first) == 4
    assert [q["kind"] for q in first][-1] == "norm" and {q["kind"] for q in first[:3]} <= {"deadline", "actor"}
    assert main(args + ["--docx", str(tmp_path / "quiz.docx")]) == 0
    assert (tmp_path / "quiz.docx").read_bytes()[:2] == b"PK"
    assert main(["quiz", "--kb", str(kb), "--doc", "无期限规定"]) == 1
    assert "no time limit, definition or 应当/可以/不得 clause" in capsys.readouterr().err


def test_cli_quiz_asks_the_definitions_the_document_gives(tmp_path, capsys):
    import json

    from conftest import kb_of_texts
    from lecture.__main__ import main
    kb = kb_of_texts(tmp_path, {"示范条例.md": "# 示范条例\n\n" + "\n\n".join([
        "第一条 调解委员会收到申请后，应当在5日内决定是否受理。",
        "第二条 申请人对调解结果不服的，可以自收到调解书之日起15日内申请复查。",
        "第三条 本条例所称调解，是指调解委员会通过说服、疏导等方法，促使当事人自愿达成协议的活动。",
        "第四条 本条例所称调解员，是指经调解委员会聘任从事调解工作的人员。"]) + "\n"})
    assert main(["quiz", "--kb", str(kb), "--doc", "示范条例", "--count", "10", "--json"]) == 0
    definitions = [q for q in json.loads(capsys.readouterr().out) if q["kind"] == "definition"]
    assert {q["citation"] for q in definitions} == {"《示范条例》第三条", "《示范条例》第四条"}
    assert any("促使当事人自愿达成协议" in q["answer"] for q in definitions)


# ---- 应当 / 可以 / 不得 -------------------------------------------------------------------------------

def test_norm_sentences_say_one_of_the_three_words_once() -> None:
    text = ("信访人可以采用书信、电子邮件等形式提出信访事项。信访工作应当遵循下列原则：\n"
            "（一）信访人不得在国家机关办公场所周围非法聚集；\n调解应当自愿。"
            "有关机关应当受理，不得推诿。当事人不应当拒绝依法作出的处理意见。")
    assert norm_sentences(text) == [("信访人可以采用书信、电子邮件等形式提出信访事项。", "可以"),
                                    ("（一）信访人不得在国家机关办公场所周围非法聚集；", "不得")]
    # a list's head, a sentence too short to ask about, two words in one, a negated word: none


def test_norm_questions_blank_the_word_and_offer_the_other_two() -> None:
    norms = [Norm(sentence, word, f"《示范条例》第{n}条") for n, (sentence, word) in enumerate([
        ("当事人可以向调解委员会申请调解。", "可以"), ("调解委员会应当对调解协议的履行情况进行监督。", "应当"),
        ("调解员不得收受当事人的财物。", "不得"), ("当事人可以在三日内补正材料以外的证据。", "可以")], start=1)]
    questions = make_quiz([], seed=1, count=10, norms=norms)          # no other facts: norms fill the round
    assert len(questions) == 4 and {q.kind for q in questions} == {"norm"}
    q = next(q for q in questions if q.citation == "《示范条例》第3条")
    assert (q.prompt, q.answer) == (f"调解员{BLANK}收受当事人的财物。", "不得")
    assert q.choices == NORM_WORDS == ("应当", "可以", "不得") and is_correct(q, "不得") and not is_correct(q, "可以")
    # beside enough time limits they take a third of the round, after the others
    mixed = make_quiz(FACTS, seed=1, count=6, norms=norms)
    assert [q.kind for q in mixed][-2:] == ["norm", "norm"] and "norm" not in [q.kind for q in mixed][:4]
    assert make_quiz(FACTS, seed=1, count=6, norms=norms) == mixed
    assert make_quiz(FACTS, seed=1, count=6) == make_quiz(FACTS, seed=1, count=6, norms=())


def test_a_sentence_asked_for_its_period_is_not_asked_again_for_its_word() -> None:
    # 信访工作条例's 5个工作日内提出异议 came twice in one round: once for the period, once for 应当
    [(limit, citation)] = FACTS[:1]
    same = Norm(limit.sentence, "应当", citation)
    other = Norm("当事人可以向调解委员会申请调解。", "可以", "《示范条例》第五条")
    questions = make_quiz(FACTS[:1], seed=1, count=3, norms=[same, other])
    assert [q.kind for q in questions] == ["deadline", "norm"] and questions[1].answer == "可以"
