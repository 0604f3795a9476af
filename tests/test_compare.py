"""Version comparison (index.compare): similarity, pairing, order, diffs, on hand-made texts and
on the real 《信访条例》(2005) → 《信访工作条例》(2022) pair parsed from the shared samples."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from index.compare import char_diff, compare, in_order, match_pairs, similarity_matrix
from lecture.comparison import change_label, comparison_handout, side_runs
from lecture.export_markdown import to_markdown
from lecture.handout import runs_text

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"


@dataclass(frozen=True)
class Unit:
    label: str
    text: str


def test_char_diff_reconstructs_both_texts_and_folds_confetti():
    old = "信访人应当到有关行政机关设立或者指定的接待场所提出。"
    new = "信访人应当到有关机关、单位设立或者指定的接待场所提出，并遵守秩序。"
    diff = char_diff(old, new)
    assert "".join(s.text for s in diff if s.op != "insert") == old
    assert "".join(s.text for s in diff if s.op != "delete") == new
    # no one-character common run is left stranded between two changes
    for before, seg, after in zip(diff, diff[1:], diff[2:]):
        if seg.op == "equal" and before.op != "equal" and after.op != "equal":
            assert len(seg.text) >= 2


def test_char_diff_identical_text_is_one_equal_segment():
    assert [(s.op, s.text) for s in char_diff("本条例自公布之日起施行。", "本条例自公布之日起施行。")] == \
        [("equal", "本条例自公布之日起施行。")]


def test_similarity_matrix_ignores_punctuation_and_scores_overlap():
    sim = similarity_matrix(["信访人提出信访事项，应当客观真实。", "本条例自公布之日起施行。"],
                            ["信访人提出信访事项应当客观真实", "国家鼓励志愿服务。", ""])
    assert sim.shape == (2, 3)
    assert sim[0, 0] == pytest.approx(1.0, abs=1e-5)
    assert sim[1, 1] == pytest.approx(0.0)
    assert sim[0, 2] == 0.0 and sim[1, 0] < 0.2


def test_similarity_matrix_of_empty_side_is_empty():
    assert similarity_matrix([], ["甲乙"]).shape == (0, 1)


def test_match_pairs_is_one_to_one_best_first():
    sim = np.array([[0.9, 0.8, 0.0],
                    [0.85, 0.1, 0.0],
                    [0.0, 0.0, 0.2]], dtype=np.float32)
    # 0↔0 is taken first, so old 1 cannot have new 0 and is left unpaired (0.1 < threshold)
    assert match_pairs(sim, 0.3) == [(0, 0)]
    assert match_pairs(sim, 0.05) == [(0, 0), (1, 1), (2, 2)]


def test_in_order_keeps_longest_common_order():
    pairs = [(0, 0), (3, 1), (1, 2), (2, 3)]
    assert in_order(pairs) == {(0, 0), (1, 2), (2, 3)}
    assert in_order([]) == set()


OLD = [Unit("第一条", "为了规范社区调解工作，维护社会和谐稳定，制定本条例。"),
       Unit("第二条", "社区调解委员会调解民间纠纷，应当遵循自愿、平等的原则。"),
       Unit("第三条", "调解员应当具有较高的思想道德素质和一定的法律知识。"),
       Unit("第四条", "调解不收取任何费用。"),
       Unit("第五条", "本条例自二〇一五年一月一日起施行。")]
NEW = [Unit("第一条", "为了规范社区调解工作，维护社会和谐稳定，制定本条例。"),
       Unit("第二条", "街道应当为社区调解委员会提供办公场所和经费保障。"),
       Unit("第三条", "社区调解委员会调解民间纠纷，应当遵循自愿、平等、合法的原则，尊重当事人的权利。"),
       Unit("第四条", "本条例自二〇二三年一月一日起施行。"),
       Unit("第五条", "调解员应当具有较高的思想道德素质和一定的法律知识。")]


def test_compare_pairs_by_text_not_number():
    rows = compare(OLD, NEW).rows
    pairs = {(r.old.label if r.old else None, r.new.label if r.new else None): r for r in rows}
    assert pairs[("第一条", "第一条")].kind == "unchanged"
    assert pairs[("第二条", "第三条")].kind == "reworded"
    assert pairs[("第三条", "第五条")].kind == "unchanged"          # renumbered, same text
    assert pairs[("第五条", "第四条")].kind == "reworded"
    assert pairs[(None, "第二条")].kind == "added"
    assert pairs[("第四条", None)].kind == "removed"


def test_compare_flags_moved_articles_and_orders_rows_by_new_version():
    result = compare(OLD, NEW)
    moved = [(r.old.label, r.new.label) for r in result.rows if r.moved]
    # the old 第三条 now comes last: one of it / 第五条 leaves the common order
    assert len(moved) == 1 and moved[0] in {("第三条", "第五条"), ("第五条", "第四条")}
    new_labels = [r.new.label for r in result.rows if r.new]
    assert new_labels == [u.label for u in NEW]
    counts = result.counts()
    assert counts == {"unchanged": 2, "reworded": 2, "added": 1, "removed": 1, "moved": 1}
    assert counts["unchanged"] + counts["reworded"] + counts["removed"] == len(OLD)
    assert counts["unchanged"] + counts["reworded"] + counts["added"] == len(NEW)


def test_removed_article_sits_after_its_old_neighbour():
    old = [Unit("第一条", "甲方应当按时履行合同义务并通知对方。"),
           Unit("第二条", "乙方负责对货物进行验收和保管工作。"),
           Unit("第三条", "丙方承担运输途中货物毁损灭失的风险。")]
    new = [Unit("第一条", "甲方应当按时履行合同义务并及时通知对方。"),
           Unit("第二条", "丙方承担运输途中货物毁损灭失的风险。")]
    rows = compare(old, new).rows
    assert [(r.kind, r.old.label if r.old else None) for r in rows] == \
        [("reworded", "第一条"), ("removed", "第二条"), ("unchanged", "第三条")]


def test_side_runs_mark_deletions_and_insertions():
    row = compare(OLD[1:2], NEW[2:3]).rows[0]
    old_runs, new_runs = side_runs(row, "old"), side_runs(row, "new")
    assert runs_text(old_runs) == OLD[1].text and runs_text(new_runs) == NEW[2].text
    assert {r.mark for r in new_runs} == {"", "ins"} and "合法" in "".join(r.text for r in new_runs if r.mark)
    assert all(r.mark in ("", "del") for r in old_runs)
    assert change_label(row) == "修改"


def test_comparison_exports_as_markdown_table():
    md = to_markdown(comparison_handout(compare(OLD, NEW), "2015年版", "2023年版"))
    assert "| 2015年版 | 2023年版 | 变化 |" in md
    assert "平等**、合法**的原则" in md and "二〇~~一五~~年" in md
    assert "仅见于2015年版的条文（1条）" in md and "调解不收取任何费用。" in md
    assert md.count("\n| ") == 1 + len(compare(OLD, NEW).rows)


def test_empty_versions_compare_to_nothing():
    assert compare([], []).rows == ()
    only_new = compare([], NEW[:2])
    assert [r.kind for r in only_new.rows] == ["added", "added"]


@pytest.fixture(scope="module")
def real_pair():
    parse = pytest.importorskip("ingest.parse", reason="the parser (ingest/parse.py) is not available").parse_file
    old_file = SAMPLES / "xinfang-tiaoli-2005.gb18030.txt"
    new_file = SAMPLES / "xinfang-gongzuo-tiaoli-2022.docx"
    if not (old_file.is_file() and new_file.is_file()):
        pytest.skip(f"shared samples not found under {SAMPLES}")
    return parse(old_file).articles, parse(new_file).articles


def test_real_xinfang_regulations_align(real_pair):
    old, new = real_pair
    result = compare(old, new)
    by_new = {r.new.label: r for r in result.rows if r.new}
    # 对复查意见不服 → 复核: renumbered from 第三十五条 to 第三十六条, lightly reworded
    assert by_new["第三十六条"].old is not None and by_new["第三十六条"].old.label == "第三十五条"
    # the rule on foreigners' petitions kept its words but not its number
    assert by_new["第四十八条"].kind == "unchanged" and by_new["第四十八条"].old.label == "第五十条"
    counts = result.counts()
    assert counts["unchanged"] + counts["reworded"] >= 20
    assert counts["unchanged"] + counts["reworded"] + counts["removed"] == len(old)
    assert counts["unchanged"] + counts["reworded"] + counts["added"] == len(new)
