"""A version comparison (`index.compare.Comparison`) as rich text and as an exportable handout."""
from __future__ import annotations

from index.compare import Comparison, Row
from lecture.handout import BulletList, Handout, Heading, RichText, Run, Table, paragraph, plain

CHANGE_LABELS = {"unchanged": "未改动", "reworded": "修改", "added": "新增", "removed": "删除"}


def side_runs(row: Row, side: str) -> RichText:
    """The text of one side ("old" or "new") of a row, with deletions (old side) or insertions
    (new side) marked; an unpaired article is plain text."""
    unit = row.old if side == "old" else row.new
    if unit is None:
        return ()
    if not row.diff:
        return plain(unit.text)
    keep, mark = ("delete", "del") if side == "old" else ("insert", "ins")
    return tuple(Run(s.text, mark if s.op == keep else "") for s in row.diff if s.op in ("equal", keep))


def change_label(row: Row) -> str:
    """修改 / 新增 / 删除 / 未改动, with 位置调整 for a moved pair and the nearest counterpart of
    an unpaired article (where its text went, or came from)."""
    label = CHANGE_LABELS[row.kind]
    if row.moved:
        label += "（位置调整）"
    if row.hint is not None:
        label += f"（参见{'新' if row.kind == 'removed' else '原'}{row.hint.label}）"
    return label


def excerpt(text: str, chars: int = 40) -> str:
    """The start of a text on one line, with an ellipsis if it was cut."""
    line = " ".join(text.split())
    return line if len(line) <= chars else line[:chars] + "…"


def summary_line(comparison: Comparison) -> str:
    c = comparison.counts()
    return (f"修改{c['reworded']}条，未改动{c['unchanged']}条，新增{c['added']}条，删除{c['removed']}条；"
            f"其中位置调整{c['moved']}条")


def comparison_handout(comparison: Comparison, old_name: str, new_name: str) -> Handout:
    """The comparison as a three-column table (old text, new text, change), followed by the
    lists of articles found only in one version."""
    rows = tuple(
        ((Run(f"{row.old.label}\n"), *side_runs(row, "old")) if row.old else plain("—"),
         (Run(f"{row.new.label}\n"), *side_runs(row, "new")) if row.new else plain("—"),
         plain(change_label(row)))
        for row in comparison.rows)
    blocks = [paragraph(summary_line(comparison), "meta"),
              Table((old_name, new_name, "变化"), rows)]
    removed, added = comparison.of_kind("removed"), comparison.of_kind("added")
    if removed:
        blocks += [Heading(f"仅见于{old_name}的条文（{len(removed)}条）", 1),
                   BulletList(tuple(f"{r.old.label} {excerpt(r.old.text)}" for r in removed))]
    if added:
        blocks += [Heading(f"仅见于{new_name}的条文（{len(added)}条）", 1),
                   BulletList(tuple(f"{r.new.label} {excerpt(r.new.text)}" for r in added))]
    return Handout(title=f"新旧对照：{old_name} → {new_name}", blocks=tuple(blocks))
