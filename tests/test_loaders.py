"""Loaders on real files generated at test time from our own made-up regulation: text
encodings, DOCX (python-docx) with a table, a GBK web page with navigation, and PDFs written
byte by byte with a CJK font — plus the broken inputs each loader must reject."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from ingest.loaders import SUPPORTED_EXTENSIONS, load_file
from ingest.loaders.text import decode
from ingest.parse import parse_file
from kb.errors import IngestError

FIXTURES = Path(__file__).parent / "fixtures"
REGULATION = (FIXTURES / "made-up-regulation.md").read_text(encoding="utf-8")
TITLE = "青禾市社区矛盾调解服务办法"
CHAPTERS = ["第一章 总则", "第二章 调解组织", "第三章 附则"]
ARTICLES = ["第一条", "第二条", "第三条", "第四条", "第五条", "第六条", "第六条之一", "第七条", "第八条", "第九条"]


def regulation_lines() -> list[str]:
    """The fixture's title, history and body as plain lines (Markdown marks removed)."""
    lines = []
    for line in REGULATION.splitlines():
        line = line.lstrip("#").strip()
        if line and line != "<!-- INFO END -->":
            lines.append(line)
    return lines


def govt_style(line: str) -> str:
    """Indent paragraphs with U+3000 and letter-space short headings, as official files do."""
    if line.startswith("第") and line[1:4].rstrip("一二三四五六七八九十") != line[1:4] and "章" in line[:5]:
        label, name = line.split(" ", 1)
        return label + "\u3000" + "\u3000".join(name) if len(name) == 2 else label + "\u3000" + name
    return "\u3000\u3000" + line.replace(" ", "\u3000", 1)


def assert_regulation(doc) -> None:
    assert doc.meta.title == TITLE
    assert doc.chapters == CHAPTERS
    assert [a.label for a in doc.articles] == ARTICLES
    assert doc.articles[2].paragraphs == ("社区矛盾调解服务遵循下列原则：\n（一）自愿平等；\n（二）依法调解；"
                                          "\n（三）尊重当事人权利。", "调解不得收取任何费用。")
    assert doc.articles[7].path == ("第二章 调解组织", "第二节 调解员")
    assert doc.meta.effective == "2023-05-01"


# --- text files -------------------------------------------------------------------------------

def test_decode_encodings():
    text = "第一条 为了规范调解。\n"
    assert decode("x", text.encode("utf-8")) == (text, "utf-8")
    assert decode("x", b"\xef\xbb\xbf" + text.encode("utf-8")) == (text, "utf-8-sig")
    assert decode("x", text.encode("gbk")) == (text, "gb18030")
    assert decode("x", text.encode("gb18030")) == (text, "gb18030")
    assert decode("x", text.encode("utf-16")) == (text, "utf-16")


def test_decode_mixed_encoding_is_an_error_not_a_repair():
    data = ("第一条 为了规范调解。\n第二条 适用范围。\n".encode("utf-8")
            + "第三条 调解原则。\n第四条 调解组织。\n".encode("gbk"))
    with pytest.raises(IngestError) as err:
        decode("mixed.txt", data)
    assert (err.value.kind, err.value.reason) == ("encoding", "mixed_encoding")
    assert str(err.value).startswith("mixed.txt: ")


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n" + bytes(200), b"abc\x00\x01\x02" * 50,
                                  b"%PDF-1.4 rest", b"PK\x03\x04" + bytes(30)])
def test_binary_data_is_unsupported(data):
    with pytest.raises(IngestError) as err:
        decode("image.txt", data)
    assert (err.value.kind, err.value.reason) == ("unsupported", "binary")


def test_text_file_gb18030_crlf(tmp_path):
    path = tmp_path / "regulation.txt"
    path.write_bytes("\r\n\r\n".join(regulation_lines()).encode("gb18030"))
    doc = parse_file(path)
    assert doc.encoding == "gb18030"
    assert_regulation(doc)


def test_text_file_in_big5_is_read_and_stored_simplified(tmp_path):
    # Taiwan's and Hong Kong's texts come in Big5; read as GB18030 they were stored as other
    # characters without a word said (社區 → 跋秸), and their 第X條 started no article
    import opencc
    traditional = opencc.OpenCC("s2tw").convert("\n\n".join(regulation_lines()))   # Taiwan forms: 為, not 爲
    path = tmp_path / "regulation.txt"
    path.write_bytes(traditional.encode("big5"))
    doc = parse_file(path)
    assert doc.encoding == "big5"
    assert_regulation(doc)
    assert "traditional characters made simplified" in doc.notes


def test_short_gb_texts_stay_gb18030():
    # bytes that decode both ways go to the reading with more common characters, a tie to GB18030
    for text in ("第一条 为了规范调解。", "调解", "附则", "条"):
        assert decode("x", text.encode("gbk")) == (text, "gb18030")


def test_load_file_rejects_unknown_extensions_and_empty_files(tmp_path):
    odd = tmp_path / "x.xls"
    odd.write_text("{\\rtf1}")
    with pytest.raises(IngestError) as err:
        load_file(odd)
    assert (err.value.kind, err.value.reason) == ("unsupported", "extension")
    for name, data in (("empty.txt", b""), ("blank.md", b" \n\r\n\t")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(IngestError) as err:
            load_file(tmp_path / name)
        assert err.value.kind == "empty"
    assert {".txt", ".md", ".docx", ".pdf", ".html", ".htm"} <= set(SUPPORTED_EXTENSIONS)


# --- DOCX ------------------------------------------------------------------------------------

def make_docx(path: Path, lines: list[str]) -> None:
    """A government-style DOCX: centred title and date line, centred chapter headings, indented
    paragraphs, a table inside 第五条, and a "— 1 —" page-number footer."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    document = docx.Document()
    document.sections[0].footer.paragraphs[0].text = "— 1 —"
    for line in lines:
        centred = line == TITLE or line.startswith(("2023年", "第一章", "第二章", "第三章"))
        para = document.add_paragraph(line if centred else govt_style(line))
        if centred:
            para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        if line.startswith("第五条"):
            table = document.add_table(rows=2, cols=2)
            for r, row in enumerate((("职务", "人数"), ("主任", "一名"))):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
    document.save(str(path))


def test_docx_paragraphs_and_tables_in_document_order(tmp_path):
    path = tmp_path / "regulation.docx"
    make_docx(path, regulation_lines())
    raw = load_file(path)
    assert TITLE in raw.title_hints
    doc = parse_file(path)
    assert_regulation(doc)
    assert doc.articles[4].paragraphs == ("调解委员会应当建立调解登记、回访和档案管理制度。", "职务 | 人数", "主任 | 一名")
    assert all("— 1 —" not in a.text for a in doc.articles)


def test_docx_automatic_numbering_renders_article_labels(tmp_path):
    """WPS/Word lists numbered "第%1条" (chineseCounting) with "（%2）" items: the numbers are
    not in the paragraph text and must be rendered."""
    import docx
    from docx.oxml import parse_xml

    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    document = docx.Document()
    numbering = document.part.numbering_part.element
    numbering.insert(0, parse_xml(
        f'<w:abstractNum {ns} w:abstractNumId="90"><w:lvl w:ilvl="0"><w:start w:val="1"/>'
        f'<w:numFmt w:val="chineseCounting"/><w:lvlText w:val="第%1条"/></w:lvl><w:lvl w:ilvl="1">'
        f'<w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="（%2）"/>'
        f'<w:suff w:val="nothing"/></w:lvl></w:abstractNum>'))
    numbering.append(parse_xml(f'<w:num {ns} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))
    document.add_paragraph(TITLE)
    for level, text in ((0, "为了规范调解，制定本办法。"), (0, "调解遵循下列原则："), (1, "自愿平等；"),
                        (1, "依法调解。"), (0, "本办法自2023年5月1日起施行。")):
        para = document.add_paragraph(text)
        para._p.get_or_add_pPr().append(parse_xml(
            f'<w:numPr {ns}><w:ilvl w:val="{level}"/><w:numId w:val="90"/></w:numPr>'))
    path = tmp_path / "numbered.docx"
    document.save(str(path))
    doc = parse_file(path)
    assert [a.label for a in doc.articles] == ["第一条", "第二条", "第三条"]
    assert doc.articles[1].paragraphs == ("调解遵循下列原则：\n（一）自愿平等；\n（二）依法调解。",)


def test_docx_text_of_tracked_changes_content_controls_and_fields(tmp_path):
    """A regulation circulated with tracked changes, or made from a template with content
    controls: python-docx's paragraph text leaves out the runs inside w:ins, w:sdt, w:smartTag
    and w:fldSimple, so "应当在十五日内" lost its 十五日."""
    import docx
    from docx.oxml import parse_xml

    ns = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
          'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"')

    def runs(xml: str):
        return parse_xml(f'<w:p {ns}>{xml}</w:p>').iterchildren()

    def r(text: str, tag: str = "t") -> str:
        return f"<w:r><w:{tag}>{text}</w:{tag}></w:r>"

    document = docx.Document()
    document.add_paragraph(TITLE)
    tracked = document.add_paragraph("第一条 调解员应当在")
    tracked._p.extend(runs(
        f'<w:ins w:id="1" w:author="甲">{r("十五日")}</w:ins><w:del w:id="2" w:author="甲">{r("三十日", "delText")}'
        f'</w:del>{r("内调解结束")}<w:moveFrom w:id="3" w:author="甲">{r("，不得拖延")}</w:moveFrom>'
        f'<w:sdt><w:sdtContent>{r("，经当事人同意可以延长")}</w:sdtContent></w:sdt>{r("。")}'
        f'<w:r><w:drawing><mc:AlternateContent><mc:Choice><w:txbxContent><w:p>{r("文本框")}</w:p></w:txbxContent>'
        f'</mc:Choice><mc:Fallback>{r("替代")}</mc:Fallback></mc:AlternateContent></w:drawing></w:r>'))
    fields = document.add_paragraph("第二条 本办法由")
    fields._p.extend(runs(f'<w:smartTag w:element="place">{r("青禾市")}</w:smartTag>'
                          f'<w:fldSimple w:instr="DOCPROPERTY Issuer">{r("司法局")}</w:fldSimple>{r("负责解释。")}'))
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).paragraphs[0]._p.extend(runs(f'<w:ins w:id="4" w:author="甲">{r("主任")}</w:ins>'))
    table.cell(0, 1).paragraphs[0]._p.extend(runs(f'<w:sdt><w:sdtContent>{r("一名")}</w:sdtContent></w:sdt>'))
    path = tmp_path / "tracked.docx"
    document.save(str(path))
    doc = parse_file(path)
    assert [(a.label, a.paragraphs) for a in doc.articles] == [
        ("第一条", ("调解员应当在十五日内调解结束，经当事人同意可以延长。",)),
        ("第二条", ("本办法由青禾市司法局负责解释。", "主任 | 一名"))]


def test_not_a_docx(tmp_path):
    # (an old .doc named .docx is read as the .doc it is: tests/test_legacy.py)
    path = tmp_path / "fake.docx"
    path.write_bytes(b"this is not a zip")
    with pytest.raises(IngestError) as err:
        parse_file(path)
    assert (err.value.kind, err.value.reason) == ("unsupported", "not_docx")


def test_zip_without_word_document_is_not_docx(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("random.bin", bytes(range(256)))
    path = tmp_path / "garbage.docx"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(IngestError) as err:
        parse_file(path)
    assert (err.value.kind, err.value.reason) == ("unsupported", "not_docx")


# --- HTML ------------------------------------------------------------------------------------

def make_html(lines: list[str], *, headline: str, title_inside: bool = True) -> str:
    body = []
    for line in lines:
        if line == TITLE:
            if title_inside:
                body.append(f'<p style="text-align: center"><strong>{line}</strong></p>')
        elif line.startswith("2023年"):
            body.append(f'<p align="center">（{line}）</p>')
        elif line.startswith("第") and "章" in line[:5]:
            body.append(f"<p style='TEXT-ALIGN: center'><b>{govt_style(line)}</b></p>")
        else:
            body.append(f"<p>&nbsp;&nbsp;&nbsp;&nbsp;{line}</p>")
    return f"""<!DOCTYPE html><html><head>
<meta http-equiv="Content-Type" content="text/html; charset=gbk">
<title>{headline}_青禾市人民政府门户网站</title>
<script>var nav = "第一条 不是正文";</script><style>p {{ color: red }}</style></head>
<body><div id="top"><ul class="menu"><li><a href="/">首页</a></li><li><a href="/zw">政务公开</a></li>
<li><a href="/fw">办事服务</a></li><li><a href="/hd">互动交流</a></li></ul></div>
<div class="crumb">当前位置：<a href="/">首页</a> &gt; <a href="/zc">政策文件</a></div>
<div class="main"><h1>{headline}</h1><div class="info">发布日期：2023-03-12 来源：市政府办公室
<a href="#">分享到微信</a> <a href="#">打印</a></div>
<div class="TRS_Editor">{''.join(body)}</div>
<div class="related"><a href="/a">青禾市政府常务会议召开</a><br><a href="/b">青禾市开展调解宣传周活动</a></div></div>
<div class="footer"><p>主办：青禾市人民政府办公室 地址：青禾市人民路1号</p><p>网站标识码：0000000000</p></div>
</body></html>"""


def test_gbk_page_content_block_and_news_headline(tmp_path):
    path = tmp_path / "page.htm"
    path.write_bytes(make_html(regulation_lines(), headline=f"青禾市人民政府印发《{TITLE}》").encode("gbk"))
    raw = load_file(path)
    assert raw.encoding == "gb18030"
    text = "\n".join(raw.pages[0])
    for noise in ("首页", "当前位置", "分享到微信", "主办", "不是正文", "调解宣传周", "color"):
        assert noise not in text
    doc = parse_file(path)
    assert_regulation(doc)
    assert doc.meta.issuer == "青禾市人民政府"


def test_page_whose_title_is_only_the_headline(tmp_path):
    path = tmp_path / "page.html"
    path.write_bytes(make_html(regulation_lines(), headline=TITLE, title_inside=False).encode("gbk"))
    doc = parse_file(path)
    assert_regulation(doc)


def test_table_layout_page_with_br_lines_and_title_in_another_cell(tmp_path):
    """Older provincial sites: layout tables, the title in its own cell, text lines split by
    <br> inside one cell, a government order (令) before the regulation."""
    lines = ["青禾市人民政府令", "第7号", f"《{TITLE}》已经市人民政府常务会议通过，现予公布，自2023年5月1日起施行。",
             "市长 某某", "2023年3月10日"] + regulation_lines()
    cell = "<br>".join(("&nbsp;" * 4 + ln) for ln in lines)
    page = f"""<html><head><meta charset="gb2312"><title>{TITLE}-青禾市人民政府</title></head><body>
<table width="100%"><tr><td><a href="/">首页</a> | <a href="/xxgk">信息公开</a> | <a href="/bs">网上办事</a></td></tr></table>
<table width="980"><tr><td class="title"><font size="5">{TITLE}</font></td></tr>
<tr><td class="info">发布时间：2023年03月12日 【字体：大 中 小】 【关闭窗口】</td></tr>
<tr><td class="content"><font face="仿宋">{cell}</font></td></tr></table>
<table><tr><td>版权所有 青禾市人民政府 技术支持：某某网络公司</td></tr></table></body></html>"""
    path = tmp_path / "order.html"
    path.write_bytes(page.encode("gb18030"))
    doc = parse_file(path)
    assert_regulation(doc)
    assert doc.meta.doc_number == "青禾市人民政府令第7号"
    assert "版权所有" not in "".join(a.text for a in doc.articles)


def test_div_per_paragraph_page(tmp_path):
    body = "".join(f"<div class='p'>{ln}</div>" for ln in regulation_lines())
    page = (f"<html><head><meta charset='utf-8'><title>x</title></head><body><div class='nav'>"
            f"<a href='/'>首页</a><a href='/a'>政务公开</a></div><div class='article'>{body}</div>"
            f"<div class='foot'>联系我们 网站地图</div></body></html>")
    path = tmp_path / "divs.html"
    path.write_text(page, encoding="utf-8")
    assert_regulation(parse_file(path))


# --- PDF -------------------------------------------------------------------------------------

def make_pdf(pages: list[list[str]], image: bool = False, junk_text_layer: bool = False) -> bytes:
    """A PDF whose pages show the given lines in a CJK font (STSong-Light, UniGB-UCS2-H
    encoding, not embedded), so that pypdf reads real Chinese text from a real text layer;
    with `image`, each page also draws a 1×1 grey image (as a scanned page does); with
    `junk_text_layer`, the font's ToUnicode map sends each character to a private-use code, as a
    broken map does: the page shows the text and its text layer is junk."""
    to_unicode = b""
    if junk_text_layer:
        chars = sorted({ch for lines in pages for line in lines for ch in line})
        to_unicode = b" /ToUnicode %d 0 R" % (5 + image)
    objects: list[bytes] = [
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
        b"/DescendantFonts [2 0 R]%s >>" % to_unicode,
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo "
        b"<< /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> /FontDescriptor 3 0 R >>",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [0 -200 1000 900] "
        b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 80 >>",
        b"",  # 4: the page tree, filled in below
    ]
    images = b""
    if image:
        objects.append(b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray "
                       b"/BitsPerComponent 8 /Length 1 >>\nstream\n\x80\nendstream")
        images = b" /XObject << /Im1 %d 0 R >>" % len(objects)
    if junk_text_layer:
        cmap = (b"begincmap 1 begincodespacerange <0000> <FFFF> endcodespacerange %d beginbfchar %s endbfchar "
                b"endcmap" % (len(chars), b" ".join(b"<%04X> <%04X>" % (ord(c), 0xE000 + i) for i, c in enumerate(chars))))
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(cmap), cmap))
    kids = []
    for lines in pages:
        ops = [b"q 595 0 0 842 0 0 cm /Im1 Do Q"] if image else []
        ops += [b"BT /F1 12 Tf 14 TL 50 800 Td"]
        ops += [b"<" + line.encode("utf-16-be").hex().encode() + b"> Tj T*" for line in lines]
        stream = b"\n".join(ops + [b"ET"])
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(b"<< /Type /Page /Parent 4 0 R /MediaBox [0 0 595 842] /Resources "
                       b"<< /Font << /F1 1 0 R >>%s >> /Contents %d 0 R >>" % (images, len(objects)))
        kids.append(len(objects))
    objects[3] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    objects.append(b"<< /Type /Catalog /Pages 4 0 R >>")
    return pdf_file(objects, root=len(objects))


def pdf_file(objects: list[bytes], root: int) -> bytes:
    """A PDF file of these object bodies (numbered from 1, in order) with its cross-reference
    table; `root` is the number of the catalog."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def wrap(text: str, width: int) -> list[str]:
    return [text[i:i + width] for i in range(0, len(text), width)]


def pdf_pages(width: int, per_page: int) -> list[list[str]]:
    """The fixture typeset like an official gazette: wrapped at `width` characters, indented
    paragraphs, a running header and a "— n —" footer on every page."""
    lines: list[str] = []
    for line in regulation_lines():
        if line == TITLE or line.startswith("第") and ("章" in line[:5] or "节" in line[:5]):
            lines.append(line)
        else:
            lines += wrap(govt_style(line), width)
    pages = [lines[i:i + per_page] for i in range(0, len(lines), per_page)]
    return [["青禾市人民政府公报"] + page + [f"— {n} —"] for n, page in enumerate(pages, 1)]


@pytest.mark.parametrize("width,per_page", [(30, 12), (14, 25), (14, 40)])  # A4, narrow, 2 pages
def test_pdf_text_layer_wrapped_lines_headers_and_footers(tmp_path, width, per_page):
    path = tmp_path / "regulation.pdf"
    path.write_bytes(make_pdf(pdf_pages(width, per_page)))
    raw = load_file(path)
    assert raw.wrapped and len(raw.pages) >= 2
    doc = parse_file(path)
    assert_regulation(doc)
    assert all("公报" not in a.text and "—" not in a.text for a in doc.articles)
    assert doc.articles[8].paragraphs == ("依照本办法第四条、第五条设立的调解委员会，应当在设立之日起三十日内向所在街道办事处备案。",)


def test_a_pdf_that_writes_radicals_for_characters_has_its_articles(tmp_path):
    # Word's PDFs often map glyphs to radicals: 第⼀条 (U+2F00) was no article, ⺠ (U+2EA0) no 民
    path = tmp_path / "radicals.pdf"
    path.write_bytes(make_pdf([["青禾市⼈⺠调解办法", "第⼀条 为了规范⼈⺠调解⼯作，制定本办法。", "第⼆条 本办法⾃发布之⽇起施⾏。"]]))
    doc = parse_file(path)
    assert doc.meta.title == "青禾市人民调解办法"
    assert [(a.label, a.text) for a in doc.articles] == [("第一条", "为了规范人民调解工作，制定本办法。"),
                                                         ("第二条", "本办法自发布之日起施行。")]


def test_pdf_without_text_layer_needs_ocr(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf([[], []], image=True))
    with pytest.raises(IngestError) as err:
        parse_file(path)
    assert (err.value.kind, err.value.reason) == ("no_text_layer", "scanned")
    assert "OCR" in str(err.value)


def test_truncated_and_corrupt_pdfs(tmp_path):
    data = make_pdf(pdf_pages(30, 12))
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(data[:400])
    with pytest.raises(IngestError) as err:
        parse_file(truncated)
    assert (err.value.kind, err.value.reason) == ("corrupt", "truncated")
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"not a pdf at all" * 10)
    with pytest.raises(IngestError) as err:
        parse_file(garbage)
    assert err.value.kind == "corrupt"


def web_archive(html: str, charset: str = "utf-8") -> bytes:
    """A single-file web page (MHT) as Word and browsers save it: the page quoted-printable in a
    multipart/related message, an image beside it."""
    from email.mime.image import MIMEImage
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    message = MIMEMultipart("related")
    message.attach(MIMEText(html, "html", charset))
    message.attach(MIMEImage(b"\x89PNG\r\n\x1a\n" + bytes(64), "png"))
    return message.as_bytes()


WEB_PAGE = ("<html><head><title>某市信访通知</title></head><body><h1>某市信访通知</h1>"
            "<p>第一条 为了规范信访工作，制定本通知。</p><p>第二条 本通知自发布之日起施行。</p></body></html>")


@pytest.mark.parametrize("name, charset", [("通知.mht", "utf-8"), ("通知.mhtml", "gb18030"), ("网页.doc", "gbk")])
def test_a_web_archive_is_read_as_its_page(tmp_path, name, charset):
    """Government sites serve single-file web pages (MHT), often named .doc; LibreOffice read one
    as text, MIME headers and all."""
    path = tmp_path / name
    path.write_bytes(web_archive(WEB_PAGE, charset))
    doc = parse_file(path)
    assert doc.meta.title == "某市信访通知"
    assert [(a.label, a.paragraphs) for a in doc.articles] == [("第一条", ("为了规范信访工作，制定本通知。",)),
                                                                ("第二条", ("本通知自发布之日起施行。",))]


@pytest.mark.parametrize("declared, encoding", [
    ("iso-8859-1", "gbk"), ("windows-1252", "gbk"), ("cp037", "gbk"),    # old sites' wrong declarations
    ("utf-16", "utf-8"), ("UTF_32", "utf-8"), ("unicode_escape", "utf-8"), ("raw_unicode_escape", "utf-8")])
def test_a_page_declaring_a_charset_it_is_not_in_is_read_as_what_it_is(tmp_path, declared, encoding):
    # each decoded without an error into Latin letters or CJK-looking garbage (《²âÊÔ°ì·¨》)
    page = WEB_PAGE.replace("<head>", f'<head><meta http-equiv="Content-Type" content="text/html; charset={declared}">')
    path = tmp_path / "通知.html"
    path.write_bytes(page.encode(encoding))
    doc = parse_file(path)
    assert doc.meta.title == "某市信访通知" and [a.label for a in doc.articles] == ["第一条", "第二条"]
    archive = tmp_path / "通知.mht"          # the same wrong charset in a web archive's header
    archive.write_bytes(web_archive(WEB_PAGE, encoding).replace(f"charset=\"{encoding}\"".encode(),
                                                                f"charset=\"{declared}\"".encode()))
    assert parse_file(archive).meta.title == "某市信访通知"


def test_a_page_in_a_western_charset_without_chinese_keeps_it(tmp_path):
    path = tmp_path / "page.html"
    path.write_bytes("<html><head><meta charset='iso-8859-1'><title>Café règlement</title></head>"
                     "<body><p>Article 1 Élan.</p></body></html>".encode("latin-1"))
    assert load_file(path).pages[0] == ("Article 1 Élan.",)      # not GB18030 garbage


def test_a_web_archive_without_a_page_says_so(tmp_path):
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    message = MIMEMultipart("related")
    message.attach(MIMEText("只有纯文本", "plain", "utf-8"))
    path = tmp_path / "空.mht"
    path.write_bytes(message.as_bytes())
    with pytest.raises(IngestError, match="no web page .text/html. in this web archive") as err:
        parse_file(path)
    assert err.value.kind == "corrupt"


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_a_pdf_locked_against_copying_is_read_and_one_locked_against_opening_is_named(tmp_path, algorithm):
    """Government PDFs often carry an owner password (no copying, no printing) and AES
    encryption; pypdf needs `cryptography` for AES, and without it such a file failed with
    "cannot parse (DependencyError …)"."""
    from pypdf import PdfReader, PdfWriter
    for user_password, readable in (("", True), ("口令", False)):
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(pdf_pages(30, 12)))))
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
        path = tmp_path / f"locked-{readable}.pdf"
        with open(path, "wb") as fh:
            writer.write(fh)
        if readable:
            assert_regulation(parse_file(path))
        else:
            with pytest.raises(IngestError, match="PDF is encrypted with a password") as err:
                parse_file(path)
            assert err.value.reason == "encrypted"
