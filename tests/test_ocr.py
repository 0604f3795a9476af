"""OCR: the pure line rebuilding on hand-made boxes, then our own scans end to end (`bench.scans`:
a 红头文件 rendered at 300 dpi with a seal, as an image-only PDF; a noisy photo of its first page;
a mixed PDF), through the parser, the cache, the store, `inspect` and the app.

Only a few pages are OCR'd (about 30 s on 2 cores, shared by module-scoped fixtures); the CER of the
whole scan set is measured by `python -m bench ocr`.
"""
from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench import scans
from ingest import ocr
from ingest.ocr import OcrBox, OcrLine, reading_order
from ingest.parse import parse_file, parse_text, place_doubts
from ingest.records import Doubt

REPO = Path(__file__).resolve().parents[1]
PAGE_HEIGHT = 3000.0

needs_font = pytest.mark.skipif(scans.cjk_font() is None,
                                reason="no CJK font to draw scans with (install fonts-wqy-microhei)")


def box(x0: float, y0: float, text: str, *, h: float = 50.0, confidence: float = 0.99, red: bool = False,
        angle: float = 0.0) -> OcrBox:
    """A box of `text` at (x0, y0), 50 px per character, turned by `angle` degrees about its corner."""
    width = 50.0 * len(text)
    a = math.radians(angle)
    corners = [(0, 0), (width, 0), (width, h), (0, h)]
    quad = tuple((x0 + x * math.cos(a) - y * math.sin(a), y0 + x * math.sin(a) + y * math.cos(a)) for x, y in corners)
    return OcrBox(quad, text, (confidence,) * len(text), red)


def texts(lines: list[OcrLine]) -> list[str]:
    return [line.text for line in lines]


# --- pure: text layers, reading order, marks, doubts ------------------------------------------

@pytest.mark.parametrize("text,usable", [
    ("", False), ("  \n ", False), ("第一条", False),                          # empty or too short
    ("第一条 为了规范信访工作，保障信访人的合法权益，制定本条例。", True),
    ("\ue001\ue002\ue003" * 10 + "第一条", False),                             # private-use glyph codes
    ("ÃÂÄÅÆÇÈÉÊËÌÍÎÏ" * 3, False),                                             # a font without a Unicode map
    ("\ufffd" * 5 + "第一条 为了规范信访工作，保障信访人的合法权益，制定本条例。", True),   # a few are tolerated
])
def test_text_layer_usable(text, usable):
    assert ocr.text_layer_usable(text) is usable


def test_rows_in_order_despite_a_skewed_page():
    # 2° of rotation moves the end of a 1500 px line 52 px down: more than a line's height
    angle = 2.0
    lines = ["第一条为了规范信访工作制定本条例。", "第二条本条例适用于各级机关。", "第三条信访人应当如实反映情况。"]
    boxes = []
    for i, line in enumerate(lines):
        y = 400 + 90 * i
        head, tail = line[:4], line[4:]
        boxes.append(box(200, y, head, angle=angle))
        boxes.append(box(200 + 50 * 4 * math.cos(math.radians(angle)) + 60,
                         y + 50 * 4 * math.sin(math.radians(angle)), tail, angle=angle))
    assert texts(reading_order(boxes, PAGE_HEIGHT)) == [f"{ln[:4]} {ln[4:]}" for ln in lines]


def test_two_columns_are_read_one_after_the_other():
    title = box(700, 100, "两栏排版的通知")
    left = [box(200, 300 + 80 * i, f"左栏第{i}行文字内容") for i in range(4)]
    right = [box(1400, 300 + 80 * i, f"右栏第{i}行文字内容") for i in range(4)]
    footer = box(200, 800, "全宽的落款行文字在两栏之下横跨整个页面，一直延伸到右栏的末尾处。")
    lines = texts(reading_order([title, *right, *left, footer], PAGE_HEIGHT))
    assert [ln.strip() for ln in lines if ln] == ["两栏排版的通知", *[b.text for b in left], *[b.text for b in right],
                                                  footer.text]


def test_seals_signatures_and_page_numbers_are_dropped_the_red_banner_kept():
    banner = box(500, 150, "青禾市人民政府文件", h=120, red=True)
    body = [box(200, 600 + 80 * i, f"第{'一二三'[i]}条正文内容写在这里。") for i in range(3)]
    seal = box(1500, 900, "青禾市人民政府", red=True)                       # below the header band
    scrawl = box(1500, 1000, "王某某", confidence=0.4)                       # a handwritten signature
    footer = box(1000, 2900, "一2一")                                        # "— 2 —" as OCR reads it
    lines = texts(reading_order([banner, *body, seal, scrawl, footer], PAGE_HEIGHT))
    assert [ln.strip() for ln in lines if ln] == ["青禾市人民政府文件", *[b.text for b in body]]
    # the same red line on a later page is a seal, not a banner
    later = texts(reading_order([banner, *body], PAGE_HEIGHT, first_page=False))
    assert [ln.strip() for ln in later if ln] == [b.text for b in body]


def test_centred_titles_and_indented_paragraphs():
    title = box(750, 200, "青禾市信访规定")              # centred on the text block, 100 to 1750 px
    first = box(200, 400, "第一条为了规范信访工作，结合本市实际，制定本规定。")
    wrapped = box(100, 480, "本规定适用于全市。")
    history = box(100, 700, "（2024年3月1日青禾市人民政府第5次常务会议通过2024年3月")
    centred_end = box(500, 780, "20日青禾市人民政府令第1号公布）")   # ends a centred block: no indent
    lines = reading_order([title, first, wrapped, history, centred_end], PAGE_HEIGHT)
    assert [line.centred for line in lines] == [True, False, False, False, True]
    assert texts(lines) == ["青禾市信访规定", "  第一条为了规范信访工作，结合本市实际，制定本规定。",
                            "本规定适用于全市。", history.text, centred_end.text]
    assert all(len(line.text) == len(line.confidences) for line in lines)


@pytest.mark.parametrize("read,printed", [
    ("交办有权处理的机关;", "交办有权处理的机关；"), ("如下:（一）", "如下：（一）"),
    ("青府发〔2024】7号", "青府发〔2024〕7号"), ("青府发[2024]7号", "青府发〔2024〕7号"),
    ("see A; B: C", "see A; B: C"), ("2024]7", "2024]7"), ("中共中央丶国务院发布)", "中共中央、国务院发布）"),
    ("(一)依法", "（一）依法"), ("page (3)", "page (3)"),
])
def test_marks_as_printed(read, printed):
    assert ocr.fix_marks(read) == printed and len(ocr.fix_marks(read)) == len(read)


def test_doubts_are_found_and_placed_in_their_article():
    line = OcrLine("第二条本条例适用于各级机关。", (0.99,) * 6 + (0.5,) + (0.99,) * 7)
    doubts = ocr.find_doubts([line])
    assert [(d.char, d.confidence) for d in doubts] == [("适", 0.5)]
    doc = parse_text("某规定\n第一条 为了规范工作，制定本规定。\n第二条 本条例适用于各级机关。")
    placed = place_doubts(doubts + [Doubt("某", "某规定", 0.4)], [a.text for a in doc.articles])
    assert [d.unit for d in placed] == [1, -1]


def test_cache_round_trip_and_a_damaged_cache_is_ignored(tmp_path):
    boxes = [box(10, 20, "第一条", red=True)]
    ocr.OcrCache(tmp_path, "abc", 200).put(0, boxes, 3000.0)
    assert ocr.OcrCache(tmp_path, "abc", 200).get(0) == (boxes, 3000.0)
    assert ocr.OcrCache(tmp_path, "abc", 300).get(0) is None           # read at another resolution
    (tmp_path / "abc" / "200-0.json").write_text("{not json", encoding="utf-8")
    assert ocr.OcrCache(tmp_path, "abc", 200).get(0) is None


# --- end to end on our own scans ----------------------------------------------------------------

@pytest.fixture(scope="module")
def original():
    return parse_text(scans.original_text(), source="青禾市信访事项办理规定.txt")


@pytest.fixture(scope="module")
def scan_pdf(tmp_path_factory) -> Path:
    """The regulation as a clean 300-dpi image-only PDF (2 pages), parsed once here so that the
    tests after it find its pages in the OCR cache."""
    if scans.cjk_font() is None:
        pytest.skip("no CJK font to draw scans with (install fonts-wqy-microhei)")
    path = tmp_path_factory.mktemp("scans") / "青禾市信访事项办理规定.pdf"
    path.write_bytes(scans.image_pdf(scans.render_pages(300, scans.CLEAN)))
    return path


@pytest.fixture(scope="module")
def scanned(scan_pdf):
    return parse_file(scan_pdf)


@needs_font
def test_a_scanned_pdf_parses_like_its_text(scanned, original):
    assert scanned.ocr and scanned.source_kind == "ocr" and 0.9 < scanned.ocr_confidence <= 1.0
    assert [a.label for a in scanned.articles] == [a.label for a in original.articles]
    assert scanned.chapters == original.chapters
    assert (scanned.meta.title, scanned.meta.doc_number, scanned.meta.issuer, scanned.meta.effective) == \
        (scans.TITLE, scans.DOC_NUMBER, "青禾市人民政府", "2024-05-01")
    cer = scans.character_error_rate("\n".join(a.text for a in original.articles),
                                     "\n".join(a.text for a in scanned.articles))
    print(f"CER of the clean 300-dpi scan: {cer:.2%}")
    assert cer <= 0.01
    assert scanned.articles[4].paragraphs == original.articles[4].paragraphs     # 款 and 项 kept apart
    assert not any("—" in a.text or "人民政府" in a.text for a in scanned.articles)   # footer, seal, signature


@needs_font
def test_a_re_parse_reads_the_cache_not_the_pages(scan_pdf, scanned, monkeypatch):
    def no_ocr(*args, **kwargs):
        raise AssertionError("OCR ran again")
    monkeypatch.setattr(ocr, "recognise", no_ocr)
    again = parse_file(scan_pdf)
    assert again.articles == scanned.articles and again.ocr_confidence == scanned.ocr_confidence


@needs_font
def test_a_noisy_photo_of_the_first_page(tmp_path, original):
    # rotated 1.5°, blurred, JPEG at quality 55, 200 dpi: the first page as a phone or scanner JPEG
    page = scans.render_pages(200, scans.NOISY)[0]
    path = tmp_path / "photo.jpg"
    page.save(path, quality=80)
    doc = parse_file(path)
    assert doc.ocr and doc.meta.title == scans.TITLE and doc.meta.doc_number == scans.DOC_NUMBER
    labels = [a.label for a in doc.articles]
    assert labels == [a.label for a in original.articles[:len(labels)]] and len(labels) >= 5
    cer = scans.character_error_rate("\n".join(a.text for a in original.articles[:len(labels) - 1]),
                                     "\n".join(a.text for a in doc.articles[:-1]))    # the last runs on
    print(f"CER of the noisy photo: {cer:.2%}")
    assert cer <= 0.03


@needs_font
def test_a_mixed_pdf_reads_only_its_scanned_page(tmp_path, monkeypatch):
    from PIL import Image, ImageDraw, ImageFont
    from pypdf import PdfReader, PdfWriter
    from test_loaders import ARTICLES, make_pdf, pdf_pages

    image = Image.new("RGB", (1700, 300), "white")
    ImageDraw.Draw(image).text((100, 100), "第十条 本办法的解释权属于青禾市司法局。",
                               font=ImageFont.truetype(str(scans.cjk_font()), 60), fill="black")
    writer = PdfWriter()
    for part in (make_pdf(pdf_pages(30, 12)), scans.image_pdf([image], 200)):
        for page in PdfReader(io.BytesIO(part)).pages:
            writer.add_page(page)
    path = tmp_path / "mixed.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    read = []
    recognise = ocr.recognise
    monkeypatch.setattr(ocr, "recognise", lambda rgb, **kw: read.append(rgb.shape) or recognise(rgb, **kw))
    doc = parse_file(path)
    assert len(read) == 1 and doc.ocr
    assert [a.label for a in doc.articles] == ARTICLES + ["第十条"]
    assert doc.articles[-1].text == "本办法的解释权属于青禾市司法局。"


@needs_font
def test_print_in_a_font_whose_text_layer_is_junk_is_read_by_ocr(tmp_path):
    # a font's broken ToUnicode map gives a text layer of private-use codes; the pages draw no
    # image, so such a PDF was stored as a document of junk: title 《》, no articles, no error
    from test_loaders import ARTICLES, TITLE, make_pdf, pdf_pages
    path = tmp_path / "print.pdf"
    path.write_bytes(make_pdf(pdf_pages(30, 40), junk_text_layer=True))
    doc = parse_file(path)
    assert doc.ocr and doc.meta.title == TITLE
    assert [a.label for a in doc.articles] == ARTICLES


@needs_font
def test_scans_are_stored_flagged_and_inspected(scan_pdf, scanned, tmp_path, open_page, capsys):
    from ingest import open_store, run
    from ui.common import card_header_html

    from ingest.batch import ParsePool
    pages = []
    with ParsePool(1, 60.0, 1024, lambda *page: pages.append(page), ocr_memory_mb=2048) as pool:
        (status, _), = pool.map([str(scan_pdf)])
    assert status == "ok" and pages == [(str(scan_pdf), 1, 2), (str(scan_pdf), 2, 2)]   # each page restarts the clock

    summary = run([scan_pdf], tmp_path / "kb", progress=True)     # in a parse worker: the pages come from the cache
    assert summary.failed == 0 and summary.articles == len(scanned.articles)
    assert "OCR" in capsys.readouterr().err                     # the page bar, shown once a scan is read
    with open_store(tmp_path / "kb") as store:
        articles = list(store.iter_articles())
        assert {(a.source_kind, a.ocr_confidence) for a in articles} == {("ocr", scanned.ocr_confidence)}
        doubts = store.version_doubts(articles[0].version_id)
    by_label = {a.label: a for a in articles}
    assert all(label in by_label for _, label, _ in doubts)
    assert sum(len(found) for _, _, found in doubts) == sum(d.unit >= 0 for d in scanned.doubts)
    assert "OCR 识别" in card_header_html(articles[0])
    at = open_page(tmp_path / "kb", "browse", doc=str(articles[0].document_id))
    assert not at.exception and "OCR 识别" in "\n".join(m.value for m in at.markdown)
    assert any("OCR" in c.value for c in at.caption)

    out = subprocess.run([sys.executable, "-m", "ingest", "inspect", str(scan_pdf), "--json"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    data = json.loads(out.stdout)
    assert data["ocr"] is True and data["confidence"] == scanned.ocr_confidence
    assert [a["label"] for a in data["articles"]] == [a.label for a in scanned.articles]
    assert all({"unit", "char", "context", "confidence"} <= set(d) for d in data["low_confidence"])


@needs_font
def test_an_upload_job_counts_the_pages_ocr_reads(scan_pdf, scanned, tmp_path):
    # the app's upload page shows them: a scan takes seconds a page, a file count alone stands still
    from kb.settings import load_config
    from ui.jobs import IngestJob, ingest_and_index
    kb = tmp_path / "kb"
    job = IngestJob({str(scan_pdf): scan_pdf.name})
    ingest_and_index(job, str(kb), load_config(kb=str(kb)), [str(scan_pdf)])
    assert [r.status for r in job.results] == ["added"] and job.stage == "完成"
    assert (job.ocr_pages, job.ocr_total) == (2, 2)


def test_inspect_says_a_text_file_was_not_ocrd(tmp_path):
    path = tmp_path / "规定.txt"
    path.write_text(scans.original_text(), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "ingest", "inspect", str(path), "--json"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    data = json.loads(out.stdout)
    assert data["ocr"] is False and "confidence" not in data and len(data["articles"]) == 11


def test_unreadable_and_oversized_images_fail_with_one_line(tmp_path, monkeypatch):
    from PIL import Image

    from ingest.loaders import image as image_loader
    from kb.errors import IngestError
    broken = tmp_path / "照片.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG" * 4)
    with pytest.raises(IngestError) as err:
        parse_file(broken)
    assert err.value.kind == "corrupt" and str(err.value).startswith(str(broken)) and "\n" not in str(err.value)
    big = tmp_path / "scan.png"
    Image.new("RGB", (40, 40), "white").save(big)
    monkeypatch.setattr(image_loader, "MAX_PIXELS", 1000)
    with pytest.raises(IngestError) as err:
        parse_file(big)
    assert (err.value.kind, err.value.reason) == ("too_large", "pixels")
