"""Fusion and version grouping on hand-made rankings."""
import pytest

from index.fuse import boost, group_versions, pin_first, rrf, show_each


def test_rrf_rewards_items_ranked_by_both() -> None:
    lexical = ["a", "b", "c"]
    dense = ["c", "d", "a"]
    fused = [item for item, _ in rrf([lexical, dense], k=60)]
    assert fused[0] == "a"             # ranks 1 and 3
    assert fused[1] == "c"             # ranks 3 and 1, ties keep first-seen order
    assert set(fused) == {"a", "b", "c", "d"}


def test_rrf_scores_are_exact() -> None:
    fused = dict(rrf([["x", "y"], ["y"]], weights=[1.0, 2.0], k=10))
    assert fused["x"] == pytest.approx(1 / 11)
    assert fused["y"] == pytest.approx(1 / 12 + 2 / 11)


def test_rrf_weight_zero_ignores_a_ranking() -> None:
    assert [i for i, _ in rrf([["a", "b"], ["b", "a"]], weights=[1.0, 0.0])] == ["a", "b"]


def test_rrf_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        rrf([["a"]], weights=[1.0, 2.0])
    with pytest.raises(ValueError):
        rrf([["a"]], k=-1)


def test_boost_reorders() -> None:
    assert [i for i, _ in boost([("a", 1.0), ("b", 0.8)], {"b": 1.5})] == ["b", "a"]


def test_pin_first_puts_references_on_top_without_duplicates() -> None:
    ranked = [("a", 0.5), ("b", 0.4), ("c", 0.3)]
    out = pin_first(["c", "z"], ranked)
    assert [i for i, _ in out] == ["c", "z", "a", "b"]
    assert out[0][1] > out[1][1] > out[2][1]


def test_group_versions_shows_current_and_lists_others() -> None:
    ranked = [("old10", 0.9), ("new10", 0.8), ("new11", 0.7), ("x", 0.6)]
    group_of = {"old10": 10, "new10": 10, "new11": 11}
    preference = {"old10": 1, "new10": 0, "new11": 0}
    out = group_versions(ranked, group_of, preference)
    assert out == [("new10", 0.9, ["old10"]), ("new11", 0.7, []), ("x", 0.6, [])]


def test_show_each_moves_up_the_best_item_of_a_label_missing_from_the_page() -> None:
    ranked = ["n1", "n2", "n3", "o1", "o2"]          # n: the text in force, o: the one it replaced
    labels = ["new", "new", "new", "old", "old"]
    assert show_each(ranked, labels, 3) == ["n1", "n2", "o1", "n3", "o2"]


def test_show_each_makes_room_from_the_lowest_ranked_unlabelled_or_repeated_item() -> None:
    ranked = ["a1", "x", "a2", "b1", "c1"]
    labels = ["a", None, "a", "b", "c"]
    # a2 (a is shown twice) and x (unlabelled) may both make room; the lower-ranked one goes first
    assert show_each(ranked, labels, 4) == ["a1", "x", "b1", "c1", "a2"]
    assert show_each(ranked, labels, 3) == ["a1", "b1", "c1", "x", "a2"]


def test_show_each_never_removes_a_label_shown_once() -> None:
    ranked = ["a1", "b1", "c1"]
    labels = ["a", "b", "c"]
    assert show_each(ranked, labels, 2) == ranked                # no room: a and b each shown once
    assert show_each(ranked, labels, 5) == ranked
    assert show_each([], [], 3) == []
