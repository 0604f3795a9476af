"""Collections (文件集): the YAML file's pure parsing, and search preferring (never restricting to)
a collection's documents, on the small app knowledge base with the real model and index."""
from pathlib import Path

import pytest

from conftest import SHARED, shared_samples_present
from index.collections import (Collections, format_collections, load_collections, parse_collections,
                               save_collections, update_collections)
from index.search import Filters, Searcher
from kb.errors import ConfigError, QueryError
from kb.settings import load_config

EXAMPLE = """
default: 信访课程
collections:
  信访课程:
    - 信访工作条例
    - 中华人民共和国人民调解法
  地方:
    - 四川省信访条例
"""


def test_parse_reads_names_documents_and_default() -> None:
    c = parse_collections(EXAMPLE)
    assert c.names() == ["信访课程", "地方"]
    assert c.members["信访课程"] == ("信访工作条例", "中华人民共和国人民调解法")
    assert c.default == "信访课程"


def test_format_round_trips() -> None:
    c = parse_collections(EXAMPLE)
    assert parse_collections(format_collections(c)) == c
    assert parse_collections(format_collections(Collections())) == Collections()


@pytest.mark.parametrize("text, words", [
    ("collections: [a, b]", "mapping"),
    ("collections:\n  x: 信访工作条例\n", "list"),
    ("default: 无此集\ncollections:\n  x: [信访工作条例]\n", "not defined"),
    ("collections:\n  x: [信访工作条例\n", "YAML"),
    ("default: none\ncollections:\n  none: [信访工作条例]\n", "names no collection"),   # `--collection none` could not choose it
    ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
     "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
     "default: [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n", "must be the name"),   # str() of it took minutes
])
def test_malformed_files_are_one_line_errors_naming_the_file(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as err:
        parse_collections(text, "kb/collections.yaml")
    assert str(err.value).startswith("kb/collections.yaml") and "\n" not in str(err.value)


def test_chosen_resolves_the_setting() -> None:
    c = parse_collections(EXAMPLE)
    assert c.chosen("") == "信访课程"            # empty setting: the knowledge base's default
    assert c.chosen("none") == ""
    assert c.chosen("地方") == "地方"
    with pytest.raises(QueryError, match="unknown collection '无此集'"):
        c.chosen("无此集")
    assert Collections().chosen("") == ""


def test_edits_validate_and_keep_the_default() -> None:
    c = Collections().with_collection("课程", ["信访工作条例", "信访工作条例", " "], make_default=True)
    assert c.members == {"课程": ("信访工作条例",)} and c.default == "课程"
    assert c.without("课程") == Collections()
    for name, docs in (("", ["信访工作条例"]), ("x" * 61, ["信访工作条例"]), ("课程", []), ("none", ["信访工作条例"])):
        with pytest.raises(QueryError):
            c.with_collection(name, docs)


def test_save_and_load(tmp_path: Path) -> None:
    assert load_collections(tmp_path) == Collections()
    c = parse_collections(EXAMPLE)
    save_collections(tmp_path, c)
    assert load_collections(tmp_path) == c
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]     # no temporary file left


def test_two_app_sessions_saving_at_once_never_collide(tmp_path: Path) -> None:
    # the app's sessions are threads of one process; a temporary file named by the pid alone was
    # shared by them, so one session's rename could take the other's half-written file or fail
    import threading
    versions = [Collections().with_collection(f"课程{i}", ["信访工作条例"] * (i + 1)) for i in range(4)]
    errors = []

    def save_many(c: Collections) -> None:
        try:
            for _ in range(200):
                save_collections(tmp_path, c)
        except ConfigError as err:
            errors.append(err)

    threads = [threading.Thread(target=save_many, args=(c,)) for c in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert load_collections(tmp_path) in versions
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_two_sessions_changing_the_collections_at_once_keep_both_changes(tmp_path: Path, monkeypatch) -> None:
    # each session read the file, added its collection and saved: the later save dropped the other's
    import sys
    import threading
    import time
    module = sys.modules[Collections.__module__]
    parse = module.parse_collections

    def slow_parse(text: str, source: str = "") -> Collections:
        time.sleep(0.02)        # the other session reads meanwhile
        return parse(text, source)
    monkeypatch.setattr(module, "parse_collections", slow_parse)
    save_collections(tmp_path, Collections().with_collection("起点", ["信访工作条例"]))

    def add(names: list[str]) -> None:
        for name in names:
            update_collections(tmp_path, lambda now, name=name: now.with_collection(name, ["人民调解法"]))
    threads = [threading.Thread(target=add, args=([f"课程{k}-{i}" for i in range(5)],)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(load_collections(tmp_path).names()) == sorted(["起点", *(f"课程{k}-{i}" for k in range(3)
                                                                         for i in range(5))])
    with pytest.raises(QueryError):         # a bad change writes nothing
        update_collections(tmp_path, lambda now: now.with_collection("", ["x"]))
    assert len(load_collections(tmp_path).names()) == 16


@pytest.fixture()
def kb_with_index(request: pytest.FixtureRequest) -> Path:
    if not shared_samples_present():
        pytest.skip(f"shared sample files not found under {SHARED / 'samples'}")
    return request.getfixturevalue("writable_indexed_kb")


def test_search_prefers_the_collection_but_does_not_restrict_to_it(kb_with_index: Path) -> None:
    query = "信访人对处理意见不服的，可以怎么办"
    cfg = load_config(kb=str(kb_with_index), collection_boost=3.0)
    # 《信访工作条例》 replaced the 2005 regulation: it is searched for only on request
    old_too = ("current", "superseded")
    plain = Searcher(kb_with_index, cfg).search(query, k=20, filters=Filters(statuses=old_too, prefer_collection="none"))
    old_law = [h for h in plain if h.title == "信访条例"]
    assert old_law, "the 2005 regulation answers this question too"
    assert plain[0].title == "信访工作条例"             # the regulation in force answers it first
    save_collections(kb_with_index, Collections().with_collection("旧条例", ["信访条例"], make_default=True))
    searcher = Searcher(kb_with_index, cfg)
    preferred = searcher.search(query, k=10, filters=Filters(statuses=old_too))      # the default collection applies
    assert preferred[0].title == "信访条例"
    assert preferred[0].citation != plain[0].citation
    wide = searcher.search(query, k=60, filters=Filters(statuses=old_too))
    assert {h.title for h in wide} - {"信访条例"}, "documents outside the collection still appear"
    assert [h.citation for h in searcher.search(query, k=20, filters=Filters(statuses=old_too, prefer_collection="none"))] == \
        [h.citation for h in plain]
    with pytest.raises(QueryError, match="unknown collection"):
        searcher.search(query, filters=Filters(prefer_collection="无此集"))


def test_app_creates_a_default_collection_and_searches_with_it(kb_with_index: Path, open_page) -> None:
    at = open_page(kb_with_index, "search")
    assert at.selectbox(key="f-collection").options == ["无"]
    at.text_input(key="c-name").input("旧条例").run()
    at.multiselect(key="c-docs-旧条例").select("信访条例").run()
    at.checkbox(key="c-default").check().run()
    at.button(key="c-save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert load_collections(kb_with_index) == Collections({"旧条例": ("信访条例",)}, "旧条例")
    box = at.selectbox(key="f-collection")
    assert box.value == "旧条例" and "旧条例（默认）" in box.options
    at.multiselect(key="f-status").select("superseded").run()    # the replaced 2005 regulation is searched on request
    at.text_input(key="q").input("信访人对处理意见不服的，可以怎么办").run()
    cards = [m.value for m in at.markdown if 'class="kb-cite"' in m.value]
    # preferred, not forced first: the default boost (1.1) lifts the 2005 regulation's best clause
    # from 12th (the plain search of the test above) into the first page, below the clauses in force
    assert any("《信访条例》" in card for card in cards[:10]) and "《信访工作条例》" in cards[0]
