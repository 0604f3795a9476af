"""Catalog grouping of article versions: by text, across renumbering."""
from dataclasses import dataclass, replace

import pytest

import index.catalog
from index.catalog import Catalog, load_matches, newest_counterparts, save_matches


@dataclass(frozen=True)
class Unit:
    id: int
    no: int
    text: str
    version_id: int
    version_date: str
    status: str
    kind: str = "article"
    suffix: int = 0
    label: str = ""
    document_id: int = 1
    doc_key: str = "示例条例"
    title: str = "示例条例"
    doc_level: str = "行政法规"
    region: str = "全国"
    effective: str = ""


OLD = [Unit(1, 1, "为了规范信访工作，保护信访人的合法权益，制定本条例。", 10, "2005-01-10", "superseded"),
       Unit(2, 2, "信访人对处理意见不服的，可以请求复查。", 10, "2005-01-10", "superseded"),
       Unit(3, 3, "本条例自公布之日起施行。", 10, "2005-01-10", "superseded")]
NEW = [Unit(4, 1, "为了规范信访工作，保护信访人的合法权益，维护信访秩序，制定本条例。", 11, "2022-02-25", "current"),
       Unit(5, 2, "各级机关应当畅通信访渠道，方便群众来访。", 11, "2022-02-25", "current"),
       Unit(6, 3, "信访人对处理意见不服的，可以自收到书面答复之日起30日内请求复查。", 11, "2022-02-25", "current"),
       Unit(7, 4, "本条例自2022年5月1日起施行。", 11, "2022-02-25", "current")]


def test_older_articles_join_the_newest_article_with_the_same_text() -> None:
    links, _ = newest_counterparts(OLD + NEW)
    assert links[2] == 6                      # 第二条 became 第三条: joined by text, not by number
    assert links[1] == 4 and links[3] == 7
    assert all(links[u.id] == u.id for u in NEW)


def test_catalog_groups_versions_by_text() -> None:
    catalog = Catalog.from_units(OLD + NEW)
    group = dict(zip(catalog.ids.tolist(), catalog.group.tolist()))
    assert group[2] == group[6] and group[2] != group[5]
    assert len(set(group.values())) == 4      # four articles of the newest version, each with its history


@pytest.fixture()
def matchings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the versions matched by text (not taken from known matches)."""
    calls: list[int] = []
    similarity = index.catalog.similarity_matrix

    def counted(old, new):
        calls.append(1)
        return similarity(old, new)
    monkeypatch.setattr(index.catalog, "similarity_matrix", counted)
    return calls


def test_known_matches_are_reused_and_matches_of_changed_texts_are_not(matchings: list[int]) -> None:
    links, matches = newest_counterparts(OLD + NEW)
    assert len(matchings) == 1 and len(matches) == 1
    # the same texts under new ids (a re-ingested file): the matches by position still hold
    renumbered = [replace(u, id=u.id + 100) for u in OLD + NEW]
    again, same = newest_counterparts(renumbered, matches)
    assert len(matchings) == 1 and same == matches
    assert again == {old + 100: new + 100 for old, new in links.items()}
    # one older article reworded: that pair of versions is matched again, and only it is kept
    reworded = [replace(OLD[0], text="为了规范信访秩序，制定本条例。"), *OLD[1:], *NEW]
    _, fresh = newest_counterparts(reworded, matches)
    assert len(matchings) == 2 and fresh.keys().isdisjoint(matches)


def test_damaged_known_matches_are_worked_out_again(matchings: list[int]) -> None:
    links, matches = newest_counterparts(OLD + NEW)
    for damaged in ([[7, 0]], [[0, 9]], [["0", 1]], [[0]], "x", None):
        again, _ = newest_counterparts(OLD + NEW, dict.fromkeys(matches, damaged))
        assert again == links
    assert len(matchings) == 7


def test_saved_matches_read_back_and_a_bad_file_reads_as_none(tmp_path) -> None:
    _, matches = newest_counterparts(OLD + NEW)
    save_matches(tmp_path, matches)
    assert load_matches(tmp_path) == matches
    assert load_matches(None) == {} and load_matches(tmp_path / "missing") == {}
    (tmp_path / index.catalog.MATCHES).write_text("[1, 2", encoding="utf-8")
    assert load_matches(tmp_path) == {}
    (tmp_path / index.catalog.MATCHES).write_text("[1, 2]", encoding="utf-8")
    assert load_matches(tmp_path) == {}


def test_a_damaged_catalog_is_one_error_line(tmp_path) -> None:
    from kb.errors import SearchIndexError
    Catalog.from_units(OLD).save(tmp_path)
    arrays = next(tmp_path.glob("*.npz"))
    arrays.write_bytes(arrays.read_bytes()[:300])           # cut short: a BadZipFile traceback before
    with pytest.raises(SearchIndexError, match="cannot read the index catalog") as err:
        Catalog.load(tmp_path, "python -m index build --kb DIR")
    assert str(err.value).endswith("rebuild it: python -m index build --kb DIR")
