"""Render a `Handout` as a Word document (.docx) with python-docx.

Chinese text gets East Asian fonts (宋体 body, 黑体 headings) so the file looks right in
Word and WPS; matched terms are highlighted, deletions struck through in red and insertions
underlined in blue.
"""
from __future__ import annotations

import io

from lecture.handout import BulletList, Handout, Heading, Paragraph, RichText, Table, plain

BODY_FONT = "宋体"
HEADING_FONT = "黑体"
NOTE_FONT = "楷体"


def _set_east_asian_font(run_or_style, name: str) -> None:
    """python-docx only sets the Latin font name; Chinese glyphs use the w:eastAsia attribute."""
    from docx.oxml.ns import qn
    run_or_style.font.name = name
    rpr = run_or_style.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), name)


def _add_runs(paragraph, runs: RichText, *, bold: bool = False, font: str | None = None) -> None:
    from docx.enum.text import WD_COLOR_INDEX
    from docx.shared import RGBColor
    for item in runs:
        run = paragraph.add_run(item.text)
        run.bold = bold or None
        if font:
            _set_east_asian_font(run, font)
        if item.mark == "hit":
            run.font.highlight_color = WD_COLOR_INDEX.YELLOW
        elif item.mark == "del":
            run.font.strike = True
            run.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)
        elif item.mark == "ins":
            run.font.underline = True
            run.font.color.rgb = RGBColor(0x00, 0x4E, 0xA2)


def to_docx(handout: Handout) -> bytes:
    """The whole handout as the bytes of a .docx file."""
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    normal = doc.styles["Normal"]
    _set_east_asian_font(normal, BODY_FONT)
    normal.font.size = Pt(12)
    for name in ("Title", "Heading 1", "Heading 2", "Heading 3"):
        _set_east_asian_font(doc.styles[name], HEADING_FONT)
    doc.core_properties.title = handout.title
    doc.add_heading(handout.title, 0)
    if handout.subtitle:
        _add_runs(doc.add_paragraph(), plain(handout.subtitle), font=NOTE_FONT)
    for block in handout.blocks:
        if isinstance(block, Heading):
            doc.add_heading(block.text, min(block.level, 3))
        elif isinstance(block, Paragraph):
            p = doc.add_paragraph()
            if block.style == "citation":
                _add_runs(p, block.runs, bold=True, font=HEADING_FONT)
            elif block.style in ("note", "meta"):
                _add_runs(p, block.runs, font=NOTE_FONT)
            else:
                p.paragraph_format.first_line_indent = Pt(24)
                _add_runs(p, block.runs)
        elif isinstance(block, BulletList):
            for item in block.items:
                doc.add_paragraph(item, style="List Bullet")
        elif isinstance(block, Table):
            table = doc.add_table(rows=1, cols=len(block.header))
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, block.header):
                _add_runs(cell.paragraphs[0], plain(text), bold=True)
            for row in block.rows:
                cells = table.add_row().cells
                for cell, runs in zip(cells, row):
                    _add_runs(cell.paragraphs[0], runs)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()

