"""The records passed from stage to stage. All frozen; parsing builds them, the store writes them.

A `Document` is what one file yields: its metadata, its structural headings (`Node`), its
articles (条, for article-structured texts) or its outline sections (一、（一）1., for 意见/通知
style texts), and its attachment names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kb.places import NATIONAL

if TYPE_CHECKING:
    from ingest.deadlines import Deadline
    from ingest.references import Definition, Reference

# Levels of legal force, highest first (used for grouping and display, never for ranking).
LEVELS = ("宪法", "法律", "行政法规", "党内法规", "监察法规", "司法解释", "部门规章",
          "地方性法规", "地方政府规章", "规范性文件")

# The note (`Document.notes`) of a document written in traditional characters and stored simplified.
MADE_SIMPLIFIED = "traditional characters made simplified"

# Validity status codes and their Chinese labels.
STATUS_LABELS = {"current": "现行有效", "superseded": "已修改", "repealed": "已废止",
                 "pending": "尚未施行"}
# How a version came about, in the words a citation uses ("2017-06-27 修正").
EVENT_LABELS = {"promulgated": "公布", "effective": "施行", "adopted": "通过", "approved": "批准",
                "amended": "修正", "revised": "修订", "repealed": "废止"}

# "标题": any other heading that groups articles (a Markdown "## 一、管辖" in a judicial interpretation).
NODE_KINDS = ("编", "分编", "章", "节", "序言", "附则", "附件", "标题")


@dataclass(frozen=True)
class DateEvent:
    """One history line: "2022年2月25日 中共中央、国务院发布" → ("2022-02-25", "中共中央、国务院发布", "promulgated")."""
    date: str                 # YYYY-MM-DD
    event: str
    kind: str = "other"       # promulgated | effective | adopted | approved | amended | revised | repealed | other


@dataclass(frozen=True)
class DocumentMeta:
    title: str
    subtitle: str = ""                 # e.g. a 民法典 编 ("物权编"), kept apart from the title
    issuer: str = ""
    doc_number: str = ""               # 国务院令第431号, 中发〔2022〕X号
    doc_type: str = ""                 # 法, 条例, 规定, 办法, 解释, 意见, 通知, 方案, ...
    level: str = ""                    # one of LEVELS, or "" when unknown
    region: str = NATIONAL             # "全国", "四川省", "四川省成都市"
    status: str = ""                   # explicit status from the text or sidecar; "" = derive from versions
    version_date: str = ""             # YYYY-MM-DD: identifies this version among versions of one title
    promulgated: str = ""              # YYYY-MM-DD
    effective: str = ""                # YYYY-MM-DD
    history: tuple[DateEvent, ...] = ()
    repeals: tuple[str, ...] = ()      # titles this document declares repealed ("《…》同时废止")


@dataclass(frozen=True)
class Node:
    """A structural heading: 编/分编/章/节, or 序言/附则/附件 blocks."""
    kind: str                          # one of NODE_KINDS
    heading: str                       # normalised: "第一章 总则"
    path: tuple[str, ...] = ()         # headings of the enclosing nodes


@dataclass(frozen=True)
class Article:
    """One 条. `text` excludes the "第X条" label; `paragraphs` are its 款 (项 stay inside them)."""
    no: int
    suffix: int                        # N of "之N", 0 otherwise
    label: str                         # "第十条之一"
    path: tuple[str, ...]              # breadcrumb of 编/章/节 headings
    paragraphs: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Section:
    """One titled part of a document that is not article-structured (一、 / （一） / 1. / （1）)."""
    heading: str                       # "一、总体要求"
    level: int                         # 1 = 一、, 2 = （一）, 3 = 1., 4 = （1）
    path: tuple[str, ...]              # headings of the enclosing sections
    text: str                          # body under this heading, capped in size (long ones split)


# Where a document's text came from: a text layer or text file, OCR of page images (some or all
# pages), or a legacy word-processor file converted by LibreOffice.
SOURCE_KINDS = ("text", "ocr", "converted")


@dataclass(frozen=True)
class Doubt:
    """A character OCR read with low confidence, with the text around it to find it by; `unit`
    is the index of the article (then section, counting on after the articles) holding it, -1
    when it lies outside them."""
    char: str
    context: str
    confidence: float
    unit: int = -1


@dataclass(frozen=True)
class Document:
    source: str                        # path of the file it came from
    meta: DocumentMeta
    nodes: tuple[Node, ...] = ()
    articles: tuple[Article, ...] = ()
    sections: tuple[Section, ...] = ()
    preamble: str = ""                 # 序言 or text before the first article/heading
    attachments: tuple[str, ...] = ()  # attachment names, without their numbers
    notes: tuple[str, ...] = ()        # non-fatal remarks from parsing (e.g. "目录 block dropped")
    encoding: str = ""                 # detected text encoding, where it applies
    deadlines: tuple[Deadline, ...] = ()   # time limits of the articles (`ingest.deadlines`)
    references: tuple[Reference, ...] = ()     # what the articles cite (`ingest.references`)
    definitions: tuple[Definition, ...] = ()   # the terms they define (`ingest.references`)
    source_kind: str = "text"          # one of SOURCE_KINDS
    ocr_confidence: float | None = None    # mean recognition confidence of the OCR'd characters
    doubts: tuple[Doubt, ...] = ()     # characters OCR was unsure of

    @property
    def ocr(self) -> bool:
        return self.source_kind == "ocr"

    @property
    def chapters(self) -> list[str]:
        return [n.heading for n in self.nodes if n.kind == "章"]


@dataclass(frozen=True)
class Summary:
    """What one `ingest.run` did."""
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0                   # not documents (e.g. front-matter-only _index.md)
    failed: int = 0
    documents: int = 0                 # documents in the knowledge base after the run
    articles: int = 0                  # articles + sections in the knowledge base after the run
    failures: tuple[tuple[str, str, str], ...] = field(default=())  # (path, kind, message)
