"""Linked reading, pure: an article's paragraphs cut into pieces that are plain text, a reference
(to an article of the same version, shown as an in-page anchor, or of another document) or a
defined term of the document (with its definition). References nothing resolves stay plain text.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAX_TERMS = 200          # terms marked per document (a code defines a few dozen at most)


@dataclass(frozen=True)
class Link:
    """A reference in an article's text (paragraphs joined by newlines)."""
    start: int
    end: int
    target_id: int | None        # the article it resolves to, None if none
    in_page: bool                # the target is in the same version, so on the same page


@dataclass(frozen=True)
class Piece:
    text: str
    target_id: int | None = None     # a reference to this article
    in_page: bool = False
    definition: str = ""             # a defined term, and its definition


def _term_pattern(definitions: Mapping[str, str]) -> re.Pattern | None:
    terms = sorted(definitions, key=len, reverse=True)[:MAX_TERMS]
    return re.compile("|".join(re.escape(t) for t in terms)) if terms else None


def _terms(text: str, pattern: re.Pattern | None, definitions: Mapping[str, str]) -> list[Piece]:
    if pattern is None:
        return [Piece(text)] if text else []
    out, at = [], 0
    for m in pattern.finditer(text):
        if m.start() > at:
            out.append(Piece(text[at:m.start()]))
        out.append(Piece(m.group(), definition=definitions[m.group()]))
        at = m.end()
    if at < len(text):
        out.append(Piece(text[at:]))
    return out


def linked_paragraphs(paragraphs: Sequence[str], links: Sequence[Link],
                      definitions: Mapping[str, str] | None = None) -> list[list[Piece]]:
    """Each paragraph as pieces: resolved references as links, defined terms marked elsewhere."""
    definitions = definitions or {}
    pattern = _term_pattern(definitions)
    out, offset = [], 0
    ordered = sorted((link for link in links if link.target_id is not None), key=lambda link: link.start)
    starts = [link.start for link in ordered]
    for paragraph in paragraphs:
        end_of_paragraph = offset + len(paragraph)
        pieces, at = [], offset
        # only the links starting in this paragraph: each paragraph reads its own, not all of them
        for link in ordered[bisect.bisect_left(starts, offset):bisect.bisect_right(starts, end_of_paragraph)]:
            if link.start < at or link.end > end_of_paragraph:
                continue
            pieces += _terms(paragraph[at - offset:link.start - offset], pattern, definitions)
            pieces.append(Piece(paragraph[link.start - offset:link.end - offset], link.target_id, link.in_page))
            at = link.end
        pieces += _terms(paragraph[at - offset:], pattern, definitions)
        out.append(pieces)
        offset = end_of_paragraph + 1
    return out
