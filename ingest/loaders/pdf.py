"""PDF files via pypdf: the text layer, page by page; pages without one by OCR.

Layout-wrapped lines are rejoined later (`RawText.wrapped`); running headers and page numbers
are removed by `clean.remove_page_furniture` using the page boundaries kept here. A page whose
text layer is missing, empty or glyph junk (`ocr.text_layer_usable`) and that draws an image
(a scan), or whose text layer is glyph junk (`ocr.text_layer_junk`: print in a font without a
true Unicode mapping), is rendered with pypdfium2 and read by `ingest.ocr`; the other pages of a
mixed PDF keep their text layer.
"""
from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Sequence
from pathlib import Path

from ingest import ocr
from ingest.loaders import RawText
from kb.errors import IngestError

# Caps against files built to exhaust the parser (a long code of law: a few hundred pages).
MAX_PAGES = 3_000
MAX_CHARS = 10_000_000


def _has_images(page) -> bool:
    """Whether a page draws an XObject (a scanned page is an image); True when unsure."""
    from pypdf.errors import PyPdfError
    try:
        resources = page.get("/Resources")
        xobjects = resources.get_object().get("/XObject") if resources is not None else None
        return xobjects is not None and len(xobjects.get_object()) > 0
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
        return True


def _ocr(path: Path, data: bytes, scanned: Sequence[int]) -> dict[int, ocr.OcrPage]:
    """OCR of the pages numbered `scanned`, rendered with pypdfium2 at `ocr.DPI`.

    Raises:
        IngestError: kind "corrupt" when pypdfium2 cannot open or render the file.
    """
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as err:
        raise IngestError(str(path), "corrupt", f"cannot render the scanned pages ({err})", reason="corrupt") from None

    def render(n: int):
        import numpy as np
        try:    # to_pil: the bitmap's channels come in BGR order
            return np.asarray(document[n].render(scale=ocr.DPI / 72).to_pil().convert("RGB"))
        except pdfium.PdfiumError as err:
            raise IngestError(str(path), "corrupt", f"cannot render page {n + 1} ({err})", reason="corrupt") from None

    try:
        return ocr.ocr_pages(hashlib.sha256(data).hexdigest(), scanned, render)
    finally:
        document.close()


def load(path: Path, data: bytes) -> RawText:
    """Text of a PDF file, one tuple of lines per page.

    Raises:
        IngestError: kind "corrupt" (reason "truncated" when the file has no end-of-file
            marker, "encrypted" when it needs a password, "corrupt" otherwise) when pypdf
            or pypdfium2 cannot read it;
            kind "empty"/reason "blank" when they hold neither text nor images; kind "too_large"
            over `MAX_PAGES` pages or `MAX_CHARS` characters; kind "no_text_layer"/reason "scanned"
            when its pages are images in which OCR finds no text.
    """
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed-object chatter on stderr
    if not data.lstrip().startswith(b"%PDF"):
        raise IngestError(str(path), "corrupt", "not a PDF file (no %PDF header)", reason="corrupt")
    truncated = b"%%EOF" not in data[-2048:]
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError(str(path), "corrupt", "PDF is encrypted with a password",
                              reason="encrypted")
        if len(reader.pages) > MAX_PAGES:
            raise IngestError(str(path), "too_large", f"PDF too large to ingest: {len(reader.pages):,} pages, "
                              f"more than {MAX_PAGES:,} pages", reason="pages")
        texts, chars = [], 0
        for page in reader.pages:
            texts.append(page.extract_text() or "")
            chars += len(texts[-1])
            if chars > MAX_CHARS:
                raise IngestError(str(path), "too_large", f"PDF too large to ingest: more than {MAX_CHARS:,} "
                                  "characters of text", reason="characters")
    except FileNotDecryptedError:
        raise IngestError(str(path), "corrupt", "PDF is encrypted with a password",
                          reason="encrypted") from None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError, OSError) as err:
        if truncated:
            raise IngestError(str(path), "corrupt", "PDF is truncated (no end-of-file marker); "
                              "download it again", reason="truncated") from None
        raise IngestError(str(path), "corrupt", f"damaged PDF ({type(err).__name__}: {err})",
                          reason="corrupt") from None
    if not texts:
        raise IngestError(str(path), "corrupt", "PDF has no pages" + (
            " (file is truncated)" if truncated else ""), reason="truncated" if truncated else "corrupt")
    # pages to read by OCR: a scan (an image, its text layer empty or junk), and print whose font
    # maps its glyphs to junk (a broken ToUnicode map: stored before as a document of junk)
    scanned = [n for n, t in enumerate(texts)
               if not ocr.text_layer_usable(t) and (ocr.text_layer_junk(t) or _has_images(reader.pages[n]))]
    readable = sum(len("".join(t.split())) for t in texts)
    if not scanned and readable < ocr.MIN_TEXT_CHARS * len(texts):
        raise IngestError(str(path), "empty", f"PDF is blank: {len(texts)} pages with no images and "
                          f"{readable} characters of text; nothing to ingest", reason="blank")
    pages: list[tuple[str, ...] | ocr.OcrPage] = [tuple(t.split("\n")) for t in texts]
    if not scanned:
        return RawText(pages=tuple(pages), wrapped=True)
    for n, page in _ocr(path, data, scanned).items():
        pages[n] = page
    raw = ocr.raw_text(pages)
    if not any(line.strip() for page in raw.pages for line in page):
        raise IngestError(str(path), "no_text_layer", f"PDF has no readable text layer and OCR found no text on "
                          f"its {len(scanned)} pages", reason="scanned")
    return raw
