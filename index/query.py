"""Query understanding, pure: article references, document names and colloquial wording.

- References such as `信访工作条例第三十三条`, `《人民调解法》第十七条`, `民法典1165条`,
  `刑法第一百二十条之一`, `第十条至第十二条` are resolved to (document keys, number, suffix) so the
  searcher can put those articles first. A bare `第33条` is attached to the only document
  named in the query, or left for the searcher to resolve against a one-document filter.
  Parts, chapters and sections (`信访工作条例第四章`, `刑法第二编第三章`) likewise.
- Document names are found by `kb.citations.TitleMatcher`, whose aliases are derived from the titles
  themselves (`kb.chinese.title_key` drops 中华人民共和国 and quotes; trailing notes such as
  （试行）/（2020年修正） are dropped too), so no list of the corpus is written by hand.
- Places whose rules a question asks for (上海对重复信访怎么规定, 成都有没有…的办法; not
  去北京上访) are found by `kb.places.PlaceMatcher`, outside the document names.
- Colloquial words are mapped to statute wording (上访 → 信访) by the table in
  `index/data/expansions.txt`.
"""
from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from index.tokenize import DATA_DIR, read_word_list
from kb.chinese import (CN_NUMERAL_CHARS, MAX_NUMERAL, cn_to_int, doc_numbers_in, int_to_cn, lookalike_table,
                        to_simplified)
from kb.citations import (COUNTRY, DOC_WORD_ALONE, LISTED_NUMBER, MORE_NUMBERS, RANGE_GLUE, Mention, TitleMatcher,
                          bare_key, closes_range, unlisted_name, version_hint)
from kb.errors import QueryError
from kb.places import PlaceMatcher

EXPANSIONS = DATA_DIR / "expansions.txt"

MAX_SLIPS = 3           # articles whose preceding words are tried as a name typed one character off
MIN_TOPIC_CHARS = 2     # a question's topic without its document names needs this many letters to be searched
MAX_RANGE = 30          # "第一条至第九十条" is a range a person types by mistake; cap the expansion

# Possessive runs, and a numeral starts only where no numeral character precedes it: otherwise a
# long run of digits is rescanned from each of its positions (a 16,000-digit query took seconds).
_NUM = rf"(?:\d++|[{CN_NUMERAL_CHARS}]++)"
# 第三十五、三十六条 and 第三至五条 list further numbers under one 第…条 (group "more"), only after a 第:
# from every number of 9-9-9-9… the list would be scanned again to its end.
_ARTICLE = re.compile(rf"(第\s*+)?(?<![\d{CN_NUMERAL_CHARS}])({_NUM})(?(1)(?P<more>{MORE_NUMBERS}))\s*+条"
                      rf"(?:\s*+之\s*+({_NUM}))?"
                      rf"(?:\s*+第\s*+({_NUM})\s*+款)?(?:\s*+第\s*+[（(]?\s*+({_NUM})\s*+[）)]?\s*+项)?"
                      rf"(?:\s*+第\s*+{_NUM}\s*+[款项])*+")
# A part, chapter or section by number (第二编, 第四章, 第一节): in a question, and at the start of
# a stored heading ("第四章 信访事项的办理").
_DIVISION = re.compile(rf"第\s*+({_NUM})\s*+(分编|编|章|节)")
# What may stand between a document name and its article, or between two listed articles.
_GLUE_CHARS = r"[\s》>\"”“'的中、，,和及与或以]"
_GLUE = re.compile(rf"{_GLUE_CHARS}*")
# ... and between a document name and an article of one of its chapters (信访工作条例第四章第三十条)
_GLUE_OR_DIVISION = re.compile(rf"(?:{_GLUE_CHARS}++|{_DIVISION.pattern})*+")
# ... and between a document name and a chapter of one of its parts named by name (民法典婚姻家庭编第二章)
_GLUE_OR_PART = re.compile(rf"{_GLUE_CHARS}*+(?P<part>[\u4e00-\u9fff]{{1,8}}?编|总则|附则)?{_GLUE_CHARS}*+")


# Words that ask about the text in force beside an older version the question names ("以前的…说60天内
#申请，修订后变了没有？"): the older one is searched, the text in force shown first.
_ASKS_CURRENT = re.compile(r"修订后|修正后|修改后|现行|现在|目前|如今|新的|新法|变了|变化|改了|改成|区别|不同|差别")


# Words that ask how a document is laid out: "信访工作条例有几章", "…一共多少条", "…的结构"; answered
# for up to `MAX_OUTLINES` documents named (信访条例和信访工作条例各有几章).
MAX_OUTLINES = 3
_ASKS_OUTLINE = re.compile(r"(?<!哪)(?:几|多少)个?(?:编|章|条)|目录|结构|框架|体例|(?:哪|几)(?:几|些)?(?:个)?部分")


# A name in title marks, as people type them: 《民法典》, 《 信访工作条例 》 (bounded, no nesting).
_BRACKETED = re.compile(r"《([^《》\n]{1,100}+)》")


# A name typed without 《》 before an article (劳动合同法第十条, 劳动合同法10条: `unlisted_name`
# reads it) less a question's first words (我想问, 新的) and more than a word alone (违反规定第十条);
# a known name with a word calling it the text in force (新信访条例) is no other name. (新 alone is
# not cut from a name's start: 新疆维吾尔自治区…, 新闻出版….)
_LEAD_IN = re.compile(r"(?:我?想问(?:一下)?|请问|问一下|问下|查一下|查询|看看)?(?:(?:最?新|现行|现在|目前)的)?")
_CURRENT_WORDS = re.compile(r"(?:最?新|现行|现在|目前)的?")
# Before and after a name a question opens with (《中华人民共和国民法典》, 人民调解法和法律援助法), and the
# words of scope after the names (…对, 中, 里, 关于, 规定, 怎么, 有没有 …): `_topic`.
_NAME_OPENING = re.compile(rf"[\s、和与及《]*+(?:{COUNTRY})?")
_NAME_CLOSING = re.compile(r"》?\s*+")
_SCOPE = re.compile(r"对于|对|中|里|关于|有关|规定|是怎么|怎么|有没有|有哪些|有什么|哪")


def _uncovered(text: str, start: int, end: int, mentions: Sequence[Mention], ends: Sequence[int]) -> str:
    """The characters of `text[start:end]` that no mention (of `mentions`, sorted and disjoint,
    ending at `ends`) with its version hint (原, 2017年修正的) covers."""
    rest, at = [], start
    for m in mentions[bisect.bisect_right(ends, start):]:      # bisect: each mention is visited once
        if m.start >= end:
            break
        hint = version_hint(text, m.start, m.end)
        rest.append(text[at:max(at, hint.start)])
        at = max(at, hint.end)
    rest.append(text[at:end])
    return "".join(rest)


def unknown_names(text: str, mentions: Sequence[Mention]) -> dict[int, str]:
    """Names of documents the knowledge base lacks, by the position after them: those `text`
    puts in 《》 (the position after 》), and those typed without marks right before an article
    (劳动合同法第十条, when only 合同法 is known).

    A name is known when the `mentions` found in it (`TitleMatcher.find`, sorted and disjoint)
    cover all of it but 中华人民共和国 and a version note (（2017年修正）, 原). 《信访工作条例实施细则》
    holds the name 信访工作条例 and is another document.
    """
    ends = [m.end for m in mentions]
    out = {}
    for b in _BRACKETED.finditer(text):
        name = b.group(1).strip()
        if name and bare_key(_uncovered(text, b.start(1), b.end(1), mentions, ends)):
            out[b.end()] = name
    for a in _ARTICLE.finditer(text):
        start, name = unlisted_name(text, a.start()) or (0, "")
        lead = _LEAD_IN.match(name)
        start, name = start + lead.end(), name[lead.end():]
        end = start + len(name)
        rest = bare_key(_uncovered(text, start, end, mentions, ends)) if name else ""
        if rest and not _CURRENT_WORDS.fullmatch(rest) and not DOC_WORD_ALONE.fullmatch(name):
            out[end] = name
    return out


_SURROGATE = re.compile("[\ud800-\udfff]")


def asks_something(text: str) -> bool:
    """Whether a query has a letter or digit to search for ("？？？" has none)."""
    return any(ch.isalnum() for ch in text)


def normalise_query(text: str) -> str:
    """NFKC (full-width digits and brackets become ASCII), radicals that stand for characters made
    those characters (text copied from a PDF: ⼈⺠调解), traditional characters simplified (the
    knowledge base's texts are simplified), whitespace runs squeezed; half a surrogate pair (a
    JSON line may escape one: "\\udce5"), which no encoder takes, becomes U+FFFD."""
    text = _SURROGATE.sub("\ufffd", text).translate(lookalike_table())
    return re.sub(r"\s+", " ", to_simplified(unicodedata.normalize("NFKC", text))).strip()


@dataclass(frozen=True)
class Reference:
    """An article asked for by number. `doc_keys` empty: the query names no document for it that
    the knowledge base holds; `unknown`: the name in 《》 it follows that the knowledge base lacks
    (its article is then no other document's); `year`, `earlier`: the version its document's
    name asks for (《行政诉讼法》（2017年修正）, 原《信访条例》: `kb.citations.version_hint`);
    `paragraph`, `item`: the 款 and 项 asked for (第三十五条第二款 → 2; 第三十一条第六项 → item 6), 0
    for none."""
    doc_keys: tuple[str, ...]
    no: int
    suffix: int = 0
    unknown: str = ""
    year: str = ""
    earlier: bool = False
    paragraph: int = 0
    item: int = 0


@dataclass(frozen=True)
class DivisionReference:
    """A part, chapter or section asked for by number: 信访工作条例第四章, 刑法第二编第三章.
    `divisions`: (kind, number) pairs, outermost first; `doc_keys`, `year`, `earlier` as for
    `Reference` (`doc_keys` empty: no document named for it); `part`: the part named before them
    (民法典婚姻家庭编第二章 → 婚姻家庭编), "" for none."""
    doc_keys: tuple[str, ...]
    divisions: tuple[tuple[str, int], ...]
    year: str = ""
    earlier: bool = False
    part: str = ""

    @property
    def label(self) -> str:
        """第二编第三章, 婚姻家庭编第二章."""
        return self.part + "".join(f"第{int_to_cn(n)}{kind}" for kind, n in self.divisions)


def division_of(heading: str) -> tuple[str, int] | None:
    """(kind, number) of a heading that starts with a numbered division ("第四章 信访事项的办理"
    → ("章", 4)), else None."""
    m = _DIVISION.match(heading)
    n = _numeral(m.group(1)) if m else None
    return (m.group(2), n) if m and n else None


def _name_end_before(text: str, ends: Sequence[int], start: int, glue: re.Pattern) -> int | None:
    """The end of the last document name (`ends`, sorted) before `start`, if only `glue` stands
    between them, else None. Matched in place: a slice per reference copied the text since the
    last name (quadratic)."""
    i = bisect.bisect_right(ends, start) - 1
    return ends[i] if i >= 0 and glue.fullmatch(text, ends[i], start) else None


def division_path(headings: Sequence[str], divisions: Sequence[tuple[str, int]]) -> tuple[str, ...] | None:
    """The headings of an article down to the last of `divisions`, if they hold all of them in
    order ((编 2, 章 3) in 第二编 分则 › 第三章 › 第一节 → the first two headings), else None."""
    want = 0
    for i, heading in enumerate(headings):
        if division_of(heading) == divisions[want]:
            want += 1
            if want == len(divisions):
                return tuple(headings[:i + 1])
    return None


@dataclass(frozen=True)
class NamedVersion:
    """A document named with the version meant (`kb.citations.version_hint`): 2017年修正的《行政复议法》
    (`year` "2017"), 原《行政复议法》 (`earlier`)."""
    doc_keys: tuple[str, ...]
    year: str = ""
    earlier: bool = False


_UNNAMED = NamedVersion(())      # what a number with no document named before it takes


def find_divisions(text: str, mentions: Sequence[Mention]) -> list[DivisionReference]:
    """Parts, chapters and sections asked for in `text`, each attached to the document name just
    before it ("信访工作条例第四章", "《刑法》第二编第三章"); adjacent ones are one reference."""
    anchors = _name_anchors(text, mentions)
    ends = sorted(anchors)
    refs: list[DivisionReference] = []
    chain: list[tuple[str, int]] = []
    owner, part = _UNNAMED, ""
    chain_end = -1
    for m in _DIVISION.finditer(text):
        n = _numeral(m.group(1))
        if n is None or n == 0:
            continue
        if chain and text[chain_end:m.start()].strip() == "":
            chain.append((m.group(2), n))
            chain_end = m.end()
            continue
        listed = chain and _GLUE.fullmatch(text, chain_end, m.start()) is not None    # 第四章和第五章
        if chain:
            refs.append(DivisionReference(owner.doc_keys, tuple(chain), owner.year, owner.earlier, part))
        end = _name_end_before(text, ends, m.start(), _GLUE_OR_PART)
        if end is not None:
            owner, part = anchors[end], _GLUE_OR_PART.fullmatch(text, end, m.start()).group("part") or ""
        elif not listed:
            owner, part = _UNNAMED, ""
        chain, chain_end = [(m.group(2), n)], m.end()
    if chain:
        refs.append(DivisionReference(owner.doc_keys, tuple(chain), owner.year, owner.earlier, part))
    return refs


def _name_anchors(text: str, mentions: Sequence[Mention]) -> dict[int, NamedVersion]:
    """The end of each document name (or of its version note: 《…》（2017年修正）) → what the
    articles and chapters numbered right after it take: the document and the version asked for."""
    anchors = {}
    for m in mentions:
        hint = version_hint(text, m.start, m.end)
        anchors[hint.end] = NamedVersion(m.doc_keys, hint.year, hint.earlier)
    return anchors


def named_versions(text: str, mentions: Sequence[Mention]) -> list[NamedVersion]:
    """The documents `text` names with a version hint, in order, each once."""
    return list(dict.fromkeys(n for n in _name_anchors(text, mentions).values() if n.year or n.earlier))


@dataclass(frozen=True)
class ParsedQuery:
    text: str                               # the normalised query
    references: tuple[Reference, ...] = ()
    mentioned: tuple[str, ...] = ()         # keys of documents named in the query
    expansions: tuple[str, ...] = ()        # statute wording added for colloquial words
    unknown: tuple[str, ...] = ()           # names the knowledge base lacks (`unknown_names`), repealed titles
    places: tuple[str, ...] = ()            # regions whose rules it asks for: 上海对…怎么规定 → "上海市"
    divisions: tuple[DivisionReference, ...] = ()   # parts, chapters, sections asked for by number
    versions: tuple[NamedVersion, ...] = ()   # documents named with a version: 原《行政复议法》, 2017年的…
    asks_current: bool = False              # ... and the text in force asked about too: 修订后变了没有
    asks_outline: bool = False              # how the documents named are laid out: 信访工作条例有几章
    # What a question that opens with the names of documents asks about them (信访工作条例对重复信访是
    # 怎么规定的 → 对重复信访是怎么规定的: `_topic`), "" when it does not or asks for articles by number:
    # the names choose the documents (a boost), and their words matched each one's opening and
    # closing articles (为了……制定本条例, 本条例自……施行) over the clause asked about.
    topic: str = ""
    # Names typed one character off and read as the known one (人民调节法 → 人民调解法): (typed, known)
    corrected: tuple[tuple[str, str], ...] = ()
    doc_numbers: tuple[str, ...] = ()       # 文号 asked for: 国办发〔2013〕1号 (`kb.chinese.doc_numbers_in`)

    @property
    def scored_text(self) -> str:
        """The text the retrievers score: `topic`, else the whole text."""
        return self.topic or self.text

    def resolve(self, doc_keys: tuple[str, ...]) -> "ParsedQuery":
        """Attach references that name no document to `doc_keys` (e.g. a one-document filter)."""
        refs = tuple(Reference(doc_keys, r.no, r.suffix) if not r.doc_keys and not r.unknown else r
                     for r in self.references)
        divisions = tuple(replace(d, doc_keys=d.doc_keys or doc_keys) for d in self.divisions)
        return replace(self, references=refs, divisions=divisions)


def _numeral(text: str) -> int | None:
    """The number, or None for no numeral or one no article can have (over `MAX_NUMERAL`)."""
    try:
        n = cn_to_int(text)
    except ValueError:
        return None
    return n if n <= MAX_NUMERAL else None


def _repealed_names(text: str, repealed: TitleMatcher, mentions: Sequence[Mention], unknown: Mapping[int, str]
                    ) -> dict[int, str]:
    """The titles `repealed` knows that `text` names outside the names already found (of the
    knowledge base, `mentions`, and in 《》, `unknown`: 《婚姻法》 is one already), by their end."""
    taken = _unknown_spans(text, unknown)
    for m in mentions:
        taken[m.start:m.end] = b"\1" * (m.end - m.start)
    return {m.end: m.doc_keys[0] for m in repealed.find(text) if not any(taken[m.start:m.end])}


def _unknown_spans(text: str, unknown: Mapping[int, str]) -> bytearray:
    """Per character of `text`, 1 inside a name `unknown_names` found (its 《》 too)."""
    taken = bytearray(len(text) + 1)
    for end, name in unknown.items():
        opening = text.rfind("《", 0, end) if text[end - 1] == "》" else end - len(name)
        taken[opening:end] = b"\1" * (end - opening)
    return taken


def find_references(text: str, mentions: list[Mention], unknown: Mapping[int, str] | None = None) -> list[Reference]:
    """Article references in `text`, each attached to the document name just before it.

    A reference needs "第" unless it follows a document name directly ("民法典1165条").
    Lists ("第十条、第十二条", "第三十五、三十六条") share the document; ranges ("第十条至第十二条",
    "第十至十二条") are expanded.
    A name in 《》 the knowledge base lacks (`unknown`: `unknown_names(text, mentions)`, found
    here when not given) anchors its references too: they say so (`Reference.unknown`) and are
    attached to nothing.
    """
    refs: list[Reference] = []
    # a name's articles take its document and version (a name in 《》 the knowledge base lacks: that name)
    anchors = {end: (named, "") for end, named in _name_anchors(text, mentions).items()}
    unknown = unknown_names(text, mentions) if unknown is None else unknown
    anchors.update((end, (_UNNAMED, name)) for end, name in unknown.items())
    # only the nearest name before a reference can be glued to it (a name is not glue): bisect
    # keeps a query of thousands of names and references linear
    ends = sorted(anchors)
    prev_end, prev_owner, prev_no = -1, (_UNNAMED, ""), None
    for m in _ARTICLE.finditer(text):
        no, suffix = _numeral(m.group(2)), _numeral(m.group(4)) if m.group(4) else 0
        paragraph, item = ((_numeral(m.group(g)) or 0) if m.group(g) else 0 for g in (5, 6))
        further = [(_numeral(n.group("no")), closes_range(n))
                   for n in (LISTED_NUMBER.finditer(text, *m.span("more")) if m.group("more") else ())]
        if no is None or suffix is None or no == 0 or not all(n for n, _ in further):
            continue
        owner, attached = (_UNNAMED, ""), False
        # RANGE_GLUE's look-behind sees the end of the reference before, never a space
        end = _name_end_before(text, ends, m.start(), _GLUE_OR_DIVISION)
        if end is not None:
            owner, attached = anchors[end], True
        chained = prev_end >= 0 and _GLUE.fullmatch(text, prev_end, m.start()) is not None
        is_range = prev_end >= 0 and RANGE_GLUE.fullmatch(text, prev_end, m.start()) is not None
        if not attached and (chained or is_range):
            owner, attached = prev_owner, True
        named, lacked = owner
        if not m.group(1) and not (attached and named.doc_keys) and not _reference_alone(text, m):
            continue
        listed = [(no, is_range), *further]     # the 款, 项 and 之一 after 条 are the last number's
        for k, (n, ranged) in enumerate(listed):
            before = listed[k - 1][0] if k else prev_no
            if ranged and before is not None and before < n <= before + MAX_RANGE:
                refs.extend(Reference(named.doc_keys, between, 0, lacked, named.year, named.earlier)
                            for between in range(before + 1, n))
            parts = (suffix, paragraph, item) if k == len(listed) - 1 else (0, 0, 0)
            refs.append(Reference(named.doc_keys, n, parts[0], lacked, named.year, named.earlier, *parts[1:]))
        prev_end, prev_owner, prev_no = m.end(), owner, listed[-1][0]
    if not refs and len(mentions) == 1:
        refs.extend(_number_alone_after(text, mentions[0]))
    return refs


_QUERY_END = "?？。.!！"        # what may end a query that is nothing but a reference


def _reference_alone(text: str, m: re.Match) -> bool:
    """Whether the query is the article reference `m` and nothing else: "36条" without 第 is one
    too (the document from the filter, or a notice asks for it); in a sentence a number of 条 is a
    count: 他提了3条意见."""
    return not text[:m.start()].strip() and not text[m.end():].strip(" " + _QUERY_END)


# A query of a name and a number alone asks for that article, as people type it quickly:
# "信访工作条例 35", "《民法典》1165", "人民调解法第十七". (Starts only where a run of spaces and 》
# does: one tried inside the run would rescan it.)
_NUMBER_ALONE = re.compile(rf"(?<![\s》])[\s》]*+第?\s*+({_NUM})\s*+[{_QUERY_END}]*+")


def _number_alone_after(text: str, mention: Mention) -> list[Reference]:
    """The article `text` asks for when it holds nothing but the name (with its version hint) and
    a number after it."""
    hint = version_hint(text, mention.start, mention.end)
    m = None if text[:hint.start].strip("《 ") else _NUMBER_ALONE.fullmatch(text, hint.end)
    no = _numeral(m.group(1)) if m else None
    return [Reference(mention.doc_keys, no, 0, "", hint.year, hint.earlier)] if no else []


def load_expansions(path: Path = EXPANSIONS) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The colloquial → statute wording table: lines `口语词 = 法律用语 法律用语`.

    Raises:
        ConfigError: if the file cannot be read.
        QueryError: if a line is not of the form `words = words`.
    """
    table = []
    for fields in read_word_list(path):
        if len(fields) < 3 or fields[1] != "=":
            raise QueryError(f"{path}: bad expansion line {' '.join(fields)!r} (expected: 口语词 = 法律用语 ...)")
        table.append((fields[0], tuple(fields[2:])))
    return tuple(table)


def expand(text: str, table: Iterable[tuple[str, tuple[str, ...]]]) -> tuple[str, ...]:
    """Statute terms for the colloquial words in `text`, skipping terms the text already holds."""
    added: list[str] = []
    for colloquial, terms in table:
        if colloquial in text:
            added.extend(t for t in terms if t not in text and t not in added)
    return tuple(added)


def _topic(text: str, mentions: Sequence[Mention]) -> str:
    """What a question that opens with the names of documents asks about them: the text after the
    names when a word of scope follows them (信访工作条例对重复信访是怎么规定的 → 对重复信访是怎么规定的,
    《民法典》中…, 人民调解法和法律援助法里…); "" otherwise, or when too little is left to search for.

    Only there: inside a question a law's name is often what it asks about (受著作权法保护吗, 违反劳动法
    规定), and the answer may be in another text (measured on the evaluation questions that name a
    document: dropping every name lost most of STARD's answers from the first 100)."""
    at = _LEAD_IN.match(text).end()
    named = False
    for m in sorted(mentions, key=lambda m: m.start):
        opening = _NAME_OPENING.match(text, at)
        if m.start != opening.end():
            break
        at, named = _NAME_CLOSING.match(text, m.end).end(), True
    scope = _SCOPE.match(text, at) if named else None
    if scope is None:
        return ""
    topic = text[scope.start():].strip()
    return topic if sum(ch.isalnum() for ch in topic) >= MIN_TOPIC_CHARS else ""


def _slips(text: str, mentions: Sequence[Mention], unknown: Mapping[int, str], references: Sequence[Reference],
           titles: TitleMatcher, repealed: TitleMatcher | None = None) -> list[tuple[int, str, str]]:
    """(start, typed, known) of the document names `text` holds one character off (`TitleMatcher.near`):
    a name the knowledge base lacks (`unknown`: in 《》, or before its article: 人民调节法第十七条), and,
    when an article has no name (`references`), the characters right before it (信访工作条列第三十五条).
    At most `MAX_SLIPS` articles are tried so: each tries every length of name. A repealed text
    `repealed` knows is no slip (社区纠纷调解试行办法 is not the 暂行办法 held, one character off)."""
    found: dict[int, tuple[int, str, str]] = {}
    near = {name: None if repealed and repealed.knows(name) else titles.near(name)
            for name in set(unknown.values())}
    for end, name in unknown.items():
        if near[name] is not None and (start := text.rfind(name, 0, end)) >= 0:
            found[start] = (start, name, near[name])
    if not any(not r.doc_keys and not r.unknown for r in references):
        return sorted(found.values())
    ends = {m.end for m in mentions}
    tried = 0
    for m in _ARTICLE.finditer(text):
        before = m.start()
        while before > 0 and text[before - 1] in " 》的中":
            before -= 1
        if before in ends or any(start <= before <= start + len(typed) for start, typed, _ in found.values()):
            continue
        if (near := titles.near_ending_at(text, before)) is not None:
            found[near[0]] = (near[0], text[near[0]:before], near[1])
        tried += 1
        if tried == MAX_SLIPS:
            break
    return sorted(found.values())


def parse_query(text: str, titles: TitleMatcher | None = None,
                expansions: Iterable[tuple[str, tuple[str, ...]]] = (), places: PlaceMatcher | None = None,
                repealed: TitleMatcher | None = None) -> ParsedQuery:
    """Understand a query: references, named documents, the places whose rules it asks for and
    expansion terms. `repealed` knows the titles stored texts declare repealed whose own text is
    not held (婚姻法): named, they are names the knowledge base lacks, as one in 《》 is.

    Raises:
        QueryError: if the query is empty or has no letter or digit.
    """
    text = normalise_query(text)
    if not asks_something(text):                      # "？？？": no arbitrary list for it
        raise QueryError("empty query: type a question or a reference such as 信访工作条例第三十三条")
    parsed, mentions, unknown = _understand(text, titles, expansions, places, repealed)
    slips = _slips(text, mentions, unknown, parsed.references, titles, repealed) if titles else []
    if slips:
        for start, typed, known in slips:       # one character for one: the positions stay
            text = text[:start] + known + text[start + len(typed):]
        parsed, _, _ = _understand(text, titles, expansions, places, repealed)
        parsed = replace(parsed, corrected=tuple((typed, known) for _, typed, known in slips))
    return parsed.resolve(parsed.mentioned) if len(parsed.mentioned) == 1 else parsed


def _understand(text: str, titles: TitleMatcher | None, expansions: Iterable[tuple[str, tuple[str, ...]]],
                places: PlaceMatcher | None, repealed: TitleMatcher | None
                ) -> tuple[ParsedQuery, list[Mention], dict[int, str]]:
    """`parse_query` of a normalised text, before references that name no document are given the
    one it names; with the names found and those the knowledge base lacks (end → name)."""
    mentions = titles.find(text) if titles else []
    unknown = unknown_names(text, mentions)
    if repealed is not None:
        unknown.update(_repealed_names(text, repealed, mentions, unknown))
    # a known name inside one the knowledge base lacks (信访条例 of 四川省信访条例) is not asked about
    inside_unknown = _unknown_spans(text, unknown)
    mentioned = tuple(dict.fromkeys(k for m in mentions if not any(inside_unknown[m.start:m.end]) for k in m.doc_keys))
    named = places.find(text, [(m.start, m.end) for m in mentions]) if places else []
    versions = tuple(named_versions(text, mentions))
    references = tuple(dict.fromkeys(find_references(text, mentions, unknown)))
    divisions = tuple(dict.fromkeys(find_divisions(text, mentions)))
    # "信访工作条例第四章有几条" asks about the chapter (its notice counts them), not the whole text
    outline = (0 < len(mentioned) <= MAX_OUTLINES and not references and not divisions
               and _ASKS_OUTLINE.search(text) is not None)
    topic = "" if references or divisions else _topic(text, [m for m in mentions if m.doc_keys[0] in mentioned])
    parsed = ParsedQuery(text, references, mentioned, expand(text, expansions), tuple(dict.fromkeys(unknown.values())),
                         tuple(dict.fromkeys(p.region for p in named if p.asks_for_rules)), divisions, versions,
                         bool(versions) and _ASKS_CURRENT.search(text) is not None, outline, topic,
                         doc_numbers=doc_numbers_in(text))
    return parsed, mentions, unknown

