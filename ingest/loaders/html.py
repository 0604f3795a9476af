"""Saved web pages (.html/.htm, and single-file .mht/.mhtml) via lxml: the declared charset, then the
real content block.

Government pages wrap a document in navigation, breadcrumbs, share buttons, related links and
footers. The content block is found by text density, not by site-specific ids (see `_content_block`). Lines are then read from
that block only: one line per block element (p, div, h1–h6, li, tr), `<br>` breaks lines.
The page headline (`<h1>`, else `<title>`) is kept as a hint: it may be a news headline
("中共中央 国务院印发《信访工作条例》") rather than the document's title.
"""
from __future__ import annotations

import itertools
import re
from collections import defaultdict
from pathlib import Path

from ingest.loaders import RawText
from ingest.loaders.text import decode
from kb.errors import IngestError

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "x-gbk", "cp936", "euc-cn", "hz-gb-2312"}
_DROP_TAGS = ("script", "style", "noscript", "iframe", "form", "nav", "header", "footer", "aside",
              "button", "input", "select", "textarea", "svg", "canvas", "template", "object", "map")
_BLOCK_TAGS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "table", "section",
               "article", "blockquote", "pre", "center", "dd", "dt", "ul", "ol", "tbody", "main"}
_CELL_TAGS = {"td", "th"}
_CANDIDATE_TAGS = {"div", "td", "article", "section", "main", "body", "center", "font", "table",
                   "tbody", "tr", "p"}
# Caps against pages built to exhaust the parser (a real regulation page: < 2 MB, < 20,000 elements).
MAX_BYTES = 10 << 20
MAX_ARCHIVE_BYTES = 64 << 20    # a single-file web page holds its images too
MAX_ELEMENTS = 200_000
_CJK = re.compile(r"[\u4e00-\u9fff]")
_CENTRED_STYLE = re.compile(r"text-align\s*:\s*center", re.I)
# Matched against the REVERSED title, from its start: "…_中国政府网" loses its last separator run
# and what follows it. (On the title itself, a search for "[_-]+…$" retries from every
# separator and is quadratic in a long run of them.)
_REVERSED_SITE_SUFFIX = re.compile(r"^[^_|｜\-—]*+[_|｜\-—]++\s*+")


def _declared_charset(data: bytes) -> str:
    m = _CHARSET.search(data[:4096])
    return m.group(1).decode("ascii").lower() if m else ""


def decode_html(path: str, data: bytes, charset: str = "") -> tuple[str, str]:
    """(text, encoding) honouring the charset the page declares (or `charset`, its web archive's
    header), GBK-family → gb18030.

    Without a usable declaration the bytes are decoded like a text file. A declaration that reads
    no Chinese from a page whose bytes are not all ASCII is taken for a wrong one: old sites
    serve GBK pages declared ISO-8859-1 or windows-1252, which decoded without an error into
    Latin letters (《²âÊÔ°ì·¨》 for 《测试办法》). A UTF-16 or UTF-32 declaration is never used:
    a tag read as ASCII is no UTF-16 (browsers read such a page as UTF-8); used, it turned the
    page into CJK-looking garbage.

    Raises:
        IngestError: as `text.decode` for undecodable or binary data.
    """
    charset = (charset or _declared_charset(data)).lower()
    if charset in _GB_FAMILY:
        charset = "gb18030"
    declared = None
    if charset and not charset.replace("_", "-").startswith(("utf-16", "utf-32", "utf16", "utf32")) \
            and not data.startswith(b"\xef\xbb\xbf"):
        try:
            declared = data.decode(charset), charset
        except (LookupError, UnicodeDecodeError):
            pass  # wrong or unknown declaration: fall back to detection
    if declared and (data.isascii() or _CJK.search(declared[0])):
        return declared
    try:
        detected = decode(path, data)
    except IngestError:
        if declared:
            return declared
        raise
    return detected if declared is None or _CJK.search(detected[0]) else declared


def _paragraph_chars(el) -> tuple[int, int]:
    """(Chinese characters of the element's own paragraph text, those inside links).

    Own text is its text and that of its inline children, not of nested blocks."""
    chars = len(_CJK.findall(el.text or ""))
    links = chars if el.tag == "a" else 0
    for child in el:
        if isinstance(child.tag, str) and child.tag not in _BLOCK_TAGS and child.tag not in _CELL_TAGS:
            c, a = _paragraph_chars(child)
            chars += c
            links += c if el.tag == "a" else a
        tail = len(_CJK.findall(child.tail or ""))
        chars += tail
        links += tail if el.tag == "a" else 0
    return chars, links


def _content_block(body):
    """The element holding the main text.

    Each text block scores its Chinese characters minus twice its link characters. A paragraph
    (p, li, a leaf div or cell) passes its score to its parent in full and to its grandparent
    by half; a block that holds text beside nested blocks, or many <br>-separated lines, keeps
    its score itself (and passes half up). The best-scoring container wins.
    """
    scores: dict = defaultdict(float)
    for el in body.iter():
        if not isinstance(el.tag, str) or el.tag not in _BLOCK_TAGS | _CELL_TAGS:
            continue
        chars, links = _paragraph_chars(el)
        score = chars - 2 * links
        if score <= 10:
            continue
        nested_blocks = any(isinstance(c.tag, str) and c.tag in _BLOCK_TAGS for c in el)
        many_lines = sum(1 for c in el if c.tag == "br") >= 3
        holder = el if nested_blocks or many_lines else el.getparent()
        if holder is None:
            continue
        scores[holder] += score
        parent = holder.getparent()
        if parent is not None:
            scores[parent] += score / 2
    candidates = [(s, el) for el, s in scores.items() if el.tag in _CANDIDATE_TAGS]
    if not candidates:
        return body
    return max(candidates, key=lambda pair: pair[0])[1]


def _is_centred(el) -> bool:
    if el.tag == "center" or (el.get("align") or "").lower() == "center":
        return True
    return bool(_CENTRED_STYLE.search(el.get("style") or ""))


def _lines(block) -> tuple[list[str], list[str]]:
    """(lines, centred lines) read from a block element."""
    lines: list[str] = []
    centred: list[str] = []
    current: list[str] = []
    centred_depth = [0]

    def flush() -> None:
        text = "".join(current).replace("\n", " ").replace("\r", " ")
        current.clear()
        if text.strip():
            lines.append(text)
            if centred_depth[0]:
                centred.append(text.strip())

    def walk(el) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        is_block = tag in _BLOCK_TAGS
        centre = is_block and _is_centred(el)
        if is_block:
            flush()
        if centre:
            centred_depth[0] += 1
        if tag == "br":
            flush()
        elif tag in _CELL_TAGS and current:
            current.append(" | ")
        if el.text and tag:
            current.append(el.text)
        for child in el:
            walk(child)
        if is_block:
            flush()
        if centre:
            centred_depth[0] -= 1
        if el.tail:
            current.append(el.tail)

    walk(block)
    flush()
    return lines, centred


def strip_site_suffix(title: str) -> str:
    """"信访工作条例_中国政府网" → "信访工作条例": the text before the last run of separators
    (_ | ｜ - —), if there is one."""
    m = _REVERSED_SITE_SUFFIX.match(title[::-1])
    return title[:len(title) - m.end()] if m else title


def _headline(root) -> str:
    """The page's headline: an <h1> quoting a 《name》, else the longest <h1>, else <title>
    without its site-name suffix ("…_中国政府网"). Site logos often sit in an <h1> too."""
    headings = [" ".join(h.text_content().split()) for h in root.iter("h1")]
    headings = [h for h in headings if h]
    quoting = [h for h in headings if "《" in h]
    if quoting or headings:
        return (quoting or sorted(headings, key=len, reverse=True))[0]
    title = root.find(".//title")
    if title is not None:
        return strip_site_suffix(" ".join(title.text_content().split()))
    return ""


def load(path: Path, data: bytes) -> RawText:
    """Text of the content block of a saved web page.

    Raises:
        IngestError: as `decode_html`; kind "corrupt"/reason "corrupt" when lxml cannot parse it;
            kind "too_large" over `MAX_BYTES` or `MAX_ELEMENTS`.
    """
    _check_size(path, data, MAX_BYTES, "web page")
    return _page(path, *decode_html(str(path), data))


def is_web_archive(data: bytes) -> bool:
    """Whether `data` begins as a single-file web page (MHT) does: MIME headers of a
    multipart/related message (Word writes "MIME-Version" first, browsers "From" first)."""
    head = data[:2048].lower()
    return b"mime-version:" in head and b"multipart/related" in head


def load_web_archive(path: Path, data: bytes) -> RawText:
    """The page of a single-file web page (.mht/.mhtml: a MIME multipart/related message, as Word
    and browsers save one; government sites serve them as .doc too), read as `load` reads a page,
    in the charset its part declares.

    Raises:
        IngestError: kind "corrupt"/reason "corrupt" when it holds no text/html part or its
            parts nest too deep; kind "too_large" over `MAX_ARCHIVE_BYTES`; as `load` for the page.
    """
    import email

    _check_size(path, data, MAX_ARCHIVE_BYTES, "web archive")
    try:
        page = next((part for part in email.message_from_bytes(data).walk()
                     if part.get_content_type() == "text/html"), None)
    except RecursionError:      # parts nested thousands deep: no saved page is built so
        raise IngestError(str(path), "corrupt", "this web archive's parts nest too deep to read",
                          reason="corrupt") from None
    if page is None:
        raise IngestError(str(path), "corrupt", "no web page (text/html) in this web archive", reason="corrupt")
    html = page.get_payload(decode=True) or b""
    _check_size(path, html, MAX_BYTES, "web page")
    return _page(path, *decode_html(str(path), html, page.get_content_charset() or ""))


def _check_size(path: Path, data: bytes, limit: int, what: str) -> None:
    if len(data) > limit:
        raise IngestError(str(path), "too_large", f"{what} too large to ingest: {len(data) >> 20} MB, more "
                          f"than {limit >> 20} MB", reason="size")


def _page(path: Path, text: str, encoding: str) -> RawText:
    """`load`'s reading of a page's decoded text."""
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as err:
        raise IngestError(str(path), "corrupt", f"cannot parse the HTML ({err})",
                          reason="corrupt") from None
    if sum(1 for _ in itertools.islice(root.iter(), MAX_ELEMENTS + 1)) > MAX_ELEMENTS:
        raise IngestError(str(path), "too_large", f"web page too large to ingest: more than "
                          f"{MAX_ELEMENTS:,} elements", reason="elements")
    headline = _headline(root)
    for el in list(root.iter(*_DROP_TAGS)):
        el.drop_tree()
    for comment in list(root.iter(etree.Comment)):
        comment.drop_tree()
    body = root.find("body")
    block = _content_block(body if body is not None else root)
    lines, centred = _lines(block)
    return RawText(pages=(tuple(lines),), encoding=encoding, headline=headline,
                   title_hints=tuple(centred))
