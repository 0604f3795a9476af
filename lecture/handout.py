"""A tiny format-neutral document model for handouts, and pure helpers that build rich text.

Lecture packs and version comparisons are turned into a `Handout` (a title and a list of
blocks); the exporters (`lecture.export_markdown`, `lecture.export_docx`) and the app render
the same blocks, so a clause or a diff looks alike in the browser, in Markdown and in Word.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Marks a run of text can carry: a matched query term, or text deleted / inserted by a revision.
MARKS = ("", "hit", "del", "ins")


@dataclass(frozen=True)
class Run:
    text: str
    mark: str = ""          # one of MARKS


RichText = tuple[Run, ...]


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1          # 1 = section heading, 2 = sub-heading


@dataclass(frozen=True)
class Paragraph:
    runs: RichText
    style: str = "body"     # body | citation | note | meta


@dataclass(frozen=True)
class BulletList:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[RichText, ...], ...]


Block = Heading | Paragraph | BulletList | Table


@dataclass(frozen=True)
class Handout:
    title: str
    subtitle: str = ""
    blocks: tuple[Block, ...] = field(default=())


def plain(text: str) -> RichText:
    """Rich text of one unmarked run (empty for empty text)."""
    return (Run(text),) if text else ()


def paragraph(text: str, style: str = "body") -> Paragraph:
    return Paragraph(plain(text), style)


def mark_terms(text: str, terms: Iterable[str]) -> RichText:
    """Split `text` into runs where every occurrence of any term is marked "hit".

    Longer terms win where terms overlap ("信访事项" over "信访"); empty terms are ignored and
    matching is literal (terms are not regular expressions).
    """
    unique = sorted({t for t in terms if t and t.strip()}, key=len, reverse=True)
    if not unique or not text:
        return plain(text)
    pattern = re.compile("|".join(re.escape(t) for t in unique))
    runs: list[Run] = []
    pos = 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            runs.append(Run(text[pos:m.start()]))
        runs.append(Run(m.group(), "hit"))
        pos = m.end()
    if pos < len(text):
        runs.append(Run(text[pos:]))
    return tuple(runs)


def join_runs(parts: Sequence[RichText], separator: str = "\n") -> RichText:
    """Concatenate rich texts with a plain separator between them."""
    out: list[Run] = []
    for i, part in enumerate(parts):
        if i and separator:
            out.append(Run(separator))
        out.extend(part)
    return tuple(out)


def runs_text(runs: RichText) -> str:
    """The plain text of rich text."""
    return "".join(r.text for r in runs)
