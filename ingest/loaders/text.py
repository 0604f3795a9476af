"""Plain text and Markdown: decoding (UTF-8, UTF-8 with BOM, GB18030 family), line endings.

The encoding is decided over the WHOLE file, never line by line: a file that is part UTF-8
and part GBK is reported as mixed, not silently repaired.
"""
from __future__ import annotations

from pathlib import Path

from ingest.loaders import RawText
from kb.errors import IngestError

_MAGIC = ((b"\x89PNG", "a PNG image"), (b"%PDF", "a PDF file"), (b"PK\x03\x04", "a ZIP archive"),
          (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"), (b"\xd0\xcf\x11\xe0", "an OLE (old Office) file"),
          (b"\x7fELF", "an executable"))
_CONTROL = bytes(range(0, 32)).replace(b"\t", b"").replace(b"\n", b"").replace(b"\r", b"") \
    .replace(b"\x0c", b"").replace(b"\x1a", b"")


def _binary_kind(data: bytes) -> str | None:
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return what
    sample = data[:8192]
    if b"\x00" in sample:
        return "binary data"
    controls = sum(sample.count(bytes([c])) for c in _CONTROL)
    return "binary data" if controls > 0.05 * len(sample) else None


def _utf8_lines(data: bytes) -> tuple[int, int]:
    """(non-ASCII lines valid as UTF-8, lines invalid as UTF-8)."""
    valid = invalid = 0
    for line in data.split(b"\n"):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            valid += 1
        except UnicodeDecodeError:
            invalid += 1
    return valid, invalid


def decode(path: str, data: bytes) -> tuple[str, str]:
    """(text, encoding name) of text-file bytes; encoding is "utf-8", "utf-8-sig", "utf-16" or
    "gb18030" (which covers GBK and GB2312).

    Raises:
        IngestError: kind "unsupported"/reason "binary" for binary data; kind "encoding" with
            reason "mixed_encoding" when some lines are UTF-8 and others not, or
            "unknown_encoding" when no supported encoding decodes the whole file.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise IngestError(path, "encoding", "invalid UTF-16 text", reason="unknown_encoding") from None
    what = _binary_kind(data)
    if what:
        raise IngestError(path, "unsupported", f"not a text file: the content is {what}",
                          reason="binary")
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise IngestError(path, "encoding", "file starts with a UTF-8 BOM but is not valid "
                              "UTF-8 throughout (mixed encodings)", reason="mixed_encoding") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    valid, invalid = _utf8_lines(data)
    if valid >= 2 and invalid:
        raise IngestError(path, "encoding", f"mixed encodings: {valid} lines are UTF-8 and "
                          f"{invalid} are not; re-save the file in one encoding",
                          reason="mixed_encoding")
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise IngestError(path, "encoding", "text is neither UTF-8 nor GB18030/GBK",
                          reason="unknown_encoding") from None


def split_lines(text: str) -> tuple[str, ...]:
    """Lines of a text with any line endings (LF, CRLF, CR)."""
    return tuple(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def load_text(path: Path, data: bytes) -> RawText:
    """A .txt file. Raises `IngestError` as `decode` does."""
    text, encoding = decode(str(path), data)
    return RawText(pages=(split_lines(text),), encoding=encoding)


def load_markdown(path: Path, data: bytes) -> RawText:
    """A .md file (lawrefbook format: '#' headings, history lines, '<!-- INFO END -->').

    Raises `IngestError` as `decode` does."""
    text, encoding = decode(str(path), data)
    return RawText(pages=(split_lines(text),), encoding=encoding, markdown=True)
