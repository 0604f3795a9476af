"""Word .docx files via python-docx: body paragraphs AND tables, in document order.

Headers and footers (running titles, "— 1 —" page numbers) live in separate parts of the
package and are not read. Centred paragraphs are passed on as title hints. Automatic list
numbers (Word/WPS "第%1条" or "（%1）" numbering, which is not part of the paragraph text) are
rendered in front of the text, so auto-numbered articles keep their labels.
"""
from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from ingest.loaders import OLE_MAGIC, RawText
from kb.chinese import MAX_NUMERAL, int_to_cn
from kb.errors import IngestError

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_CHINESE_FORMATS = {"chineseCounting", "chineseCountingThousand", "chineseLegalSimplified",
                    "japaneseCounting", "ideographLegalTraditional", "taiwaneseCounting"}
# Caps against decompression bombs (a 1 MB file can hold a 1 GiB part) and documents built to
# exhaust the parser; far above any real regulation (民法典: ~4 MB of XML, ~3,000 paragraphs).
MAX_PART_BYTES = 64 << 20       # uncompressed bytes of one part of the package
MAX_PACKAGE_BYTES = 256 << 20   # uncompressed bytes of all parts
MAX_PARAGRAPHS = 200_000        # w:p elements of word/document.xml
_CHUNK = 1 << 20
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_STEMS = "甲乙丙丁戊己庚辛壬癸"


def _val(el, tag: str, default: str = "") -> str:
    child = el.find(_W + tag) if el is not None else None
    return child.get(_W + "val", default) if child is not None else default


def format_number(n: int, fmt: str) -> str:
    """A list counter in a Word number format ("chineseCounting" 3 → "三", "decimal" 3 → "3")."""
    if fmt in _CHINESE_FORMATS and 0 <= n <= MAX_NUMERAL:
        return int_to_cn(n)
    if fmt == "decimalEnclosedCircle" and 1 <= n <= len(_CIRCLED):
        return _CIRCLED[n - 1]
    if fmt == "ideographTraditional" and 1 <= n <= len(_STEMS):
        return _STEMS[n - 1]
    if fmt in ("lowerLetter", "upperLetter") and 1 <= n <= 26:
        letter = chr(ord("a") + n - 1)
        return letter.upper() if fmt == "upperLetter" else letter
    return str(n)


class ListNumbers:
    """Renders the automatic numbers of numbered paragraphs, counting as Word does per list."""

    def __init__(self, document) -> None:
        try:
            numbering = document.part.numbering_part.element
        except (KeyError, NotImplementedError):
            numbering = None
        self.levels: dict[str, dict[int, tuple[int, str, str, str]]] = {}  # numId → ilvl → spec
        self.counters: dict[str, dict[int, int]] = {}
        if numbering is None:
            return
        abstract = {a.get(_W + "abstractNumId"): a for a in numbering.iter(_W + "abstractNum")}
        for num in numbering.iter(_W + "num"):
            definition = abstract.get(_val(num, "abstractNumId"))
            if definition is None:
                continue
            levels = {}
            for lvl in definition.iter(_W + "lvl"):
                levels[int(lvl.get(_W + "ilvl", "0"))] = (
                    int(_val(lvl, "start", "1") or 1), _val(lvl, "numFmt", "decimal"),
                    _val(lvl, "lvlText"), _val(lvl, "suff", "tab"))
            for override in num.iter(_W + "lvlOverride"):
                ilvl = int(override.get(_W + "ilvl", "0"))
                start = _val(override, "startOverride")
                if start and ilvl in levels:
                    levels[ilvl] = (int(start),) + levels[ilvl][1:]
            self.levels[num.get(_W + "numId")] = levels

    def label(self, paragraph) -> str:
        """The rendered number of a paragraph plus its separator ("第三条 "), or ""."""
        num_pr = None
        for source in (paragraph._p.pPr, getattr(paragraph.style, "element", None)):
            pr = source if source is None or source.tag == _W + "pPr" else source.find(_W + "pPr")
            num_pr = pr.find(_W + "numPr") if pr is not None else None
            if num_pr is not None:
                break
        if num_pr is None:
            return ""
        num_id, ilvl = _val(num_pr, "numId"), int(_val(num_pr, "ilvl", "0") or 0)
        levels = self.levels.get(num_id)
        if not levels or ilvl not in levels or levels[ilvl][1] in ("bullet", "none"):
            return ""
        counters = self.counters.setdefault(num_id, {})
        counters[ilvl] = counters.get(ilvl, levels[ilvl][0] - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]
        text = levels[ilvl][2]
        for k in range(ilvl + 1):
            if k in levels:
                value = counters.get(k, levels[k][0])
                text = text.replace(f"%{k + 1}", format_number(value, levels[k][1]))
        return text + ("" if levels[ilvl][3] == "nothing" else " ")


def _justification(element) -> str:
    """The w:jc value of a paragraph's or style's properties, "" if none. Read from the XML, since
    python-docx's enumeration has no member for some values LibreOffice writes ("start", "end")."""
    jc = element.find(f"{_W}pPr/{_W}jc") if element is not None else None
    return jc.get(_W + "val", "") if jc is not None else ""


# What a paragraph shows besides its w:t text, and the elements whose text it does not show:
# tracked deletions and moves away, text boxes (drawn apart from the paragraph), the alternative
# of a drawing that Word reads when it cannot read the first, and properties.
_SHOWN_AS = {_W + "tab": "\t", _W + "ptab": "\t", _W + "cr": "\n", _W + "noBreakHyphen": "-"}
_NOT_SHOWN = {_W + "del", _W + "moveFrom", _W + "txbxContent", _W + "pPr", _W + "rPr",
              "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"}


def _shown_text(element) -> Iterator[str]:
    """The text of `element` as Word shows it: its runs wherever they stand."""
    for child in element:
        tag = child.tag
        if tag == _W + "t":
            yield child.text or ""
        elif tag in _SHOWN_AS:
            yield _SHOWN_AS[tag]
        elif tag == _W + "br":
            yield "" if child.get(_W + "type") in ("page", "column") else "\n"
        elif isinstance(tag, str) and tag not in _NOT_SHOWN:     # (comments' tags are functions)
            yield from _shown_text(child)


def paragraph_text(p) -> str:
    """The text Word shows of a paragraph element: also the runs of tracked insertions (w:ins),
    moves in, inline content controls (w:sdt), smart tags and simple fields, which python-docx's
    `Paragraph.text` leaves out (a tracked "十五日" was lost from "应当在十五日内调解结束");
    not deleted text, nor text boxes."""
    return "".join(_shown_text(p))


def _blocks(parent, document, numbers: ListNumbers) -> Iterator[tuple[str, bool]]:
    """(text, centred) for each paragraph and table row under `parent`, in order.

    A table row becomes one line, its distinct cells joined by " | " (merged cells repeat in
    python-docx, so consecutive duplicates are dropped); content controls (w:sdt) are opened.
    """
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in parent.iterchildren():
        if child.tag == _W + "p":
            para = Paragraph(child, document)
            own = _justification(child)
            centred = own == "center" or (not own and para.style is not None
                                          and _justification(para.style.element) == "center")
            for line in (numbers.label(para) + paragraph_text(child)).split("\n"):
                yield line, centred
        elif child.tag == _W + "tbl":
            for row in Table(child, document).rows:
                cells: list[str] = []
                for cell in row.cells:
                    text = " ".join(" ".join(paragraph_text(p) for p in cell._tc.iterchildren(_W + "p")).split())
                    if text and (not cells or cells[-1] != text):
                        cells.append(text)
                yield " | ".join(cells), False
        elif child.tag == _W + "sdt":
            content = child.find(_W + "sdtContent")
            if content is not None:
                yield from _blocks(content, document, numbers)


class _TooLarge(Exception):
    """A part exceeds a cap; the message says which and by what."""


class _Bounded(io.RawIOBase):
    """A part's stream that raises `_TooLarge` past `limit` bytes: sizes are counted while
    decompressing, not taken from the ZIP header, which a crafted file may understate."""

    def __init__(self, stream, name: str, limit: int) -> None:
        self.stream, self.name, self.limit, self.count = stream, name, limit, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(_CHUNK if size is None or size < 0 else min(size, _CHUNK))
        self.count += len(data)
        if self.count > self.limit:
            raise _TooLarge(f"its part {self.name} expands to more than {self.limit >> 20} MB")
        return data


def _paragraph_count_within_cap(part: _Bounded) -> None:
    """Stream-parse word/document.xml, counting paragraphs up to `MAX_PARAGRAPHS`."""
    from lxml import etree

    paragraphs = 0
    for _, element in etree.iterparse(part, events=("end",), tag=_W + "p", huge_tree=False):
        paragraphs += 1
        if paragraphs > MAX_PARAGRAPHS:
            raise _TooLarge(f"it has more than {MAX_PARAGRAPHS:,} paragraphs")
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]


def check_package(path: Path, package: zipfile.ZipFile) -> None:
    """Refuse a package whose parts expand past the caps, reading each part in bounded chunks.

    Raises:
        IngestError: kind "too_large", naming the file and the cap it exceeds.
    """
    from lxml import etree

    total = 0
    try:
        for info in package.infolist():
            if info.file_size > MAX_PART_BYTES:
                raise _TooLarge(f"its part {info.filename} declares {info.file_size >> 20} MB, "
                                f"more than {MAX_PART_BYTES >> 20} MB")
            with package.open(info) as stream:
                part = _Bounded(stream, info.filename, MAX_PART_BYTES)
                if info.filename == "word/document.xml":
                    _paragraph_count_within_cap(part)
                while part.read(_CHUNK):
                    pass
            total += part.count
            if total > MAX_PACKAGE_BYTES:
                raise _TooLarge(f"its parts expand to more than {MAX_PACKAGE_BYTES >> 20} MB")
    except _TooLarge as err:
        raise IngestError(str(path), "too_large", f"Word document too large to ingest: {err}",
                          reason="decompressed_size") from None
    except etree.XMLSyntaxError as err:
        raise IngestError(str(path), "corrupt", f"damaged .docx file (XMLSyntaxError: {err})",
                          reason="corrupt") from None
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as err:
        raise IngestError(str(path), "corrupt", f"damaged .docx file ({type(err).__name__}: {err})",
                          reason="corrupt") from None


def load(path: Path, data: bytes) -> RawText:
    """Text of a .docx file.

    Raises:
        IngestError: kind "unsupported"/reason "not_docx" when the file is not a Word
            document (not a ZIP, a ZIP without word/document.xml); kind "corrupt"/reason
            "corrupt" when its XML cannot be read; kind "too_large" past the caps of
            `check_package`; for an old .doc named .docx, `ingest.loaders.legacy.load`'s.
    """
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml import etree

    if data.startswith(OLE_MAGIC):      # an old .doc renamed .docx: Word opens it, and so do we
        from ingest.loaders import legacy   # (which imports this module)
        return legacy.load(path, data, described="an old Word .doc (OLE) file named .docx")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise IngestError(str(path), "unsupported", "not a .docx file (not a ZIP package)",
                          reason="not_docx")
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        if "word/document.xml" not in package.namelist():
            raise IngestError(str(path), "unsupported", "not a .docx file: the ZIP holds no "
                              "word/document.xml", reason="not_docx")
        check_package(path, package)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(_blocks(document.element.body, document, ListNumbers(document)))
    except (PackageNotFoundError, KeyError, ValueError) as err:
        raise IngestError(str(path), "unsupported", f"not a Word document ({err})",
                          reason="not_docx") from None
    except (zipfile.BadZipFile, etree.XMLSyntaxError, OSError, EOFError) as err:
        raise IngestError(str(path), "corrupt", f"damaged .docx file ({type(err).__name__}: {err})",
                          reason="corrupt") from None
    lines = tuple(text for text, _ in blocks)
    hints = tuple(text.strip() for text, centred in blocks if centred and text.strip())
    return RawText(pages=(lines,), title_hints=hints)
