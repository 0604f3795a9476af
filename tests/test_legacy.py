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


def test_without_libreoffice_the_error_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(legacy.shutil, "which", lambda name: None)
    path = tmp_path / "通知.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + bytes(100))
    with pytest.raises(IngestError) as err:
        parse_file(path)
    assert (err.value.kind, err.value.reason) == ("unsupported", "no_libreoffice")
    assert "libreoffice-writer-nogui" in str(err.value) and str(path) in str(err.value)


@needs_soffice
def test_a_conversion_past_its_time_limit_is_stopped(converted, monkeypatch):
    monkeypatch.setattr(legacy, "CONVERT_TIMEOUT", 0.05)
    with pytest.raises(IngestError) as err:
        parse_file(converted[".doc"])
    assert err.value.kind == "timeout" and "LibreOffice" in str(err.value)
