"""Pure clean-up of extracted text: characters, page furniture, wrapped lines, 目录 blocks.

Everything here works on strings and lists of lines, so it is tested without files. The order
`parse` applies is: `normalize_chars` on every line → `remove_page_furniture` on the pages →
`join_wrapped_lines` (for layout-wrapped text) → `drop_toc`.
"""
from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence

from kb.chinese import CN_NUMERAL_CHARS, lookalike_table

# Full-width ASCII becomes ASCII (ＡＢＣ１２３ → ABC123), except the Chinese punctuation that
# legal text writes full-width on purpose and that readers expect to keep.
KEEP_FULLWIDTH = "（），：；！？"
_SPACES = "\u3000\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\t\x0b\x0c"
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_CHAR_TABLE = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F) if chr(c) not in KEEP_FULLWIDTH}
_CHAR_TABLE.update({ord(c): " " for c in _SPACES})
_CHAR_TABLE.update({ord(c): None for c in _ZERO_WIDTH})


@functools.cache
def _char_table() -> dict[int, int | str | None]:
    """`_CHAR_TABLE` and the characters that stand for ideographs (第⼀条, with the radical U+2F00
    for 一, was no article heading; built once, on first use, since it reads OpenCC)."""
    return _CHAR_TABLE | lookalike_table()


# "CJK" here: ideographs, CJK punctuation, full-width forms and the quotes used in Chinese text.
_CJK = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f“”‘’《》〈〉…—·×"
_NUM = f"[{CN_NUMERAL_CHARS}\\d]+"

_SPACE_RUN = re.compile(r" {2,}")
_SPACE_DIGIT_CJK = re.compile(rf"(?<=\d) +(?=[{_CJK}])|(?<=[{_CJK}]) +(?=\d)")
_SPACE_CJK_CJK = re.compile(rf"(?<=[{_CJK}]) +(?=[{_CJK}])")


def normalize_chars(line: str) -> str:
    """Map full-width ASCII to ASCII (keeping （），：；！？), odd spaces to " ", radicals and
    compatibility ideographs to the ideographs they stand for (⼀ → 一, ⺠ → 民), drop zero-width
    characters, remove spaces between digits and Chinese ("2022 年 1 月" → "2022年1月"), squeeze
    space runs and trim the right end. Leading indentation is kept (line joining reads it)."""
    line = line.translate(_char_table()).rstrip()
    if " " in line.lstrip():
        indent = len(line) - len(line.lstrip())
        body = _SPACE_RUN.sub(" ", _SPACE_DIGIT_CJK.sub("", line[indent:]))
        line = line[:indent] + body
    return line


def squeeze_cjk_spaces(text: str) -> str:
    """Remove spaces between Chinese characters ("总 则" → "总则"); used on body text, where
    such spaces are layout (letter-spacing, justification), never meaning."""
    return _SPACE_CJK_CJK.sub("", text) if " " in text else text


_LETTER_SPACED = re.compile(rf"^[{_CJK}](?: +[{_CJK}])+$")


def unletterspace(text: str) -> str:
    """"信 访 工 作 条 例" → "信访工作条例": only when every character stands alone, so that
    "最高人民法院 最高人民检察院关于…" keeps the space between its two issuers."""
    return text.replace(" ", "") if _LETTER_SPACED.match(text) else text


def visual_width(line: str) -> int:
    """Display width: Chinese and full-width characters count 2, others 1."""
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in line)


# ---------------------------------------------------------------------------------------------
# Page furniture: running headers, footers and page numbers.

_PAGE_NUMBER = re.compile(
    r"^[-—–－·•~～\s]*\d{1,4}[-—–－·•~～\s]*$"            # "— 3 —", "- 3 -", "· 3 ·", "3"
    r"|^第\s*\d{1,4}\s*页\s*[,，/]?\s*(共\s*\d{1,4}\s*页)?$"  # "第3页 共10页", "第 3 页"
    r"|^\d{1,4}\s*/\s*\d{1,4}$"                             # "3/10"
    r"|^(page|Page|PAGE)\s*\d{1,4}(\s*(of|/)\s*\d{1,4})?$")
_DASHED_PAGE_NUMBER = re.compile(r"^\s*([-—–－·•~～]+)\s*\d{1,4}\s*\1\s*$|^第\s*\d{1,4}\s*页")
_DIGITS = re.compile(r"\d+")


def is_page_number(line: str) -> bool:
    """A line that is only a page number in one of the usual shapes."""
    return bool(_PAGE_NUMBER.match(line.strip()))


# Running headers and footers are short; body lines near page edges are not compared.
_FURNITURE_MAX_CHARS = 40


def _furniture_key(line: str) -> str:
    text = "".join(line.split())
    return _DIGITS.sub("#", text) if len(text) <= _FURNITURE_MAX_CHARS else ""


def remove_page_furniture(pages: Sequence[Sequence[str]]) -> list[list[str]]:
    """Drop page numbers and running headers/footers: short lines among the first or last three
    of a page whose digit-blind form repeats on at least half of the pages (and on 2 or more).

    A single-page flow (plain text copied out of a PDF viewer) is first cut into pages at its
    decorated page-number lines ("— 3 —", "第3页"), so its headers are found the same way.
    """
    if len(pages) == 1:
        pages = _split_at_page_numbers(pages[0])
    edge = 3
    counts: Counter[str] = Counter()
    for page in pages:
        content = [ln for ln in page if ln.strip()]
        counts.update({_furniture_key(ln) for ln in content[:edge] + content[-edge:]})
    threshold = max(2, (len(pages) + 1) // 2)
    repeated = {key for key, n in counts.items() if n >= threshold and key}
    cleaned = []
    for page in pages:
        content_idx = [i for i, ln in enumerate(page) if ln.strip()]
        edges = set(content_idx[:edge] + content_idx[-edge:])
        cleaned.append([ln for i, ln in enumerate(page)
                        if not (i in edges and (is_page_number(ln) or _furniture_key(ln) in repeated))])
    return cleaned


def _split_at_page_numbers(lines: Sequence[str]) -> list[list[str]]:
    pages: list[list[str]] = [[]]
    for line in lines:
        pages[-1].append(line)
        if _DASHED_PAGE_NUMBER.match(line.strip()):
            pages.append([])
    return [p for p in pages if p]


# ---------------------------------------------------------------------------------------------
# Joining lines that the layout wrapped inside a paragraph.

# Lines that always begin a paragraph: structural headings, articles with a separator, outline
# markers, 附件/目录 lines. A wrapped line may still begin with "第十九条、…" (a cross-reference):
# that has no separator after 条, so it is not matched here.
BLOCK_START = re.compile(
    rf"^(第{_NUM}(分编|编|章|节)(\s|$)|第{_NUM}条(之{_NUM})?(\s|$)"
    rf"|[一二三四五六七八九十]+、|[（(]{_NUM}[）)]|\d{{1,2}}[.．、](?!\d)"
    r"|附\s*件|目\s*[录次]\s*$|附\s*则\s*$|序\s*言\s*$)")
_TERMINAL = tuple("。！？；：!?;:")
_INDENT_MIN = 2


def _indented(line: str) -> bool:
    return len(line) - len(line.lstrip(" ")) >= _INDENT_MIN


def _p90(values: list[int]) -> int:
    values = sorted(values)
    return values[int(len(values) * 0.9)] if values else 0


def looks_hard_wrapped(lines: Sequence[str]) -> bool:
    """True for text broken at a fixed width (copied from a PDF viewer): many lines share the
    longest common length and almost none are longer."""
    lengths = [len(ln.strip()) for ln in lines if ln.strip()]
    long_lengths = [n for n in lengths if n >= 10]
    if len(lengths) < 20 or not long_lengths:
        return False
    common, n = Counter(long_lengths).most_common(1)[0]
    longer = sum(1 for w in lengths if w > common + 2)
    return n >= 0.2 * len(lengths) and longer <= 0.02 * len(lengths)


def _bracket_balance(text: str) -> int:
    """Opening minus closing round brackets (full-width or ASCII) in `text`."""
    return text.count("（") + text.count("(") - text.count("）") - text.count(")")


def join_wrapped_lines(lines: Sequence[str]) -> list[str]:
    """Rejoin paragraphs that the layout broke into lines, returning one string per paragraph.

    A blank line always ends a paragraph. Otherwise a line continues the previous one when it
    does not begin a block (`BLOCK_START`) and the previous line is full (≥ 85% of the wrap
    width, the 90th percentile, in characters or in display width: PDF text wraps by width,
    text copied from it by count) or leaves a bracket open ("（2005年1月5日…通过 2005年").
    When the text marks paragraphs by indentation (≥ 10% of lines indented), an indented line
    begins a paragraph and a full line ending in 。 may still continue; without indentation, a
    full line ending in 。！？；： ends its paragraph.
    """
    content = [ln.strip() for ln in lines if ln.strip()]
    if not content:
        return []
    full_len = 0.85 * _p90([len(t) for t in content])
    full_width = 0.85 * _p90([visual_width(t) for t in content])
    uses_indent = sum(1 for ln in lines if ln.strip() and _indented(ln)) >= 0.1 * len(content)
    # the pieces of each paragraph, joined once at the end: rebuilding the paragraph at every
    # wrapped line was quadratic in its length (thousands of equal-length lines make one paragraph)
    paragraphs: list[list[str]] = []
    balance = 0     # of the open paragraph, kept as lines are added rather than recounted
    prev_full = False
    prev_terminal = True
    open_paragraph = False
    for line in lines:
        text = line.strip()
        if not text:
            open_paragraph = False
            continue
        starts = bool(BLOCK_START.match(text)) or (uses_indent and _indented(line))
        continues = open_paragraph and not starts and (
            balance > 0 or (prev_full and (uses_indent or not prev_terminal)))
        if continues:
            last = paragraphs[-1][-1][-1]
            # only words of Latin script need a space; a number wrapped as "1|5日" is 15
            if last.isascii() and last.isalpha() and text[0].isascii() and text[0].isalpha():
                paragraphs[-1].append(" ")
            paragraphs[-1].append(text)
        else:
            paragraphs.append([text])
            balance = 0
        open_paragraph = True
        prev_full = len(text) >= full_len or visual_width(text) >= full_width
        prev_terminal = text.endswith(_TERMINAL)
        balance += _bracket_balance(text)
    return ["".join(pieces) for pieces in paragraphs]


# ---------------------------------------------------------------------------------------------
# 目录 / 目次 blocks.

_TOC_TITLE = re.compile(r"^目\s*[录次]$")
_TOC_ENTRY = re.compile(
    rf"^(第{_NUM}(分编|编|章|节)|附\s*则|序\s*言|附\s*件|[一二三四五六七八九十]+、)")
# The page number and leader dots ending an entry ("第一章 总则 …… 1"), matched against the
# REVERSED line from its start (searched for before "$", the run would be rescanned from every dot).
_REVERSED_TOC_PAGE_REF = re.compile(r"^\d*+[\s.．…·—-]*+")


def _toc_key(line: str) -> str:
    entry = line[:len(line) - _REVERSED_TOC_PAGE_REF.match(line[::-1]).end()]
    return "".join(entry.split())


def drop_toc(lines: Sequence[str]) -> tuple[list[str], bool]:
    """Remove a 目录/目次 block (the title line and the heading entries after it, up to where
    the body repeats the first entry). Returns the lines and whether a block was dropped."""
    for i, line in enumerate(lines[:200]):
        if not _TOC_TITLE.match(line.strip()):
            continue
        entries: list[str] = []
        j = i + 1
        while j < len(lines):
            text = lines[j].strip()
            if not text:
                j += 1
                continue
            if not _TOC_ENTRY.match(text) or (entries and _toc_key(text) == entries[0]):
                break
            entries.append(_toc_key(text))
            j += 1
        if entries:
            return list(lines[:i]) + list(lines[j:]), True
    return list(lines), False
