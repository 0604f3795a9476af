"""Searcher integration tests: the real bundled model and FAISS over the small app knowledge base
(`app_kb` in conftest: a made-up provincial regulation in two versions, a made-up 意见, and the
shared samples 《信访条例》(2005) and 《信访工作条例》(2022), ingested and indexed in tmp_path)."""
import gc
import json
import sys
import weakref
from pathlib import Path

import pytest

from index.build import DENSE_DIR, build, current_folder
from index.dense import read_dense_meta
from index.search import MAX_QUERY_CHARS, Filters, Hit, Searcher, bound_number, matched_terms
from kb.chinese import int_to_cn
from kb.errors import QueryError
from kb.settings import load_config
from kb.workers import usable_cores


@pytest.fixture(scope="module")
def searcher(indexed_kb: Path) -> Searcher:
    return Searcher(indexed_kb, load_config(kb=str(indexed_kb)))


def cites(hits: list[Hit]) -> list[str]:
    return [h.citation for h in hits]


def test_the_bundled_query_adapter_is_in_use_for_the_default_model(searcher: Searcher) -> None:
    # index/data/query_adapter.npz was learned for m3e-small; a fresh install must pick it up
    assert searcher.adapter is not None and "index.learn.fit" in searcher.adapter.note
    assert searcher.adapter.weights.shape == (searcher.embedder.dim, searcher.embedder.dim)


def test_colloquial_question_finds_the_review_article(searcher: Searcher) -> None:
    hits = searcher.search("对复查意见不服还能找谁", k=3)
    assert "《信访工作条例》第三十六条" in cites(hits)


def test_a_question_naming_its_document_finds_the_clause_not_the_opening_articles(searcher: Searcher) -> None:
    # the title's words (信访, 工作, 条例) drew 第一条 (为了……制定本条例) and 第五十条 (本条例自……施行)
    # above the clause asked about
    for query in ("信访工作条例对重复信访是怎么规定的", "《信访工作条例》里对复查意见不服还能找谁"):
        assert "《信访工作条例》第三十六条" in cites(searcher.search(query, k=3)), query


def test_reference_is_answered_first(searcher: Searcher) -> None:
    for query in ("信访工作条例第三十三条", "《信访工作条例》第33条", "信访工作条例33条", "信访工作条例 33"):
        top = searcher.search(query, k=5)[0]
        assert (top.title, top.article_no) == ("信访工作条例", 33)
        assert "reference" in top.match


def test_the_paragraph_or_item_a_reference_asks_for_is_marked_or_said_missing(searcher: Searcher) -> None:
    top = searcher.search("信访工作条例第三十六条第二款", k=3)[0]
    assert (top.article_no, top.paragraph) == (36, 2) and "听证" in top.paragraphs[1]
    assert searcher.notices("信访工作条例第三十六条第二款") == []
    assert searcher.search("信访工作条例第三十六条", k=3)[0].paragraph == 0
    count = len(top.paragraphs)
    missing = searcher.search("信访工作条例第三十六条第九款", k=3)[0]
    assert (missing.article_no, missing.paragraph) == (36, 0)
    assert searcher.notices("信访工作条例第三十六条第九款") == [f"《信访工作条例》第三十六条只有{count}款"]
    # and a 项, of the 款 named or of the first with 项 (as the citation check reads them)
    item = searcher.search("信访工作条例第三十一条第六项", k=3)[0]
    assert (item.article_no, item.paragraph, item.item) == (31, 0, 6) and searcher.notices("信访工作条例第三十一条第六项") == []
    assert searcher.search("信访工作条例第三十一条第九项", k=3)[0].item == 0
    assert searcher.notices("信访工作条例第三十一条第九项") == ["《信访工作条例》第三十一条只有6项"]
    assert searcher.notices("信访工作条例第二条第一项") == ["《信访工作条例》第二条没有分项"]


@pytest.mark.parametrize("query", ["×司发〔2024〕3号", "按照×司发[2024]3号，调解员要参加多少学时的培训？"])
def test_a_document_asked_for_by_its_doc_number_comes_first(searcher: Searcher, query: str) -> None:
    # a 文号 was only words to match: the document that carries it was not looked up
    first = searcher.search(query)[0]
    assert first.title == "关于加强社区调解员队伍建设的意见" and first.match[0] == "doc_number"


def test_bare_article_number_uses_the_document_filter(searcher: Searcher) -> None:
    hits = searcher.search("第33条", k=3, filters=Filters(documents=("信访条例",)))
    assert (hits[0].title, hits[0].article_no) == ("信访条例", 33)
    assert all(h.title == "信访条例" for h in hits)


def test_document_filter_returns_only_that_document(searcher: Searcher) -> None:
    hits = searcher.search("信访人对处理意见不服怎么办", k=10, filters=Filters(documents=("信访工作条例",)))
    assert hits and {h.title for h in hits} == {"信访工作条例"}


def test_a_document_asked_for_by_name_is_searched_though_it_was_replaced(searcher: Searcher) -> None:
    # 《信访条例》 (2005) is superseded by 《信访工作条例》: searched by default only when named
    hits = searcher.search("信访人对处理意见不服怎么办", k=10, filters=Filters(documents=("信访条例",)))
    assert hits and {(h.title, h.status) for h in hits} == {("信访条例", "superseded")}
    # naming both shows both on the first page, though every one of the first ten articles by score
    # is of the text in force (the question prior votes for it), which still ranks first
    for k in (10, 3, 2):
        both = searcher.search("信访人对处理意见不服怎么办", k=k, filters=Filters(documents=("信访条例", "信访工作条例")))
        assert {h.title for h in both} == {"信访条例", "信访工作条例"} and both[0].title == "信访工作条例"


def test_a_question_naming_two_documents_shows_both_on_the_first_page(searcher: Searcher) -> None:
    question = "信访工作条例和四川省社区调解示范条例：信访人对复查意见不服怎么办"
    for k in (3, 5):
        hits = searcher.search(question, k=k)
        assert {h.title for h in hits} == {"信访工作条例", "四川省社区调解示范条例"}, k
        assert hits[0].title == "信访工作条例"          # the one that answers still ranks first


def test_region_and_level_filters(searcher: Searcher) -> None:
    local = searcher.search("社区调解委员会", k=10, filters=Filters(regions=("四川省",)))
    assert local and all(h.region.startswith("四川省") for h in local)
    national = searcher.search("社区调解委员会", k=10, filters=Filters(regions=("全国",)))
    assert national and all(h.region == "全国" for h in national)
    levels = {h.level for h in searcher.search("调解", k=20, filters=Filters(levels=("地方性法规",)))}
    assert levels == {"地方性法规"}


def test_current_versions_by_default_and_older_ones_on_request(searcher: Searcher) -> None:
    default = searcher.search("社区调解不收取任何费用", k=10)
    assert default and all(h.status == "current" for h in default)
    hits = searcher.search("社区调解不收取任何费用", k=10, filters=Filters(statuses=("current", "superseded")))
    sichuan = [h for h in hits if h.title == "四川省社区调解示范条例"]
    assert sichuan[0].status == "current"                       # versions grouped, current shown
    assert any(v.status == "superseded" for h in sichuan for v in h.other_versions)
    old = searcher.search("社区调解不收取任何费用", k=10, filters=Filters(statuses=("superseded",)))
    assert old and all(h.status == "superseded" for h in old)


def test_date_filter(searcher: Searcher) -> None:
    # the sample texts in force before 2011 are 《信访条例》 (2005), replaced by 《信访工作条例》
    hits = searcher.search("信访", k=20, filters=Filters(date_to="2010", statuses=("current", "superseded")))
    assert hits and all(h.effective <= "2010-12-31" for h in hits)
    with pytest.raises(QueryError, match="bad date"):
        searcher.search("信访", filters=Filters(date_from="去年"))


def test_hit_explains_the_match(searcher: Searcher) -> None:
    hit = searcher.search("信访人对复查意见不服", k=1)[0]
    assert set(hit.match) <= {"keywords", "meaning", "reference"} and hit.match
    assert "复查意见" in hit.matched_terms or "复查" in hit.matched_terms
    assert hit.path and hit.source and hit.status == "current"


def test_unknown_document_and_empty_query_are_query_errors(searcher: Searcher) -> None:
    with pytest.raises(QueryError, match="unknown document"):
        searcher.search("调解", filters=Filters(documents=("不存在的条例",)))
    with pytest.raises(QueryError, match="empty query"):
        searcher.search("   ")
    with pytest.raises(QueryError, match="status"):
        searcher.search("调解", filters=Filters(statuses=("valid",)))


def test_article_and_neighbours(searcher: Searcher) -> None:
    hit = searcher.article("信访工作条例", "第三十六条")
    assert hit.article_no == 36 and hit.citation == "《信访工作条例》第三十六条"
    before, after = searcher.neighbours(hit.article_id)
    assert [h.article_no for h in before] == [35] and [h.article_no for h in after] == [37]
    with pytest.raises(QueryError):
        searcher.article("信访工作条例", "第九百条")


SICHUAN = "四川省社区调解示范条例"          # 2016 and 2023 (revised): 第四条 became 第五条 (不收取任何费用)


@pytest.mark.parametrize("query, date, wording", [
    (f"《{SICHUAN}》（2016年）第四条", "2016", "不收取任何费用"),
    (f"修订前的{SICHUAN}第四条", "2016", "不收取任何费用"),
    (f"原{SICHUAN}第九条说什么", "2016", "三十日内"),
    (f"2019年的{SICHUAN}第九条", "2016", "三十日内"),         # the text in force that year
    (f"《{SICHUAN}（2023年修订）》第九条", "2023", "信访渠道"),
    (f"{SICHUAN}第九条", "2023", "信访渠道"),
])
def test_a_reference_naming_a_version_gets_that_version(searcher: Searcher, query: str, date: str,
                                                         wording: str) -> None:
    # the note was read as nothing: 《…》（2016年）第四条 gave the text in force, another article
    top = searcher.search(query, k=5)[0]
    assert (top.title, top.article_no, top.version_date[:4]) == (SICHUAN, int(top.article_no), date), query
    assert wording in top.text and "reference" in top.match, (query, top.text)


def test_a_chapter_of_a_named_version_comes_from_that_version(searcher: Searcher) -> None:
    # the chapter came from the text in force whatever version the question named
    for query, date, count in ((f"2016年的{SICHUAN}第一章", "2016", 4), (f"{SICHUAN}第一章", "2023", 5)):
        hits = searcher.search(query, k=20)
        chapter = [h for h in hits if "reference" in h.match]
        assert {h.version_date[:4] for h in chapter} == {date} and len(chapter) == count, query
    old = next(h for h in searcher.search(f"2016年的{SICHUAN}第一章", k=20) if h.article_no == 1)
    assert searcher.notices(f"2016年的{SICHUAN}第一章") == [f"《{SICHUAN}》（{old.version_date}版本）第一章 总则：第一条至第四条，共4条"]
    assert searcher.notices(f"{SICHUAN}第一章") == [f"《{SICHUAN}》第一章 总则：第一条至第五条，共5条"]


def test_a_question_naming_an_older_version_is_answered_from_it(searcher: Searcher) -> None:
    # the name's version was read as nothing: 原… got the text in force alone (十五日, not 三十日)
    old = searcher.search(f"原{SICHUAN}规定调解员要在多少天内调解结束", k=5)
    assert (old[0].article_no, old[0].version_date[:4]) == (9, "2016") and "三十日内" in old[0].text
    assert any(v.status == "current" for v in old[0].other_versions)      # the text in force a click away
    assert searcher.notices(f"原{SICHUAN}规定调解员要在多少天内调解结束") == [
        f"问题提到《{SICHUAN}》原来的版本：一并检索其{old[0].version_date}的文本（已修改）"]
    # and when the filter lets both versions in, the one named is still the one shown
    both = searcher.search(f"原{SICHUAN}规定调解员要在多少天内调解结束", k=5,
                           filters=Filters(statuses=("current", "superseded")))
    assert (both[0].article_no, both[0].version_date[:4]) == (9, "2016")
    # said as trainees say it (以前的…), the same; asked beside the text in force, that comes first
    said = searcher.search(f"以前的{SICHUAN}规定调解员要在多少天内调解结束", k=5)
    assert (said[0].article_no, said[0].version_date[:4]) == (9, "2016")
    compared = f"以前的{SICHUAN}规定调解员要在多少天内调解结束，修订后变了没有"
    top = searcher.search(compared, k=5)[0]
    assert (top.article_no, top.version_date[:4]) == (10, "2023") and "十五日内" in top.text
    assert [v.version_date[:4] for v in top.other_versions] == ["2016"]
    said_first = (f"问题提到《{SICHUAN}》原来的版本：一并检索其{old[0].version_date}的文本"
                  "（已修改），现行条文在前，原来的条文见“其他版本”")
    assert searcher.notices(compared) == [said_first]
    new = searcher.search(f"{SICHUAN}规定调解员要在多少天内调解结束", k=5)
    assert (new[0].article_no, new[0].version_date[:4]) == (10, "2023") and "十五日内" in new[0].text
    assert searcher.notices(f"{SICHUAN}规定调解员要在多少天内调解结束") == []


def test_a_version_asked_for_that_the_knowledge_base_lacks_is_said(searcher: Searcher) -> None:
    old = next(h for h in searcher.search(f"原{SICHUAN}第九条", k=5) if h.article_no == 9)
    assert searcher.notices(f"《{SICHUAN}》（2019年修正）第九条") == [
        f"《{SICHUAN}》没有2019年的版本：第九条按{old.version_date}的版本列出"]
    assert searcher.notices(f"《{SICHUAN}》（2016年）第九条") == []


def test_a_question_on_a_documents_layout_is_answered_by_its_outline(searcher: Searcher) -> None:
    # "…有几章", "…一共多少条" got the regulation's general articles and nothing said how it is laid out
    outline = (f"《{SICHUAN}》共13条，分3章：第一章 总则（第一条至第五条）；第二章 调解组织和调解员（第六条至第七条）；"
               "第三章 调解程序（第八条至第十三条）")
    assert searcher.notices(f"{SICHUAN}有几章") == [outline]
    assert searcher.notices(f"{SICHUAN}一共多少条") == [outline]
    old = next(h for h in searcher.search(f"原{SICHUAN}第一条", k=5) if h.article_no == 1).version_date
    assert searcher.notices(f"修订前的{SICHUAN}的结构")[-1] == (
        f"《{SICHUAN}》（{old}版本）共12条，分3章：第一章 总则（第一条至第四条）；第二章 调解组织和调解员（第五条至第七条）；"
        "第三章 调解程序（第八条至第十二条）")
    assert searcher.notices(f"{SICHUAN}哪几条讲调解期限") == []


def test_notices_say_what_the_knowledge_base_cannot_answer(searcher: Searcher) -> None:
    # the search still answers with other articles; these lines say why the asked-for one is not first
    assert searcher.notices("信访工作条例第九百条说什么") == ["《信访工作条例》没有第九百条（共50条）"]
    assert searcher.notices("《中华人民共和国民法典》第1165条") == ["知识库中没有《中华人民共和国民法典》"]
    assert searcher.notices("《信访工作条例》第三十六条") == []
    assert searcher.notices("《信访工作条例（2022年）》第三十六条") == []       # a version note is no other document
    # a longer title holding a known one is another document, and its article is not the known one's
    assert searcher.notices("《信访工作条例实施细则》第三条") == ["知识库中没有《信访工作条例实施细则》"]
    assert "reference" not in searcher.search("《信访工作条例实施细则》第三条")[0].match
    assert searcher.notices("对复查意见不服怎么办") == []
    # a name the knowledge base lacks that holds a known one (信访条例) is not a question about that one
    assert searcher.notices("山西省信访条例第二十条") == ["知识库中没有《山西省信访条例》", "知识库中没有山西省的地方规定"]
    # an article number alone is no reference until a document is named, in the question or the filter
    bare = "“第三十五条”没有指明是哪部法规的：请在前面写上法规名称，或在“法规”筛选中选定一部（命令行：--doc）"
    assert searcher.notices("第35条说的是什么") == [bare]
    assert searcher.notices("第35条说的是什么", Filters(documents=("信访工作条例",))) == []
    assert searcher.notices("第十条至第二十条") == [bare.replace("第三十五条”", "第十条、第十一条”等")]


def test_a_chapter_asked_for_comes_first_in_order_and_is_summed_up(searcher: Searcher) -> None:
    # an instructor preparing a lecture asks for a chapter; before, it got the regulation's general
    # articles (第一条, 第五条 …) and nothing said why
    hits = searcher.search("信访工作条例第四章讲了哪些内容", k=12)
    assert [h.article_no for h in hits[:11]] == list(range(27, 38))
    assert all(h.path[-1] == "第四章 信访事项的办理" for h in hits[:11])
    assert "reference" in hits[0].match
    assert searcher.notices("信访工作条例第四章讲了哪些内容") == ["《信访工作条例》第四章 信访事项的办理：第二十七条至第三十七条，共11条"]
    assert searcher.notices("信访工作条例第九章") == ["《信访工作条例》没有第九章"]
    assert searcher.notices("第四章讲了什么", Filters(documents=("信访工作条例",)))[0].startswith("《信访工作条例》第四章")


def test_the_notices_and_the_search_of_one_question_parse_it_once(searcher: Searcher, monkeypatch) -> None:
    # the app asks for the notices and the hits of each question; each parsed it anew
    module = sys.modules[Searcher.__module__]
    calls = []
    real = module.parse_query
    monkeypatch.setattr(module, "parse_query", lambda *args: calls.append(args[0]) or real(*args))
    question = "信访工作条例第九百条说什么？（一次解析）"
    searcher.notices(question)
    searcher.search(question, k=3)
    assert calls == [question]


def test_a_searching_process_keeps_numpy_to_one_blas_thread_and_learning_gets_every_core(
        indexed_kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # OpenBLAS threads spin on a core after each of a search's small products, where the dense
    # scan's second range wants to run
    from threadpoolctl import threadpool_info

    from index.learn.fit import learning_threads
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)       # as outside the test run

    def blas_threads() -> set[int]:
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    Searcher(indexed_kb)
    assert blas_threads() == {1}
    with learning_threads():
        assert blas_threads() == {usable_cores()}
    assert blas_threads() == {1}


def test_a_search_counts_as_running_from_its_start_to_its_end(searcher: Searcher, monkeypatch) -> None:
    # the dense scan splits over the cores only while no other search runs: one that is still
    # encoding its question or reranking keeps a core busy too
    import index.dense

    seen = []
    for step in ("lexical_ranking", "dense_ranking", "rerank"):
        method = getattr(Searcher, step)
        monkeypatch.setattr(Searcher, step, lambda self, *a, _method=method, _step=step, **kw:
                            seen.append((_step, index.dense._searches)) or _method(self, *a, **kw))
    searcher.search("对复查意见不服还能找谁", k=3)
    assert seen == [("lexical_ranking", 1), ("dense_ranking", 1), ("rerank", 1)]
    assert index.dense._searches == 0
    with pytest.raises(QueryError):
        searcher.search("", k=3)
    assert index.dense._searches == 0                 # a failed search is over too


def test_a_searcher_let_go_is_freed_with_its_index(indexed_kb: Path) -> None:
    # `searcher_for` drops a searcher whose snapshot was replaced; caches kept per class held every
    # searcher they had seen (and its FAISS index) until 32 newer entries pushed it out
    replaced = Searcher(indexed_kb)
    replaced.scope(Filters())
    replaced.search("对复查意见不服还能找谁", k=3)
    gone = weakref.ref(replaced)
    del replaced
    gc.collect()
    assert gone() is None


def test_a_pasted_text_is_searched_by_its_beginning_and_said_to_be(searcher: Searcher) -> None:
    # 100,000 characters held a search for 2.2 s on 2,133 articles
    question = "对复查意见不服还能找谁"
    long = question + "。" + "信访事项的办理" * (MAX_QUERY_CHARS // 7)
    assert len(long) > MAX_QUERY_CHARS
    assert cites(searcher.search(long + "与此无关的内容" * 15_000, k=10)) == cites(searcher.search(long, k=10))
    assert searcher.notices(long) == [f"问题过长（{len(long)}字）：只按前{MAX_QUERY_CHARS}字检索"]
    assert searcher.notices(long[:MAX_QUERY_CHARS]) == []


def test_matched_terms_drop_terms_inside_longer_ones() -> None:
    assert matched_terms(["复查", "复查意见", "不服", "量子"], "对复查意见不服的") == ("复查意见", "不服")


def test_matched_terms_leave_out_pieces_of_a_numbered_label() -> None:
    # the tokeniser's pieces of 第三十六条第二款 would mark 第二十六条 in another article
    terms = ["信访", "条例", "第三", "三十", "十六", "六条", "第三十", "三十六", "十六条", "第三十六条", "第二", "二款",
             "第二款"]
    assert matched_terms(terms, "信访人违反本条例第二十条、第二十六条规定的") == ("信访", "条例")
    assert matched_terms(terms, "依照本条例第三十六条第二款的规定") == ("第三十六条", "第二款", "条例")
    assert matched_terms(["三十", "日内"], "三十日内答复") == ("三十", "日内")       # a number of the question itself


def test_matched_terms_leave_single_characters_out_beside_words() -> None:
    # "闹访的人派出所能拘留吗" is searched with the token 人; marking every 人 of 信访人, 他人 and
    # 公安机关的人员 buried the words that matched (拘留, 闹访) in highlights
    assert matched_terms(["闹访", "人", "派出所", "拘留"], "信访人缠访闹访的，由公安机关依法拘留他人") == ("闹访", "拘留")
    # terms of one length come in the order of the text, whatever the hash seed
    assert matched_terms(["拘留", "闹访"], "闹访的，依法拘留") == ("闹访", "拘留")
    assert matched_terms(["债"], "债务人应当清偿债务") == ("债",)      # a one-character question still shows its match


def test_date_bounds() -> None:
    assert bound_number("2022", end=False) == 20220101
    assert bound_number("2022", end=True) == 20221231
    assert bound_number("2022-5", end=False) == 20220501
    assert bound_number("2022-05-09", end=True) == 20220509
    with pytest.raises(QueryError, match="bad date"):
        bound_number("22年", end=False)
    for no_such_day in ("2020-13", "2020-13-45", "2023-02-29", "2020-00-10"):     # once read as bounds no text meets
        with pytest.raises(QueryError, match=f"bad date '{no_such_day}': no such"):
            bound_number(no_such_day, end=False)


def test_filters_accept_lists_and_stay_hashable() -> None:
    filters = Filters(documents=["信访条例"], statuses=["current", "superseded"])
    assert filters.documents == ("信访条例",) and hash(filters) == hash(Filters(("信访条例",),
                                                                                 statuses=("current", "superseded")))


def test_changing_the_clause_passages_setting_rebuilds_the_index(writable_indexed_kb: Path) -> None:
    kb = writable_indexed_kb
    assert build(kb, load_config(kb=str(kb)), progress=False).skipped
    off = build(kb, load_config(kb=str(kb), clause_passages=False), progress=False)
    assert not off.skipped
    assert build(kb, load_config(kb=str(kb), clause_passages=False), progress=False).skipped
    assert not build(kb, load_config(kb=str(kb)), progress=False).skipped


def test_changing_the_clause_threshold_rebuilds_the_index(writable_indexed_kb: Path) -> None:
    kb = writable_indexed_kb
    assert build(kb, load_config(kb=str(kb)), progress=False).skipped
    assert not build(kb, load_config(kb=str(kb), clause_min_chars=150), progress=False).skipped
    assert build(kb, load_config(kb=str(kb), clause_min_chars=150), progress=False).skipped
    # with clause passages off the threshold shapes nothing, but a change of both is a change
    assert not build(kb, load_config(kb=str(kb), clause_passages=False, clause_min_chars=0), progress=False).skipped
    assert build(kb, load_config(kb=str(kb), clause_passages=False, clause_min_chars=7), progress=False).skipped


def test_a_snapshot_from_before_the_clause_threshold_is_rebuilt_once(writable_indexed_kb: Path) -> None:
    # it recorded only `clause_passages` (true: the 款 of every article were passages)
    kb = writable_indexed_kb
    meta_file = current_folder(kb) / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    del meta["clauses"]
    meta_file.write_text(json.dumps({**meta, "clause_passages": True}), encoding="utf-8")
    assert not build(kb, load_config(kb=str(kb)), progress=False).skipped
    assert build(kb, load_config(kb=str(kb)), progress=False).skipped


def test_changing_the_dense_index_setting_rebuilds_the_index(writable_indexed_kb: Path) -> None:
    # a knowledge base built before `ann_threshold` came down kept scanning every code until its
    # files changed: a build with the new settings was skipped
    kb = writable_indexed_kb
    assert build(kb, load_config(kb=str(kb)), progress=False).skipped
    graph = build(kb, load_config(kb=str(kb), dense_index="hnsw"), progress=False)
    assert not graph.skipped and read_dense_meta(Path(graph.folder) / DENSE_DIR).index_type == "hnsw"
    assert build(kb, load_config(kb=str(kb), dense_index="hnsw"), progress=False).skipped
    assert not build(kb, load_config(kb=str(kb), ann_threshold=1), progress=False).skipped
    assert read_dense_meta(current_folder(kb) / DENSE_DIR).index_type == "hnsw"     # auto, over one passage


def test_unchanged_rebuild_is_skipped_and_a_stale_index_serves_until_rebuilt(indexed_kb: Path, tmp_path: Path) -> None:
    report = build(indexed_kb, load_config(kb=str(indexed_kb)), progress=False)
    assert report.skipped and current_folder(indexed_kb).name == Path(report.folder).name
    import shutil

    from ingest import run
    kb = tmp_path / "kb"
    shutil.copytree(indexed_kb, kb)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "甲乙条例.md").write_text("# 甲乙条例\n\n<!-- INFO END -->\n\n第一条 测试条文。\n", encoding="utf-8")
    run([extra / "甲乙条例.md"], kb)
    stale = Searcher(kb, load_config(kb=str(kb)))
    assert stale.behind() == 1 and "python -m index build --kb" in stale.staleness()
    rebuilt = build(kb, load_config(kb=str(kb)), progress=False)
    assert not rebuilt.skipped
    assert Searcher(kb, load_config(kb=str(kb))).search("甲乙条例第一条")[0].text == "测试条文。"


def test_the_parts_of_a_text_split_into_files_are_numbered_and_named(tmp_path: Path) -> None:
    # 民法典第五编第二章 was "没有第五编第二章" (its files' parts, 婚姻家庭编, carry no number), and
    # 民法典婚姻家庭编第二章 was "有7个第二章"
    from conftest import searcher_of_texts

    def part(name: str, first: int) -> str:
        return (f"# 某法典\n\n# {name}\n\n2020年5月28日 通过\n\n<!-- INFO END -->\n\n"
                f"## 第一章 一般规定\n\n第{int_to_cn(first)}条 本编调整{name}关系。\n\n"
                f"## 第二章 登记\n\n第{int_to_cn(first + 1)}条 {name}事项应当登记。\n\n"
                f"第{int_to_cn(first + 2)}条 登记机构应当在十日内办理{name}登记。\n")
    searcher = searcher_of_texts(tmp_path, {"总则.md": part("总则", 1), "物权编.md": part("物权编", 4),
                                            "附则.md": "# 某法典\n\n# 附则\n\n2020年5月28日 通过\n\n<!-- INFO END -->\n\n"
                                                       "第七条 本法自2021年1月1日起施行。\n"})
    for query in ("某法典第二编第二章", "某法典物权编第二章", "《某法典》的物权编第二章"):
        assert searcher.notices(query) == ["《某法典》第二编 物权编 第二章 登记：第五条至第六条，共2条"], query
        assert [h.article_no for h in searcher.search(query, k=2)] == [5, 6]
    assert searcher.notices("某法典总则第一章") == ["《某法典》第一编 总则 第一章 一般规定：第一条"]
    assert searcher.notices("某法典第二章") == ["《某法典》有2个第二章：请在“法规浏览”中选看"]
