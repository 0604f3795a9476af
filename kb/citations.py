"""Citations of legal provisions in running text, pure: 《X》第N条第M款第K项 as people write them.

One parser serves the citation checker (`lecture.citations`, over a lecture or report) and the
reference extraction at ingest (`ingest.references`, over the articles of a document):

- documents are named in 书名号 (《中华人民共和国行政复议法》, 《行政复议法》), or without them
  when a `TitleMatcher` knows the name (人民调解法第十七条, 民法典第1165条, 刑诉法); `本法`,
  `本条例`, `该法` … name the citing document itself (`own_title`) or, in a lecture, the document
  named last before them; a short name the text gives (（以下简称《调解法》）) stands for the title
  before it; a name no matcher knows, right before 第N条 (属于治安管理处罚法第九条), is kept as
  `loose`: the reader matches its known ending;
- articles: Arabic or Chinese numerals, 第十条之一; 款 and 项 (第三十一条第（六）项, 第二款第三项);
  lists and ranges (第十条、第十二条, 第十条至第十二条, 第三十五条和第三十六条) share the document;
  同条/本条/其/其中 第二款, 前款, 前条 are relative to the article in context;
- version hints: `2017年修正的《行政复议法》`, `《行政复议法》（2017年修正）`, `原《信访条例》`.

Dates (2022年5月1日) and other ordinals (第一章, 第三节, 第二批, 第1次) are not citations: an
article needs 条. A bare 第N条 with no document named before it in the same paragraph is kept
only where the wording makes it a citation (依据第十条, 第十条规定). Spans index the original
text; full-width digits and brackets are accepted as written.
"""
from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from kb.chinese import (CN_NUMERAL_CHARS, MAX_NUMERAL, ascii_digits, cn_to_int, int_to_cn, longest_first, title_key,
                        to_simplified)
from kb.errors import QueryError
from kb.places import PLACE_ENDS

MIN_ALIAS_CHARS = 2
# A name typed one character off (an input method's slip: 人民调节法, 信访工作条列) is read as the known
# one only from this length: shorter names are too close to each other (民法, 刑法).
MIN_NEAR_CHARS = 4
MAX_NEAR_CHARS = 24
# Short names no title spells out; the full title's key is what they stand for.
ABBREVIATIONS: Mapping[str, str] = {
    "刑诉法": "刑事诉讼法", "民诉法": "民事诉讼法", "行诉法": "行政诉讼法", "行复法": "行政复议法",
    "治安法": "治安管理处罚法", "妇女法": "妇女权益保障法", "妇女权益法": "妇女权益保障法",
    "老年法": "老年人权益保障法", "未保法": "未成年人保护法", "调解法": "人民调解法",
}

_DIGIT = "0-9０-９"
_NUM = rf"(?:[{_DIGIT}]++|[{CN_NUMERAL_CHARS}]++)"
_OPEN, _CLOSE = "[（(]", "[）)]"
# Between numbers sharing one 第…条/款/项 (第三、四条, 第一至三款): a list, or a range.
_RANGE_MARKS = "至|到|-|~|—|－|～"
_NUMBER_GLUE = rf"、|，|,|和|及|与|或|{_RANGE_MARKS}"
MORE_NUMBERS = rf"(?:\s*+(?:{_NUMBER_GLUE})\s*+{_NUM})*+"
# The words that name the citing (or last named) document, and those that name an article in context.
DOC_WORDS = "法典|法|条例|规定|办法|细则|解释|决定|规则|意见|通知|准则|章程"
DOC_WORD_ALONE = re.compile(f"(?:{DOC_WORDS})")      # fullmatch: 《条例》, 办法 — a kind of text, not a name
_TOKEN = re.compile(
    rf"(?P<art>第\s*+(?P<no>{_NUM})(?P<amore>{MORE_NUMBERS})\s*+条(?:\s*+之\s*+(?P<suffix>{_NUM}))?)"
    # "民法典1165条", "第十条、十二条": without 第 only right after a name or in a list
    rf"|(?P<unmarked>(?<![{_DIGIT}{CN_NUMERAL_CHARS}])(?P<uno>{_NUM})\s*+条(?:\s*+之\s*+(?P<usuffix>{_NUM}))?)"
    rf"|(?P<para>第\s*+(?P<pno>{_NUM})\s*+款)"
    rf"|(?P<item>第\s*+{_OPEN}?\s*+(?P<ino>{_NUM})\s*+{_CLOSE}?\s*+项)"
    rf"|(?P<own>(?:本|该|此)(?:实施)?(?:{DOC_WORDS})(?=\s*+(?:的|中)?\s*+第))"
    rf"|(?P<rel>前款|前条|本款|(?:本条|同条|该条|其中|其)(?=\s*+(?:的|中)?\s*+第))")
MAX_TITLE_CHARS = 120
_TITLE_MARKS = re.compile(r"[《》\n]")
# A version hint written just before a title: "2017年修正的", "2022年5月1日起施行的", "原", "修订前的",
# and as trainees say it, "以前的", "老的".
_HINT_BEFORE = re.compile(
    rf"(?:(?P<year>[{_DIGIT}]{{4}})\s*+年(?:\s*+[{_DIGIT}]{{1,2}}\s*+月(?:\s*+[{_DIGIT}]{{1,2}}\s*+日)?)?"
    r"\s*+起?\s*+(?:第.次)?\s*+(?:修正|修订|修改|版|颁布|公布|施行|通过|印发|制定|发布)?\s*+(?:后|本)?\s*+的?"
    r"|(?P<old>原来?的?|原先的?|旧的?|老的?|以前的?|之前的?|过去的?|修订前的?|修正前的?|修改前的?))\s*+$")
HINT_WINDOW = 24
# ... or just after it: "（2017年修正）", "(2018)"; after its 》 or inside the marks (《行政诉讼法（2017年修正）》).
_HINT_AFTER = re.compile(rf"(?:》\s*+)?{_OPEN}\s*+(?P<year>[{_DIGIT}]{{4}})\s*+(?:年[^（()）\n]{{0,10}}+)?{_CLOSE}"
                         r"(?:\s*+》)?")
# Between a document name and its article; between two listed articles; a range. Tried only over
# `MAX_GLUE` characters, and (each starts only where a space run does: one tried inside the run
# would rescan it).
MAX_GLUE = 12
_NAME_GLUE = re.compile(r"(?<!\s)[\s》）)]*+(?:的|中|之)?\s*+")
# "《中华人民共和国人民调解法》（以下简称《人民调解法》）": the short name stands for the title before it.
_SHORT_FOR = re.compile(r"(?:以下)?简称\s*+[：:]?\s*+\Z")
SHORT_FOR_WINDOW = 8
_LIST_GLUE = re.compile(r"(?<!\s)\s*+(?:、|，|,|和|及|以及|与|或者|或|及其)?\s*+")
# Between the two ends of a range (第十条至第十二条); also what 检索 reads as one (index.query).
RANGE_GLUE = re.compile(rf"(?<!\s)\s*+(?:{_RANGE_MARKS})\s*+")
# A bare 第N条 with no document in context is a citation only when the wording says so.
_CITING_BEFORE = re.compile(r"(?:依据|根据|按照|依照|违反|参照|适用|对照|援引|引用|见)\s*+$")
_CITING_AFTER = re.compile(r"(?<!\s)\s*+(?:的?规定|明确|指出|要求|第)")
# Words that make 第N条 a count of something else: 第一条路, 第二条腿; and
# nouns that make it an item of a list in the speaker's own words (第一条经验).
_NOT_ARTICLE_AFTER = frozenset("路腿线河船鱼命心街道鞭")
_OWN_LIST_AFTER = re.compile(r"(?<!\s)\s*+(?:经验|建议|意见|措施|原则|做法|理由|途径|渠道|教训|启示|体会|举措|路径|任务|注意事项|标准|好处|优点|缺点)")
# A name no matcher knows, written without 书名号 right before 第N条 (治安管理处罚法第十条): the run of
# Chinese characters ending in a document word and perhaps a numbered note (解释（一）), less the verbs
# and conjunctions leading into it.
_NOTE_NUMBER = r"(?:[（(][一二三四五六七八九十]{1,3}[）)])?"
# A numbered note in a key (NFKC): right after a name in keyed text, and at the end of a name.
_KEYED_NOTE = r"\([一二三四五六七八九十]{1,3}\)"
_NOTE_AFTER = re.compile(_KEYED_NOTE)
_NUMBERED_NOTE_END = re.compile(_KEYED_NOTE + "$")
# Found from its end: the document word (and note) right before the article, then back over the run
# (one pass over the window, where a search from each start of the window once cost a reference
# a pass of the rest of it).
_UNLISTED_END = re.compile(rf"(?:{DOC_WORDS}){_NOTE_NUMBER}$")
_UNLISTED_END_CHARS = 7         # the longest document word and note: 法典（十一）
_UNLISTED_RUN = 44              # at most this many characters of the name before its document word
_NAME_RUN = re.compile(r"[\u4e00-\u9fff、]*+")     # matched on the characters before the word, reversed
UNLISTED_WINDOW = 52
# Other names reach at most this far back from their document word (中华人民共和国道路交通安全法实施条例).
_OTHER_NAME_REACH = 20
# A name ending so after a 关于 is a title 关于…的(若干)解释/规定/意见 … (judicial interpretations, State
# Council texts): the words after its 关于 lead into nothing (审理…案件适用法律…), and the issuers before
# it are its own (最高人民法院、最高人民检察院关于…).
_ABOUT_TITLE_END = re.compile(rf"的(?:若干)?(?:{DOC_WORDS}){_NOTE_NUMBER}$")
# The name starts after the last word that leads into it (依照行政复议法, 属于刑法), or after a
# character no title has (是, 在, 将 …); what is left may still carry other words, so it is `loose`.
# (实施 of 实施细则 and 和 of 共和国 belong to the name; 和 between two names does not. 与 is no
# lead: 人口与计划生育法.)
_LEAD_WORDS = re.compile(r"根据|依据|按照|依照|违反|参照|适用|对照|援引|引用|执行|遵守|对于|关于|或者|以及|及其|"
                         r"办理|提起|申请|上述|前述|有关|相关|下列|以下|现行|新修订的?|修订后的?|修正[前后]的?|"
                         r"属于|符合|构成|实施(?!细则|办法|条例|意见|规定|规则)|认定为|比照|不受|不影响|同时|"
                         r"(?<!共)和(?!国)|[是在了应将被，、。；：]")
_OWN_NAME = re.compile(rf"(?:本|该|此|其|这个?|那个?|这部|那部)(?:实施)?(?:{DOC_WORDS})")
_TRAILING_NOTE = re.compile(r"\([^()]*+\)$")
# After a name ending in 法, these characters make another word (法人, 法律, 法院 ...).
_WORD_AFTER_FA = frozenset("人律院官庭警医学")
COUNTRY = "中华人民共和国"
# An interpretation of one law, as its title names it: 关于适用《X》(有关)Y(若干问题)的解释(（一）), NFKC.
_APPLYING = re.compile(r"关于适用[《〈](?:中华人民共和国)?([^《》〈〉]{1,30})[》〉](?:有关)?([^《》〈〉的]{0,12}?)"
                       rf"(?:若干问题)?的解释({_NOTE_NUMBER})$")
# How the names of issuing bodies end (法院, 委员会, 国务院办公厅, 人民政府, 中央军委, 海关总署 …).
_ISSUER_ENDS = ("院", "会", "部", "署", "局", "委", "厅", "府", "办", "室")
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
_NUMBER_CHARS = frozenset(CN_NUMERAL_CHARS + "0123456789")
V = TypeVar("V")


def bare_key(name: str) -> str:
    """`title_key` without a trailing bracket note: 行政诉讼法（2017年修正） → 行政诉讼法."""
    return _TRAILING_NOTE.sub("", title_key(name))


def fallback_key(name: str) -> str:
    """The key a name is looked up by when its own key names nothing held: without a version note
    (行政诉讼法（2017年修正） → 行政诉讼法); a numbered note names another text of a series and stays
    (…的解释（三） is not …的解释（一）, which its name without the note names)."""
    key = title_key(name)
    return key if _NUMBERED_NOTE_END.search(key) else bare_key(name)


def title_aliases(title: str) -> set[str]:
    """Names a person may use for a document: its title key, without a trailing bracket note, and
    without the issuers before 关于 (《关于审理劳动争议案件适用法律问题的解释（一）》, as judicial
    interpretations and State Council texts are cited); an interpretation of one law also by its short
    names (民诉法解释: `_interpretation_names`)."""
    spelled, other = _title_names(title)
    return spelled | other


def _title_names(title: str) -> tuple[set[str], set[str]]:
    """`title_aliases` split in two: the names that spell the title out (its key, and from 关于 on
    after issuers) and the others (without a bracket note, short names)."""
    spelled = _spelled(title_key(title))
    aliases = spelled | _spelled(bare_key(title)) | _interpretation_names(title)
    aliases = {a for a in aliases if len(a) >= MIN_ALIAS_CHARS}
    return spelled & aliases, aliases - spelled


def _interpretation_names(title: str) -> set[str]:
    """The short names of an interpretation of a law (最高人民法院关于适用《中华人民共和国民事诉讼法》的解释):
    民事诉讼法解释 and 民诉法解释; 民法典婚姻家庭编解释(一) and 婚姻家庭编解释(一) of …《民法典》婚姻家庭编
    的解释（一）, 担保制度解释 of …《民法典》有关担保制度的解释; each also without its numbered note."""
    m = _APPLYING.search(unicodedata.normalize("NFKC", title))
    if not m:
        return set()
    law, part, note = m.groups()
    laws = [law, *(short for short, full in ABBREVIATIONS.items() if full == law)] + ([""] if len(part) >= 3 else [])
    return {f"{name}{part}解释{n}" for name in laws for n in {note, ""}}


def _spelled(key: str) -> set[str]:
    """A title key and, where issuers come before 关于 (最高人民法院、最高人民检察院关于…, 国务院办公厅
    关于…), the key from 关于 on. 国家机关、事业单位贯彻国务院关于… names no issuers first."""
    at = key.find("关于")
    issuers = key[:at].split("、") if at > 0 else []
    if issuers and all(len(i) >= 2 and i.endswith(_ISSUER_ENDS) and _HAN_RUN.fullmatch(i) for i in issuers):
        return {key, key[at:]}
    return {key}


def _names_table(titles: Iterable[tuple[str, V]], loose: Iterable[tuple[str, V]] = ()) -> dict[str, list[V]]:
    """Name → the values of the (title, value) pairs it names; `loose` adds (name, value) pairs no
    title spells out. A title spelt out in full names that title alone: 《最高人民法院关于审理某某案件
    适用法律若干问题的解释》 (and 《关于审理某某案件适用法律若干问题的解释》) is not also its sequels
    （二）…（四）, though they share the name without their bracket note."""
    full: dict[str, list[V]] = {}
    other: dict[str, list[V]] = {}
    for title, value in titles:
        spelled, others = _title_names(title)
        for name in spelled:
            full.setdefault(name, []).append(value)
        for name in others:
            other.setdefault(name, []).append(value)
    for name, value in loose:
        other.setdefault(title_key(name), []).append(value)
    return {**other, **full}


def alias_index(documents: Iterable[tuple[str, str]]) -> dict[str, list[int]]:
    """Name (a title alias or a document key) → positions of the (title, key) documents it names."""
    documents = list(documents)
    return _names_table(((title, i) for i, (title, _) in enumerate(documents)),
                        ((key, i) for i, (_, key) in enumerate(documents)))


def documents_named(names: Sequence[str], index: Mapping[str, Sequence[int]]) -> list[int]:
    """Positions of the documents the `names` (titles, keys, short titles) name, in the order
    named, each once (`index` from `alias_index`). A name with a version note the titles lack
    (行政诉讼法（2017年修正）) names the document without it; one in traditional characters
    (信訪工作條例) names the simplified title.

    Raises:
        QueryError: if a name matches no document.
    """
    found: dict[int, None] = {}
    for name in names:
        simplified = to_simplified(name)
        hits = index.get(title_key(simplified)) or index.get(fallback_key(simplified))
        if not hits:
            raise QueryError(f"unknown document {name!r}: no title or short name in the knowledge base matches it")
        found.update(dict.fromkeys(hits))
    return list(found)


@dataclass(frozen=True)
class Mention:
    """A document name found in a text: span and the keys of the documents it names."""
    start: int
    end: int
    doc_keys: tuple[str, ...]


class TitleMatcher:
    """Finds document names in a text: longest alias first, left to right, no overlaps.

    `aliases` adds (short name, title) pairs no title spells out (刑诉法 → 刑事诉讼法).
    """

    def __init__(self, titles: Iterable[str], aliases: Iterable[tuple[str, str]] = ()) -> None:
        titles = list(titles)
        names = _names_table(((title, title_key(title)) for title in titles),
                             ((alias, title_key(title)) for alias, title in aliases))
        self._names = {alias: tuple(sorted(set(keys))) for alias, keys in names.items()}
        self._lengths = sorted({len(a) for a in self._names}, reverse=True)
        # Names a title gives without its issuers: after other issuers (最高人民检察院关于…) they are
        # another body's text, not this one.
        spelt = {key for title in titles for key in (title_key(title), bare_key(title))}
        self._without_issuers = {a for a in self._names if a.startswith("关于") and a not in spelt}
        self._one_off: dict[str, list[str]] | None = None      # built when first asked (`near`)

    def find(self, text: str) -> list[Mention]:
        """Mentions in `text`; spans index into `text`."""
        keyed, offsets = _keyed(text)

        def accept(start: int, end: int) -> bool:
            before = keyed[start - 1] if start > 0 else ""
            after_issuers = before in (*_ISSUER_ENDS, "、") and keyed[start:end] in self._without_issuers
            # 关于…的解释(二) is the sequel, not the 关于…的解释 held: (一) alone names itself so
            note = _NOTE_AFTER.match(keyed, end)
            sequel = note is not None and keyed[start:note.end()] not in self._names
            return not (_continues_word(keyed, end) or after_issuers or before in PLACE_ENDS or sequel)

        return [Mention(offsets[start], offsets[end - 1] + 1, keys) for start, end, keys in
                longest_first(keyed, self._names, self._lengths, accept)]

    def knows(self, name: str) -> bool:
        """Whether `name` is, as a whole, a name this matcher knows."""
        return title_key(name) in self._names

    def near(self, typed: str) -> str | None:
        """The name this matcher knows that `typed` (a name it does not know) misses by one
        character, as an input method slips: 人民调节法 → 人民调解法, 信访工作条列 → 信访工作条例. None
        when no name or names of several documents do, or when the character differs inside a
        place's name (湖南省信访条例 is not 河南省信访条例) or a number (解释（二） is not 解释（一）)."""
        if not MIN_NEAR_CHARS <= len(typed) <= MAX_NEAR_CHARS or typed in self._names:
            return None
        if self._one_off is None:
            self._one_off = {}
            for name in self._names:
                if MIN_NEAR_CHARS <= len(name) <= MAX_NEAR_CHARS:
                    for i in range(len(name)):
                        self._one_off.setdefault(f"{name[:i]}\0{name[i + 1:]}", []).append(name)
        found = {name: self._names[name] for i in range(len(typed))
                 for name in self._one_off.get(f"{typed[:i]}\0{typed[i + 1:]}", ())
                 if _slip(typed[i], name[i]) and not PLACE_ENDS.intersection(name[i:])}
        return next(iter(found)) if len(set(found.values())) == 1 else None

    def near_ending_at(self, text: str, end: int) -> tuple[int, str] | None:
        """(start, known name) of the longest run of Han characters ending at `end` that names a
        known document one character off (`near`): 信访工作条列|第三十五条."""
        first = end
        while first > max(0, end - MAX_NEAR_CHARS) and "\u4e00" <= text[first - 1] <= "\u9fff":
            first -= 1
        for start in range(first, end - MIN_NEAR_CHARS + 1):
            if (name := self.near(text[start:end])) is not None:
                return start, name
        return None


def _slip(typed: str, known: str) -> bool:
    """Whether one character typed for another may be a slip: not two numbers (（二） for （一））."""
    return not (typed in _NUMBER_CHARS and known in _NUMBER_CHARS)


def _keyed(text: str) -> tuple[str, list[int]]:
    """`text` keyed character by character as `title_key` keys titles, and the offset each keyed
    character comes from.

    Lets 《中华人民共和国民法典》 in a text meet the key 民法典, a quoted title inside a longer
    title meet its key, and a full-width bracket note meet a key's NFKC one (解释（四） → 解释(四)),
    while spans still point into the original text.
    """
    kept, offsets, i = [], [], 0
    while i < len(text):
        if text.startswith(COUNTRY, i):
            i += len(COUNTRY)
            continue
        keyed = _char_key(text[i])
        if len(keyed) == 1:
            kept.append(keyed)
            offsets.append(i)
        elif keyed:
            kept.append(keyed)
            offsets.extend([i] * len(keyed))
        i += 1
    return "".join(kept), offsets


@functools.lru_cache(maxsize=1 << 16)
def _char_key(ch: str) -> str:
    """`title_key` of one character: every character of every text searched or checked is keyed."""
    return title_key(ch)


def _continues_word(text: str, end: int) -> bool:
    return text[end - 1] == "法" and end < len(text) and text[end] in _WORD_AFTER_FA


@dataclass(frozen=True)
class Citation:
    """One cited provision. `start`/`end` index the parsed text and cover the document's name
    (or 本法/该法/同条) for the first provision cited after it, the provision alone for the
    next ones of a list.

    `title` is the document as written (without 《》, "" when none is named or in context);
    `own` marks a reference to the citing document itself (`own_title` given to the parser).
    `version_year` ("2017") or `earlier_version` (原《…》) come from a version hint.
    `loose` marks a name without 书名号 that no matcher knew (实施刑法第N条):
    it may still carry the words leading into it, so a reader may match its longest known ending.
    `closes_range` marks the end of a range whose start is the citation before it (第十二条 of
    第十条至第十二条, 三条 of 第一至三条, （三）项 of 第（一）至（三）项): the provisions between are
    cited too, and a reader may list them.
    """
    start: int
    end: int
    title: str
    no: int
    suffix: int = 0
    paragraph: int | None = None
    item: int | None = None
    version_year: str = ""
    earlier_version: bool = False
    own: bool = False
    loose: bool = False
    closes_range: bool = False


@dataclass(frozen=True)
class _Name:
    start: int               # of the name, or of a version hint before it
    end: int                 # after the name, or after a version note in brackets after it
    title: str
    version_year: str
    earlier_version: bool


def _of_name(name: _Name | None, start: int, end: int, no: int, suffix: int) -> Citation:
    """A citation of article `no` (之`suffix`) of the document `name` names, with its version hint;
    of no document named (title "") for None."""
    if name is None:
        return Citation(start, end, "", no, suffix)
    return Citation(start, end, name.title, no, suffix, version_year=name.version_year,
                    earlier_version=name.earlier_version)


def _numeral(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        n = cn_to_int(text)
    except ValueError:
        return None
    return n if 0 < n <= MAX_NUMERAL else None


def _names(text: str, titles: TitleMatcher | None) -> list[_Name]:
    """Document names in `text`, in order: 《…》 always, known names without 书名号 outside them."""
    spans = _bracketed(text)
    if titles is not None:
        starts = [s for s, _, _ in spans]          # in order, not overlapping
        ends = [e for _, e, _ in spans]
        for m in titles.find(text):
            i = bisect.bisect_right(starts, m.start) - 1
            if i < 0 or ends[i] <= m.start:        # not inside a 《…》
                spans.append((m.start, m.end, text[m.start:m.end]))
    names: list[_Name] = []
    short: dict[str, str] = {}      # 《…》（以下简称《X》）: X → the title named just before
    for start, end, title in sorted(spans):
        title = title.strip()
        if names and _SHORT_FOR.search(text, max(0, start - SHORT_FOR_WINDOW), start):
            short[title] = names[-1].title
        title = short.get(title, title)
        hint = version_hint(text, start, end)
        names.append(_Name(hint.start, hint.end, title, hint.year, hint.earlier))
    return names


@dataclass(frozen=True)
class VersionHint:
    """What the words around a document name say of the version meant: `year` ("2017" of
    2017年修正的《…》 or 《…》（2017年修正）), `earlier` (原《…》, 修订前的…), and the span of the
    name with them."""
    start: int
    end: int
    year: str = ""
    earlier: bool = False


def version_hint(text: str, start: int, end: int) -> VersionHint:
    """The version hint around the document name `text[start:end]` (with or without its 《》); a
    note after the name wins over a year before it."""
    year, earlier = "", False
    opening = start - 1 if text[start - 1:start] == "《" else start
    before = _HINT_BEFORE.search(text[max(0, opening - HINT_WINDOW):opening])
    if before and before.group(0).strip():
        year, earlier = before.group("year") or "", bool(before.group("old"))
        start = opening - len(before.group(0))
    after = _HINT_AFTER.match(text, end)
    if after:
        year, end = after.group("year"), after.end()
    return VersionHint(start, end, ascii_digits(year), earlier)


class DatedVersion(Protocol):
    """A version of a document as `version_asked` sees it (newest first in a list)."""
    version_date: str               # "2017-09-01"
    status: str                     # current | superseded | repealed | pending
    years: Collection[str]          # years of its history events ("2017" for 2017年修正), if known


def version_asked(versions: Sequence[DatedVersion], year: str = "", earlier: bool = False) -> DatedVersion | None:
    """Of a document's `versions` (newest first), the one a version hint asks for, or None when it
    asks for none but the current one. A year: the version dated that year; else the oldest whose
    history has an event that year (later versions repeat it: a 2023 text lists "2017年修正" too);
    else the last one before it; else the oldest. 原 (`earlier`): the version before the one in force."""
    if not versions:
        return None
    if year:
        return (next((v for v in versions if v.version_date[:4] == year), None)
                or next((v for v in reversed(versions) if year in v.years), None)
                or next((v for v in versions if v.version_date[:4] < year), versions[-1]))
    current = next((v for v in versions if v.status == "current"), versions[0])
    if earlier and current.status == "current":
        return next((v for v in versions if v.version_date < current.version_date), None)
    return None


_ITEM = re.compile(r"^\s*+[（(]\s*+[一二三四五六七八九十]++\s*+[）)]")


def item_lines(paragraph: str) -> list[int]:
    """Which lines of a 款 (from 0) are its 项: those that start with （一）, （二） …"""
    return [i for i, line in enumerate(paragraph.split("\n")) if _ITEM.match(line)]


def items_of(paragraph: str) -> list[str]:
    """The 项 of a 款, each its line."""
    lines = paragraph.split("\n")
    return [lines[i] for i in item_lines(paragraph)]


def item_paragraph(paragraphs: Sequence[str], paragraph: int = 0) -> int:
    """The 款 (from 1) whose 项 a citation of an article's 项 means: its 款 `paragraph`, or, citing
    no 款, the first that has any; 0 when there is none."""
    if paragraph:
        return paragraph if paragraph <= len(paragraphs) else 0
    return next((i for i, text in enumerate(paragraphs, 1) if item_lines(text)), 0)


def cited_items(paragraphs: Sequence[str], paragraph: int = 0) -> list[str]:
    """The 项 a citation of an article's 项 means (see `item_paragraph`)."""
    at = item_paragraph(paragraphs, paragraph)
    return items_of(paragraphs[at - 1]) if at else []


def cited_text(text: str, paragraphs: Sequence[str], paragraph: int = 0, item: int = 0) -> str:
    """The text a citation of an article (`text`, its 款 `paragraphs`) means: its 项 `item` (see
    `cited_items`), else its 款 `paragraph` (from 1), else the whole article; what `missing_part`
    finds missing must have been ruled out."""
    if item:
        return cited_items(paragraphs, paragraph)[item - 1]
    return paragraphs[paragraph - 1] if paragraph else text


def part_label(paragraph: int = 0, item: int = 0) -> str:
    """"第二款", "第六项", "第一款第二项" of a citation of an article's parts; "" for the whole."""
    return (f"第{int_to_cn(paragraph)}款" if paragraph else "") + (f"第{int_to_cn(item)}项" if item else "")


def held_part(label: str, paragraphs: Sequence[str], paragraph: int = 0, item: int = 0) -> tuple[int, int]:
    """The 款 and 项 asked for (`paragraph`, `item`) when the article has them, else (0, 0): the
    whole article (what it lacks is said elsewhere, by `missing_part`)."""
    return (0, 0) if missing_part(label, paragraphs, paragraph, item) else (paragraph, item)


def missing_part(label: str, paragraphs: Sequence[str], paragraph: int = 0, item: int = 0) -> str:
    """What a citation of the article `label` (whose 款 are `paragraphs`) names that it lacks:
    "第三十六条只有3款", "第三十一条只有6项", "第二条没有分项"; "" when it has the 款 and 项 cited."""
    if paragraph > len(paragraphs):
        return f"{label}只有{len(paragraphs)}款"
    items = cited_items(paragraphs, paragraph) if item else []
    if item > len(items):
        where = f"{label}第{int_to_cn(paragraph)}款" if paragraph else label
        return where + (f"只有{len(items)}项" if items else "没有分项")
    return ""


def _bracketed(text: str) -> list[tuple[int, int, str]]:
    """(start, end, title) of each outermost 《…》: a title quoting another one, written
    《关于适用《中华人民共和国民法典》婚姻家庭编的解释》, is one title. An unclosed 《 is dropped at
    the end of its line, and a title longer than `MAX_TITLE_CHARS` is none."""
    spans: list[tuple[int, int, str]] = []
    opened: list[int] = []
    for m in _TITLE_MARKS.finditer(text):
        i, ch = m.start(), m.group()
        if ch == "《":
            opened.append(i)
        elif ch == "》" and opened:
            start = opened.pop()
            if not opened and i - start - 1 <= MAX_TITLE_CHARS:
                spans.append((start, i + 1, text[start + 1:i]))
        elif ch == "\n":
            opened.clear()
    return spans


QUOTE_PAIRS = {"“": "”", "「": "」"}      # opening mark → its closing mark
_QUOTE_OPEN = re.compile(f"[{''.join(QUOTE_PAIRS)}]")


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    """Spans of “…” and 「…」 quotations (unclosed ones run to the end of their paragraph). A
    closing mark is looked for only within the paragraph, whose end is found once for all of its
    quotations: however many quotation marks a text has, it is read about once."""
    spans = []
    stop = -1               # where the paragraph holding the quotation ends (a newline, or the end of the text)
    opening = _QUOTE_OPEN.search(text)
    while opening:
        i = opening.start()
        if stop < i:
            stop = text.find("\n", i + 1)
            stop = stop if stop >= 0 else len(text)
        end = text.find(QUOTE_PAIRS[opening.group()], i + 1, stop)
        end = end if end >= 0 else stop
        spans.append((i, end + 1))
        opening = _QUOTE_OPEN.search(text, end + 1)
    return spans


_NEWLINE = re.compile(r"\n")


def _line_breaks(text: str) -> list[int]:
    """Offsets of the newlines of `text`, in order (for `_one_paragraph`)."""
    return [m.start() for m in _NEWLINE.finditer(text)]


def _one_paragraph(breaks: Sequence[int], start: int, end: int) -> bool:
    """Whether no newline stands between `start` and `end`; `breaks` from `_line_breaks`. A
    bisection, not a scan: each token of a long paragraph asks it about the text behind it."""
    i = bisect.bisect_left(breaks, start)
    return i == len(breaks) or breaks[i] >= end


def parse_citations(text: str, titles: TitleMatcher | None = None, own_title: str | None = None,
                    own_article: tuple[int, int] | None = None, own_paragraph: int | None = None
                    ) -> list[Citation]:
    """Every citation in `text`, in order.

    `own_title` set: the text belongs to that document (an article being ingested): 本法 and
    bare 第N条 name it, and `own_article`/`own_paragraph` (1-based) are what 本条, 前条 and 前款
    are relative to. Unset (a lecture): 本法/该法 and bare 第N条 name the document named last
    before them, and relative words refer to the provision cited last; inside a quotation only
    citations that name their document count (a quoted article's 前款 is the quoted law's).
    """
    if "条" not in text and "款" not in text and "项" not in text:
        return []               # (most paragraphs: every citation names one of these)
    names = _names(text, titles)
    quotes = _quoted_spans(text) if own_title is None else []
    breaks = _line_breaks(text)
    out: list[Citation] = []
    name_at = 0                     # names[:name_at] lie before the current token
    last_name: _Name | None = None
    named_before: set[str] = set()  # the title keys of the names before the current token
    prev: Citation | None = None    # the citation just before, for lists, ranges and 同条
    prev_end = -1
    pending_rel: tuple[str, int, int] | None = None    # 同条/本条/本法 … just before: word, start, end
    quote_at = 0
    for m in _TOKEN.finditer(text):
        if m.start() < prev_end:
            continue                # the 款 or 项 of the citation just read
        while name_at < len(names) and names[name_at].start < m.start():
            if names[name_at].end <= m.start():
                last_name = names[name_at]
                named_before.add(title_key(last_name.title))
            name_at += 1
        if name_at and names[name_at - 1].end > m.start():
            continue                # a 第N条 inside a title (关于…第十条的解释)
        while quote_at < len(quotes) and quotes[quote_at][1] <= m.start():
            quote_at += 1
        quoted = quote_at < len(quotes) and quotes[quote_at][0] < m.start()
        ranged = prev is not None and _glued(RANGE_GLUE, text, prev_end, m.start())
        chained = ranged or prev is not None and _glued(_LIST_GLUE, text, prev_end, m.start())
        rel_here = pending_rel if pending_rel and _glued(_NAME_GLUE, text, pending_rel[2], m.start()) else None
        pending_rel = None
        if m.group("rel") or m.group("own"):
            word = m.group("rel") or m.group("own")
            if word in ("前款", "前条", "本款"):
                cited = _relative(word, m, prev if own_title is None else None, own_title, own_article,
                                  own_paragraph, quoted)
                if cited is not None:
                    found, prev_end = _with_parts(text, m.end(), cited)     # 前款第（二）项
                    out.extend(found)
                    prev = found[-1]
                continue
            pending_rel = (word, m.start(), m.end())
            continue
        named = last_name if last_name is not None and _glued(_NAME_GLUE, text, last_name.end, m.start()) else None
        if m.group("unmarked") and (named is None and not chained):
            continue            # 五十条, 3条意见: a count, not a citation
        if m.group("art") or m.group("unmarked"):
            number, after = (m.group("no"), m.group("suffix")) if m.group("art") else (m.group("uno"), m.group("usuffix"))
            no, suffix = _numeral(number), _numeral(after) if after else 0
            # 第三、四条, 第三至五条: the further articles sharing this 第…条 (the suffix is the last one's)
            listed = list(LISTED_NUMBER.finditer(text, m.start("amore"), m.end("amore"))) if m.group("amore") else []
            numbers = [_numeral(n.group("no")) for n in listed]
            if (no is None or suffix is None or None in numbers or text[m.end():m.end() + 1] in _NOT_ARTICLE_AFTER
                    or _OWN_LIST_AFTER.match(text, m.end())):
                continue
            start = m.start()
            end, last_suffix, suffix = (m.end("no"), suffix, 0) if listed else (m.end(), suffix, suffix)
            if named is not None:
                cited = _of_name(named, named.start, end, no, suffix)
            elif rel_here and rel_here[0] not in ("同条", "本条", "该条"):
                if own_title is not None and rel_here[0].startswith("本"):
                    cited = Citation(rel_here[1], end, own_title, no, suffix, own=True)
                elif last_name is not None or (own_title is None and not quoted):
                    cited = _of_name(last_name, rel_here[1], end, no, suffix)
                else:
                    continue
            elif chained and prev is not None:
                cited = replace(prev, start=start, end=end, no=no, suffix=suffix, paragraph=None, item=None,
                                closes_range=ranged)
            elif (unlisted := unlisted_name(text, start)) is not None:
                if not unlisted[1]:
                    continue        # cites a document whose name cannot be told: never guessed
                cited = Citation(unlisted[0], end, unlisted[1], no, suffix, loose=True)
            elif own_title is not None:
                cited = Citation(start, end, own_title, no, suffix, own=True)
            elif quoted:
                continue
            elif last_name is not None and _one_paragraph(breaks, last_name.end, start):
                cited = _of_name(last_name, start, end, no, suffix)
            elif (_CITING_BEFORE.search(text[max(0, start - 4):start])
                  or _CITING_AFTER.match(text, m.end())):
                # in a later paragraph, the document of a text that has named one only (a lecture
                # on 《信访工作条例》: 依照第三十五条 under its next heading); of several, none is guessed
                cited = _of_name(last_name if len(named_before) == 1 else None, start, end, no, suffix)
            else:
                continue
            further = [replace(cited, start=n.start("at"), end=n.end(), no=k, closes_range=closes_range(n))
                       for n, k in zip(listed, numbers)]
            if further:
                *firsts, cited = [cited, *further]
                cited = replace(cited, end=m.end(), suffix=last_suffix)
                out.extend(firsts)
            found, prev_end = _with_parts(text, m.end(), cited)
            out.extend(found)
            prev = found[-1]
            continue
        # a 款 or 项 with no article before it: of the article in context
        same_paragraph = prev is not None and _one_paragraph(breaks, prev_end, m.start())
        base = _context_article(rel_here, chained, prev, own_title, own_article, quoted, same_paragraph)
        if base is None:
            continue
        start = rel_here[1] if rel_here else m.start()
        if m.group("para"):
            cited = replace(base, start=start, end=m.end(), paragraph=_numeral(m.group("pno")), item=None,
                            closes_range=ranged)
        else:
            cited = replace(base, start=start, end=m.end(), item=_numeral(m.group("ino")), closes_range=ranged)
        if cited.paragraph is None and m.group("para") or cited.item is None and m.group("item"):
            continue        # a numeral out of range
        found, prev_end = _with_parts(text, m.end(), cited)
        out.extend(found)
        prev = found[-1]
    return out


def unlisted_name(text: str, start: int) -> tuple[int, str] | None:
    """(start, name) of a document name no matcher knows, written without 书名号 right before
    `start` (依照治安管理处罚法|第十条); (start, "") when what is there is too short to be one; None
    when there is none. The name may still carry words leading into it."""
    lo, end = max(0, start - UNLISTED_WINDOW), start
    while end > lo and text[end - 1].isspace():
        end -= 1
    word = _UNLISTED_END.search(text, max(lo, end - _UNLISTED_END_CHARS), end)
    while word:
        before = text[max(lo, word.start() - _UNLISTED_RUN):word.start()]
        name_start = word.start() - _NAME_RUN.match(before[::-1]).end()
        if name_start < word.start():
            break
        word = _UNLISTED_END.search(text, word.start() + 1, end)     # 办法 alone: 办 is the name, 法 its word
    else:
        return None
    name = text[name_start:end]
    title_end = _ABOUT_TITLE_END.search(name)
    about = name.find("关于", 0, title_end.start()) if title_end else -1
    if about < 0 and (over := word.start() - name_start - _OTHER_NAME_REACH) > 0:
        name, name_start = name[over:], name_start + over
    country = name.find(COUNTRY)
    own_from = min(p for p in (country, about, len(name)) if p >= 0)
    leads = [lead for lead in _LEAD_WORDS.finditer(name, 0, own_from)
             if not (about >= 0 and lead.group() == "、" and name[lead.start() - 1:lead.start()] in _ISSUER_ENDS)]
    if own_from == country:
        name, name_start = name[country:], name_start + country
    elif leads:
        name, name_start = name[leads[-1].end():], name_start + leads[-1].end()
    if _OWN_NAME.fullmatch(name):
        return None
    return (name_start, name) if len(name) >= MIN_ALIAS_CHARS else (name_start, "")


# More 款 or 项 sharing one 第…款/项: "第一、二款", "第（一）、（二）项", "第（一）至（三）项".
_MORE_PARTS = rf"(?:\s*+(?:{_NUMBER_GLUE})\s*+{_OPEN}?\s*+{_NUM}\s*+{_CLOSE}?)*+"
_PART = re.compile(rf"\s*+(?:第\s*+(?P<pno>{_NUM})(?P<pmore>{_MORE_PARTS})\s*+款)?"
                   rf"(?:\s*+第\s*+{_OPEN}?\s*+(?P<ino>{_NUM})\s*+{_CLOSE}?(?P<imore>{_MORE_PARTS})\s*+项)?")
# One further number of such a list (matched over its group): the glue before it (a range's 至 …), and
# the number as written (`at`, with its brackets).
LISTED_NUMBER = re.compile(rf"(?<!\s)\s*+(?P<glue>{_NUMBER_GLUE})"
                           rf"\s*+(?P<at>(?:{_OPEN}\s*+)?(?P<no>{_NUM})(?:\s*+{_CLOSE})?)")


def closes_range(listed: re.Match) -> bool:
    """Whether a further number of a list (`LISTED_NUMBER`) ends a range: 第一至三款."""
    return RANGE_GLUE.fullmatch(listed.group("glue")) is not None


def _glued(glue: re.Pattern, text: str, start: int, end: int) -> bool:
    """Whether only `glue` stands between `start` and `end` (a few characters at most)."""
    return 0 <= end - start <= MAX_GLUE and glue.fullmatch(text, start, end) is not None


def _with_parts(text: str, end: int, cited: Citation) -> tuple[list[Citation], int]:
    """`cited` extended by the 款 and 项 written right after it ("第三十三条第二款第（一）项"), and one
    more citation of the same article for each further 款 or 项 sharing that 第…款/项
    ("第三十一条第（一）、（二）项": the first spans up to "第（一）", the second "（二）项"), with the
    end of what was read."""
    m = _PART.match(text, end)
    if not m or m.end() == end or not (m.group("pno") or m.group("ino")):
        return [cited], end
    paragraph = _numeral(m.group("pno")) if m.group("pno") else cited.paragraph
    item = _numeral(m.group("ino")) if m.group("ino") else None
    if (m.group("pno") and paragraph is None) or (m.group("ino") and item is None):
        return [cited], end
    more = [group for group in ("pmore", "imore") if m.group(group)]
    found = [replace(cited, end=m.start(more[0]) if more else m.end(), paragraph=paragraph, item=item)]
    for group in more:
        field, unit = ("paragraph", "款") if group == "pmore" else ("item", "项")
        listed = list(LISTED_NUMBER.finditer(text, m.start(group), m.end(group)))
        for k, n in enumerate(listed):
            number = _numeral(n.group("no"))
            if number is None:
                continue
            # the last one of the list takes the 款/项 after it, so the spans tile what was written
            stop = text.index(unit, n.end()) + 1 if k == len(listed) - 1 else n.end()
            parts = {"paragraph": paragraph, "item": None, field: number}
            found.append(replace(cited, start=n.start("at"), end=stop, closes_range=closes_range(n), **parts))
    return found, m.end()


def _context_article(rel: tuple[str, int, int] | None, chained: bool, prev: Citation | None,
                     own_title: str | None, own_article: tuple[int, int] | None, quoted: bool,
                     same_paragraph: bool) -> Citation | None:
    """The article a 款 or 项 written without one belongs to: the one cited just before (a list,
    同条, or in a lecture the last one cited in the paragraph), or the citing article itself (本条,
    or a bare 第二款 inside an ingested article)."""
    if (chained or (rel and rel[0] in ("同条", "该条", "其", "其中"))) and prev is not None:
        return prev
    if own_title is not None and own_article is not None and (rel is None or rel[0] in ("本条", "同条", "其中")):
        # no 款: a 项 of the citing article is of its list, whichever 款 holds it (本条第（一）项)
        return Citation(0, 0, own_title, own_article[0], own_article[1], own=True)
    if own_title is None and prev is not None and not quoted and ((rel and rel[0] == "本条")
                                                                  or (rel is None and same_paragraph)):
        return prev
    return None


def _relative(word: str, m: re.Match, prev: Citation | None, own_title: str | None,
              own_article: tuple[int, int] | None, own_paragraph: int | None, quoted: bool) -> Citation | None:
    """前款 / 前条 / 本款: relative to the citing article (`own_*`), or in a lecture to the provision
    cited just before."""
    if own_title is not None and own_article is not None:
        base = Citation(0, 0, own_title, own_article[0], own_article[1], own_paragraph, own=True)
    elif prev is not None and not quoted:
        base = prev
    else:
        return None
    no, suffix, paragraph = base.no, base.suffix, base.paragraph
    if word == "前条":
        if suffix:
            suffix -= 1
        elif no > 1:
            no -= 1
        else:
            return None
        paragraph = None
    elif word == "前款":
        if not paragraph or paragraph < 2:
            return None
        paragraph -= 1
    elif not paragraph:
        return None
    return replace(base, start=m.start(), end=m.end(), no=no, suffix=suffix, paragraph=paragraph, item=None)
