"""Lecture packs (讲义) and handouts: collect clauses, keep them under `<kb>/packs/`, export them
as Markdown or Word; version comparisons export through the same handout model.

Public API:
- model (pure): `LecturePack`, `PackClause`, `ClauseRef`, `new_pack`, `clause_from_article`,
  `changed_since_added`, `add_clause`, `add_clauses`, `remove_clause`, `move_clause`, `edit_clause`, `retitle`,
  `contains`, `citation`, `status_label`, `pack_handout`;
- storage: `list_packs`, `load_pack`, `save_pack`, `update_pack`, `add_to_saved_pack`, `create_pack`,
  `delete_pack`, `resolve_clause`;
- handouts: `Handout`, `Run`, `mark_terms`, `to_markdown`, `to_docx`, `comparison_handout`,
  `side_runs`, `change_label`, `summary_line`;
- 期限一览 (`lecture.deadlines`): `DeadlineRow`, `select_documents`, `document_deadlines`, `document_definitions`,
  `document_norms`, `deadline_rows`, `filter_rows`, `actors_of`, `row_json`, `row_cells`, `to_csv`, `deadlines_handout`;
- 流程图 (`lecture.flow`, pure): `Flow`, `build_flow`, `to_dot`, `to_svg`;
- 自测 (`lecture.quiz`, pure): `Question`, `Definition`, `Norm`, `make_quiz`, `is_correct`, `score`, `quiz_handout`;
- citation check (引用核对): `check_text`, `check_file`, `cited_clauses` (按引用添加), `read_input`,
  `read_upload`, `StoreLookup`, `CheckedCitation`, `report_json`, `all_ok`, `to_correct`, `VERDICTS`,
  `VERDICT_LABELS`, `MAX_CHECK_CHARS`.
"""
from lecture.citations import (MAX_CHECK_CHARS, VERDICT_LABELS, VERDICTS, CheckedCitation, StoreLookup, all_ok,
                               check_file, check_text, cited_clauses, read_input, read_upload, report_json, to_correct)
from lecture.deadlines import (TABLE_HEADER, DeadlineRow, actors_of, deadline_rows, deadlines_handout,
                               document_deadlines, document_definitions, document_norms, filter_rows, row_cells,
                               row_json, select_documents, to_csv)
from lecture.flow import Flow, build_flow, to_dot, to_svg
from lecture.quiz import Definition, Norm, Question, is_correct, make_quiz, quiz_handout, score
from lecture.comparison import CHANGE_LABELS, change_label, comparison_handout, side_runs, summary_line
from lecture.export_docx import to_docx
from lecture.export_markdown import to_markdown
from lecture.handout import Handout, RichText, Run, mark_terms
from lecture.pack import (ClauseRef, LecturePack, PackClause, add_clause, add_clauses, changed_since_added, citation,
                          clause_from_article, contains, edit_clause, move_clause, new_pack, pack_handout,
                          remove_clause, retitle, status_label)
from lecture.storage import (add_to_saved_pack, create_pack, delete_pack, list_packs, load_pack, resolve_clause,
                             save_pack, update_pack)

__all__ = ["TABLE_HEADER", "DeadlineRow", "Definition", "Flow", "Norm", "Question", "actors_of", "build_flow",
           "deadline_rows", "deadlines_handout", "document_deadlines", "document_definitions", "document_norms",
           "filter_rows", "is_correct", "make_quiz",
           "quiz_handout", "row_cells", "row_json", "score", "select_documents", "to_csv", "to_dot", "to_svg",
           "CheckedCitation", "MAX_CHECK_CHARS", "StoreLookup", "VERDICTS", "VERDICT_LABELS", "all_ok", "check_file",
           "check_text", "cited_clauses",
           "read_input", "read_upload", "report_json", "to_correct",
           "CHANGE_LABELS", "ClauseRef", "Handout", "LecturePack", "PackClause", "RichText", "Run",
           "add_clause", "add_clauses", "add_to_saved_pack", "change_label", "changed_since_added", "citation",
           "clause_from_article", "comparison_handout", "contains",
           "create_pack", "delete_pack", "edit_clause", "list_packs", "load_pack", "mark_terms", "move_clause",
           "new_pack", "pack_handout", "remove_clause", "resolve_clause", "retitle", "save_pack", "side_runs",
           "status_label", "summary_line", "to_docx", "to_markdown", "update_pack"]
