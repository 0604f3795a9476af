"""流程图 (`lecture.flow`): steps, labelled edges and branches drawn from time limits; DOT for the
app, a standalone SVG for slides; a document without limits has an empty flow."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from conftest import SHARED
from ingest.deadlines import extract_deadlines
from ingest.records import Article
from kb.chinese import article_label
from lecture.flow import START, build_flow, step_label, to_dot, to_svg

XINFANG_2022 = SHARED / "samples" / "xinfang-gongzuo-tiaoli-2022.docx"


def art(no: int, *paragraphs: str) -> Article:
    return Article(no, 0, article_label(no), (), paragraphs, "\n".join(paragraphs))


ARTICLES = [
    art(1, "调解委员会收到申请后，应当在5日内决定是否受理；不符合条件的，不予受理，并告知申请人。"),
    art(2, "调解委员会应当自受理之日起30日内办结；情况复杂的，可以延长，但延长期限不得超过15日。"),
    art(3, "申请人对调解结果不服的，可以自收到调解书之日起15日内向上一级调解委员会申请复查。"
           "上一级调解委员会应当自收到复查申请之日起30日内作出复查决定。",
        "申请人对复查决定不服，仍以同一事实和理由提出请求的，不再受理。"),
    art(4, "属于本委员会职权范围的，调解委员会应当在10日内处理；不属于本委员会职权范围的，调解委员会应当在3日内转送有关机关。"),
]


def flow_of(articles):
    return build_flow("示范条例", extract_deadlines(articles), {a.label: a.text for a in articles})


def test_steps_edges_extension_and_outcomes():
    flow = flow_of(ARTICLES[:3])
    labels = {s.key: s.label for s in flow.steps}
    path = [(labels[t.source], labels[t.target], t.label) for t in flow.transitions]
    assert path == [
        ("开始", "决定是否受理", "5日 · 调解委员会"),
        ("决定是否受理", "不予受理", "不符合条件"),
        ("决定是否受理", "办结", "30日 · 调解委员会\n可延长≤15日"),
        ("办结", "申请复查", "不服 · 15日 · 申请人"),
        ("申请复查", "作出复查决定", "30日 · 上一级调解委员会"),
        ("作出复查决定", "不再受理", "不服")]
    assert [s.clauses for s in flow.steps if s.outcome] == [("第一条",), ("第三条",)]


def test_alternatives_of_one_article_branch_from_the_same_step():
    flow = flow_of([ARTICLES[0], ARTICLES[3]])
    labels = {s.key: s.label for s in flow.steps}
    edges = {(labels[t.source], labels[t.target]) for t in flow.transitions}
    assert ("决定是否受理", "处理") in edges and ("决定是否受理", "转送有关机关") in edges
    assert ("处理", "转送有关机关") not in edges


def test_document_without_limits_has_an_empty_flow():
    flow = flow_of([art(1, "调解应当尊重当事人意愿。")])
    assert flow.empty and [s.key for s in flow.steps] == [START]
    assert not flow_of(ARTICLES).empty


def test_step_labels_are_short():
    assert step_label("分别按照下列方式处理") == "处理"
    assert len(step_label("将该工程的权属、主管部门、管理单位、规模、功能等情况报送")) == 14


def test_dot_has_every_step_edge_and_link():
    flow = flow_of(ARTICLES[:3])
    dot = to_dot(flow, link=lambda label: f"/browse?doc=1&label={label}")
    assert dot.startswith("digraph flow {")
    for s in flow.steps:
        assert f"\t{s.key} [" in dot
    assert dot.count(" -> ") == len(flow.transitions)
    assert 'URL="/browse?doc=1&label=第二条"' in dot and "可延长≤15日" in dot


def test_svg_is_well_formed_with_every_step():
    flow = flow_of(ARTICLES)
    svg = to_svg(flow)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    assert len(root.findall(f"{ns}rect")) == len(flow.steps)
    assert len(root.findall(f"{ns}line")) == len(flow.transitions)
    texts = {t.text for t in root.iter(f"{ns}text")}
    assert {"办结", "不再受理", "示范条例"} <= texts
    assert to_svg(flow) == svg                                         # deterministic
    escaped = ET.fromstring(to_svg(build_flow("<b>&", ())))            # titles are escaped
    assert escaped.find(f"{ns}text").text == "<b>&"


@pytest.mark.skipif(not XINFANG_2022.is_file(), reason=f"{XINFANG_2022} not found (../shared/samples)")
def test_flow_of_xinfang_gongzuo_tiaoli():
    from ingest.parse import parse_file
    doc = parse_file(XINFANG_2022)
    flow = build_flow(doc.meta.title, extract_deadlines(doc.articles), {a.label: a.text for a in doc.articles})
    labels = {s.key: s.label for s in flow.steps}
    chain = [(labels[t.source], labels[t.target]) for t in flow.transitions]
    for step in (("办结", "请求复查"), ("请求复查", "提出复查意见"), ("提出复查意见", "请求复核"),
                 ("请求复核", "提出复核意见"), ("提出复核意见", "不再受理")):
        assert step in chain
    edge = next(t for t in flow.transitions if labels[t.target] == "请求复核")
    assert edge.label == "不服 · 30日 · 信访人"


LAWREFBOOK = SHARED / "corpus" / "lawrefbook"
REGULATIONS = ("诉讼与非诉讼程序法/人民调解法(2010-08-28).md", "诉讼与非诉讼程序法/行政复议法(2023-09-01).md",
               "行政法/法律援助法(2021-08-20).md", "地方性法规/浙江/浙江省信访条例(2016-07-29).md",
               "地方性法规/上海/上海市信访条例(2018-05-24).md")


@pytest.mark.parametrize("relpath", REGULATIONS)
def test_flow_of_other_regulations(relpath):
    from ingest.parse import parse_file
    path = LAWREFBOOK / relpath
    if not path.is_file():
        pytest.skip(f"{path} not found (../shared/corpus/lawrefbook)")
    doc = parse_file(path)
    flow = build_flow(doc.meta.title, extract_deadlines(doc.articles), {a.label: a.text for a in doc.articles})
    assert not flow.empty
    keys = {s.key for s in flow.steps}
    assert all(t.source in keys and t.target in keys for t in flow.transitions)
    assert ET.fromstring(to_svg(flow)) is not None and to_dot(flow).count(" -> ") == len(flow.transitions)


def test_a_limit_with_nothing_after_it_is_a_labelled_step():
    # "询问查证的时间不得超过八小时" made a box without a label
    flow = flow_of([art(1, "公安机关传唤后应当及时询问查证，询问查证的时间不得超过八小时。"),
                    art(2, "公安机关办理治安案件的期限，自受理之日起不得超过三十日。")])
    assert [s.label for s in flow.steps] == ["开始", "询问查证", "办理治安案件"]
