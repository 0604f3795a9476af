"""Loaders: one module per input format, each turning a file into `RawText` (lines per page).

The interface is one function per format, `load(path: Path, data: bytes) -> RawText`, listed
in `LOADERS` by file extension. `load_file` reads the bytes, rejects empty files and picks the
loader; everything after loading (clean-up, structure, metadata) is format-independent.
"""
from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.records import Doubt
from kb.errors import IngestError


@dataclass(frozen=True)
class RawText:
    """Text as a loader extracted it, before any clean-up."""
    pages: tuple[tuple[str, ...], ...]   # lines per page; flowing formats have one page
    encoding: str = ""                   # detected text encoding, where it applies
    wrapped: bool = False                # lines are broken by the page layout (PDF): rejoin them
    markdown: bool = False               # '#' headings and an '<!-- INFO END -->' head
    headline: str = ""                   # page headline (HTML <h1>): a hint, not the title
    title_hints: tuple[str, ...] = ()    # lines styled as titles in the source (centred, bold)
    source_kind: str = "text"            # "text", "ocr" (some pages read by OCR), "converted"
    ocr_confidence: float | None = None  # mean confidence of the OCR'd characters
    doubts: tuple[Doubt, ...] = ()       # characters OCR was unsure of


Loader = Callable[[Path, bytes], RawText]
OLE_MAGIC = b"\xd0\xcf\x11\xe0"    # how an old Office file (.doc, .wps, an encrypted .docx) begins


# extension → (module, function); modules are imported on first use.
LOADERS = {".txt": ("text", "load_text"), ".md": ("text", "load_markdown"),
           ".markdown": ("text", "load_markdown"), ".docx": ("docx", "load"),
           ".pdf": ("pdf", "load"), ".html": ("html", "load"), ".htm": ("html", "load"),
           ".mht": ("html", "load_web_archive"), ".mhtml": ("html", "load_web_archive"),
           ".png": ("image", "load"), ".jpg": ("image", "load"), ".jpeg": ("image", "load"),
           ".tif": ("image", "load"), ".tiff": ("image", "load"),
           ".doc": ("legacy", "load"), ".wps": ("legacy", "load"), ".rtf": ("legacy", "load"),
           ".odt": ("legacy", "load")}
SUPPORTED_EXTENSIONS = tuple(LOADERS)


def loader_for(extension: str) -> Loader | None:
    """The loader function for a file extension such as ".pdf", or None if unsupported."""
    import importlib

    entry = LOADERS.get(extension.lower())
    if entry is None:
        return None
    return getattr(importlib.import_module(f"ingest.loaders.{entry[0]}"), entry[1])


def not_a_file(path: Path) -> str | None:
    """Why `path` is no file to read ("no such file", "not a regular file …"), or None for a
    regular file. Reading a named pipe waits for a writer forever (`inspect` and `lecture check`
    hung on one), and a device may never end."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as err:
        return f"cannot read ({err.strerror})"
    if stat.S_ISREG(mode):
        return None
    return "a folder, not a file" if stat.S_ISDIR(mode) else \
        "not a regular file (a named pipe, device or socket): not read"


def load_file(path: str | Path) -> RawText:
    """Read a file and extract its text with the loader for its extension.

    Raises:
        IngestError: "unsupported" for an unknown extension or what is no regular file
            (`not_a_file`); "empty" for a 0-byte or blank file;
            "corrupt" when the file cannot be read; the loaders' own errors (see each module).
    """
    path = Path(path)
    loader = loader_for(path.suffix)
    if loader is None:
        raise IngestError(str(path), "unsupported",
                          f"unsupported file type {path.suffix or '(none)'}; supported: "
                          f"{', '.join(SUPPORTED_EXTENSIONS)}", reason="extension")
    problem = not_a_file(path)
    if problem:
        raise IngestError(str(path), "unsupported", problem, reason="not_a_file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise IngestError(str(path), "corrupt", f"cannot read file ({err.strerror})",
                          reason="unreadable") from None
    if not data.strip():
        raise IngestError(str(path), "empty", "file is empty (0 bytes)" if not data
                          else "file holds only whitespace", reason="empty")
    raw = loader(path, data)
    if not any(line.strip() for page in raw.pages for line in page):
        raise IngestError(str(path), "empty", "no text found in the file", reason="empty")
    return raw
