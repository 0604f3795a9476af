"""期限一览: the time limits stored at ingest (`ingest.deadlines`), read per document and turned into
a table, CSV, JSON lines for `python -m lecture deadlines`, and a Word handout.

Rows follow procedure order: the documents in the order asked for, each in article order.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingest.deadlines import Deadline
from kb.chinese import book_title, int_to_cn
from kb.citations import alias_index, documents_named
from lecture.handout import Handout, Heading, Table, paragraph, plain
from lecture.pack import citation
from lecture.quiz import Definition, Norm, norm_sentences

if TYPE_CHECKING:
    from ingest.store import Store, StoredArticle, StoredDocument

TABLE_HEADER = ("条款", "期限", "主体", "起算", "事项", "延长")
CSV_HEADER = ("文件", "条款", "期限", "数量", "单位", "主体", "起算", "事项", "延长", "原文")


@dataclass(frozen=True)
class DeadlineRow:
    """A time limit with the article it stands in."""
    article: StoredArticle
    deadline: Deadline

    @property
    def clause(self) -> str:
        """"第三十六条第一款", "第二十二条第一款第一项": the article, 款 and 项 of the limit."""
        d = self.deadline
        item = f"第{int_to_cn(d.item)}项" if d.item else ""
        return f"{self.article.label}第{int_to_cn(d.paragraph)}款{item}"

    @property
    def citation(self) -> str:
        """《信访工作条例》第三十六条第一款."""
        a = self.article
        return citation(a.title, self.clause, status=a.status, version_date=a.version_date)


def select_documents(store: Store, names: Sequence[str]) -> list[StoredDocument]:
    """The documents named by titles or short names (民法典, 中华人民共和国人民调解法), in the order
    named; every document when `names` is empty.

    Raises:
        QueryError: if a name matches no document.
    """
    documents = store.documents()
    if not names:
        return documents
    return [documents[i] for i in documents_named(names, alias_index((d.title, d.key) for d in documents))]


def document_deadlines(store: Store, document: StoredDocument) -> list[DeadlineRow]:
    """The time limits of the newest version of a document, in article order.

    Raises:
        StoreError: if the knowledge base was built before time limits were extracted.
    """
    versions = store.versions(document.id)
    if not versions:
        return []
    found = store.version_deadlines(versions[0].id)
    articles = {a.id: a for a in store.articles_by_ids(sorted({i for i, _ in found}))}
    return [DeadlineRow(articles[i], d) for i, d in found]


def document_definitions(store: Store, document: StoredDocument) -> list[Definition]:
    """The terms the newest version of a document defines (`ingest.references`), with their citations,
    for the self-test."""
    versions = store.versions(document.id)
    if not versions:
        return []
    found = store.definitions(versions[0].id)
    articles = {a.id: a for a in store.articles_by_ids(sorted({d.article_id for d in found}))}
    return [Definition(d.term, d.definition, citation(document.title, articles[d.article_id].label), d.article_id)
            for d in found]


def document_norms(store: Store, document: StoredDocument) -> list[Norm]:
    """The sentences of the newest version of a document that say 应当, 可以 or 不得 once, with the
    citation of their 款 (`lecture.quiz.norm_sentences`), in article order, for the self-test."""
    versions = store.versions(document.id)
    if not versions:
        return []
    norms = []
    for a in store.version_articles(versions[0].id):
        if a.kind != "article":
            continue
        for n, text in enumerate(a.paragraphs, start=1):
            clause = f"{a.label}第{int_to_cn(n)}款" if len(a.paragraphs) > 1 else a.label
            cited = citation(a.title, clause, status=a.status, version_date=a.version_date)
            norms += [Norm(sentence, word, cited, a.id) for sentence, word in norm_sentences(text)]
    return norms


def deadline_rows(store: Store, names: Sequence[str] = ()) -> list[DeadlineRow]:
    """The time limits of the named documents (all when none is named), documents in the order named.

    Raises:
        QueryError: if a name matches no document.
        StoreError: if the knowledge base was built before time limits were extracted.
    """
    return [row for doc in select_documents(store, names) for row in document_deadlines(store, doc)]


def filter_rows(rows: Iterable[DeadlineRow], *, actors: Sequence[str] = (), fixed_only: bool = False
                ) -> list[DeadlineRow]:
    """Rows whose actor is one of `actors` (all when empty); with `fixed_only`, no 立即/及时 rows."""
    return [r for r in rows if (not actors or r.deadline.actor in actors)
            and not (fixed_only and r.deadline.amount is None)]


def actors_of(rows: Iterable[DeadlineRow]) -> list[str]:
    """The distinct actors of the rows, in order of first appearance."""
    return list(dict.fromkeys(r.deadline.actor for r in rows if r.deadline.actor))


def row_json(row: DeadlineRow) -> dict:
    """One element of `python -m lecture deadlines --json`."""
    d = row.deadline
    return {"title": row.article.title, "article_label": row.article.label, "paragraph": d.paragraph,
            "item": d.item, "amount": d.amount, "unit": d.unit, "actor": d.actor, "trigger": d.trigger,
            "action": d.action, "extension": d.extension, "sentence": d.sentence}


def row_cells(row: DeadlineRow) -> tuple[str, ...]:
    """The cells of a row under `TABLE_HEADER`."""
    d = row.deadline
    return (row.clause, d.period, d.actor, d.trigger, d.action, "是" if d.extension else "")


def row_line(row: DeadlineRow) -> str:
    """One readable line: "第三十六条第一款  30日  信访人  自收到书面答复之日起  请求复核"."""
    d = row.deadline
    extension = "（延长）" if d.extension else ""
    return "  ".join(x for x in (row.clause, d.period + extension, d.actor or "—", d.trigger, d.action) if x)


def to_csv(rows: Iterable[DeadlineRow]) -> str:
    """The rows as CSV (UTF-8 with a byte-order mark, so Excel reads the Chinese right)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for r in rows:
        d = r.deadline
        writer.writerow((r.article.title, r.clause, d.period, "" if d.amount is None else d.amount, d.unit,
                         d.actor, d.trigger, d.action, "是" if d.extension else "", d.sentence))
    return "\ufeff" + out.getvalue()


def deadlines_handout(rows: Sequence[DeadlineRow], title: str = "期限一览") -> Handout:
    """A Word-ready handout: one table per document, in procedure order."""
    blocks: list = []
    by_title: dict[str, list[DeadlineRow]] = {}
    for r in rows:
        by_title.setdefault(r.article.title, []).append(r)
    for doc_title, doc_rows in by_title.items():
        blocks.append(Heading(book_title(doc_title)))
        blocks.append(Table(TABLE_HEADER, tuple(tuple(plain(c) for c in row_cells(r)) for r in doc_rows)))
    if not rows:
        blocks.append(paragraph("所选文件中没有找到期限。", "note"))
    return Handout(title=title, subtitle="条文中的期限、主体、起算和事项，按条文顺序排列", blocks=tuple(blocks))
