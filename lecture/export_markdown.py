"""Render a `Handout` as Markdown (CommonMark + GFM tables and strike-through)."""
from __future__ import annotations

import re

from lecture.handout import BulletList, Handout, Heading, Paragraph, RichText, Table

_SPECIAL = re.compile(r"([\\`*_~\[\]<>|#])")
# How each mark looks in Markdown: matched terms and insertions bold, deletions struck through.
_MARK_WRAP = {"": "", "hit": "**", "ins": "**", "del": "~~"}


def escape(text: str) -> str:
    """Escape the characters Markdown would read as markup."""
    return _SPECIAL.sub(r"\\\1", text)


def rich_markdown(runs: RichText) -> str:
    """Inline Markdown of rich text; line breaks inside a run become hard breaks."""
    out = []
    for run in runs:
        text = escape(run.text)
        wrap = _MARK_WRAP[run.mark]
        if wrap and text.strip():
            # emphasis markers must touch non-space text, so keep surrounding spaces outside
            core = text.strip()
            lead, trail = text[:len(text) - len(text.lstrip())], text[len(text.rstrip()):]
            text = f"{lead}{wrap}{core}{wrap}{trail}"
        out.append(text)
    return "".join(out).replace("\n", "  \n")


def _cell(runs: RichText) -> str:
    return rich_markdown(runs).replace("  \n", "<br>") or " "


def to_markdown(handout: Handout) -> str:
    """The whole handout as a Markdown document."""
    lines = [f"# {escape(handout.title)}", ""]
    if handout.subtitle:
        lines += [f"*{escape(handout.subtitle)}*", ""]
    for block in handout.blocks:
        if isinstance(block, Heading):
            lines += ["#" * (block.level + 1) + " " + escape(block.text), ""]
        elif isinstance(block, Paragraph):
            text = rich_markdown(block.runs)
            if block.style == "citation":
                text = f"**{text}**"
            elif block.style == "note":
                text = "> " + text.replace("  \n", "  \n> ")
            elif block.style == "meta":
                text = f"*{text}*"
            lines += [text, ""]
        elif isinstance(block, BulletList):
            lines += [f"- {escape(item)}" for item in block.items] + [""]
        elif isinstance(block, Table):
            lines.append("| " + " | ".join(escape(h) for h in block.header) + " |")
            lines.append("|" + "---|" * len(block.header))
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
