"""OCR of page images: the RapidOCR engine, its cache, and lines rebuilt in reading order.

The engine (`recognise`) turns one page image into `OcrBox`es: a text line each, with its four
corners, its characters' recognition confidences and whether it is printed in red. Everything
after that is pure and works on lists of boxes (`reading_order`, `text_layer_usable`,
`find_doubts`), so it is tested without images: the page's skew is measured from the boxes and
taken out, red text outside the header band of a 红头文件 (stamps) and unsure scribbles
(signatures) are dropped, columns are read one after the other, centred lines become title hints,
indented lines keep two leading spaces (a new paragraph) and page numbers in the margins go.

`ocr_pages` runs the engine over rendered pages with a cache keyed by the file's SHA-256 under
`<cache_dir>/ocr/` (a re-ingest never reads the same page twice) and reports each page to the
`page_progress` callback of the calling context (the parse worker forwards it to the caller's
progress bar and uses it to extend the file's time limit).
"""
from __future__ import annotations

import contextvars
import functools
import json
import math
import re
import statistics
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.clean import is_page_number
from ingest.loaders import RawText
from ingest.records import Doubt
from kb.chinese import doc_number_brackets
from kb.files import write_atomically
from kb.settings import load_config
from kb.workers import widen_memory_limit

if TYPE_CHECKING:
    import numpy as np

ENGINE = "rapidocr-onnxruntime 1.4.4 PP-OCRv4"   # part of the cache key: another engine reads anew
DPI = 200                   # rendering of PDF pages; the detector sees at most 2000 px anyway
MIN_CONFIDENCE = 0.6        # boxes below: handwriting (signatures), smudges, stamp fragments
DOUBT_BELOW = 0.85          # characters below this confidence are listed for checking
HEADER_BAND = 0.3           # top share of the first page where red text is the 红头 issuer line
RED_SHARE = 0.45            # share of a box's ink that is red for the box to count as red
MIN_TEXT_CHARS = 20         # a text layer with fewer readable characters on a page is missing
MAX_JUNK_SHARE = 0.3        # a text layer with more unreadable characters than this is glyph junk
DOUBT_CONTEXT = 6           # characters kept on each side of a doubtful one, to find it again

# Called with (pages done, pages to read) after each page that OCR read (or took from the cache).
page_progress: contextvars.ContextVar[Callable[[int, int], None] | None] = contextvars.ContextVar(
    "page_progress", default=None)

# "一2一": OCR reads the dashes of a "— 2 —" footer as the numeral 一.
_DASHED_NUMBER = re.compile(r"^[一—\-–－]+ ?\d{1,4} ?[一—\-–－]+$")
# OCR often gives the ASCII form of a full-width mark in Chinese text ("机关;"), and mixes the
# brackets of a 文号's year ("〔2024】", "[2024]").
_HALF_WIDTH_MARK = re.compile(r"(?<=[\u4e00-\u9fff）])[,;:!?)]|[,;:!?(](?=[\u4e00-\u9fff（])")
_FULL_WIDTH = {",": "，", ";": "；", ":": "：", "!": "！", "?": "？", "(": "（", ")": "）"}
# Look-alikes OCR picks for the enumeration comma: the radical 丶 (U+4E36), never used in legal text.
_LOOK_ALIKES = str.maketrans({"丶": "、"})


@dataclass(frozen=True)
class OcrBox:
    """One line of text the engine found: corners (clockwise from top left, pixels), text,
    per-character confidences (as many as characters) and whether its ink is mostly red."""
    quad: tuple[tuple[float, float], ...]
    text: str
    confidences: tuple[float, ...]
    red: bool = False

    @property
    def confidence(self) -> float:
        return sum(self.confidences) / len(self.confidences) if self.confidences else 0.0


@dataclass(frozen=True)
class OcrLine:
    """A rebuilt line: its text (two leading spaces when indented), per-character confidences
    and whether it is centred on the text block (a title)."""
    text: str
    confidences: tuple[float, ...]
    centred: bool = False


@dataclass(frozen=True)
class _Placed:
    """A box after deskewing: its axis-aligned extent."""
    box: OcrBox
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def middle(self) -> float:
        return (self.y0 + self.y1) / 2


# ---------------------------------------------------------------------------------------------
# Pure: which text layers are usable, and boxes → lines in reading order.

def _unreadable(ch: str) -> bool:
    """Characters a broken font mapping produces: replacement, private-use, unassigned and control
    characters, and Latin-1/Latin Extended letters, which Chinese official texts do not use."""
    return (ch == "\ufffd" or unicodedata.category(ch) in ("Co", "Cn", "Cc", "Cs")
            or "\u0080" <= ch <= "\u024f" and ch not in "·×÷°±§")


def text_layer_junk(text: str) -> bool:
    """Whether a page's text layer is glyph junk: at least `MIN_TEXT_CHARS` characters, more than
    `MAX_JUNK_SHARE` of them unreadable (glyph codes of a font without a true Unicode mapping; the
    page itself may show plain print, which OCR reads)."""
    chars = [ch for ch in text if not ch.isspace()]
    return len(chars) >= MIN_TEXT_CHARS and sum(map(_unreadable, chars)) > MAX_JUNK_SHARE * len(chars)


def text_layer_usable(text: str) -> bool:
    """Whether a page's text layer can be used as it is: at least `MIN_TEXT_CHARS` characters,
    at most `MAX_JUNK_SHARE` of them unreadable (a scan may carry an empty layer, or one of glyph
    codes without a Unicode mapping)."""
    return len("".join(text.split())) >= MIN_TEXT_CHARS and not text_layer_junk(text)


def fix_marks(text: str) -> str:
    """Full-width punctuation between Chinese characters and 〔〕 around a 文号's year, as printed."""
    text = _HALF_WIDTH_MARK.sub(lambda m: _FULL_WIDTH[m.group()], text.translate(_LOOK_ALIKES))
    return doc_number_brackets(text)


def _skew(boxes: Sequence[OcrBox]) -> float:
    """The page's rotation in radians: the median slope of the top edges of long boxes."""
    angles = []
    for box in boxes:
        (x0, y0), (x1, y1) = box.quad[0], box.quad[1]
        height = math.dist(box.quad[0], box.quad[3])
        if x1 - x0 > 3 * max(height, 1.0):
            angles.append(math.atan2(y1 - y0, x1 - x0))
    return statistics.median(angles) if angles else 0.0


def _place(box: OcrBox, angle: float) -> _Placed:
    """The box's extent once the page is turned back by `angle`."""
    cos, sin = math.cos(-angle), math.sin(-angle)
    xs = [x * cos - y * sin for x, y in box.quad]
    ys = [x * sin + y * cos for x, y in box.quad]
    return _Placed(box, min(xs), min(ys), max(xs), max(ys))


def _kept(placed: Sequence[_Placed], page_height: float, first_page: bool) -> list[_Placed]:
    """Drop unsure boxes (signatures, smudges) and red ones (stamps), except the red issuer line
    in the header band of a 红头文件's first page."""
    kept = []
    for p in placed:
        if p.box.confidence < MIN_CONFIDENCE or not p.box.text.strip():
            continue
        if p.box.red and not (first_page and p.y1 <= HEADER_BAND * page_height):
            continue
        kept.append(p)
    return kept


def _side_by_side(a: _Placed, b: _Placed) -> bool:
    """Whether two boxes stand beside each other: overlapping rows, apart horizontally."""
    return min(a.y1, b.y1) - max(a.y0, b.y0) > 0 and (a.x1 <= b.x0 or b.x1 <= a.x0)


def _gutter(placed: Sequence[_Placed], left: float, right: float) -> float | None:
    """The x of the gap between two columns, or None for a single column: a vertical line in the
    middle of the text block (tried from the centre outwards) that no narrow box standing beside
    another crosses, with at least three boxes on its right beside one on its left (a lone
    right-aligned date or signature is no column). A centred title alone on its row may cross it."""
    width = right - left
    paired = [p for p in placed if p.x1 - p.x0 < 0.5 * width and any(_side_by_side(p, q) for q in placed)]
    for step in sorted(range(30, 71, 2), key=lambda step: abs(step - 50)):
        x = left + width * step / 100
        if any(p.x0 < x < p.x1 for p in paired):
            continue
        lefts = [p for p in paired if p.x1 <= x]
        if sum(1 for r in paired if r.x0 >= x and any(_side_by_side(r, q) for q in lefts)) >= 3:
            return x
    return None


def _rows(placed: Sequence[_Placed]) -> list[list[_Placed]]:
    """Boxes grouped into rows (overlapping by half the smaller height), top to bottom, each row
    left to right."""
    rows: list[list[_Placed]] = []
    for p in sorted(placed, key=lambda p: p.middle):
        row = rows[-1] if rows else None
        if row is not None:
            y0, y1 = min(q.y0 for q in row), max(q.y1 for q in row)
            if min(y1, p.y1) - max(y0, p.y0) >= 0.5 * min(p.height, y1 - y0):
                row.append(p)
                continue
        rows.append([p])
    return [sorted(row, key=lambda p: p.x0) for row in rows]


def _reading_sequence(placed: Sequence[_Placed], left: float, right: float) -> list[list[_Placed]]:
    """Rows in reading order: with two columns, full-width rows where they stand and, between them,
    the left column's rows before the right column's."""
    gutter = _gutter(placed, left, right)
    if gutter is None:
        return _rows(placed)
    ordered: list[list[_Placed]] = []
    run: list[_Placed] = []
    for row in _rows(placed):
        if any(p.x0 < gutter < p.x1 for p in row):
            ordered += _rows([p for p in run if p.x1 <= gutter]) + _rows([p for p in run if p.x1 > gutter])
            ordered.append(row)
            run = []
        else:
            run += row
    return ordered + _rows([p for p in run if p.x1 <= gutter]) + _rows([p for p in run if p.x1 > gutter])


def reading_order(boxes: Sequence[OcrBox], page_height: float, *, first_page: bool = True) -> list[OcrLine]:
    """The page's lines in reading order, from the engine's boxes (see the module's docstring).

    A row starting 1.5 character heights right of the text block's left edge is indented with two
    spaces (official texts indent each paragraph by two characters), unless it is centred (a title,
    or the end of a centred block of lines); boxes of one row are joined with a space where they
    stand apart.
    """
    angle = _skew(boxes)
    placed = _kept([_place(b, angle) for b in boxes], page_height, first_page)
    if not placed:
        return []
    left, right = min(p.x0 for p in placed), max(p.x1 for p in placed)
    top, bottom = min(p.y0 for p in placed), max(p.y1 for p in placed)
    char = statistics.median(p.height for p in placed)
    lines: list[OcrLine] = []
    for row in _reading_sequence(placed, left, right):
        text, confidences = "", []
        for before, p in zip([None, *row], row):
            if before is not None and p.x0 - before.x1 > 0.8 * char:
                text += " "
                confidences.append(1.0)
            text += fix_marks(p.box.text)      # one character for one: confidences stay aligned
            confidences += p.box.confidences
        y0, y1 = min(p.y0 for p in row), max(p.y1 for p in row)
        at_edge = y1 - top < 2 * char or bottom - y0 < 2 * char
        if at_edge and (is_page_number(text) or _DASHED_NUMBER.match(text.strip())):
            continue
        x0, x1 = row[0].x0, row[-1].x1
        centred = x0 - left > 2 * char and abs((x0 - left) - (right - x1)) < 1.5 * char
        if x0 - left > 1.5 * char and not centred:
            text, confidences = "  " + text, [1.0, 1.0] + confidences
        lines.append(OcrLine(text, tuple(confidences), centred))
    return lines


def find_doubts(lines: Iterable[OcrLine], below: float = DOUBT_BELOW) -> list[Doubt]:
    """The characters read with a confidence under `below`, each with up to `DOUBT_CONTEXT`
    characters of its line on each side (to find it in the parsed text)."""
    doubts = []
    for line in lines:
        for i, (ch, confidence) in enumerate(zip(line.text, line.confidences)):
            if confidence < below and not ch.isspace():
                context = line.text[max(0, i - DOUBT_CONTEXT):i + DOUBT_CONTEXT + 1].strip()
                doubts.append(Doubt(ch, context, round(confidence, 3)))
    return doubts


# ---------------------------------------------------------------------------------------------
# I/O: the engine, its cache, pages in.

@functools.lru_cache(maxsize=1)
def _engine():
    """The RapidOCR engine of this process (loading its models takes a fraction of a second). A
    parse worker gets the larger memory limit OCR needs (`kb.workers.widen_memory_limit`)."""
    from rapidocr_onnxruntime import RapidOCR
    widen_memory_limit()
    return RapidOCR(print_verbose=False)


def _red_mask(rgb: "np.ndarray") -> "np.ndarray":
    """Pixels of red ink (seals, a 红头 banner and rule): bright red, pink where printed lightly;
    black ink under a seal stays dark, so it is not among them."""
    pixels = rgb.astype("int16")
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return (r > 130) & (r - g > 50) & (r - b > 50)


def _red(rgb: "np.ndarray", red: "np.ndarray", quad: Sequence[Sequence[float]]) -> bool:
    """Whether most of the ink inside the box's extent is red."""
    xs, ys = [int(x) for x, _ in quad], [int(y) for _, y in quad]
    window = (slice(max(0, min(ys)), max(ys) + 1), slice(max(0, min(xs)), max(xs) + 1))
    ink = (rgb[window].min(axis=2) < 150) | red[window]
    return int(red[window].sum()) > RED_SHARE * max(1, int(ink.sum()))


def recognise(rgb: "np.ndarray", *, first_page: bool = True) -> list[OcrBox]:
    """The text lines RapidOCR finds on one RGB page image (height × width × 3, uint8). Red ink is
    whitened first (seals hide the signature and date beneath them), except in the header band of
    a first page, where it is the issuer's banner.

    Raises:
        MemoryError: when the image is too large for the worker's memory limit.
    """
    import numpy as np
    red = _red_mask(rgb)
    bleached = rgb.copy()
    band = int(HEADER_BAND * rgb.shape[0]) if first_page else 0
    bleached[band:][red[band:]] = 255
    result, _ = _engine()(np.ascontiguousarray(bleached[..., ::-1]), return_word_box=True)
    boxes = []
    for quad, text, score, _word_boxes, words, word_scores in result or ():
        per_char = [s for word, s in zip(words, word_scores) for _ in word]
        if "".join(words) != text or len(per_char) != len(text):     # spaces: no per-word scores
            per_char = [float(score)] * len(text)
        boxes.append(OcrBox(tuple((float(x), float(y)) for x, y in quad), text,
                            tuple(float(s) for s in per_char), _red(rgb, red, quad)))
    return boxes


def _box_json(box: OcrBox) -> list:
    return [[c for point in box.quad for c in point], box.text, [round(s, 4) for s in box.confidences], box.red]


def _box_of(item: list) -> OcrBox:
    corners, text, confidences, red = item
    return OcrBox(tuple(zip(corners[::2], corners[1::2])), text, tuple(confidences), bool(red))


class OcrCache:
    """What OCR read from the pages of one file: `<folder>/<sha256>/<dpi>-<page>.json` holding
    {"engine", "height", "boxes"}, one file per page written atomically as soon as the page is
    read (a file stopped by its time limit resumes where it stopped)."""

    def __init__(self, folder: Path, sha256: str, dpi: int) -> None:
        self.folder, self.dpi = folder / sha256, dpi

    def _path(self, page: int) -> Path:
        return self.folder / f"{self.dpi}-{page}.json"

    def get(self, page: int) -> tuple[list[OcrBox], float] | None:
        """(boxes, page height in pixels) of a page read before by this engine, or None."""
        try:
            entry = json.loads(self._path(page).read_text(encoding="utf-8"))
            if entry["engine"] != ENGINE:
                return None
            return [_box_of(item) for item in entry["boxes"]], float(entry["height"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None     # not read yet, or an unreadable entry: read the page again

    def put(self, page: int, boxes: Sequence[OcrBox], height: float) -> None:
        """Remember a page's boxes; a cache that cannot be written is only a lost shortcut."""
        text = json.dumps({"engine": ENGINE, "height": height, "boxes": [_box_json(b) for b in boxes]},
                          ensure_ascii=False)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomically(self._path(page), lambda p: p.write_text(text, encoding="utf-8"))
        except OSError:
            pass


def cache_folder() -> Path:
    """`<cache_dir>/ocr`, beside the embedding cache (setting `cache_dir`).

    Raises:
        ConfigError: for an invalid setting in the environment.
    """
    return Path(load_config().cache_dir).expanduser() / "ocr"


@dataclass(frozen=True)
class OcrPage:
    lines: tuple[OcrLine, ...]


def raw_text(pages: Sequence[tuple[str, ...] | OcrPage]) -> RawText:
    """The `RawText` of pages read from a text layer (tuples of lines) or by OCR (`OcrPage`):
    layout-wrapped, marked as OCR'd with the mean confidence of the OCR'd characters, the
    doubtful characters, and the centred lines of the first OCR'd page as title hints."""
    read = [p for p in pages if isinstance(p, OcrPage)]
    confidences = [c for p in read for line in p.lines for ch, c in zip(line.text, line.confidences)
                   if not ch.isspace()]
    hints = tuple(line.text.strip() for line in (read[0].lines if read else ()) if line.centred)
    return RawText(pages=tuple(tuple(line.text for line in p.lines) if isinstance(p, OcrPage) else p
                               for p in pages),
                   wrapped=True, title_hints=hints, source_kind="ocr",
                   ocr_confidence=round(sum(confidences) / len(confidences), 4) if confidences else 0.0,
                   doubts=tuple(d for p in read for d in find_doubts(p.lines)))


def ocr_pages(sha256: str, pages: Sequence[int], render: Callable[[int], "np.ndarray"], *,
              dpi: int = DPI) -> dict[int, OcrPage]:
    """OCR of the pages numbered `pages` (0-based) of the file with hash `sha256`; `render(n)` gives
    page n as an RGB array. Pages in the cache are not rendered again. Reports to `page_progress`.

    Raises:
        MemoryError: when a page is too large for the worker's memory limit.
        ConfigError: for an invalid `cache_dir` setting in the environment.
    """
    cache = OcrCache(cache_folder(), sha256, dpi)
    report = page_progress.get()
    out = {}
    for done, n in enumerate(pages, 1):
        cached = cache.get(n)
        if cached is None:
            image = render(n)
            cached = recognise(image, first_page=n == 0), float(image.shape[0])
            cache.put(n, *cached)
        boxes, height = cached
        out[n] = OcrPage(tuple(reading_order(boxes, height, first_page=n == 0)))
        if report is not None:
            report(done, len(pages))
    return out
