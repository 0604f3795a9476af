"""Pure extraction, at ingest, of what each article cites and what it defines (linked reading).

- References: every 《X》第N条, 本法第N条, bare 第N条, 前款, 前条, 第二款第三项 … in an article
  (`kb.citations.parse_citations`, with the article as context), kept as written: the span in the
  article's text, the cited document's title key ("" for the citing document itself, which
  relative words and 本法 always name) and the provision. Other documents are resolved when read,
  since the cited text may be ingested later or removed; a reference nothing resolves stays plain text.
- Definitions: "本条例所称信访，是指……", "本法所称X，是指……", and in a 用语含义 article
  "（一）X，是指……" or "X是指……" lines. The term and its definition sentence are kept.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kb.chinese import title_key
from kb.citations import Citation, parse_citations

MAX_TERM_CHARS = 20
MIN_TERM_CHARS = 2
# A definition sentence reaches at most this far from its term, back to its line start and on to
# its end: real ones are short (the longest in the lawrefbook corpus is ~210 characters), and
# unbounded searches, with a copy of the whole sentence per term, were quadratic in a long
# unpunctuated line of many "本法所称X，是指" terms.
DEFINITION_WINDOW = 1000
# "本条例所称信访，是指……": the term runs to the first comma or 是指 (a bounded lazy run).
_CALLED = re.compile(r"本(?:法|条例|规定|办法|细则|解释|决定|规则|意见|准则|章程)(?:中)?所称(?:的)?"
                     rf"(?P<term>[^，,。；;：:\n]{{{MIN_TERM_CHARS},{MAX_TERM_CHARS}}}?)[，,]?\s*+(?:是指|指|包括)")
# In an article that explains its terms: "（一）信访人，是指……" / "信访事项是指……", one per line.
_TERM_LINE = re.compile(r"^\s*+(?:[（(][一二三四五六七八九十]++[）)]\s*+)?[“「]?"
                        rf"(?P<term>[^，,。；;：:\n“”「」]{{{MIN_TERM_CHARS},{MAX_TERM_CHARS}}}?)[”」]?[，,]?\s*+是指")
_DEFINING_ARTICLE = re.compile(r"用语的?含义|下列用语|用语定义|术语")
_SENTENCE_END = re.compile(r"[。；;\n]")
# "住宅物业管理（以下简称物业管理）": the term without its bracket note
_TERM_NOTE = re.compile(r"[（(][^（()）]*+[）)]$")
_QUOTE_MARKS = frozenset("“”「」\"")


class ArticleLike(Protocol):
    """An article: `ingest.records.Article` and `ingest.store.StoredArticle` fit."""
    no: int | None
    suffix: int
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class Reference:
    """A provision cited by an article. `target_key` "" = the citing document itself."""
    article: int                 # position of the citing article in the list given
    start: int                   # span in the citing article's text (paragraphs joined by newlines)
    end: int
    target_key: str
    target_title: str            # as written ("" for the citing document)
    no: int
    suffix: int = 0
    paragraph: int | None = None
    item: int | None = None
    loose: bool = False          # a name without 书名号 (实施刑法第N条): resolved by its longest known ending
    # the end of a range of articles (第十二条 of 第十条至第十二条): the 条 the range starts at, so
    # the articles between are cited too (第十一条 lists this article among those citing it)
    range_from: int | None = None


@dataclass(frozen=True)
class Definition:
    """A term an article defines, with the sentence that defines it."""
    article: int
    term: str
    definition: str
    start: int                   # span of the definition sentence in the article's text
    end: int


def extract_references(title: str, articles: Sequence[ArticleLike]) -> list[Reference]:
    """The references of every article of a document titled `title`, in reading order."""
    own_key = title_key(title)
    out: list[Reference] = []
    for position, article in enumerate(articles):
        if article.no is None:
            continue
        offset = 0
        for paragraph_no, paragraph in enumerate(article.paragraphs, start=1):
            citations = parse_citations(paragraph, own_title=title, own_article=(article.no, article.suffix),
                                        own_paragraph=paragraph_no)
            for before, c in zip([None, *citations], citations):
                key = "" if c.own or title_key(c.title) == own_key else title_key(c.title)
                if not key and (c.no, c.suffix) == (article.no, article.suffix) and c.paragraph == paragraph_no:
                    continue        # 本款: the paragraph itself
                out.append(Reference(position, offset + c.start, offset + c.end, key, "" if not key else c.title,
                                     c.no, c.suffix, c.paragraph, c.item, c.loose, _range_start(before, c)))
            offset += len(paragraph) + 1
    return out


def _range_start(before: Citation | None, c: Citation) -> int | None:
    """The 条 a range of articles ending at `c` starts at (the citation `before` it), else None;
    a range of 款 or 项 within one article (第一至三款) cites no other article."""
    if not c.closes_range or before is None or before.title != c.title:
        return None
    return before.no if (before.no, before.suffix) < (c.no, c.suffix) else None


def extract_definitions(articles: Sequence[ArticleLike]) -> list[Definition]:
    """The terms the articles define, in reading order (a term defined twice keeps both)."""
    out: list[Definition] = []
    for position, article in enumerate(articles):
        text = "\n".join(article.paragraphs)
        defining = bool(_DEFINING_ARTICLE.search(text))
        found = [(m.group("term"), m.start()) for m in _CALLED.finditer(text)]
        if defining:
            line_start = 0
            for line in text.split("\n"):
                m = _TERM_LINE.match(line)
                if m and not _CALLED.search(line):
                    found.append((m.group("term"), line_start + m.start("term")))
                line_start += len(line) + 1
        for term, start in sorted(found, key=lambda f: f[1]):
            term = _TERM_NOTE.sub("", term.strip()).strip("“”「」\"'")
            if len(term) < MIN_TERM_CHARS or _QUOTE_MARKS & set(term):
                continue        # too short, or two terms quoted together (“甲”和“乙”)
            stop = _SENTENCE_END.search(text, start, start + DEFINITION_WINDOW)
            end = stop.end() if stop else min(len(text), start + DEFINITION_WINDOW)
            earliest = max(0, start - DEFINITION_WINDOW)
            line_start = text.rfind("\n", earliest, start) + 1 or earliest
            out.append(Definition(position, term, text[line_start:end].strip(), line_start, end))
    return out
