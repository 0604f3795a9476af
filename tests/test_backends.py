"""The search-backend contract: one suite, run against the embedded backend and against Milvus
(a `milvus-lite server` this module starts on a free port in tmp_path and stops).

The corpus is the made-up app corpus (`tests/app_corpus`: a provincial regulation in two
versions, a national 意见) plus one made-up regulation written here; each backend gets its own
copy of one store, indexed with the real bundled model.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import milvus_lite_server
from index.backends import LexicalQuery
from index.build import backend_record, build, current_folder, read_meta
from index.search import Filters, Hit, Searcher
from ingest import run
from kb.settings import load_config
from ui.harness import free_port

APP_CORPUS = Path(__file__).resolve().parent / "app_corpus"
EXTRA_TITLE = "某县信访接待测试办法"
EXTRA = f"""# {EXTRA_TITLE}

<!-- INFO END -->

第一条 信访接待场所应当设置无障碍通道。

第二条 接待人员应当佩戴工作证件。

第三条 鹦鹉螺号接待大厅每周二开放。
"""
BACKENDS = ("embedded", "milvus")
QUESTIONS = ("社区调解员应当具备什么条件", "调解协议有什么效力", "社区调解委员会怎样组成", "调解不收费吗")


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A milvus-lite server of this module; stopped at its end."""
    with milvus_lite_server(tmp_path_factory.mktemp("milvus")) as uri:
        yield uri


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store (no index) of the corpus."""
    root = tmp_path_factory.mktemp("backend-store")
    (root / "extra").mkdir()
    (root / "extra" / f"{EXTRA_TITLE}.md").write_text(EXTRA, encoding="utf-8")
    summary = run([APP_CORPUS / "地方性法规", APP_CORPUS / "关于加强社区调解员队伍建设的意见.md", root / "extra"],
                  root / "kb")
    assert summary.failed == 0, summary.failures
    return root


@pytest.fixture(scope="module", params=BACKENDS)
def searcher(request: pytest.FixtureRequest, store: Path, tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    """A Searcher over a copy of the store indexed by one backend."""
    root = tmp_path_factory.mktemp(f"backend-{request.param}")
    kb = Path(shutil.copytree(store / "kb", root / "kb"))
    uri = request.getfixturevalue("milvus_uri") if request.param == "milvus" else ""
    cfg = load_config(kb=str(kb), backend=request.param, milvus_uri=uri)
    build(kb, cfg, progress=False, force=True)
    return Searcher(kb, load_config(kb=str(kb)))


def cites(hits: list[Hit]) -> list[str]:
    return [h.citation for h in hits]


def test_the_snapshot_records_its_backend(searcher: Searcher, request: pytest.FixtureRequest) -> None:
    record = read_meta(current_folder(searcher.kb_dir), searcher.kb_dir)["backend"]
    assert record["name"] == request.node.callspec.params["searcher"]
    if record["name"] == "milvus":
        assert record["article_rows"] == len(searcher.catalog)
        assert record["passage_rows"] >= record["article_rows"]


def test_questions_find_their_articles(searcher: Searcher) -> None:
    hits = searcher.search("鹦鹉螺号接待大厅什么时候开放", k=3)
    assert hits[0].citation == f"《{EXTRA_TITLE}》第三条"
    assert {"keywords", "meaning"} <= set(hits[0].match)


def test_a_reference_is_answered_first(searcher: Searcher) -> None:
    top = searcher.search("四川省社区调解示范条例第七条", k=5)[0]
    assert (top.title, top.article_no, top.status) == ("四川省社区调解示范条例", 7, "current")
    assert "reference" in top.match


def test_versions_are_grouped(searcher: Searcher) -> None:
    hits = searcher.search("社区调解委员会怎样组成", k=10)
    assert hits and all(h.status == "current" for h in hits)
    regulation = [h for h in hits if h.title == "四川省社区调解示范条例"]
    assert any(h.other_versions for h in regulation)
    assert len({h.article_id for h in hits}) == len(hits)


@pytest.mark.parametrize("filters, holds", [
    (Filters(levels=("地方性法规",)), lambda h: h.level == "地方性法规"),
    (Filters(regions=("全国",)), lambda h: h.region == "全国"),
    (Filters(regions=("四川省",)), lambda h: h.region.startswith("四川省")),
    (Filters(statuses=("superseded",)), lambda h: h.status == "superseded"),
    (Filters(date_from="2020"), lambda h: h.effective >= "2020"),
    (Filters(date_to="2016-12-31", statuses=("current", "superseded")),
     lambda h: "" < h.effective <= "2016-12-31"),
    (Filters(documents=("关于加强社区调解员队伍建设的意见",)), lambda h: h.title == "关于加强社区调解员队伍建设的意见"),
], ids=["level", "national", "region", "status", "from", "to", "document"])
def test_filters_hold_for_every_hit(searcher: Searcher, filters: Filters, holds) -> None:
    for question in QUESTIONS:
        hits = searcher.search(question, k=10, filters=filters)
        assert hits, question
        assert all(holds(h) for h in hits), [(h.citation, h.level, h.region, h.status, h.effective) for h in hits]


def test_the_backend_applies_filters_before_top_k(searcher: Searcher) -> None:
    # one document among many: each ranking is full of its articles, none of another one
    scope = searcher.scope(Filters(documents=(EXTRA_TITLE,)))
    parsed = searcher.parse("调解", Filters())
    dense = searcher.backend.dense(searcher.embedder.encode_query("调解"), scope, 3)
    lexical = searcher.backend.lexical(searcher.lexical_query(parsed), scope, 10)
    assert len(dense) == 3 and all(scope.mask[row] for row, _ in dense)
    assert all(scope.mask[row] for row, _ in lexical)


def test_a_named_replaced_document_is_searched_in_its_newest_version(searcher: Searcher) -> None:
    # every version of the regulation current or superseded; asked for as repealed only, by name
    hits = searcher.search("调解协议", k=5, filters=Filters(documents=("四川省社区调解示范条例",),
                                                            statuses=("repealed",)))
    assert hits and {(h.title, h.version_date) for h in hits} == {("四川省社区调解示范条例", "2023-09-01")}


def test_an_older_version_the_question_names_is_searched(searcher: Searcher) -> None:
    # 原…: the 2016 text is searched though texts in force only are, by each backend's own filter
    top = searcher.search("原四川省社区调解示范条例规定调解员要在多少天内调解结束", k=5)[0]
    assert (top.article_no, top.version_date[:4], top.status) == (9, "2016", "superseded")


def test_empty_results(searcher: Searcher) -> None:
    assert searcher.search("调解", k=5, filters=Filters(date_to="1900")) == []
    assert searcher.backend.lexical(LexicalQuery("qqzzxx", ("qqzzxx",)), searcher.scope(Filters()), 5) == []


def rebuilt(kb: Path, record: dict) -> Searcher:
    """A Searcher after building `kb` without backend settings (as an ingest or an upload does),
    which stays on the backend (and address) of `record`."""
    build(kb, load_config(kb=str(kb)), progress=False)
    searcher = Searcher(kb, load_config(kb=str(kb)))
    assert (backend_record(searcher.meta)["name"], backend_record(searcher.meta).get("uri")) == \
        (record["name"], record.get("uri"))
    return searcher


def test_deletes_after_reingest(searcher: Searcher, tmp_path: Path) -> None:
    kb = Path(shutil.copytree(searcher.kb_dir, tmp_path / "kb"))
    record = backend_record(searcher.meta)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "某县临时测试规定.md").write_text("# 某县临时测试规定\n\n<!-- INFO END -->\n\n第一条 蓝鲸号渡轮逢单日停航。\n",
                                          encoding="utf-8")
    assert run([docs], kb).failed == 0
    added = rebuilt(kb, record)
    assert added.search("蓝鲸号渡轮什么时候停航", k=3)[0].title == "某县临时测试规定"
    (docs / "某县临时测试规定.md").unlink()
    run([docs], kb, prune=True)
    removed = rebuilt(kb, record)
    assert all(h.title != "某县临时测试规定" for h in removed.search("蓝鲸号渡轮什么时候停航", k=10))
    after = backend_record(removed.meta)
    if after["name"] == "milvus":
        assert after["deleted"] == {"articles": 1, "passages": 1}
        assert after["upserted"]["articles"] == 0        # the other articles were loaded before: not again
        left = removed.backend.client.query(after["articles"], filter='doc_key like "%临时测试%"', output_fields=["id"])
        assert list(left) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_first_build_answers_by_keywords_before_it_embeds(backend: str, store: Path, tmp_path: Path,
                                                            request: pytest.FixtureRequest,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import index.cache
    import index.dense
    kb = Path(shutil.copytree(store / "kb", tmp_path / "kb"))
    uri = request.getfixturevalue("milvus_uri") if backend == "milvus" else ""
    original, seen = index.cache.cached_vectors, []

    def search_first(*args, **kwargs):
        if not seen:
            searcher = Searcher(kb, load_config(kb=str(kb)))
            seen.append((searcher.keywords_only, searcher.search("鹦鹉螺号接待大厅什么时候开放", k=3)))
        return original(*args, **kwargs)

    monkeypatch.setattr(index.cache, "cached_vectors", search_first)
    monkeypatch.setattr(index.dense, "cached_vectors", search_first)
    report = build(kb, load_config(kb=str(kb), backend=backend, milvus_uri=uri), progress=False)
    assert 0 < report.keywords_seconds < report.seconds and "keyword search from" in report.summary()
    [(keywords_only, hits)] = seen
    assert keywords_only and hits[0].citation == f"《{EXTRA_TITLE}》第三条" and hits[0].match == ("keywords",)
    done = Searcher(kb, load_config(kb=str(kb)))
    assert not done.keywords_only and backend_record(done.meta)["name"] == backend
    assert {"keywords", "meaning"} <= set(done.search("鹦鹉螺号接待大厅什么时候开放", k=3)[0].match)


def test_milvus_unreachable_is_one_line(store: Path, tmp_path: Path) -> None:
    kb = Path(shutil.copytree(store / "kb", tmp_path / "kb"))
    port = free_port()
    done = subprocess.run([sys.executable, "-m", "index", "build", "--kb", str(kb), "--backend", "milvus",
                           "--milvus-uri", f"http://127.0.0.1:{port}", "--quiet"],
                          cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: Milvus unreachable at http://127.0.0.1:{port}")
    assert "Traceback" not in done.stderr


def test_the_milvus_token_reaches_the_client_and_stays_out_of_the_snapshot(
        store: Path, milvus_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a Milvus cluster with authentication wants credentials; milvus-lite takes any, so the client
    # the backend makes is watched
    import pymilvus
    real, tokens = pymilvus.MilvusClient, []

    def watched(*args, **kwargs):
        tokens.append(kwargs.get("token"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pymilvus, "MilvusClient", watched)
    monkeypatch.setenv("POLICYKB_MILVUS_TOKEN", "trainer:s3cret")
    kb = Path(shutil.copytree(store / "kb", tmp_path / "kb"))
    build(kb, load_config(kb=str(kb), backend="milvus", milvus_uri=milvus_uri), progress=False)
    Searcher(kb, load_config(kb=str(kb))).search(QUESTIONS[0])
    assert tokens and set(tokens) == {"trainer:s3cret"}              # the build's client and the searcher's
    assert "s3cret" not in (current_folder(kb) / "meta.json").read_text(encoding="utf-8")


def test_base_dense_scores_are_each_candidates_own_best_passage(searcher: Searcher) -> None:
    # the second stage's plain-model cosine: the dense search restricted to the candidates, on
    # either backend, gives each of them (and only them) the score the unrestricted search gives it
    qvec = searcher.embedder.encode_query("社区调解委员会怎样组成")
    everything = dict(searcher.backend.dense(qvec, searcher.scope(Filters(statuses=("current", "superseded"))),
                                             len(searcher.catalog)))
    rows = sorted(everything)[::3][:7]
    scores = searcher.base_dense_scores(qvec, rows)
    assert sorted(r for r, _ in scores) == rows
    assert all(score == pytest.approx(everything[r], abs=1e-4) for r, score in scores)
