"""Pure structure recovery: from the body lines of a document to headings, articles and sections.

Two shapes of Chinese policy text are recognised:

* article-structured texts (法, 条例, 规定, …): 编/分编/章/节 headings (plus 序言, 附则, 附件 and,
  in Markdown, any other heading) form a breadcrumb; every "第X条" starts an `Article`.
* outline texts (意见, 通知, 方案, …): headings 一、 / （一） / 1. / （1） become `Section`s.

Conventions (kept the same for every input format):

* Paragraphs are one per line (loaders and `clean.join_wrapped_lines` ensure it).
* 款 and 项: an article's `paragraphs` are its 款. A 项 line ("（一）…", "1.…", "（1）…") belongs
  to the 款 that introduces it and is appended to it after a newline, so a 款 with its list is
  one paragraph; a plain line after the list starts the next 款. `text` is the paragraphs
  joined by newlines, without the "第X条" label.
* Run-on articles: "…报告。 第二十二条经批准…" (a lost line break) is split when 第二十二条 is
  the next article in sequence.
* Cross-references: a line beginning with "第十九条、第二十条的规定。" is a wrapped line, not an
  article. A label followed by a space always starts an article; a label glued to its text
  ("第五条本条例…", as some PDFs extract) starts one only when its number is the next in
  sequence and the next character does not continue a reference (、，的和及或至).
* Outline sections: the heading is the marker plus its short lead phrase ("（一）指导思想"), the
  text is the rest of that paragraph and the paragraphs up to the next heading; "（1）" and "①"
  lines are list items kept inside the section text (like 项 in a 款). Sections longer
  than `SECTION_MAX_CHARS` are split at paragraph (or sentence) boundaries into parts headed
  "…（1/2）", "…（2/2）". A document with neither articles nor headings becomes one "正文" section.
* 附件: "附件：1.甲 2.乙" lists (and the numbered lines after "附件：") give attachment names
  without numbers; a standalone "附件1"/"附件一" line starts an attachment body (a 附件 node).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest.clean import squeeze_cjk_spaces
from ingest.records import Article, Node, Section
from kb.chinese import CN_NUMERAL_CHARS, MAX_NUMERAL, article_label, cn_to_int

SECTION_MAX_CHARS = 1500
# Outline levels from here down ("（1）", "①") are list items inside a section, not sections.
ITEM_LEVEL = 4
_NUM = f"[{CN_NUMERAL_CHARS}\\d]+"
_CN_SMALL = "[一二三四五六七八九十百]+"

# "## 标题 ##": the closing #s and spaces are stripped in code (a lazy ".*?" followed by "\s*#*$"
# retries at every character and is quadratic in a long run of spaces).
_MD_HEADING = re.compile(r"^(#{1,6})\s++(.*)$", re.S)
_HEADING = re.compile(rf"^第\s*({_NUM})\s*(分编|编|章|节)(?:\s+|$)(.*)$")
_HEADING_GLUED = re.compile(rf"^第\s*({_NUM})\s*(分编|编|章|节)(.*)$")
_LABEL = rf"第\s*({_NUM})\s*条(?:\s*之\s*({_NUM}))?"
_ARTICLE = re.compile(rf"^{_LABEL}(\s*)(.*)$", re.S)
_ARTICLE_LABEL = re.compile(_LABEL)
_REFERENCE_CONTINUATION = tuple("、，,的和及或与至到中规第")
_NAMED_BLOCK = re.compile(r"^(序\s*言|附\s*则)$")
_ATTACHMENT_BODY = re.compile(rf"^附\s*件\s*({_NUM})?$")
_ATTACHMENT_LIST = re.compile(rf"^附\s*+件\s*+(?:({_NUM})\s*+)?[:：]\s*+(.*)$", re.S)
# The space before "2.乙": split only at the start of a space run (a split tried inside the run
# would rescan it from every position).
_BEFORE_LIST_NUMBER = re.compile(r"(?<!\s)\s++(?=[（(]?\d{1,2}\s*+[.．、)）])")
_LIST_NUMBER = re.compile(rf"^(?:[（(]?{_NUM}[）)]|{_NUM}\s*[.．、])\s*")
_DATE_LINE = re.compile(rf"^[（(]?\s*(\d{{4}}|[{CN_NUMERAL_CHARS}]{{4}})\s*年\s*{_NUM}\s*月\s*{_NUM}\s*日\s*[）)]?$")
_MARKUP = re.compile(r"\*\*|__")

# Outline markers: level, pattern. Order matters: "（1）" before "（一）" is irrelevant as the
# classes are disjoint, but "1." must not take "1.5倍".
OUTLINE_MARKERS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(rf"^({_CN_SMALL})\s*、\s*(.*)$", re.S)),
    (2, re.compile(rf"^[（(]\s*({_CN_SMALL})\s*[）)]\s*(.*)$", re.S)),
    (3, re.compile(r"^(\d{1,3})\s*(?:[.．、](?!\d)|[)）])\s*(.*)$", re.S)),
    (4, re.compile(r"^[（(]\s*(\d{1,3})\s*[）)]\s*(.*)$", re.S)),
    (5, re.compile(r"^([①-⑳])\s*(.*)$", re.S)),
)
_LEAD_PHRASE = re.compile(r"^(.{1,30}?)[。：:](?=.)|^(.{1,30}?)[。：:]?$", re.S)

# Ranks order headings in the breadcrumb stack: a heading closes every open heading of equal or
# lower rank.
_RANK = {"编": 10, "分编": 20, "章": 30, "节": 40, "序言": 30, "附则": 30, "附件": 5}
_OUTLINE_RANK_BASE = 50


@dataclass(frozen=True)
class Structure:
    """What `parse_structure` recovers from a body."""
    nodes: tuple[Node, ...] = ()
    articles: tuple[Article, ...] = ()
    sections: tuple[Section, ...] = ()
    preamble: str = ""
    attachments: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def normalize_heading(ordinal: str, kind: str, name: str) -> str:
    """"第一章", "总  则" → "第一章 总则": label, one ASCII space, the name without whitespace."""
    label = f"第{''.join(ordinal.split())}{kind}"
    name = "".join(name.split())
    return f"{label} {name}" if name else label


def markdown_heading(line: str) -> tuple[int, str] | None:
    """(level, text) of a Markdown "#" heading line ("## 标题 ##" → (2, "标题")), else None."""
    m = _MD_HEADING.match(line)
    if not m:
        return None
    return len(m.group(1)), m.group(2).rstrip("#").rstrip()


def match_heading(line: str) -> tuple[str, str] | None:
    """(kind, normalised heading) for a 编/分编/章/节 heading line, else None.

    A heading is short and not a sentence: "第三章规定的事项。" is not a heading.
    """
    m = _HEADING.match(line) or _HEADING_GLUED.match(line)
    if not m:
        return None
    name = m.group(3).strip()
    if len(name) > 40 or name.endswith(("。", "；", "，", "：")) or name.startswith(("、", "，", "的", "规定")):
        return None
    return m.group(2), normalize_heading(m.group(1), m.group(2), name)


def _lead_heading(marker_text: str, rest: str) -> tuple[str, str]:
    """Split an outline paragraph into (heading, body): the marker plus the short lead phrase
    up to its first 。/： (≤ 30 characters), the body being the remainder."""
    m = _LEAD_PHRASE.match(rest)
    if m:
        phrase = m.group(1) if m.group(1) is not None else m.group(2)
        return marker_text + phrase, rest[m.end():].strip() if m.group(1) is not None else ""
    return marker_text + rest[:20] + ("…" if len(rest) > 20 else ""), rest


def match_outline(line: str) -> tuple[int, str, str] | None:
    """(level, heading, inline body) for an outline heading line ("一、总体要求"), else None."""
    for level, pattern in OUTLINE_MARKERS:
        m = pattern.match(line)
        if m:
            marker_text = line[:m.start(2)].replace(" ", "")
            heading, body = _lead_heading(marker_text, m.group(2).strip())
            return level, heading, body
    return None


def attachment_names(first: str, following: Sequence[str], start: int = 0) -> tuple[list[str], int]:
    """Names from an attachment list: the text after "附件：" and the numbered lines after it,
    which are `following[start:]` (an index, not a slice: a copy of the rest of the body at
    every "附件：" line was quadratic in a file of such lines).

    Returns the names (numbers and trailing punctuation removed) and how many of the following
    lines belonged to the list.
    """
    names = [n for n in _BEFORE_LIST_NUMBER.split(first.strip()) if n]
    used = 0
    for j in range(start, len(following)):
        text = following[j].strip()
        if not text:
            used += 1
            continue
        if not _LIST_NUMBER.match(text) or text.endswith("。"):
            break
        names.append(text)
        used += 1
    cleaned = [_LIST_NUMBER.sub("", n).strip().rstrip("；;，,。") for n in names]
    return [n for n in cleaned if n], used


@dataclass
class _Builder:
    """Mutable state of one `parse_structure` pass."""
    article_mode: bool
    stack: list[tuple[int, str]] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    preamble: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # the open article: (no, suffix, path, paragraphs) / the open section: (heading, level, path, body);
    # each paragraph is a list of its lines (a 款 and its 项), joined when the unit closes: adding
    # to a joined string copied the whole 款 at every 项
    article: tuple[int, int, tuple[str, ...], list[list[str]]] | None = None
    section: tuple[str, int, tuple[str, ...], list[list[str]]] | None = None

    def path(self) -> tuple[str, ...]:
        return tuple(h for _, h in self.stack)

    def push(self, rank: int, heading: str, kind: str | None) -> None:
        self.close()
        while self.stack and self.stack[-1][0] >= rank:
            self.stack.pop()
        if kind:
            self.nodes.append(Node(kind=kind, heading=heading, path=self.path()))
        self.stack.append((rank, heading))

    def close(self) -> None:
        if self.article:
            no, suffix, path, paras = self.article
            paras = [squeeze_cjk_spaces("\n".join(p)) for p in paras]
            self.articles.append(Article(no=no, suffix=suffix, label=article_label(no, suffix),
                                         path=path, paragraphs=tuple(paras), text="\n".join(paras)))
            self.article = None
        if self.section:
            heading, level, path, body = self.section
            self.sections.extend(split_section(heading, level, path,
                                               [squeeze_cjk_spaces("\n".join(p)) for p in body]))
            self.section = None

    def add_text(self, text: str, is_item: bool) -> None:
        """Add a paragraph to the open article or section (an item joins the paragraph before
        it), or to the preamble when nothing is open."""
        unit = self.article or self.section
        if unit is None and self.stack and not self.article_mode:
            # text under a plain heading ("## 鉴定原则" in an outline text) opens its section
            rank, heading = self.stack[-1]
            level = max(1, (rank - _OUTLINE_RANK_BASE) // 10 + 1)
            self.section = unit = (heading, level, self.path()[:-1], [])
        if unit is None:
            self.preamble.append(text)
            return
        paragraphs = unit[3]
        if is_item and paragraphs:
            paragraphs[-1].append(text)
        else:
            paragraphs.append([text])


def split_section(heading: str, level: int, path: tuple[str, ...], body: Sequence[str],
                  max_chars: int = SECTION_MAX_CHARS) -> list[Section]:
    """One section, or several parts "heading（i/n）" when its text exceeds `max_chars`.

    Parts break between paragraphs; a single paragraph longer than the cap breaks after a 。.
    """
    pieces: list[str] = []
    for para in body:
        # walk an offset: cutting the remainder off at each piece copied it, quadratic in the paragraph
        start = 0
        while len(para) - start > max_chars:
            cut = para.rfind("。", start, start + max_chars) + 1 or start + max_chars
            pieces.append(para[start:cut])
            start = cut
        if start < len(para):
            pieces.append(para[start:])
    parts: list[list[str]] = [[]]
    size = 0
    for piece in pieces:
        if parts[-1] and size + len(piece) > max_chars:
            parts.append([])
            size = 0
        parts[-1].append(piece)
        size += len(piece) + 1
    if len(parts) == 1:
        return [Section(heading=heading, level=level, path=path, text="\n".join(parts[0]))]
    n = len(parts)
    return [Section(heading=f"{heading}（{i}/{n}）", level=level, path=path, text="\n".join(p))
            for i, p in enumerate(parts, 1)]


def _is_signature_line(text: str) -> bool:
    """A short line that is not a sentence (an issuer name, a date, "（此件公开发布）")."""
    return bool(_DATE_LINE.match(text)) or (len(text) <= 40 and not text.endswith(("。", "；", "：", ":"))
                                             and not _ARTICLE.match(text) and not match_heading(text))


def _label_numbers(m: re.Match) -> tuple[int, int] | None:
    """(no, suffix) of a matched article label; None for a number no article can have
    ("第100000条"): that is text, not a label."""
    try:
        no = cn_to_int(m.group(1))
        suffix = cn_to_int(m.group(2)) if m.group(2) else 0
    except ValueError:
        return None
    return (no, suffix) if no <= MAX_NUMERAL and suffix <= MAX_NUMERAL else None


def _article_candidate(line: str) -> tuple[int, int, bool, str] | None:
    """(no, suffix, has_separator, rest) for a line starting with an article label."""
    m = _ARTICLE.match(line)
    numbers = _label_numbers(m) if m else None
    if numbers is None:
        return None
    return *numbers, bool(m.group(3)) or not m.group(4), m.group(4).strip()


def _is_next_article(no: int, suffix: int, last: tuple[int, int] | None) -> bool:
    if last is None:
        return no == 1 and suffix == 0
    return (no == last[0] + 1 and suffix == 0) or (no == last[0] and suffix == last[1] + 1)


_RUN_ON_ARTICLE = re.compile(rf"(?<=[。；：！？])\s*(?=第\s*{_NUM}\s*条(?:\s*之\s*{_NUM})?)")


def split_run_on_articles(lines: Sequence[str]) -> list[str]:
    """Split lines where the next article runs on after a sentence ("…报告。 第二十二条经批准…"),
    as in sources that lost a line break. Only the article that is next in sequence splits a
    line, so a reference ("依照本法第十条规定") never does."""
    result: list[str] = []
    last: tuple[int, int] | None = None
    for line in lines:
        cand = _article_candidate(line)
        if cand and (cand[2] or _is_next_article(cand[0], cand[1], last)):
            last = cand[:2]
        start = 0
        for m in _RUN_ON_ARTICLE.finditer(line):
            # the label in place: reading the rest of the line at each candidate was quadratic
            label = _ARTICLE_LABEL.match(line, m.end())
            nxt = _label_numbers(label) if label else None
            if nxt and _is_next_article(*nxt, last):
                result.append(line[start:m.start()])
                start = m.end()
                last = nxt
        result.append(line[start:])
    return result


def is_article_text(lines: Sequence[str]) -> bool:
    """True when the body is article-structured: some line starts with "第X条" plus a separator,
    or glued labels run in sequence from 第一条 to at least 第二条."""
    last = None
    for line in lines:
        cand = _article_candidate(_MARKUP.sub("", line.lstrip("# ")).strip())
        if not cand:
            continue
        no, suffix, has_sep, rest = cand
        if has_sep and rest:
            return True
        if _is_next_article(no, suffix, last) and not rest.startswith(_REFERENCE_CONTINUATION):
            if last is not None:
                return True
            last = (no, suffix)
    return False


def parse_structure(lines: Sequence[str], *, markdown: bool = False) -> Structure:
    """Recover headings, articles or outline sections, preamble and attachments from body lines.

    `lines` are paragraphs (blank lines are ignored). With `markdown=True`, "#"-headings are
    headings whatever their text; other Markdown markup (**bold**) is dropped. See the module
    docstring for the conventions. Pure; raises nothing.
    """
    body = [_MARKUP.sub("", ln).strip() for ln in lines]
    body = [ln for ln in body if ln]
    b = _Builder(article_mode=is_article_text(body))
    if b.article_mode:
        body = split_run_on_articles(body)
    last_article: tuple[int, int] | None = None
    in_attachment_list = False
    i = 0
    while i < len(body):
        line = body[i]
        i += 1
        md = markdown_heading(line) if markdown else None
        md_level = md[0] if md else 0
        text = md[1].strip() if md else line
        if not text:
            continue

        att = _ATTACHMENT_LIST.match(text)
        if att and not md:
            names, used = attachment_names(att.group(2), body, i)
            b.attachments.extend(names)
            i += used
            in_attachment_list = True
            b.close()
            continue
        if _ATTACHMENT_BODY.match(text):
            b.push(_RANK["附件"], "".join(text.split()), "附件")
            in_attachment_list = False
            continue
        if in_attachment_list and not md and _is_signature_line(text):
            continue  # signature, date and distribution lines after an attachment list
        in_attachment_list = False

        heading = match_heading(text)
        if heading and (md or not _ARTICLE.match(text)):
            kind, norm = heading
            b.push(_RANK[kind], norm, kind)
            continue
        named = _NAMED_BLOCK.match(text)
        if named and (md or len(text) <= 6):
            kind = "".join(named.group(1).split())
            b.push(_RANK[kind], kind, kind)
            continue

        if b.article_mode:
            cand = _article_candidate(text)
            if cand and not md:
                no, suffix, has_sep, rest = cand
                sequential = _is_next_article(no, suffix, last_article)
                if (has_sep and rest) or (sequential and not rest.startswith(_REFERENCE_CONTINUATION)):
                    b.close()
                    if not sequential and last_article is not None:
                        b.notes.append(f"{article_label(no, suffix)} follows "
                                       f"{article_label(*last_article)} out of sequence")
                    b.article = (no, suffix, b.path(), [[rest]] if rest else [])
                    last_article = (no, suffix)
                    continue
            if md:
                # another Markdown heading groups articles: "##" ranks as a 章, "###" as a 节
                b.push(10 * (md_level + 1), "".join(text.split()), "标题")
                continue
            if _DATE_LINE.match(text) and b.article and i >= len(body) - 3:
                continue  # a signing date after the last article
            b.add_text(text, is_item=bool(b.article and match_outline(text) and not md))
            continue

        outline = match_outline(text)
        if outline and outline[0] >= ITEM_LEVEL and b.section:
            b.add_text(text, is_item=True)
            continue
        if outline or md:
            if outline:
                level, head, inline = outline
            else:
                level, head, inline = max(1, md_level - 1), "".join(text.split()), ""
            b.push(_OUTLINE_RANK_BASE + (level - 1) * 10, head, None)
            b.section = (head, level, b.path()[:-1], [[inline]] if inline else [])
            continue
        b.add_text(text, is_item=False)
    b.close()

    sections = b.sections
    preamble = "\n".join(squeeze_cjk_spaces(p) for p in b.preamble)
    if not b.article_mode and not sections and preamble:
        sections = split_section("正文", 1, (), preamble.split("\n"))
        preamble = ""
    return Structure(nodes=tuple(b.nodes), articles=tuple(b.articles), sections=tuple(sections),
                     preamble=preamble, attachments=tuple(b.attachments), notes=tuple(b.notes))
