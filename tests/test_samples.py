"""Integration: the shared sample files (each with its .expect.json) and known facts about the
lawrefbook corpus, read by path from ../shared beside the repository."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ingest.parse import document_to_json, parse_file
from kb.errors import IngestError, NotADocument

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLES = SHARED / "samples"
LAWREFBOOK = SHARED / "corpus" / "lawrefbook"

needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"shared samples not found at {SAMPLES}")
needs_corpus = pytest.mark.skipif(not LAWREFBOOK.is_dir(), reason=f"lawrefbook corpus not found at {LAWREFBOOK}")


def _expectations(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.expect.json")) if folder.is_dir() else []


# broken-sample kind → (IngestError.kind, IngestError.reason)
BROKEN_KINDS = {"empty": ("empty", "empty"), "no_text_layer": ("no_text_layer", None),
                "corrupt": ("corrupt", None), "not_docx": ("unsupported", "not_docx"),
                "binary": ("unsupported", "binary"), "mixed_encoding": ("encoding", "mixed_encoding")}


@needs_samples
@pytest.mark.parametrize("expect_file", _expectations(SAMPLES), ids=lambda p: p.name[:-12])
def test_sample_parses_as_expected(expect_file):
    expect = json.loads(expect_file.read_text(encoding="utf-8"))
    doc = parse_file(expect_file.with_name(expect_file.name[:-len(".expect.json")]))
    data = document_to_json(doc)
    articles = data["articles"]
    assert data["title"] == expect["title"]
    assert len(articles) == expect["articles"]
    assert (articles[0]["text"][:15] if articles else None) == expect["first_article_prefix"]
    assert (articles[-1]["no"] if articles else None) == expect["last_article_no"]
    assert data["chapters"] == expect["chapters"]
    for key in ("doc_number", "doc_type", "attachments"):
        if key in expect:
            assert data[key] == expect[key]
    if "encoding" in expect:
        assert doc.encoding == expect["encoding"]
    if "has_toc" in expect:
        assert ("目录 block dropped" in doc.notes) == expect["has_toc"]
    if "outline" in expect:
        sections = data["sections"]
        assert [s["heading"] for s in sections if s["level"] == 1] == expect["outline"]["level1"]
        assert sum(s["level"] == 2 for s in sections) == expect["outline"]["level2_count"]
        assert sum(s["level"] == 3 for s in sections) == expect["outline"]["level3_count"]
    texts = [a["text"] for a in articles] + [s["text"] for s in data["sections"]]
    if expect.get("running_header"):
        assert not [t for t in texts if expect["running_header"] in t]
    if expect.get("page_footer"):
        footer = re.compile(re.escape(expect["page_footer"]).replace("n", r"\d+"))
        assert not [t for t in texts if footer.search(t)]


@needs_samples
def _broken(expect_file: Path) -> bool:
    """Samples that must fail: all of broken/ but the scan without a text layer, which OCR reads."""
    return json.loads(expect_file.read_text(encoding="utf-8"))["kind"] != "no_text_layer"


@pytest.mark.parametrize("expect_file", [p for p in _expectations(SAMPLES / "broken") if _broken(p)],
                         ids=lambda p: p.name[:-12])
def test_broken_sample_raises_mapped_error(expect_file):
    expect = json.loads(expect_file.read_text(encoding="utf-8"))
    kind, reason = BROKEN_KINDS[expect["kind"]]
    with pytest.raises(IngestError) as err:
        parse_file(expect_file.with_name(expect_file.name[:-len(".expect.json")]))
    assert err.value.kind == kind
    if reason:
        assert err.value.reason == reason
    if expect["kind"] in ("not_docx", "binary", "mixed_encoding"):
        assert err.value.reason == expect["kind"]
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(SAMPLES / "broken"))


@needs_samples
def test_the_scanned_sample_is_read_by_ocr_like_its_text_pdf():
    # two page images of 《信访工作条例》 wrapped as a PDF: OCR reads them like the text layer of the same pages
    from bench.scans import character_error_rate
    expect_file = SAMPLES / "broken" / "scanned-no-text-layer.pdf.expect.json"
    if not expect_file.is_file():
        pytest.skip(f"{expect_file} not found")
    expect = json.loads(expect_file.read_text(encoding="utf-8"))
    scanned = parse_file(expect_file.with_name(expect_file.name[:-len(".expect.json")]))
    text = parse_file(SAMPLES / "xinfang-gongzuo-tiaoli-2022.pdf")
    complete = scanned.articles[:-1]            # the last runs on past the second page
    assert scanned.ocr and scanned.meta.title == expect["source_title"] == text.meta.title
    assert len(complete) >= 5 and [a.label for a in scanned.articles] == [a.label for a in text.articles[:len(scanned.articles)]]
    assert scanned.chapters == text.chapters[:len(scanned.chapters)]
    assert scanned.meta.history == text.meta.history and scanned.meta.issuer == text.meta.issuer
    assert [a.paragraphs for a in complete] == [a.paragraphs for a in text.articles[:len(complete)]]
    assert character_error_rate("".join(a.text for a in text.articles[:len(complete)]),
                                "".join(a.text for a in complete)) <= 0.01


def _law(pattern: str) -> list[Path]:
    return sorted(LAWREFBOOK.glob(pattern))


@needs_corpus
def test_xinfang_gongzuo_tiaoli_2022():
    doc = parse_file(_law("*/信访工作条例(2022-02-25).md")[0])
    assert len(doc.articles) == 50 and len(doc.chapters) == 6
    assert (doc.meta.promulgated, doc.meta.effective, doc.meta.version_date) == ("2022-02-25", "2022-05-01", "2022-02-25")


@needs_corpus
def test_civil_code_files_hold_1260_articles_with_part_subtitles():
    docs = [parse_file(p) for p in _law("民法典/*.md") if p.name != "_index.md"]
    assert sum(len(d.articles) for d in docs) == 1260
    assert {d.meta.title for d in docs} == {"中华人民共和国民法典"}
    assert {d.meta.subtitle for d in docs} >= {"总则", "物权编", "合同编", "附则"}
    contract = next(d for d in docs if d.meta.subtitle == "合同编")
    assert contract.articles[0].path[0] == "第一分编 通则"


@needs_corpus
def test_criminal_law_has_article_120_1():
    doc = parse_file(LAWREFBOOK / "刑法" / "刑法.md")
    labels = [a.label for a in doc.articles]
    assert "第一百二十条之一" in labels
    assert labels.index("第一百二十条之一") == labels.index("第一百二十条") + 1
    assert doc.articles[labels.index("第一百二十条之一")].path == ("第二编 分则", "第二章 危害公共安全罪")


@needs_corpus
def test_index_pages_are_not_documents():
    for path in _law("**/_index.md")[:3]:
        with pytest.raises(NotADocument):
            parse_file(path)
