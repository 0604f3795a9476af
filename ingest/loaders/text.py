"""Plain text and Markdown: decoding (UTF-8, UTF-8 with BOM, GB18030 family, Big5), line endings.

The encoding is decided over the WHOLE file, never line by line: a file that is part UTF-8
and part GBK is reported as mixed, not silently repaired.
"""
from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders import OLE_MAGIC, RawText
from kb.errors import IngestError

_MAGIC = ((b"\x89PNG", "a PNG image"), (b"%PDF", "a PDF file"), (b"PK\x03\x04", "a ZIP archive"),
          (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"), (OLE_MAGIC, "an OLE (old Office) file"),
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


# The two legacy Chinese encodings, each with the byte range of its common characters (GB2312's
# level 1; Big5's 常用字). Big5 bytes mostly decode as GB18030 too, into other characters (社區 →
# 跋秸): over 3,000 characters of eight laws written in Big5, 38–61% of what GB18030 read was
# common, against 100% read as Big5; their GB18030 bytes did not decode as Big5 at all.
_LEGACY = (("gb18030", "gb2312", 0xB0, 0xD7), ("big5", "big5", 0xA4, 0xC6))
_SCORED_CHARS = 20_000          # enough to tell the two apart; a long file is not read twice whole


def _common_share(text: str, table: str, lead_low: int, lead_high: int) -> float:
    """Share of the first Han characters of `text` that are common in encoding `table`."""
    han = [ch for ch in text[:4 * _SCORED_CHARS] if "\u4e00" <= ch <= "\u9fff"][:_SCORED_CHARS]
    common = 0
    for ch in han:
        try:
            common += lead_low <= ch.encode(table)[0] <= lead_high
        except UnicodeEncodeError:
            pass
    return common / len(han) if han else 0.0


def decode(path: str, data: bytes) -> tuple[str, str]:
    """(text, encoding name) of text-file bytes; encoding is "utf-8", "utf-8-sig", "utf-16",
    "gb18030" (which covers GBK and GB2312) or "big5" (when more of what it reads is common).

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
    readings = []
    for encoding, table, low, high in _LEGACY:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        readings.append((_common_share(text, table, low, high), -len(readings), text, encoding))
    if not readings:
        raise IngestError(path, "encoding", "text is neither UTF-8 nor GB18030/GBK nor Big5",
                          reason="unknown_encoding")
    _, _, text, encoding = max(readings)            # a tie goes to GB18030
    return text, encoding


# Every line boundary `str.splitlines` knows: besides LF, CRLF and CR, the line and paragraph
# separators U+2028/U+2029 (web editors' and Word's exports), form feeds between the pages of
# pdftotext's output and Word's manual line break copied as a vertical tab. A text joined by
# U+2028 was one line: its articles were not found.
_LINE_BREAK = re.compile("\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")


def split_lines(text: str) -> tuple[str, ...]:
    """Lines of a text with any line endings (`_LINE_BREAK`)."""
    return tuple(_LINE_BREAK.split(text))


def load_text(path: Path, data: bytes) -> RawText:
    """A .txt file. Raises `IngestError` as `decode` does."""
    text, encoding = decode(str(path), data)
    return RawText(pages=(split_lines(text),), encoding=encoding)


def load_markdown(path: Path, data: bytes) -> RawText:
    """A .md file (lawrefbook format: '#' headings, history lines, '<!-- INFO END -->').

    Raises `IngestError` as `decode` does."""
    text, encoding = decode(str(path), data)
    return RawText(pages=(split_lines(text),), encoding=encoding, markdown=True)
