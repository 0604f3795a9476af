"""From a file (or a string) to a `Document`: load → clean → structure → metadata → sidecar.

Public API: `parse_file`, `parse_text`, `document_to_json`, `SUPPORTED_EXTENSIONS`.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from ingest import clean, metadata, structure
from ingest.deadlines import extract_deadlines
from ingest.loaders import SUPPORTED_EXTENSIONS, RawText, load_file
from ingest.loaders.text import split_lines
from ingest.references import extract_definitions, extract_references
from ingest.records import MADE_SIMPLIFIED, Document, DocumentMeta, Doubt
from kb.chinese import to_simplified, written_in_traditional
from kb.errors import IngestError, NotADocument
from kb.files import path_text

__all__ = ["parse_file", "parse_text", "parse_raw", "document_to_json", "read_sidecar", "sidecar_path",
           "SUPPORTED_EXTENSIONS"]

_INFO_END = "<!-- INFO END -->"
_SIGNATURE_NOTE = re.compile(r"^[（(](此件|本件)[^）)]*[）)]$|^(抄送|主送|印发|联系人|联系电话)[:：]"
                             r"|\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*印发$")
_SIDECAR_SUFFIXES = (".meta.yaml", ".meta.yml")


def sidecar_path(path: str | Path) -> Path | None:
    """The metadata sidecar beside file X (`X.meta.yaml` or `X.meta.yml`), or None."""
    path = Path(path)
    for suffix in _SIDECAR_SUFFIXES:
        sidecar = path.with_name(path.name + suffix)
        if sidecar.is_file():
            return sidecar
    return None


def read_sidecar(path: str | Path) -> dict[str, str]:
    """Metadata overrides from the sidecar beside file X (see `sidecar_path`), or {} if none.

    Raises:
        IngestError: kind "corrupt", reason "bad_sidecar", naming the sidecar file, when it
            cannot be read or is invalid (see `metadata.parse_sidecar`).
    """
    sidecar = sidecar_path(path)
    if sidecar is None:
        return {}
    try:
        return metadata.parse_sidecar(sidecar.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as err:
        raise IngestError(str(sidecar), "corrupt", f"cannot read sidecar: {err}",
                          reason="bad_sidecar") from None
    except metadata.SidecarError as err:
        raise IngestError(str(sidecar), "corrupt", f"bad sidecar: {err}",
                          reason="bad_sidecar") from None


def parse_file(path: str | Path) -> Document:
    """Parse one file into a `Document` (loader by extension, then `parse_raw`).

    Raises:
        IngestError: kind "empty", "no_text_layer", "corrupt", "unsupported" or "encoding",
            with `reason` the finer cause ("not_docx", "binary", "mixed_encoding", "truncated",
            "scanned", "bad_sidecar", …).
        NotADocument: for a file holding only front matter (e.g. lawrefbook `_index.md`).
    """
    path = Path(path)
    raw = load_file(path)
    return parse_raw(raw, source=path_text(path), sidecar=read_sidecar(path))


def parse_text(text: str, *, source: str = "", markdown: bool | None = None,
               wrapped: bool = False, sidecar: Mapping[str, str] | None = None) -> Document:
    """Parse text already in memory. `source` is the file path it stands for: its folders and
    name give hints (level, region, version date); `markdown` defaults to `source` ending in
    ".md"; `wrapped` says lines are layout-wrapped (as in PDF text).

    Raises:
        NotADocument: when the text is front matter only.
        IngestError: kind "corrupt"/reason "bad_sidecar" for invalid front matter.
    """
    if markdown is None:
        markdown = source.lower().endswith((".md", ".markdown"))
    raw = RawText(pages=(split_lines(text),), markdown=markdown, wrapped=wrapped)
    return parse_raw(raw, source=source, sidecar=sidecar)


def _front_matter(raw: RawText, source: str) -> tuple[RawText, dict[str, str]]:
    """Split YAML front matter off the first page; return the rest and its overrides."""
    first = raw.pages[0] if raw.pages else ()
    if not first or first[0].strip() != "---":
        return raw, {}
    yaml_text, rest = metadata.split_front_matter("\n".join(first))
    if yaml_text is None:
        return raw, {}
    try:
        overrides = metadata.parse_sidecar(yaml_text, strict=False)
    except metadata.SidecarError as err:
        raise IngestError(source, "corrupt", f"bad front matter: {err}", reason="bad_sidecar") from None
    pages = (split_lines(rest),) + raw.pages[1:]
    return dataclasses.replace(raw, pages=pages), overrides


def _title_line(line: str) -> str | None:
    """The text of a level-1 Markdown heading ("# 标题"), else None."""
    heading = structure.markdown_heading(line.strip())
    return heading[1] if heading and heading[0] == 1 else None


def _markdown_parts(lines: Sequence[str]) -> tuple[list[str], list[str], str, str]:
    """(head lines, body lines, title, subtitle) of a lawrefbook-style Markdown text."""
    try:
        end = next(i for i, ln in enumerate(lines) if ln.strip() == _INFO_END)
        head, body = list(lines[:end]), list(lines[end + 1:])
    except StopIteration:
        # no INFO END marker: the head is the '#' title block and the date lines under it
        end = 0
        for i, ln in enumerate(lines):
            text = ln.strip()
            if text and not (_title_line(text) is not None or metadata.is_history_line(text)
                             or metadata.is_issuer_line(text) or metadata.find_doc_number([text])):
                break
            end = i + 1
        head, body = list(lines[:end]), list(lines[end:])
    titles = [t for t in map(_title_line, head) if t is not None]
    if not titles:
        # a title may sit in the body when a file has no head
        for i, ln in enumerate(body):
            title = _title_line(ln)
            if title is not None:
                titles = [title]
                del body[i]
                break
    head = [ln for ln in head if ln.strip() and _title_line(ln) is None]
    title = titles[0] if titles else ""
    subtitle = titles[1] if len(titles) > 1 else ""
    return head, body, title, subtitle


def split_signature(lines: Sequence[str]) -> tuple[list[str], list[str]]:
    """(body, signature) where the signature is the run of closing lines: dates, issuer names,
    "（此件公开发布）", 抄送/印发 lines."""
    end = len(lines)
    saw_date = False
    while end > 0:
        text = lines[end - 1].strip()
        if not text:
            end -= 1
        elif _SIGNATURE_NOTE.match(text) or metadata.DATE.fullmatch(text.strip("（）() ")):
            saw_date = saw_date or bool(metadata.DATE.search(text))
            end -= 1
        elif saw_date and metadata.is_issuer_line(text):
            end -= 1
        else:
            break
    return list(lines[:end]), list(lines[end:])


def _plain_parts(raw: RawText) -> tuple[list[str], list[str], str, bool]:
    """(head lines, body paragraphs, title, toc_dropped) of a non-Markdown text.

    The head runs to the first structural line (heading, article, 一、); within it the title is
    found by `metadata.find_title`. Lines before the title (issuer, 文号, news paragraphs of a
    web page) and the history/issuer lines right after it stay in the head; the rest is body.
    Without a title line, the 《name》 of the page headline (or the headline) is the title.
    """
    pages = clean.remove_page_furniture(raw.pages)
    lines = [ln for page in pages for ln in page]
    if raw.wrapped or clean.looks_hard_wrapped(lines):
        paragraphs = clean.join_wrapped_lines(lines)
    else:
        paragraphs = [ln.strip() for ln in lines if ln.strip()]
    # some PDF text layers space out every character: "第 十 二 条 本 条 例 …"
    paragraphs = [clean.unletterspace(p) for p in paragraphs]
    paragraphs, toc_dropped = clean.drop_toc(paragraphs)
    first_body = next((i for i, p in enumerate(paragraphs) if _starts_body(p)), len(paragraphs))
    title_idx = metadata.find_title(paragraphs[:first_body], raw.title_hints, raw.headline)
    if title_idx is None:
        quoted = metadata.QUOTED_NAME.findall(raw.headline)
        title = quoted[0] if quoted else raw.headline
        start = 0
        while start < first_body and _is_head_line(paragraphs[start]):
            start += 1
        return paragraphs[:start], paragraphs[start:], title, toc_dropped
    end = title_idx + 1
    while end < first_body and _is_head_line(paragraphs[end]):
        end += 1
    head = paragraphs[:title_idx] + paragraphs[title_idx + 1:end]
    return head, paragraphs[end:], paragraphs[title_idx], toc_dropped


def _starts_body(paragraph: str) -> bool:
    return bool(structure.match_heading(paragraph) or structure.is_article_text([paragraph])
                or structure.OUTLINE_MARKERS[0][1].match(paragraph))


def _is_head_line(paragraph: str) -> bool:
    """Lines that follow a title and still belong to the head: history, 文号, issuers."""
    return (metadata.is_history_line(paragraph) or metadata.is_issuer_line(paragraph)
            or bool(metadata.find_doc_number([paragraph]) and len(paragraph) <= 40))


def parse_raw(raw: RawText, *, source: str, sidecar: Mapping[str, str] | None = None) -> Document:
    """Clean, structure and describe loaded text. `sidecar` overrides win over front matter,
    which wins over everything inferred.

    Raises:
        NotADocument: the text is front matter only.
        IngestError: kind "corrupt"/reason "bad_sidecar" for invalid front matter.
    """
    raw, overrides = _front_matter(raw, source)
    overrides.update(sidecar or {})
    if not any(ln.strip() for page in raw.pages for ln in page):
        raise NotADocument(source, "front matter only, no document text (a navigation page)")
    raw = dataclasses.replace(raw, pages=tuple(tuple(clean.normalize_chars(ln) for ln in page)
                                               for page in raw.pages))
    notes: list[str] = []
    traditional = written_in_traditional("".join(ln for page in raw.pages for ln in page))
    if traditional:
        # stored simplified, as the questions and citations that meet it are: its 第X條 and 第X章
        # are then articles and chapters, its title one a simplified citation names
        raw = dataclasses.replace(
            raw, pages=tuple(tuple(to_simplified(ln) for ln in page) for page in raw.pages),
            doubts=tuple(dataclasses.replace(d, char=to_simplified(d.char), context=to_simplified(d.context))
                         for d in raw.doubts))            # found again by their context in the text
        notes.append(MADE_SIMPLIFIED)
    subtitle = ""
    if raw.markdown:
        head, body, title, subtitle = _markdown_parts(raw.pages[0])
        toc_dropped = False
    else:
        head, body, title, toc_dropped = _plain_parts(raw)
    if toc_dropped:
        notes.append("目录 block dropped")
    body, signature = split_signature(body)
    parsed = structure.parse_structure(body, markdown=raw.markdown)
    notes.extend(parsed.notes)
    meta = describe(title=title, subtitle=subtitle, head=head, signature=signature,
                    body=body, source=source)
    if traditional:                                   # a title taken from the file's name too
        meta = dataclasses.replace(meta, title=to_simplified(meta.title))
    if overrides:
        meta = dataclasses.replace(meta, **overrides)
    units = [a.text for a in parsed.articles] + [s.text for s in parsed.sections]
    return Document(source=source, meta=meta, nodes=parsed.nodes, articles=parsed.articles,
                    sections=parsed.sections, preamble=parsed.preamble,
                    attachments=parsed.attachments, notes=tuple(notes), encoding=raw.encoding,
                    deadlines=extract_deadlines(parsed.articles),
                    references=tuple(extract_references(meta.title, parsed.articles)),
                    definitions=tuple(extract_definitions(parsed.articles)),
                    source_kind=raw.source_kind, ocr_confidence=raw.ocr_confidence,
                    doubts=place_doubts(raw.doubts, units))


def place_doubts(doubts: Sequence[Doubt], units: Sequence[str]) -> tuple[Doubt, ...]:
    """The doubtful characters with the index of the unit (article, then section) whose text holds
    their context (normalised like the text; else the context's part from the character on, or up
    to it: an article's label, which its text leaves out, may have stood before it); -1 if none."""
    placed = []
    searched = ["".join(u.split()) for u in units]
    # the units holding each character pair, in order: a piece is looked for only in the units
    # holding its rarest pair (searching every unit for every doubt was quadratic in an OCR'd book);
    # built only for the documents that have doubts (OCR'd ones)
    holders: dict[str, list[int]] = {}
    if doubts:
        for i, text in enumerate(searched):
            for pair in {a + b for a, b in zip(text, text[1:])}:
                holders.setdefault(pair, []).append(i)
    for d in doubts:
        context = "".join(clean.normalize_chars(d.context).split())
        char = clean.normalize_chars(d.char).strip() or d.char
        at = context.find(char)
        pieces = [context] + ([context[at:], context[:at + 1]] if at >= 0 else [])
        unit = next((i for piece in pieces if len(piece) >= 2
                     for i in _rarest_pair_holders(piece, holders) if piece in searched[i]), -1)
        placed.append(dataclasses.replace(d, unit=unit))
    return tuple(placed)


def _rarest_pair_holders(piece: str, holders: Mapping[str, Sequence[int]]) -> Sequence[int]:
    """The units holding the rarest character pair of `piece` (≥ 2 characters), in order: the
    only units that can hold the piece."""
    return min((holders.get(piece[j:j + 2], ()) for j in range(len(piece) - 1)), key=len)


def describe(*, title: str, subtitle: str, head: Sequence[str], signature: Sequence[str],
             body: Sequence[str], source: str) -> DocumentMeta:
    """Metadata from the head (history, 文号, issuer lines), signature, body text and path."""
    title = clean.unletterspace(title.strip())
    if not title and source:
        title = re.sub(r"[(（]\d{4}-\d{2}-\d{2}[)）]$", "", Path(source).stem)
    history_lines = [ln for ln in head if metadata.is_history_line(ln)]
    history = metadata.parse_history(history_lines)
    tail_text = "\n".join(body[-40:])
    dates = metadata.resolve_dates(history, tail_text, source)
    promulgated = dates.promulgated
    if not promulgated:
        signed = [metadata.iso_date(m) for ln in signature for m in metadata.DATE.finditer(ln)]
        promulgated = next((d for d in signed if d), "")
    version = dates.version or promulgated
    doc_number = metadata.find_doc_number(list(head) + list(signature))
    issuer = metadata.issuer_of(history, head, signature)
    doc_type = metadata.doc_type_of(title)
    return DocumentMeta(
        title=title, subtitle=clean.unletterspace(subtitle.strip()), issuer=issuer,
        doc_number=doc_number, doc_type=doc_type,
        level=metadata.level_of(source, title, issuer, doc_type, doc_number),
        region=metadata.region_of(source, title, issuer),
        status=metadata.declared_status(list(head) + [title]),
        version_date=version, promulgated=promulgated, effective=dates.effective,
        history=tuple(history), repeals=metadata.repealed_titles(body))


def document_to_json(doc: Document) -> dict:
    """The JSON shape of `python -m ingest inspect FILE --json` (see the task brief)."""
    m = doc.meta
    return {
        "title": m.title,
        "subtitle": m.subtitle,
        "issuer": m.issuer,
        "doc_number": m.doc_number,
        "doc_type": m.doc_type,
        "dates": {"promulgated": m.promulgated or None, "effective": m.effective or None,
                  "version": m.version_date or None,
                  "history": [{"date": e.date, "event": e.event, "kind": e.kind} for e in m.history]},
        "level": m.level,
        "region": m.region,
        "status": m.status,
        "parts": [n.heading for n in doc.nodes if n.kind == "编"],
        "chapters": doc.chapters,
        "articles": [{"no": a.no, "suffix": a.suffix, "label": a.label, "path": list(a.path),
                      "paragraphs": list(a.paragraphs), "text": a.text} for a in doc.articles],
        "sections": [{"heading": s.heading, "level": s.level, "path": list(s.path), "text": s.text}
                     for s in doc.sections],
        "attachments": list(doc.attachments),
        "ocr": doc.ocr,
        "source_kind": doc.source_kind,
        "notes": list(doc.notes),          # what parsing did besides reading: 目录 dropped, made simplified …
        **({"confidence": doc.ocr_confidence, "low_confidence": doubts_json(doc)} if doc.ocr else {}),
    }


def doubts_json(doc: Document) -> list[dict]:
    """The doubtful characters of an OCR'd document: {"unit": label of its article or section (""
    outside them), "char", "context", "confidence"}."""
    labels = [a.label for a in doc.articles] + [s.heading for s in doc.sections]
    return [{"unit": labels[d.unit] if d.unit >= 0 else "", "char": d.char, "context": d.context,
             "confidence": d.confidence} for d in doc.doubts]
