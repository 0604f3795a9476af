"""PDF files via pypdf: the text layer, page by page.

Layout-wrapped lines are rejoined later (`RawText.wrapped`); running headers and page numbers
are removed by `clean.remove_page_furniture` using the page boundaries kept here. A PDF
without a text layer (scanned pages) cannot be read without OCR and is reported as such.
"""
from __future__ import annotations

import io
import logging
from pathlib import Path

from ingest.loaders import RawText
from kb.errors import IngestError

# Fewer readable characters than this per page, on average, means there is no text layer.
MIN_CHARS_PER_PAGE = 20
# Caps against files built to exhaust the parser (a long code of law: a few hundred pages).
MAX_PAGES = 3_000
MAX_CHARS = 10_000_000


def _has_images(reader) -> bool:
    """Whether any page draws an XObject (a scanned page is an image); True when unsure."""
    from pypdf.errors import PyPdfError
    try:
        for page in reader.pages:
            resources = page.get("/Resources")
            xobjects = resources.get_object().get("/XObject") if resources is not None else None
            if xobjects is not None and len(xobjects.get_object()) > 0:
                return True
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
        return True
    return False


def load(path: Path, data: bytes) -> RawText:
    """Text of a PDF file, one tuple of lines per page.

    Raises:
        IngestError: kind "corrupt" (reason "truncated" when the file has no end-of-file
            marker, "encrypted" when it needs a password, "corrupt" otherwise) when pypdf
            cannot read it; kind "no_text_layer"/reason "scanned" when the pages hold no text;
            kind "empty"/reason "blank" when they hold neither text nor images; kind "too_large"
            over `MAX_PAGES` pages or `MAX_CHARS` characters.
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
    readable = sum(len("".join(t.split())) for t in texts)
    if readable < MIN_CHARS_PER_PAGE * len(texts) and not _has_images(reader):
        raise IngestError(str(path), "empty", f"PDF is blank: {len(texts)} pages with no images and "
                          f"{readable} characters of text; nothing to ingest", reason="blank")
    if readable < MIN_CHARS_PER_PAGE * len(texts):
        raise IngestError(str(path), "no_text_layer", f"PDF has no text layer ({len(texts)} pages "
                          "of images, e.g. a scan): OCR is needed before it can be ingested",
                          reason="scanned")
    return RawText(pages=tuple(tuple(t.split("\n")) for t in texts), wrapped=True)
