"""Pure helpers for Chinese legal text shared by ingestion, search and the app.

Numerals are converted exactly (第一千二百六十条 ⇄ 1260, 第十条之一 ⇄ (10, 1)); titles get one
comparison key so that 《中华人民共和国民法典》, 民法典 and "民法典（2020）" meet; traditional
characters are made simplified (信訪工作條例 → 信访工作条例).
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

import opencc

V = TypeVar("V")

_DIGITS = {"零": 0, "〇": 0, "○": 0, "Ｏ": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
           "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
CN_NUMERAL_CHARS = "零〇○一二两三四五六七八九十百千万"
MAX_NUMERAL = 99_999    # the largest number `int_to_cn` writes (and an article number can have)
# Longer than any numeral a text means (九万九千九百九十九 has 9 characters, a year 4): a longer run
# is refused before it is converted, since its value grew digit by digit into a huge integer
# (100,000 characters took seconds).
MAX_NUMERAL_CHARS = 20


def cn_to_int(text: str) -> int:
    """Convert a Chinese or Arabic numeral to an int: "一百零五" → 105, "十" → 10, "105" → 105.

    Raises:
        ValueError: if `text` is empty, longer than `MAX_NUMERAL_CHARS` or holds anything but
            numeral characters.
    """
    text = unicodedata.normalize("NFKC", text.strip())
    if not text:
        raise ValueError("empty numeral")
    if len(text) > MAX_NUMERAL_CHARS:
        raise ValueError(f"numeral of {len(text)} characters: longer than any number a text means")
    if text.isdigit():
        return int(text)
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _DIGITS:
            if digit is not None and digit != 0 and section == 0 and total == 0:
                # positional digits without units, e.g. "二〇二二"
                digit = digit * 10 + _DIGITS[ch]
            else:
                digit = _DIGITS[ch] if digit is None or _DIGITS[ch] else (digit or 0)
        elif ch in _UNITS:
            unit = _UNITS[ch]
            if unit == 10000:
                total = (total + section + (digit or 0)) * unit
                section = 0
            else:
                section += (1 if digit is None else digit) * unit
            digit = None
        else:
            raise ValueError(f"not a numeral: {text!r}")
    return total + section + (digit or 0)


def int_to_cn(n: int) -> str:
    """Write a non-negative int below 100000 the way statutes do: 105 → "一百零五", 10 → "十".

    Raises:
        ValueError: if `n` is negative or too large.
    """
    if n < 0 or n > MAX_NUMERAL:
        raise ValueError(f"numeral out of range: {n}")
    if n == 0:
        return "零"
    digits = "零一二三四五六七八九"
    parts, zero_pending = [], False
    for unit_value, unit in ((10000, "万"), (1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d, n = divmod(n, unit_value)
        if d:
            if zero_pending:
                parts.append("零")
            parts.append(digits[d] + unit)
            zero_pending = False
        elif parts:
            zero_pending = True
        if n == 0:
            break
    text = "".join(parts)
    return text[1:] if text.startswith("一十") else text


def article_label(no: int, suffix: int = 0) -> str:
    """The citation label of an article: (10, 1) → "第十条之一", (1165, 0) → "第一千一百六十五条"."""
    return f"第{int_to_cn(no)}条" + (f"之{int_to_cn(suffix)}" if suffix else "")


ARTICLE_REF = re.compile(
    rf"第\s*+([{CN_NUMERAL_CHARS}]++|\d++)\s*+条(?:\s*+之\s*+([{CN_NUMERAL_CHARS}]++|\d++))?")


def parse_article_label(label: str) -> tuple[int, int]:
    """"第十条之一" → (10, 1); "第105条" → (105, 0).

    Raises:
        ValueError: if `label` is not an article label.
    """
    m = ARTICLE_REF.fullmatch(unicodedata.normalize("NFKC", label.strip()))
    if not m:
        raise ValueError(f"not an article label: {label!r}")
    return cn_to_int(m.group(1)), (cn_to_int(m.group(2)) if m.group(2) else 0)


# A numbered label as one word: 第三十六条, 第二款, 第六项, 第四章 (no spaces, no 之一: a token).
NUMBERED_LABEL = re.compile(rf"第[{CN_NUMERAL_CHARS}0-9]++[条款项章节编]")

# The brackets a 文号 (document number) may put around its year: GB/T 9704 prints 〔2022〕; texts
# write ﹝2022﹞, 〖2022〗, [2022], 【2022】 or (2022) too, and OCR mixes them ("〔2024】").
DOC_YEAR_OPEN, DOC_YEAR_CLOSE = "〔\\[［【(（﹝〖", "〕\\]］】)）﹞〗"
_DOC_YEAR = re.compile(rf"[{DOC_YEAR_OPEN}](\d{{4}})[{DOC_YEAR_CLOSE}](?=\d{{1,4}}号)")


def doc_number_brackets(text: str) -> str:
    """`text` with the year of each 文号 in 〔〕: "川府发﹝2022﹞5号" → "川府发〔2022〕5号"."""
    return _DOC_YEAR.sub(r"〔\1〕", text)


# A 文号: "国发〔2014〕10号" (the issuer's short name may take words before it: "根据国办发…"),
# "国务院令第431号", "公告第5号".
DOC_NUMBER = re.compile(
    rf"(?:[\u4e00-\u9fff×Xx]{{1,10}})\s*[{DOC_YEAR_OPEN}]\s*\d{{4}}\s*[{DOC_YEAR_CLOSE}]\s*第?\s*[\dXx×]+\s*号"
    rf"|[\u4e00-\u9fff]{{2,40}}?(?:令|公告)\s*(?:\(\d{{4}}\)|（\d{{4}}）)?\s*第\s*[\d{CN_NUMERAL_CHARS}]+\s*号")


def doc_numbers_in(text: str) -> tuple[str, ...]:
    """The 文号 written in `text`, without spaces and with their years in 〔〕, each once; each may
    carry words before it ("根据国办发〔2013〕1号"), so a stored number is one it ends with."""
    return tuple(dict.fromkeys(doc_number_brackets("".join(m.group(0).split())) for m in DOC_NUMBER.finditer(text)))


_TITLE_DROP = re.compile(r"[\s《》〈〉<>“”\"'‘’]|中华人民共和国")


# Characters PDFs write in place of the ideographs they look like: Word's PDFs write 第⼀条 with
# the Kangxi radical U+2F00 for 一 and ⼈⺠政府 for 人民政府, some fonts the compatibility
# ideograph U+F9D1 for 六. The Kangxi radicals and the compatibility ideographs have their
# ideograph under NFKC; the CJK Radicals Supplement's are Unicode's EquivalentUnifiedIdeograph.txt
# (those that stand for a character a text writes).
_RADICAL_SUPPLEMENT = {
    "⺁": "厂", "⺅": "亻", "⺆": "冂", "⺇": "几", "⺉": "刂", "⺌": "小", "⺍": "小", "⺎": "兀", "⺏": "尣",
    "⺐": "尢", "⺒": "巳", "⺓": "幺", "⺔": "彑", "⺖": "忄", "⺗": "心", "⺘": "扌", "⺙": "攵", "⺛": "旡",
    "⺝": "月", "⺞": "歺", "⺟": "母", "⺠": "民", "⺡": "氵", "⺢": "氺", "⺣": "灬", "⺤": "爫", "⺥": "爫",
    "⺦": "丬", "⺧": "牛", "⺨": "犭", "⺩": "王", "⺪": "疋", "⺫": "罒", "⺬": "示", "⺭": "礻", "⺮": "竹",
    "⺯": "糹", "⺰": "纟", "⺱": "罓", "⺲": "罒", "⺳": "网", "⺴": "网", "⺵": "网", "⺶": "羊", "⺷": "羊",
    "⺹": "耂", "⺺": "肀", "⺻": "聿", "⺼": "肉", "⺽": "臼", "⺾": "艹", "⺿": "艹", "⻀": "艹", "⻁": "虎",
    "⻂": "衤", "⻃": "覀", "⻄": "西", "⻅": "见", "⻆": "角", "⻇": "角", "⻈": "讠", "⻉": "贝", "⻋": "车",
    "⻌": "辶", "⻍": "辶", "⻎": "辶", "⻏": "阝", "⻐": "钅", "⻑": "長", "⻒": "镸", "⻓": "长", "⻔": "门",
    "⻕": "阜", "⻖": "阝", "⻗": "雨", "⻘": "青", "⻙": "韦", "⻚": "页", "⻛": "风", "⻜": "飞", "⻝": "食",
    "⻟": "飠", "⻠": "饣", "⻢": "马", "⻣": "骨", "⻤": "鬼", "⻥": "鱼", "⻦": "鸟", "⻧": "卤", "⻨": "麦",
    "⻩": "黄", "⻪": "黾", "⻫": "斉", "⻬": "齐", "⻭": "歯", "⻮": "齿", "⻯": "竜", "⻰": "龙", "⻱": "龜",
    "⻲": "亀", "⻳": "龟"}
@functools.cache
def _opencc(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


@functools.lru_cache(maxsize=16384)
def _traditional_form(ch: str) -> str | None:
    """The simplified form of a character that is a traditional form only (條 → 条, 麼 → 么), else
    None. A character simplified text also writes (坏, 干, 里) is not one: OpenCC makes it
    traditional (壞, 幹, 裏)."""
    simplified = _opencc("t2s").convert(ch)
    if simplified == ch or len(simplified) != 1 or _opencc("s2t").convert(ch) != ch:
        return None
    return simplified


@functools.cache
def lookalike_table() -> dict[int, str]:
    """`str.translate` table of the characters that stand for ideographs (see
    `_RADICAL_SUPPLEMENT`) to those ideographs, simplified as the knowledge base's texts are (⾨,
    the Kangxi radical, is 門 under NFKC: 门). Each is one character for one, so positions stay."""
    table = {ord(radical): character for radical, character in _RADICAL_SUPPLEMENT.items()}
    for first, last in ((0x2F00, 0x2FD5), (0xF900, 0xFAFF)):     # Kangxi radicals, compatibility ideographs
        table |= {code: unicodedata.normalize("NFKC", chr(code)) for code in range(first, last + 1)
                  if unicodedata.normalize("NFKC", chr(code)) != chr(code)}
    return {code: _traditional_form(character) or character for code, character in table.items()}


def to_simplified(text: str) -> str:
    """`text` with its traditional characters made simplified, character for character, so that
    positions in it are positions in `text`: "信訪工作條例第三十六條" → "信访工作条例第三十六条".

    OpenCC reads phrases (乾淨 → 干净, but 乾隆 stays), and its phrase tables read simplified
    text too, not always as it is meant: "破坏土地" becomes "破坯土地" (坏 is also an old
    traditional character). So only the characters that are traditional forms alone change, as
    the phrase reading has them; the rest stay as they were. Over the 20 million characters of
    the whole law corpus this changes none but five rare ones (乾, 噁 …), and a character outside
    the Basic Multilingual Plane (二噁英 → 二𫫇英), which no law text writes, is not put in.
    """
    if not any(_traditional_form(ch) for ch in text if ch >= "\u3400"):
        return text                                          # the common case: nothing to read
    phrased = _opencc("t2s").convert(text)
    if len(phrased) != len(text):                            # then positions differ: char by char
        phrased = "".join(_traditional_form(ch) or ch for ch in text)
    return "".join(new if new != old and new <= "\uffff" and _traditional_form(old) else old
                   for old, new in zip(text, phrased))


# A text with more of its Han characters in traditional forms alone than this is written in
# traditional characters: 30 laws of the corpus written so by OpenCC had 28–44%, while no text of
# the corpus itself had more than 0.16% (乾, 噁 …; a simplified text quoting a traditional
# sentence has a few).
TRADITIONAL_SHARE = 0.05


def written_in_traditional(text: str) -> bool:
    """Whether `text` is written in traditional characters (see `TRADITIONAL_SHARE`)."""
    han = [ch for ch in text if "\u3400" <= ch <= "\u9fff"]
    return bool(han) and sum(_traditional_form(ch) is not None for ch in han) > TRADITIONAL_SHARE * len(han)


def book_title(title: str) -> str:
    """A title in 书名号 as cited: 《民法典》; the title a title quotes in 〈〉 inside it, as Chinese
    typography nests them: 《最高人民法院关于适用〈中华人民共和国民事诉讼法〉的解释》."""
    return f"《{title.replace('《', '〈').replace('》', '〉')}》"


_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def ascii_digits(text: str) -> str:
    """`text` with its full-width digits (０–９) as ASCII ones, nothing else changed."""
    return text.translate(_FULL_WIDTH_DIGITS)


_FULL_WIDTH_BRACKETS = str.maketrans("()", "（）")


def chinese_brackets(name: str) -> str:
    """A name as Chinese titles write their brackets: a question is read NFKC, which makes
    （二） (二); shown back to the user, 《…解释（二）》 is the name they typed."""
    return name.translate(_FULL_WIDTH_BRACKETS)


def title_key(title: str) -> str:
    """Comparison key of a document title: NFKC, no whitespace or quotes, no 中华人民共和国.

    《中华人民共和国民法典》 and 民法典 share the key "民法典"; the bracketed version suffix of a
    file name ("行政复议法(2023-09-01)") is not removed here: callers strip file-name parts.
    """
    return _TITLE_DROP.sub("", unicodedata.normalize("NFKC", title))


def longest_first(text: str, names: Mapping[str, V], lengths: Sequence[int],
                  accept: Callable[[int, int], bool] = lambda start, end: True) -> Iterator[tuple[int, int, V]]:
    """The `names` found in `text` as (start, end, value): left to right, the longest name at each
    position, no overlaps. `lengths`: the names' lengths, longest first; `accept(start, end)` may
    refuse a match, and the next shorter name is tried. A dictionary lookup per length and position:
    linear in the text, whatever it holds."""
    i = 0
    while i < len(text):
        for length in lengths:
            end = i + length
            if end <= len(text) and (value := names.get(text[i:end])) is not None and accept(i, end):
                yield i, end, value
                i = end
                break
        else:
            i += 1
