"""Legacy word-processor files (.doc, .wps, .rtf, .odt): made here from our own DOCX with LibreOffice,
then read back through the LibreOffice conversion and the DOCX loader; and the clear errors
without LibreOffice or past the conversion's time limit."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ingest.loaders import legacy
from ingest.parse import parse_file
from kb.errors import IngestError

needs_soffice = pytest.mark.skipif(legacy.soffice() is None,
                                   reason=f"LibreOffice not installed (Debian package {legacy.PACKAGE})")

TITLE = "青禾市信访事项办理规定"
BODY = ("第一章 总则", "第一条 为了规范本市信访事项的办理，制定本规定。", "第二条 本规定适用于本市各级机关。",
        "第二章 办理", "第三条 信访部门收到信访事项，应当在15日内分别按下列方式处理：",
        "（一）属于本机关职权范围的，予以受理；", "（二）不属于本机关职权范围的，告知信访人。")


def make_docx(path: Path) -> Path:
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    document = docx.Document()
    document.add_paragraph(TITLE).alignment = WD_ALIGN_PARAGRAPH.CENTER
    for line in BODY:
        document.add_paragraph(line)
    document.save(path)
    return path


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict[str, Path]:
    """The DOCX and its .doc, .rtf and .odt conversions by LibreOffice, and the .doc renamed .wps
    (what WPS Office saves by default)."""
    if legacy.soffice() is None:
        pytest.skip(f"LibreOffice not installed (Debian package {legacy.PACKAGE})")
    folder = tmp_path_factory.mktemp("legacy")
    source = make_docx(folder / "规定.docx")
    profile = (folder / "profile").as_uri()
    for fmt in ("doc", "rtf", "odt"):
        subprocess.run([legacy.soffice(), f"-env:UserInstallation={profile}", "--headless", "--convert-to", fmt,
                        "--outdir", str(folder), str(source)], check=True, capture_output=True, timeout=120)
    shutil.copy(folder / "规定.doc", folder / "规定wps.wps")
    return {p.suffix: p for p in folder.iterdir() if p.is_file()}


@needs_soffice
@pytest.mark.parametrize("suffix", [".doc", ".wps", ".rtf", ".odt"])
def test_legacy_files_parse_like_their_docx(converted, suffix):
    original = parse_file(converted[".docx"])
    doc = parse_file(converted[suffix])
    assert doc.source_kind == "converted" and not doc.ocr
    assert doc.meta.title == original.meta.title == TITLE
    assert doc.chapters == original.chapters == ["第一章 总则", "第二章 办理"]
    assert [(a.label, a.paragraphs) for a in doc.articles] == [(a.label, a.paragraphs) for a in original.articles]
    assert len(doc.articles) == 3


@pytest.mark.parametrize("name, said", [("通知.doc", ".doc files are converted"),
                                        ("通知.docx", "an old Word .doc (OLE) file named .docx: .doc files")])
def test_without_libreoffice_the_error_names_the_package(tmp_path, monkeypatch, name, said):
    monkeypatch.setattr(legacy.shutil, "which", lambda name: None)
    path = tmp_path / name
    path.write_bytes(b"\xd0\xcf\x11\xe0" + bytes(600))
    with pytest.raises(IngestError) as err:
        parse_file(path)
    assert (err.value.kind, err.value.reason) == ("unsupported", "no_libreoffice")
    assert said in str(err.value) and "libreoffice-writer-nogui" in str(err.value) and str(path) in str(err.value)


@needs_soffice
def test_a_conversion_past_its_time_limit_is_stopped(converted, monkeypatch):
    monkeypatch.setattr(legacy, "CONVERT_TIMEOUT", 0.05)
    with pytest.raises(IngestError) as err:
        parse_file(converted[".doc"])
    assert err.value.kind == "timeout" and "LibreOffice" in str(err.value)


@needs_soffice
def test_an_old_doc_named_docx_is_read_as_the_doc_it_is(converted, tmp_path):
    """Word opens a .doc renamed .docx, and people rename them; the loader said "save it as
    .docx" though LibreOffice was there to read it."""
    renamed = tmp_path / "规定.docx"
    shutil.copy(converted[".doc"], renamed)
    doc, original = parse_file(renamed), parse_file(converted[".docx"])
    assert doc.source_kind == "converted" and doc.meta.title == TITLE
    assert [(a.label, a.paragraphs) for a in doc.articles] == [(a.label, a.paragraphs) for a in original.articles]


def test_a_web_page_or_plain_text_saved_as_doc_is_read_as_what_it_holds(tmp_path):
    """Government sites serve web pages as .doc (LibreOffice: "no export filter"), and a text
    file renamed .doc opens in Word as text; neither needs LibreOffice."""
    page = tmp_path / "网页通知.doc"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><title>某市信访通知</title></head>'
                    "<body><h1>某市信访通知</h1><p>第一条 为了规范信访工作，制定本通知。</p>"
                    "<p>第二条 本通知自发布之日起施行。</p></body></html>", encoding="utf-8")
    text = tmp_path / "文本.doc"
    text.write_bytes("某市信访规定\n第一条 为了规范信访工作，制定本规定。\n".encode("gb18030"))
    assert [a.label for a in parse_file(page).articles] == ["第一条", "第二条"]
    assert [a.label for a in parse_file(text).articles] == ["第一条"]


@pytest.mark.parametrize("data, said", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "shorter than the 512-byte header"),
    (bytes(range(256)) * 12, "none of Word, WPS, RTF or OpenDocument")])
def test_bytes_that_are_no_document_are_refused_before_libreoffice_reads_them_as_text(tmp_path, data, said):
    """LibreOffice read such bytes as text: a "document" of garbage characters was stored."""
    path = tmp_path / "坏文件.doc"
    path.write_bytes(data)
    with pytest.raises(IngestError, match=said) as err:
        parse_file(path)
    assert err.value.kind == "corrupt"


@pytest.mark.parametrize("name", ["加密.docx", "加密.doc"])
def test_a_word_file_encrypted_with_a_password_says_so(tmp_path, name):
    """Word stores a .docx encrypted with a password inside an old Office (OLE) container, beside
    a stream named EncryptedPackage: it was refused as "an old Word .doc … save it as .docx"."""
    path = tmp_path / name
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1016) + "EncryptedPackage".encode("utf-16-le")
                     + bytes(512) + "EncryptionInfo".encode("utf-16-le") + bytes(512))
    with pytest.raises(IngestError, match="encrypted with a password") as err:
        parse_file(path)
    assert (err.value.kind, err.value.reason) == ("corrupt", "encrypted")


@needs_soffice
def test_an_rtf_after_a_byte_order_mark_is_still_converted(tmp_path):
    path = tmp_path / "规定.rtf"
    path.write_bytes(b"\xef\xbb\xbf{\\rtf1\\ansi Rules of Qinghe\\par Article 1 applies.\\par}")
    doc = parse_file(path)
    assert doc.source_kind == "converted" and "rtf1" not in doc.meta.title + "".join(s.text for s in doc.sections)
