"""The lecture pack (讲义): clauses an instructor collected, in order, with headings and notes.

A clause is stored by a stable reference (document key + region + version date + label), which
survives re-ingesting (row ids do not), together with a snapshot of its text and metadata so a
pack still exports when its document has left the knowledge base. Every operation here is pure:
it returns a new `LecturePack`; `lecture.storage` persists packs.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ingest.records import STATUS_LABELS
from kb.chinese import book_title
from kb.citations import cited_text, held_part, missing_part, part_label
from kb.places import NATIONAL
from lecture.handout import BulletList, Handout, Heading, Paragraph, Run, paragraph, plain

if TYPE_CHECKING:
    from ingest.store import StoredArticle


@dataclass(frozen=True)
class ClauseRef:
    """Identifies one clause across re-ingests: which document, which version, which 条/heading,
    and which of its 款 and 项 (`paragraph`, `item`, from 1, as `kb.citations.cited_text` reads
    them; 0 for the whole article)."""
    doc_key: str
    region: str
    version_date: str
    label: str
    paragraph: int = 0
    item: int = 0


@dataclass(frozen=True)
class PackClause:
    ref: ClauseRef
    title: str
    label: str
    text: str
    paragraphs: tuple[str, ...] = ()
    subtitle: str = ""
    kind: str = "article"
    path: tuple[str, ...] = ()
    status: str = "current"
    doc_level: str = ""
    issuer: str = ""
    doc_number: str = ""
    promulgated: str = ""
    effective: str = ""
    source: str = ""
    heading: str = ""        # a heading the instructor put before this clause
    note: str = ""           # the instructor's note on this clause

    @property
    def citation(self) -> str:
        """《信访工作条例》第三十六条, or 《信访工作条例》第三十六条第二款 for a 款 collected alone."""
        return citation(self.title, self.label + part_label(self.ref.paragraph, self.ref.item),
                        status=self.status, version_date=self.ref.version_date)


@dataclass(frozen=True)
class LecturePack:
    name: str
    title: str
    items: tuple[PackClause, ...] = field(default=())
    created: str = ""
    updated: str = ""


def citation(title: str, label: str, *, status: str = "current", version_date: str = "") -> str:
    """Standard citation: 《信访工作条例》第三十六条. A version that is no longer (or not yet) in
    force names its year, so an old text is never quoted as the law in force:
    《信访条例》（2005年版）第十四条."""
    version = f"（{version_date[:4]}年版）" if status != "current" and version_date[:4].isdigit() else ""
    return f"{book_title(title)}{version}{label}"


def clause_from_article(article: StoredArticle, paragraph: int = 0, item: int = 0) -> PackClause:
    """Snapshot an article (or outline section) of the knowledge base as a pack clause: the whole
    of it, or its 款 `paragraph` or 项 `item` (from 1) alone when it has them, as a search for
    《信访工作条例》第三十六条第二款 asked."""
    paragraph, item = held_part(article.label, article.paragraphs, paragraph, item)
    ref = ClauseRef(article.doc_key, article.region, article.version_date, article.label, paragraph, item)
    text = cited_text(article.text, article.paragraphs, paragraph, item)
    return PackClause(
        ref=ref, title=article.title, label=article.label, text=text,
        paragraphs=(text,) if paragraph or item else tuple(article.paragraphs), subtitle=article.subtitle,
        kind=article.kind,
        path=tuple(article.path), status=article.status, doc_level=article.doc_level,
        issuer=article.issuer, doc_number=article.doc_number, promulgated=article.promulgated,
        effective=article.effective, source=article.source)


def changed_since_added(clause: PackClause, article: StoredArticle) -> bool:
    """Whether the knowledge base's text of a pack clause (`article`, found again by
    `lecture.storage.resolve_clause`) is no longer the text the pack keeps: for a 款 or 项
    collected alone, that part's text, or the part is gone."""
    ref = clause.ref
    if missing_part(article.label, article.paragraphs, ref.paragraph, ref.item):
        return True
    return cited_text(article.text, article.paragraphs, ref.paragraph, ref.item) != clause.text


def new_pack(name: str, title: str = "", now: str | None = None) -> LecturePack:
    """An empty pack; its title defaults to its name."""
    stamp = now or _now()
    return LecturePack(name=name, title=title or name, created=stamp, updated=stamp)


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def _touch(pack: LecturePack, items: Sequence[PackClause]) -> LecturePack:
    return replace(pack, items=tuple(items), updated=_now())


def contains(pack: LecturePack, ref: ClauseRef) -> bool:
    return any(item.ref == ref for item in pack.items)


def add_clause(pack: LecturePack, clause: PackClause) -> LecturePack:
    """Append a clause; a clause already in the pack is not added twice (the pack is returned as is)."""
    if contains(pack, clause.ref):
        return pack
    return _touch(pack, pack.items + (clause,))


def add_clauses(pack: LecturePack, clauses: Sequence[PackClause]
                ) -> tuple[LecturePack, list[PackClause], list[PackClause]]:
    """Append clauses in order, each once: the pack, the clauses added, and those it held already
    (cited twice, or collected before)."""
    added, held = [], []
    for clause in clauses:
        grown = add_clause(pack, clause)
        (held if grown is pack else added).append(clause)
        pack = grown
    return pack, added, held


def _check_index(pack: LecturePack, index: int) -> None:
    if not 0 <= index < len(pack.items):
        raise IndexError(f"pack {pack.name!r} has no clause {index}")


def remove_clause(pack: LecturePack, index: int) -> LecturePack:
    """Remove the clause at `index`.

    Raises:
        IndexError: if there is no clause at `index`.
    """
    _check_index(pack, index)
    return _touch(pack, pack.items[:index] + pack.items[index + 1:])


def move_clause(pack: LecturePack, index: int, offset: int) -> LecturePack:
    """Move the clause at `index` by `offset` places (negative = up), stopping at either end.

    Raises:
        IndexError: if there is no clause at `index`.
    """
    _check_index(pack, index)
    target = min(max(index + offset, 0), len(pack.items) - 1)
    if target == index:
        return pack
    items = list(pack.items)
    items.insert(target, items.pop(index))
    return _touch(pack, items)


def edit_clause(pack: LecturePack, index: int, *, heading: str | None = None,
                note: str | None = None) -> LecturePack:
    """Set the heading before, and/or the note on, the clause at `index` (None = keep).

    Raises:
        IndexError: if there is no clause at `index`.
    """
    _check_index(pack, index)
    item = pack.items[index]
    changed = replace(item, heading=item.heading if heading is None else heading.strip(),
                      note=item.note if note is None else note.strip())
    if changed == item:
        return pack
    return _touch(pack, pack.items[:index] + (changed,) + pack.items[index + 1:])


def retitle(pack: LecturePack, title: str) -> LecturePack:
    title = title.strip() or pack.name
    return pack if title == pack.title else replace(pack, title=title, updated=_now())


def status_label(status: str) -> str:
    """现行有效 / 已修改 / 已废止 / 尚未施行 for a status code (the code itself if unknown)."""
    return STATUS_LABELS.get(status, status)


def source_line(clause: PackClause) -> str:
    """One entry of a handout's source list: document, issuer, number, dates, version and status."""
    parts = [book_title(clause.title)]
    parts += [p for p in (clause.issuer, clause.doc_number) if p]
    if clause.promulgated:
        parts.append(f"{clause.promulgated}公布")
    if clause.effective:
        parts.append(f"{clause.effective}施行")
    if clause.ref.version_date:
        parts.append(f"版本{clause.ref.version_date}")
    if clause.ref.region and clause.ref.region != NATIONAL:
        parts.append(clause.ref.region)
    parts.append(status_label(clause.status))
    return "，".join(parts)


def pack_handout(pack: LecturePack) -> Handout:
    """The handout of a pack: headings, each clause with its citation, status, text and note,
    then the list of sources (one line per document version, in order of first use)."""
    blocks: list = []
    sources: dict[tuple[str, str, str], str] = {}
    for item in pack.items:
        if item.heading:
            blocks.append(Heading(item.heading, 1))
        blocks.append(Paragraph((Run(item.citation), Run(f"【{status_label(item.status)}】")), "citation"))
        if item.path:
            blocks.append(paragraph(" › ".join(item.path), "meta"))
        for text in item.paragraphs or (item.text,):
            blocks.append(Paragraph(plain(text)))
        if item.note:
            blocks.append(Paragraph((Run("讲解："), Run(item.note)), "note"))
        ref = item.ref
        sources.setdefault((ref.doc_key, ref.region, ref.version_date), source_line(item))
    if sources:
        blocks += [Heading("法规来源", 1), BulletList(tuple(sources.values()))]
    subtitle = f"共{len(pack.items)}条" + (f" · 更新于{pack.updated[:10]}" if pack.updated else "")
    return Handout(title=pack.title, subtitle=subtitle, blocks=tuple(blocks))
