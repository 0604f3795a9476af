"""BM25 index on a tiny corpus: scores, filters before top-k, save/load."""
from pathlib import Path

import numpy as np
import pytest

from index.lexical import LexicalIndex, TermCounts, top_rows
from index.tokenize import Tokenizer
from kb.errors import SearchIndexError

DOCS = ["信访人对复查意见不服的，可以向复核机关请求复核。",
        "人民调解委员会调解民间纠纷，不收取任何费用。",
        "用人单位应当按时足额支付劳动报酬。",
        "信访事项应当依法及时就地解决。"]


@pytest.fixture(scope="module")
def index() -> tuple[LexicalIndex, Tokenizer]:
    tk = Tokenizer()
    return LexicalIndex.build([tk.tokens(d) for d in DOCS]), tk


def test_best_row_for_a_question(index) -> None:
    lex, tk = index
    assert top_rows(lex.scores(tk.tokens("对复查意见不服怎么办")), 2)[0][0] == 0
    assert top_rows(lex.scores(tk.tokens("调解要收费吗")), 1)[0][0] == 1


def test_mask_applies_before_top_k(index) -> None:
    lex, tk = index
    scores = lex.scores(tk.tokens("信访"))
    assert [r for r, _ in top_rows(scores, 1)] in ([0], [3])
    mask = np.array([False, False, False, True])
    assert [r for r, _ in top_rows(scores, 1, mask)] == [3]


def test_no_known_token_scores_nothing(index) -> None:
    lex, tk = index
    assert not lex.scores(tk.tokens("量子计算")).any()
    assert lex.scores([]).shape == (len(DOCS),)
    assert top_rows(lex.scores([]), 5) == []
    assert lex.known(["信访", "量子"]) == ["信访"]


def test_top_rows_order_and_ties() -> None:
    scores = np.array([0.5, 2.0, 0.0, 2.0, 1.0])
    assert top_rows(scores, 3) == [(1, 2.0), (3, 2.0), (4, 1.0)]
    assert top_rows(scores, 10) == [(1, 2.0), (3, 2.0), (4, 1.0), (0, 0.5)]


def test_save_and_load_round_trip(index, tmp_path: Path) -> None:
    lex, tk = index
    lex.save(tmp_path / "lex")
    loaded = LexicalIndex.load(tmp_path / "lex", rows=len(DOCS), rebuild_hint="python -m index build")
    q = tk.tokens("人民调解委员会")
    assert np.allclose(loaded.scores(q), lex.scores(q))


def test_load_refuses_wrong_row_count_or_missing_files(index, tmp_path: Path) -> None:
    lex, _ = index
    lex.save(tmp_path / "lex")
    with pytest.raises(SearchIndexError, match="python -m index build --kb X$"):
        LexicalIndex.load(tmp_path / "lex", rows=99, rebuild_hint="python -m index build --kb X")
    with pytest.raises(SearchIndexError, match="cannot read"):
        LexicalIndex.load(tmp_path / "nothing", rows=4, rebuild_hint="python -m index build --kb X")


def test_building_says_nothing_on_a_configured_root_logger() -> None:
    # a library's logging.warning() gives the root logger a stderr handler; bm25s's DEBUG lines
    # ("Building index from tokens") must not reach the user's terminal through it
    import io
    import logging

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        LexicalIndex.build([["信访", "事项"], ["调解"]])
    finally:
        root.removeHandler(handler)
    assert "DEBUG" not in stream.getvalue() and "Building index" not in stream.getvalue()


def test_rows_counted_here_score_as_bm25s_indexes_them(index) -> None:
    import bm25s

    _, tk = index
    token_lists = [tk.tokens(d) for d in DOCS * 3] + [[]] + [tk.tokens("复核复核复核，信访信访")]
    ours = LexicalIndex.build(token_lists)
    reference = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    reference.index(token_lists, show_progress=False)
    theirs = LexicalIndex(reference, len(token_lists))
    for question in ("对复查意见不服怎么办", "调解要收费吗", "复核", "劳动报酬 信访 纠纷"):
        tokens = tk.tokens(question)
        assert np.array_equal(ours.scores(tokens), theirs.scores(tokens)), question
    assert ours.known(["复核", "无此词"]) == ["复核"]


def test_term_counts_of_kept_and_new_rows_are_those_of_counting_them_all() -> None:
    old = TermCounts.from_tokens([["信访", "复核", "信访"], ["调解"], [], ["劳动", "报酬"]])
    assert old.vocab == ["信访", "复核", "调解", "劳动", "报酬"] and old.rows == 4
    assert old.terms[old.offsets[0]:old.offsets[1]].tolist() == [0, 1] and old.tf[:2].tolist() == [2, 1]
    new = TermCounts.from_tokens([["复核", "听证"], ["听证", "听证"]], old.vocab)
    assert new.vocab[:5] == old.vocab and new.vocab[5:] == ["听证"]
    mixed = old.join(new).take(np.array([4, 0, 5, 2]))          # new, old, new, old: row 3 and "劳动" are gone
    again = TermCounts.from_tokens([["复核", "听证"], ["信访", "复核", "信访"], ["听证", "听证"], []])

    def rows(counts: TermCounts) -> list[dict[str, int]]:
        return [{counts.vocab[t]: int(n) for t, n in zip(counts.terms[a:b], counts.tf[a:b])}
                for a, b in zip(counts.offsets[:-1], counts.offsets[1:])]

    assert rows(mixed) == rows(again) == rows(mixed.compact())
    assert mixed.compact().vocab == ["信访", "复核", "听证"]
    with pytest.raises(ValueError):
        new.join(old)


def test_an_index_built_from_kept_and_new_rows_scores_as_one_built_afresh(index, tmp_path: Path) -> None:
    _, tk = index
    LexicalIndex.build([tk.tokens(d) for d in DOCS]).save(tmp_path / "old")
    old = TermCounts.load(tmp_path / "old")
    added = "复核机关应当自收到复核请求之日起三十日内提出复核意见。"
    new = TermCounts.from_tokens([tk.tokens(added)], old.vocab)
    kept_and_new = LexicalIndex.from_counts(old.join(new).take(np.array([4, 0, 3])))
    afresh = LexicalIndex.build([tk.tokens(t) for t in (added, DOCS[0], DOCS[3])])
    for question in ("复核要多久", "信访事项", "调解"):
        tokens = tk.tokens(question)
        assert np.array_equal(kept_and_new.scores(tokens), afresh.scores(tokens)), question
