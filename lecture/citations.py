"""引用核对: every citation in a lecture draft or a trainee's report checked against the knowledge base.

`check_text(text, lookup)` finds the citations (`kb.citations.parse_citations`) and gives each a
verdict (`VERDICTS`). The verdict logic is pure over a small `Lookup` interface; `StoreLookup`
answers it from a knowledge base (`ingest.store.Store`), and `check_file` reads a file with the
ingestion loaders without storing anything.

How a citation is judged, in order:
1. its document: named, or in context (本条例, 该法 …); unknown → `unknown_document` unless a
   stored text declares it repealed (《婚姻法》 by 《民法典》第一千二百六十条) → `not_current`;
   several documents answer to a short name → `ambiguous`;
2. the version: the one a hint names (2017年修正的…, 原《…》), else the one in force;
3. 条, 款, 项 in that version → `article_not_found` / `paragraph_not_found` / `item_not_found`;
4. a quotation just before or after it (“…”, 「…」, or after 规定：) compared with the text: one
   that matches an older version better → `not_current`; any other difference → `quote_mismatch`;
5. a version not in force (an older version, a document replaced or repealed) → `not_current`,
   with the corresponding article of the text in force (aligned by `index.compare`).
"""
from __future__ import annotations

import difflib
import functools
import re
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from rapidfuzz.distance import LCSseq

from index.compare import char_diff, compare
from ingest.deadlines import period_text, written_limits
from ingest.loaders import load_file
from ingest.store import Store, open_store
from kb.chinese import ARTICLE_REF, article_label, book_title, lookalike_table, title_key, to_simplified
from kb.citations import (ABBREVIATIONS, DOC_WORD_ALONE, QUOTE_PAIRS, Citation, TitleMatcher, alias_index,
                          cited_text, fallback_key, missing_part, part_label, parse_citations, version_asked)
from kb.errors import IngestError
from lecture.pack import PackClause, clause_from_article

CHECK_EXTENSIONS = (".docx", ".md", ".markdown", ".txt")    # lecture drafts and reports
# A lecture draft or case report is far shorter (about 150 pages); a longer text held the app for
# seconds to minutes (finding names is linear but slow: ~5 µs a character).
MAX_CHECK_CHARS = 300_000
# How far from a citation a time limit the text states is read (a sentence is rarely longer): the
# reading stays linear however long a sentence a hostile file has.
STATED_WINDOW = 200
VERDICTS = ("ok", "old_version", "unknown_document", "article_not_found", "paragraph_not_found", "item_not_found",
            "not_current", "quote_mismatch", "period_mismatch", "ambiguous")
VERDICT_LABELS = {"ok": "正确", "old_version": "注明旧版", "unknown_document": "未知法规", "article_not_found": "条不存在",
                  "paragraph_not_found": "款不存在", "item_not_found": "项不存在", "not_current": "非现行",
                  "quote_mismatch": "引文不符", "period_mismatch": "期限不符", "ambiguous": "名称有歧义"}
# Verdicts of a citation with nothing to correct: `old_version` names a version no longer in force
# on purpose (原《信访条例》, 2005年《信访条例》: an instructor comparing old and new cites the old).
CORRECT_VERDICTS = ("ok", "old_version")
# A quotation matching an older version's article at least this well, and better than the cited
# one, is taken as a quotation of that version.
OLD_QUOTE_MIN = 0.9
MIN_SHORT_NAME = 3          # a shorter name (《条例》) is too vague to stand for the titles ending with it
AMBIGUOUS_LISTED = 8        # titles named in the message of an ambiguous citation
_NOT_TEXT = re.compile(r"[\W_]+")
# Spaces and the punctuation of Chinese text, none of which NFKC makes a letter: removed before
# NFKC, what is left (ideographs, digits) is mostly normalised already, which NFKC checks fast
# (a 1,000-character quotation: 60 µs instead of 200).
_PUNCTUATION = re.compile(r"[\s，。、；：？！“”‘’《》〈〉（）【】「」『』…—·,.;:?!\"'()\[\]]+")
_QUOTE_AFTER = re.compile(r"(?<![\s，,])[\s，,]*+(?:中)?\s*+(?:明确|也|还|则|就|专门|进一步)?\s*+"
                          rf"(?:规定|指出|明确|要求|强调|写道|表述为)?\s*+[：:，,]?\s*+(?P<open>[{''.join(QUOTE_PAIRS)}])?")
_OPENING_OF = {close: opening for opening, close in QUOTE_PAIRS.items()}
_QUOTE_BEFORE = re.compile(rf"(?P<close>[{''.join(_OPENING_OF)}])[ \t　]*+[（(，,]?[ \t　]*+(?:这是|即|系|见|参见|出自|摘自|——|—)?[ \t　]*+\Z")
QUOTE_BEFORE_WINDOW = 12
# How far a quotation is read (after a citation: on from where it starts; before one: back from
# where it ends). A provision's sentences and paragraphs are shorter (in all of lawrefbook, all but
# a handful); unbounded, each citation of a hostile draft (《X》第一条规定： repeated in one long
# sentence) read, and compared, the rest of the text.
QUOTE_WINDOW = 1_000
# Shorter quotations are terms (the “分类处理” of an article), not quotations of its text.
MIN_QUOTE_CHARS = 8
_SENTENCE_MARKS = "。；;！？!?\n"
_SENTENCE_END = re.compile(f"[{_SENTENCE_MARKS}]")
_CLAUSE_BREAK = re.compile(r"[，,：:]")
# "第三十三条 经人民调解委员会……": a quotation may start with the article's own label
_LABEL_AT_START = re.compile(rf"(?<!\s)\s*+{ARTICLE_REF.pattern}\s*+")
_SAYS = re.compile(r"规定\s*+[：:]\s*+\Z")


class Unit(Protocol):
    """An article as the checker needs it: `ingest.store.StoredArticle` fits."""
    id: int
    document_id: int
    no: int | None
    suffix: int
    label: str
    paragraphs: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class KnownVersion:
    id: int
    version_date: str
    title: str
    status: str
    years: frozenset[str]        # years of its history events (2017 for 2017年修正)


@dataclass(frozen=True)
class KnownDocument:
    id: int
    key: str
    title: str
    region: str
    versions: tuple[KnownVersion, ...]     # newest first


@dataclass(frozen=True)
class Replacement:
    """A text in force in place of a document: its successor, or the text that repealed it."""
    title: str
    version_id: int
    repealed: bool          # declared repealed (“《…》同时废止”) rather than succeeded
    since: str


class Lookup(Protocol):
    def names(self) -> TitleMatcher: ...
    def documents(self, title: str, loose: bool = False) -> list[KnownDocument]: ...
    def articles(self, version_id: int) -> Sequence[Unit]: ...
    def replacements(self, title: str, document: KnownDocument | None) -> list[Replacement]: ...
    def counterpart(self, old_version_id: int, index: int, new_version_id: int) -> Unit | None: ...


@dataclass(frozen=True)
class Counterpart:
    title: str
    article_label: str


@dataclass(frozen=True)
class CheckedCitation:
    citation: Citation
    text: str                       # the citation as written
    title: str                      # the document's title as stored, or as written when unknown
    version_date: str               # of the version checked, "" when none
    article_label: str
    verdict: str                    # one of VERDICTS
    message: str
    current: Counterpart | None = None
    quote_similarity: float | None = None
    unit: Unit | None = None        # the article checked, where one was found

    def to_json(self) -> dict:
        c = self.citation
        return {"text": self.text, "start": c.start, "end": c.end, "title": self.title,
                "version_date": self.version_date, "article_label": self.article_label,
                "paragraph": c.paragraph, "item": c.item, "verdict": self.verdict, "message": self.message,
                "current": None if self.current is None else {"title": self.current.title,
                                                              "article_label": self.current.article_label},
                "quote_similarity": self.quote_similarity}


def check_text(text: str, lookup: Lookup) -> list[CheckedCitation]:
    """A verdict for every citation in `text`, in order. A text in traditional characters is read
    as simplified (the stored texts are), and radicals as the characters they stand for (a draft
    copied from a PDF: 第⼀条), at the same positions; each citation is given as written."""
    written, text = text, to_simplified(text.translate(lookalike_table()))
    citations = parse_citations(text, lookup.names())
    ends = [0, *(c.end for c in citations)]
    starts = [*(c.start for c in citations[1:]), len(text)]
    checked = [_check(text, c, lookup, (lo, hi), until)
               for c, lo, hi, until in zip(citations, ends, starts, _quotation_ends(text, citations))]
    if written == text:
        return checked
    return [replace(c, text=written[c.citation.start:c.citation.end]) for c in checked]


def _quotation_ends(text: str, citations: Sequence[Citation]) -> list[int]:
    """Where the quotation after each citation must end at the latest: where the next citation
    that opens a quotation of its own starts (the end of the text after the last). Otherwise each
    citation of a hostile draft (《X》第一条规定： repeated) quoted the next 1,000 characters, and
    comparing them with its article took 33 s for 300,000 characters; now the quotations of a
    text never overlap, so together they are no longer than the text."""
    ends, until = [], len(text)
    for c in reversed(citations):
        ends.append(until)
        if _opening(text, c) is not None:
            until = c.start
    return ends[::-1]


def _opening(text: str, c: Citation) -> re.Match | None:
    """The match of what follows a citation when it opens a quotation (“ or 规定：), else None."""
    after = _QUOTE_AFTER.match(text, c.end)
    return after if after and (after.group("open") or _SAYS.search(text, c.end, after.end())) else None


def stated_limits(text: str, c: Citation, lo: int, hi: int) -> tuple[tuple[int, str], ...]:
    """The time limits (amount, unit) the text states with a citation: in its sentence, before and
    after it, but not past the citations next to it (`lo`: where the one before ends, `hi`: where
    the one after starts), whose provisions they belong to, nor farther than `STATED_WINDOW`."""
    floor = max(lo, c.start - STATED_WINDOW)
    start = max(floor, *(text.rfind(mark, floor, c.start) + 1 for mark in _SENTENCE_MARKS))
    ceiling = min(hi, c.end + STATED_WINDOW)
    end = _SENTENCE_END.search(text, c.end, ceiling)
    after = text[c.end:end.start() if end else ceiling]
    if _in_modifier(after):
        after = ""
    return written_limits(text[start:c.start]) + written_limits(after)


def _in_modifier(after: str) -> bool:
    """Whether the citation the text `after` follows sits in a condition or a noun's modifier
    ("符合第十条规定条件的，", "符合第十条规定的材料于五日内……"): a period after it is then the main
    clause's, not the cited provision's. "第十条的规定，", "第十条规定的期限是" do not."""
    clause = _CLAUSE_BREAK.split(after, maxsplit=1)[0]
    rest = clause.removeprefix("的").removeprefix("规定")
    return "的" in (rest.removeprefix("的期限").removeprefix("的时限"))


def report_json(checked: Sequence[CheckedCitation]) -> dict:
    """The `--json` object: {"citations": [...]}."""
    return {"citations": [c.to_json() for c in checked]}


def all_ok(checked: Sequence[CheckedCitation]) -> bool:
    return to_correct(checked) == 0


def to_correct(checked: Sequence[CheckedCitation]) -> int:
    """How many of the citations need correcting (a verdict not in `CORRECT_VERDICTS`)."""
    return sum(c.verdict not in CORRECT_VERDICTS for c in checked)


def provision(c: Citation) -> str:
    """"第三十三条第二款第一项" of a citation, as search and 复制引用 write it (and the laws:
    信访工作条例第三十四条 cites "本条例第三十一条第六项")."""
    return article_label(c.no, c.suffix) + part_label(c.paragraph or 0, c.item or 0)


def _result(text: str, c: Citation, verdict: str, message: str, title: str = "", version_date: str = "",
            current: Counterpart | None = None, similarity: float | None = None,
            unit: Unit | None = None) -> CheckedCitation:
    return CheckedCitation(c, text[c.start:c.end], title or c.title, version_date, article_label(c.no, c.suffix),
                           verdict, message, current, similarity, unit)


def _check(text: str, c: Citation, lookup: Lookup, neighbours: tuple[int, int], until: int) -> CheckedCitation:
    """The verdict on one citation; `neighbours`: where the citation before it ends and the one
    after it starts (see `stated_limits`); `until`: where a quotation after it ends at the latest."""
    cited = f"{book_title(c.title)}{provision(c)}" if c.title else provision(c)
    if not c.title:
        return _result(text, c, "unknown_document", f"{provision(c)}：前文没有写明是哪部法规")
    documents = lookup.documents(c.title, c.loose)
    if c.loose and len(documents) == 1 and c.title.endswith(documents[0].key) and c.title != documents[0].key:
        # 属于治安管理处罚法第九条: the citation starts where the name it ends with does
        c = replace(c, start=c.start + len(c.title) - len(documents[0].key), title=documents[0].key)
        cited = f"{book_title(c.title)}{provision(c)}"
    if not documents:
        gone = [r for r in lookup.replacements(c.title, None) if r.repealed]
        if gone:
            current = _repeal_clause(c.title, gone[0], lookup)
            return _result(text, c, "not_current",
                           f"{book_title(c.title)}已废止：{gone[0].since}起由{book_title(gone[0].title)}废止"
                           + (f"（见其{current.article_label}）" if current.article_label else ""), current=current)
        if DOC_WORD_ALONE.fullmatch(title_key(c.title)):       # 《条例》 with no short name declared for it
            return _result(text, c, "unknown_document", f"{book_title(c.title)}没有指明是哪部法规：首次引用全称时"
                           f"可注明（以下简称{book_title(c.title)}），或写出全称")
        near = lookup.names().near(title_key(c.title))       # 人民调节法: a slip of the input method?
        return _result(text, c, "unknown_document", f"知识库中没有{book_title(c.title)}"
                       + (f"（是否为{book_title(near)}？）" if near else ""))
    if len(documents) > 1:
        listed = "、".join(book_title(d.title) for d in documents[:AMBIGUOUS_LISTED])
        more = f"等{len(documents)}部" if len(documents) > AMBIGUOUS_LISTED else ""
        return _result(text, c, "ambiguous", f"{book_title(c.title)}可指：{listed}{more}")
    document = documents[0]
    version, note = _version(document, c)
    units = list(lookup.articles(version.id))
    index = _unit_index(units, c)
    title, date = version.title, version.version_date
    if index is None:
        older = _in_older_version(document, version, c, lookup)
        if older is not None:
            old_version, old_index = older
            current = _counterpart(old_version, old_index, version, lookup)
            return _result(text, c, "not_current",
                           f"{cited}是{_date(old_version.version_date)}版本的条文，现行版本（{_date(date)}）"
                           + (f"对应{current.article_label}" if current else "无对应条文"),
                           title, old_version.version_date, current)
        count = sum(1 for u in units if u.no is not None)
        return _result(text, c, "article_not_found",
                       f"{note}{book_title(title)}没有{article_label(c.no, c.suffix)}（共{count}条）", title, date)
    unit = units[index]
    found = functools.partial(_result, unit=unit)
    paragraphs = unit.paragraphs
    missing = missing_part(unit.label, paragraphs, c.paragraph or 0, c.item or 0)
    if missing:
        kind = "paragraph_not_found" if (c.paragraph or 0) > len(paragraphs) else "item_not_found"
        return found(text, c, kind, f"{note}{book_title(title)}{missing}", title, date)
    target = cited_text(unit.text, paragraphs, c.paragraph or 0, c.item or 0)
    quote = quotation(text, c, until)
    similarity = None
    if quote:
        similarity = round(quote_similarity(quote, target), 3)
        if similarity < 1.0:
            older = _quoted_older(document, version, c, quote, similarity, lookup)
            if older is not None:
                current = _counterpart(older, _unit_index(lookup.articles(older.id), c), version, lookup)
                return found(text, c, "not_current",
                             f"引文与{_date(older.version_date)}版本的{unit.label}一致，现行版本（{_date(date)}）"
                             + (f"对应{current.article_label}" if current else "无对应条文"),
                             title, older.version_date, current, similarity)
    # a version not in force that the draft names (原《…》, 2005年《…》) is checked as that version
    named_old = version.status != "current" and bool(c.version_year or c.earlier_version)
    if version.status != "current" and not named_old:
        current, message = _in_force(document, version, index, lookup)
        return found(text, c, "not_current", f"{note}{cited}不是现行有效的规定：{message}", title, date, current,
                     similarity)
    if quote and similarity is not None and similarity < 1.0:
        return found(text, c, "quote_mismatch", f"引文与{cited}原文不一致：{differences(quote, target)}",
                     title, date, None, similarity)
    # read only for a citation that passed every other check
    stated = stated_limits(text, c, *neighbours)
    written = written_limits(target) if stated else ()
    wrong = [period_text(*p) for p in dict.fromkeys(stated) if written and p not in written]
    if wrong:
        return found(text, c, "period_mismatch", f"文中的期限“{'、'.join(wrong)}”与{cited}不符：原文为"
                     + "、".join(period_text(*p) for p in dict.fromkeys(written)), title, date, None, similarity)
    if named_old:
        current, message = _in_force(document, version, index, lookup)
        return found(text, c, "old_version", f"{note}{cited}：所注明的旧版本核对无误；{message}", title, date, current,
                     similarity)
    return found(text, c, "ok", f"{note}{book_title(title)}{provision(c)}：现行有效，核对无误", title, date, None, similarity)


def _date(iso: str) -> str:
    return f"{iso[:4]}年{int(iso[5:7])}月{int(iso[8:10])}日" if len(iso) == 10 else (iso or "未注明日期")


def _version(document: KnownDocument, c: Citation) -> tuple[KnownVersion, str]:
    """The version a citation means and a note saying which, when it is not simply the current one."""
    versions = document.versions
    asked = version_asked(versions, c.version_year, c.earlier_version)
    if asked is None:
        return next((v for v in versions if v.status == "current"), versions[0]), ""
    if c.version_year:
        return asked, f"（按{c.version_year}年版本核对）"
    return asked, f"（按原{_date(asked.version_date)}版本核对）"


def _unit_index(units: Sequence[Unit], c: Citation) -> int | None:
    return next((i for i, u in enumerate(units) if u.no == c.no and u.suffix == c.suffix), None)


def _in_older_version(document: KnownDocument, version: KnownVersion, c: Citation, lookup: Lookup
                      ) -> tuple[KnownVersion, int] | None:
    """An older version holding the article an undated citation names, when the cited one does not."""
    if c.version_year or c.earlier_version:
        return None
    for older in document.versions:
        if older.version_date < version.version_date:
            index = _unit_index(lookup.articles(older.id), c)
            if index is not None:
                return older, index
    return None


def _quoted_older(document: KnownDocument, version: KnownVersion, c: Citation, quote: str, similarity: float,
                  lookup: Lookup) -> KnownVersion | None:
    """An older version whose same-numbered provision the quotation matches better than the cited one."""
    best, best_score = None, max(similarity, OLD_QUOTE_MIN - 1e-9)
    for older in document.versions:
        if older.version_date >= version.version_date:
            continue
        units = lookup.articles(older.id)
        index = _unit_index(units, c)
        if index is None:
            continue
        unit = units[index]
        target = unit.paragraphs[c.paragraph - 1] if c.paragraph and c.paragraph <= len(unit.paragraphs) else unit.text
        score = quote_similarity(quote, target)
        if score > best_score:
            best, best_score = older, score
    return best


def _counterpart(old: KnownVersion, index: int | None, new: KnownVersion, lookup: Lookup) -> Counterpart | None:
    if index is None:
        return None
    unit = lookup.counterpart(old.id, index, new.id)
    return Counterpart(new.title, unit.label) if unit is not None else None


def _in_force(document: KnownDocument, version: KnownVersion, index: int, lookup: Lookup
              ) -> tuple[Counterpart | None, str]:
    """What is in force in place of a version not in force, and its article corresponding to `index`."""
    current = next((v for v in document.versions if v.status == "current"), None)
    if current is not None and current.id != version.id:
        found = _counterpart(version, index, current, lookup)
        return found, (f"现行有效的是{_date(current.version_date)}版本"
                       + (f"，对应其{found.article_label}" if found else "，无对应条文"))
    for replacement in lookup.replacements(document.title, document):
        if replacement.repealed:
            clause = _repeal_clause(document.title, replacement, lookup)
            return clause, f"{replacement.since}起由{book_title(replacement.title)}废止" + (
                f"（见其{clause.article_label}）" if clause.article_label else "")
        new = KnownVersion(replacement.version_id, "", replacement.title, "current", frozenset())
        found = _counterpart(version, index, new, lookup)
        return found, (f"{replacement.since}起由{book_title(replacement.title)}取代"
                       + (f"，对应其{found.article_label}" if found else "，无对应条文"))
    status = {"superseded": "已修改", "repealed": "已废止", "pending": "尚未施行"}.get(version.status, version.status)
    return None, f"该版本{status}"


def _repeal_clause(title: str, replacement: Replacement, lookup: Lookup) -> Counterpart:
    """The article of the repealing text that names `title` as repealed ("" label if none found)."""
    key = title_key(title)
    for unit in reversed(list(lookup.articles(replacement.version_id))):
        if "废止" in unit.text and key in title_key(unit.text):
            return Counterpart(replacement.title, unit.label)
    return Counterpart(replacement.title, "")


def quotation(text: str, c: Citation, until: int | None = None) -> str:
    """The quotation that goes with a citation: “…” or 「…」 right after it (规定：“…”), the rest of
    the sentence after 规定：, or a quotation right before it (“…”（《X》第N条）), read within
    `QUOTE_WINDOW` characters and, after it, not past `until` (default: the end of the text); ""
    if none, or if it is shorter than `MIN_QUOTE_CHARS` letters."""
    quoted = _quotation(text, c, len(text) if until is None else until)
    return quoted if len(_letters(quoted)) >= MIN_QUOTE_CHARS else ""


def _quotation(text: str, c: Citation, until: int) -> str:
    """`quotation`, before its length is checked."""
    after = _opening(text, c)
    if after and after.group("open"):
        close = QUOTE_PAIRS[after.group("open")]
        limit = min(until, after.end() + QUOTE_WINDOW)
        stop = text.find("\n", after.end(), limit)
        end = text.find(close, after.end(), stop if stop >= 0 else limit)
        if end >= 0:
            return text[after.end():end]
    elif after:
        limit = min(until, after.end() + QUOTE_WINDOW)
        stop = _SENTENCE_END.search(text, after.end(), limit)
        return text[after.end():stop.end() if stop else limit]
    floor = max(0, c.start - QUOTE_BEFORE_WINDOW)
    before = _QUOTE_BEFORE.search(text[floor:c.start])
    if before:
        close_at = floor + before.start()
        opening = _OPENING_OF[before.group("close")]
        limit = max(0, close_at - QUOTE_WINDOW)
        start = text.rfind(opening, max(limit, text.rfind("\n", limit, close_at) + 1), close_at)
        if start >= 0:
            return text[start + 1:close_at]
    return ""


@functools.lru_cache(maxsize=1024)         # a quotation and its article are read by several checks
def _letters(text: str) -> str:
    """The letters and digits of `text` after NFKC (full-width forms, Kangxi radicals made plain)."""
    return _NOT_TEXT.sub("", unicodedata.normalize("NFKC", _PUNCTUATION.sub("", text)))


def quote_similarity(quote: str, target: str) -> float:
    """How much of the quotation the provision's text holds, 0..1, punctuation and spacing
    ignored: the longest common subsequence of each piece between ellipses (……) and the text,
    over the quotation's length; 1.0 when every piece is in the text word for word."""
    quote = quote[label.end():] if (label := _LABEL_AT_START.match(quote)) else quote
    pieces = [_letters(p) for p in re.split(r"…+|\.{3,}", quote)]
    pieces = [p for p in pieces if p]
    letters = _letters(target)
    if not pieces:
        return 1.0
    if all(p in letters for p in pieces):
        return 1.0
    # bit-parallel LCS (rapidfuzz): difflib's matching blocks took ~1.5 ms a quotation, 33 s for a
    # hostile draft of 21,428 citations each followed by 1,000 characters
    matched = sum(LCSseq.similarity(letters, piece) for piece in pieces)
    return min(matched / sum(len(p) for p in pieces), 0.999)


def _quoted_stretch(letters: str, quoted: str) -> str:
    """The stretch of `letters` that `quoted` covers, widened by its unmatched head and tail.

    It is built out from the longest run the two share, taking the runs nearest to it on each
    side: difflib takes the first of equal runs, which may lie before the quoted passage (调处中心
    in 向调处中心申请调处。调处中心应当…), and the stretch would then start there."""
    def runs(a: str, b: str) -> list[difflib.Match]:
        return [m for m in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks() if m.size]

    longest = difflib.SequenceMatcher(None, letters, quoted, autojunk=False).find_longest_match(
        0, len(letters), 0, len(quoted))
    if not longest.size:
        return letters
    start, end = longest.a - longest.b, longest.a + longest.size + len(quoted) - longest.b - longest.size
    if before := runs(letters[:longest.a][::-1], quoted[:longest.b][::-1]):      # reversed: nearest first
        first = before[-1]
        start = longest.a - first.a - first.size - (longest.b - first.b - first.size)
    tail_a, tail_b = longest.a + longest.size, longest.b + longest.size
    if after := runs(letters[tail_a:], quoted[tail_b:]):
        last = after[-1]
        end = tail_a + last.a + last.size + len(quoted) - tail_b - last.b - last.size
    return letters[max(0, start):end]


def differences(quote: str, target: str, limit: int = 5) -> str:
    """The differing characters, as 原文「…」引作「…」, 原文「…」漏引 and 原文没有「…」 (the first `limit`)."""
    quoted, letters = _letters(quote), _letters(target)
    pairs, deleted = [], ""
    for segment in char_diff(_quoted_stretch(letters, quoted), quoted):
        if segment.op == "delete":
            deleted = segment.text
        elif segment.op == "insert":
            pairs.append(f"原文「{deleted}」引作「{segment.text}」" if deleted else f"原文没有「{segment.text}」")
            deleted = ""
        else:
            if deleted:
                pairs.append(f"原文「{deleted}」漏引")
            deleted = ""
    if deleted:
        pairs.append(f"原文「{deleted}」漏引")
    return "；".join(pairs[:limit]) + ("……" if len(pairs) > limit else "") if pairs else "字句不同"


class StoreLookup:
    """`Lookup` over a knowledge base (`ingest.store.Store`), caching what it reads."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._documents = store.documents()
        self._by_key: dict[str, list] = {}
        for d in self._documents:
            self._by_key.setdefault(d.key, []).append(d)
        # every name a title gives (某办法 for 某办法（试行）, 关于… for 最高人民法院关于…), positions in _documents
        self._by_alias = alias_index((d.title, d.key) for d in self._documents)
        self._known: dict[int, KnownDocument] = {}
        self._articles: dict[int, list] = {}
        self._alignments: dict[tuple[int, int], dict[int, int]] = {}
        self._names: TitleMatcher | None = None

    def names(self) -> TitleMatcher:
        """Stored titles, the titles stored texts declare repealed, and common short names."""
        if self._names is None:
            repealed = [k for (k,) in self.store.conn.execute("SELECT DISTINCT target_key FROM repeals")]
            titles = [d.title for d in self._documents] + repealed
            self._names = TitleMatcher(titles, ABBREVIATIONS.items())
        return self._names

    def documents(self, title: str, loose: bool = False) -> list[KnownDocument]:
        """Documents answering to a name: by title key (the name's also without a bracket note, or
        spelt out from a short name), then by a name a stored title gives (`kb.citations.alias_index`:
        without its bracket note or its issuers), then for a `loose` name (no 书名号: 属于治安管理处罚法)
        by `Store.document_key`, else the documents whose title ends with the name (上海市信访条例 for
        信访条例; several make the citation ambiguous). The name's own issuers are kept: 最高人民检察院
        关于… is not 最高人民法院关于…."""
        keys = [title_key(title), fallback_key(title), ABBREVIATIONS.get(title_key(title), "")]
        for key in keys:
            if key and key in self._by_key:
                return [self._known_document(d) for d in self._by_key[key]]
        for key in keys:
            if key and key in self._by_alias:
                return [self._known_document(self._documents[i]) for i in self._by_alias[key]]
        key = title_key(title)
        ending = self.store.document_key(key, loose) if loose else ""
        if ending:
            return [self._known_document(d) for d in self._by_key[ending]]
        longer = [d for d in self._documents if len(d.key) > len(key) >= MIN_SHORT_NAME and d.key.endswith(key)]
        return [self._known_document(d) for d in longer]

    def _known_document(self, d) -> KnownDocument:
        if d.id not in self._known:
            versions = tuple(KnownVersion(v.id, v.version_date, v.title, v.status,
                                          frozenset(h["date"][:4] for h in v.history if h.get("date")))
                             for v in self.store.versions(d.id))
            self._known[d.id] = KnownDocument(d.id, d.key, d.title, d.region, versions)
        return self._known[d.id]

    def articles(self, version_id: int) -> Sequence[Unit]:
        if version_id not in self._articles:
            self._articles[version_id] = [a for a in self.store.version_articles(version_id) if a.kind == "article"]
        return self._articles[version_id]

    def replacements(self, title: str, document: KnownDocument | None) -> list[Replacement]:
        out = [Replacement(t, vid, True, since) for _id, t, since, vid in self.store.repealing(title_key(title))]
        if document is not None:
            for doc_id, t, since in self.store.replaced_by(document.id):
                versions = self._known_document(next(d for d in self._documents if d.id == doc_id)).versions
                current = next((v for v in versions if v.status == "current"), versions[0])
                out.append(Replacement(t, current.id, False, since))
        return out

    def counterpart(self, old_version_id: int, index: int, new_version_id: int) -> Unit | None:
        """The article of the new version aligned with the old version's article at `index`
        (`index.compare`: paired by text; an article without a pair gives its nearest one)."""
        key = (old_version_id, new_version_id)
        if key not in self._alignments:
            old, new = self.articles(old_version_id), self.articles(new_version_id)
            pairs: dict[int, int] = {}
            for row in compare(old, new).rows:
                if row.old is not None and row.new is not None:
                    pairs[row.old.index] = row.new.index
                elif row.old is not None and row.hint is not None:
                    pairs[row.old.index] = row.hint.index
            self._alignments[key] = pairs
        j = self._alignments[key].get(index)
        return self.articles(new_version_id)[j] if j is not None else None


def read_input(path: str | Path) -> str:
    """The text of a .docx / .md / .txt (`CHECK_EXTENSIONS`, read by the ingestion loaders),
    nothing stored: lines joined by newlines, so offsets index this text.

    Raises:
        IngestError: if the file cannot be read, is of another type or is longer than
            `MAX_CHECK_CHARS` (the message names the file and the reason).
    """
    if Path(path).suffix.lower() not in CHECK_EXTENSIONS:
        kind = f"a {Path(path).suffix} file" if Path(path).suffix else "a file without an extension"
        raise IngestError(str(path), "unsupported", f"cannot check {kind}; supported: {', '.join(CHECK_EXTENSIONS)}",
                          reason="extension")
    raw = load_file(path)
    text = "\n\n".join("\n".join(page) for page in raw.pages)
    if len(text) > MAX_CHECK_CHARS:
        raise IngestError(str(path), "too_large", f"{len(text):,} characters; the citation check reads at most "
                          f"{MAX_CHECK_CHARS:,} (about 150 pages): check it in parts", reason="too_long")
    return text


def read_upload(name: str, data: bytes) -> str:
    """The text of an uploaded file (its name gives the format), read like `read_input` from a
    temporary copy that is deleted at once.

    Raises:
        IngestError: if the file cannot be read; the message names `name`, not the copy.
    """
    with tempfile.TemporaryDirectory(prefix="check-") as folder:
        path = Path(folder) / (Path(name).name or "upload.txt")
        path.write_bytes(data)
        try:
            return read_input(path)
        except IngestError as err:
            raise IngestError(name, err.kind, err.message, err.reason) from None


# Verdicts whose citation names an existing article (a quotation or a period beside it may be wrong,
# or it is not the text in force): 按引用添加 adds that article, or its 款 or 项.
NAMES_A_CLAUSE = ("ok", "old_version", "not_current", "quote_mismatch", "period_mismatch")


def cited_clauses(text: str, store: Store) -> tuple[list[PackClause], list[str]]:
    """The clauses the citations in `text` name (《信访工作条例》第三十五条、第三十六条第二款), in the
    order cited, as the citation check reads them; and, for each citation that names none, its
    check's message (`《信访工作条例》第七十条不存在…`)."""
    clauses, problems = [], []
    with store.consistent():
        lookup = StoreLookup(store)
        checked = check_text(text, lookup)
        for before, c in zip([None, *checked], checked):
            if c.verdict in NAMES_A_CLAUSE and c.unit is not None:
                if c.citation.closes_range and before is not None:
                    clauses += [clause_from_article(*between) for between in _within_range(before, c, lookup)]
                clauses.append(clause_from_article(c.unit, c.citation.paragraph or 0, c.citation.item or 0))
            else:
                problems.append(c.message)
    return clauses, problems


def _within_range(start: CheckedCitation, end: CheckedCitation, lookup: Lookup) -> list[tuple[Unit, int, int]]:
    """(article, 款, 项) of each provision strictly between the two ends of a range of one version
    (第三十五条至第三十七条: 第三十六条; 第一至三款 of one article: 第二款); none when the start
    names no article of that version or the range runs backwards."""
    first, last = start.unit, end.unit
    if first is None or last is None or first.version_id != last.version_id:
        return []
    a, b = start.citation, end.citation
    if first.id != last.id:
        articles = lookup.articles(first.version_id)
        ids = [u.id for u in articles]
        if first.id not in ids or last.id not in ids or b.paragraph or b.item:
            return []
        return [(u, 0, 0) for u in articles[ids.index(first.id) + 1:ids.index(last.id)]]
    if a.item and b.item and a.paragraph == b.paragraph:
        return [(last, a.paragraph or 0, n) for n in range(a.item + 1, b.item)]
    if a.paragraph and b.paragraph and not (a.item or b.item):
        return [(last, n, 0) for n in range(a.paragraph + 1, b.paragraph)]
    return []


def check_file(path: str | Path, kb_dir: str | Path) -> tuple[str, list[CheckedCitation]]:
    """Read a file and check its citations against the knowledge base in `kb_dir`.

    Raises:
        IngestError: if the file cannot be read.
        StoreError: if there is no readable knowledge base in `kb_dir`.
    """
    text = read_input(path)
    with open_store(kb_dir) as store, store.consistent():
        return text, check_text(text, StoreLookup(store))
