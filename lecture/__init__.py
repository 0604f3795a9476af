"""Lecture packs (讲义) and handouts: collect clauses, keep them under `<kb>/packs/`, export them
as Markdown or Word; version comparisons export through the same handout model.

Public API:
- model (pure): `LecturePack`, `PackClause`, `ClauseRef`, `new_pack`, `clause_from_article`,
  `add_clause`, `remove_clause`, `move_clause`, `edit_clause`, `retitle`, `contains`,
  `citation`, `status_label`, `pack_handout`;
- storage: `list_packs`, `load_pack`, `save_pack`, `create_pack`, `delete_pack`, `resolve_clause`;
- handouts: `Handout`, `Run`, `mark_terms`, `to_markdown`, `to_docx`, `comparison_handout`,
  `side_runs`, `change_label`, `summary_line`;
- citation check (引用核对): `check_text`, `check_file`, `read_input`, `read_upload`, `StoreLookup`,
  `CheckedCitation`, `report_json`, `all_ok`, `VERDICTS`, `VERDICT_LABELS`.
"""
from lecture.citations import (VERDICT_LABELS, VERDICTS, CheckedCitation, StoreLookup, all_ok, check_file,
                               check_text, read_input, read_upload, report_json)
from lecture.comparison import CHANGE_LABELS, change_label, comparison_handout, side_runs, summary_line
from lecture.export_docx import to_docx
from lecture.export_markdown import to_markdown
from lecture.handout import Handout, RichText, Run, mark_terms
from lecture.pack import (ClauseRef, LecturePack, PackClause, add_clause, citation, clause_from_article,
                          contains, edit_clause, move_clause, new_pack, pack_handout, remove_clause, retitle,
                          status_label)
from lecture.storage import create_pack, delete_pack, list_packs, load_pack, resolve_clause, save_pack

__all__ = ["CHANGE_LABELS", "CheckedCitation", "ClauseRef", "StoreLookup", "VERDICTS", "VERDICT_LABELS",
           "all_ok", "check_file", "check_text", "read_input", "read_upload", "report_json", "Handout",
           "LecturePack", "PackClause", "RichText", "Run",
           "add_clause", "change_label", "citation", "clause_from_article", "comparison_handout", "contains",
           "create_pack", "delete_pack", "edit_clause", "list_packs", "load_pack", "mark_terms", "move_clause",
           "new_pack", "pack_handout", "remove_clause", "resolve_clause", "retitle", "save_pack", "side_runs",
           "status_label", "summary_line", "to_docx", "to_markdown"]
