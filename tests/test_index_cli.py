"""`python -m index` end to end on the small app knowledge base: build, search, batch, eval, errors."""
import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from conftest import REPO, needs_samples
from index.search import Tuning
from kb.settings import SEARCH_SETTINGS, load_config

pytestmark = needs_samples


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "index", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


def test_help_for_every_command() -> None:
    for command in ((), ("build",), ("search",), ("eval",)):
        result = cli(*command, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout


def test_build_is_skipped_when_nothing_changed(app_kb: Path) -> None:
    result = cli("build", "--kb", str(app_kb), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "unchanged" in result.stdout


def test_search_readable_and_json(app_kb: Path) -> None:
    result = cli("search", "信访工作条例第三十六条", "--kb", str(app_kb), "--k", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(" 1. 《信访工作条例》第三十六条")
    # each 款 of the clause under its heading: the second and third started at the line's start
    first = result.stdout.split("\n 2. ")[0].splitlines()
    assert len(first) >= 4 and all(line.startswith("    ") for line in first[1:])
    hits = json.loads(cli("search", "对复查意见不服还能找谁", "--kb", str(app_kb), "--json", "--k", "3").stdout)
    assert len(hits) == 3 and {"citation", "match", "matched_terms", "other_versions"} <= set(hits[0])


def test_search_shows_the_paragraph_or_item_asked_for(app_kb: Path) -> None:
    # the 款 was dropped: the line showed the article's first 160 characters
    result = cli("search", "信访工作条例第三十六条第二款", "--kb", str(app_kb), "--k", "1")
    assert result.returncode == 0, result.stderr
    assert "    第二款：复核机关、单位可以按照本条例第三十一条第六项的规定举行听证" in result.stdout
    hit = json.loads(cli("search", "信访工作条例第三十六条第二款", "--kb", str(app_kb), "--json", "--k", "1").stdout)[0]
    assert hit["paragraph"] == 2
    result = cli("search", "信访工作条例第三十一条第六项", "--kb", str(app_kb), "--k", "1")
    assert "    第六项：（六）不属于以上情形的" in result.stdout


def test_search_says_on_stderr_what_the_knowledge_base_lacks(app_kb: Path) -> None:
    result = cli("search", "信访工作条例第九百条", "--kb", str(app_kb), "--json", "--k", "3")
    assert result.returncode == 0 and len(json.loads(result.stdout)) == 3      # other articles still answer
    assert result.stderr.strip() == "《信访工作条例》没有第九百条（共50条）"


def test_search_filters(app_kb: Path) -> None:
    result = cli("search", "信访人", "--kb", str(app_kb), "--json", "--doc", "信访条例")
    assert {h["title"] for h in json.loads(result.stdout)} == {"信访条例"}


def test_search_and_eval_take_the_ranking_settings(app_kb: Path, tmp_path: Path) -> None:
    # the README tells m3e-small's users which `--rrf-k` and `--dense-weight` to search with; the settings
    # table lists the flags; `search` and `eval` refused them (exit 2) and only the environment worked
    question = "老百姓来反映情况，多久要告诉他受不受理"
    default = json.loads(cli("search", question, "--kb", str(app_kb), "--json", "--k", "10").stdout)
    keywords = cli("search", question, "--kb", str(app_kb), "--json", "--k", "10", "--rrf-k", "60",
                   "--dense-weight", "0", "--reranker", "none", "--question-prior", "none", "--query-adapter", "none")
    assert keywords.returncode == 0, keywords.stderr
    assert [h["citation"] for h in json.loads(keywords.stdout)] != [h["citation"] for h in default]
    questions = tmp_path / "gold.jsonl"
    questions.write_text(json.dumps({"qid": 1, "query": question, "gold": [{"title": "信访工作条例", "article_no": 22}]},
                                    ensure_ascii=False), encoding="utf-8")
    result = cli("eval", str(questions), "--kb", str(app_kb), "--rrf-k", "60", "--dense-weight", "1.5")
    assert result.returncode == 0, result.stderr


def test_a_search_imports_neither_transformers_nor_torch(app_kb: Path) -> None:
    # importing them for the tokenizer took 7 of the 8 s a search command spent loading its searcher
    # on a slow machine: the ONNX backend tokenises with the state its first load saved beside the export
    from index.embed import load_embedder
    load_embedder(load_config(kb=str(app_kb)))
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "index", "search", "对复查意见不服还能找谁", "--kb",
                             str(app_kb), "--k", "3"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and result.stdout.startswith(" 1. 《信访工作条例》"), result.stdout
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "onnxruntime" in imported and not imported & {"torch", "transformers", "sentence_transformers"}


def test_every_ranking_parameter_is_a_search_flag() -> None:
    # the flags above come from one list beside the settings table; a parameter added to the
    # search's Tuning without it would again be settable by the environment only
    assert {f.name for f in fields(Tuning)} <= set(SEARCH_SETTINGS)


def test_batch_lines_have_the_exact_shape(app_kb: Path, tmp_path: Path) -> None:
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"qid": 7, "query": "信访工作条例第三十三条"}\n{"qid": "x", "query": "调解费用"}\n',
                     encoding="utf-8")
    result = cli("search", "--batch", str(batch), "--k", "5", "--json", "--kb", str(app_kb))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["qid"] for line in lines] == [7, "x"]
    assert set(lines[0]) == {"qid", "hits", "ms"} and len(lines[0]["hits"]) == 5
    top = lines[0]["hits"][0]
    assert set(top) == {"title", "article_no", "article_label", "doc_path", "score"}
    assert (top["title"], top["article_no"], top["article_label"]) == ("信访工作条例", 33, "第三十三条")
    assert top["doc_path"].endswith(".docx")


def test_eval_prints_all_metrics(app_kb: Path, tmp_path: Path) -> None:
    questions = tmp_path / "gold.jsonl"
    rows = [{"qid": 1, "query": "对复查意见不服还能找谁", "gold": [{"title": "信访工作条例", "article_no": 36}]},
            {"qid": 2, "query": "信访工作条例第三十三条", "gold": [{"title": "信访工作条例", "article_no": 33}]}]
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    result = cli("eval", str(questions), "--kb", str(app_kb), "--k", "20")
    assert result.returncode == 0, result.stderr
    for metric in ("Recall@1", "Recall@5", "Recall@10", "Recall@20", "Recall@100", "MRR@10", "nDCG@10"):
        assert metric in result.stdout
    assert "Recall@20 1.0000" in result.stdout


def test_errors_are_one_line_with_exit_codes(tmp_path: Path, app_kb: Path) -> None:
    missing = cli("search", "调解", "--kb", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "no knowledge base" in missing.stderr
    bad_doc = cli("search", "调解", "--kb", str(app_kb), "--doc", "不存在的条例")
    assert bad_doc.returncode == 1 and "unknown document" in bad_doc.stderr and "Traceback" not in bad_doc.stderr
    usage = cli("search", "--kb", str(app_kb))
    assert usage.returncode == 2


def test_search_without_index_says_how_to_build(app_store_kb: Path) -> None:
    result = cli("search", "调解", "--kb", str(app_store_kb))
    assert result.returncode == 1
    assert f"python -m index build --kb {app_store_kb}" in result.stderr


def test_an_empty_knowledge_base_is_said_not_a_traceback(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    kb = tmp_path / "kb"
    ingest = subprocess.run([sys.executable, "-m", "ingest", str(empty), "--kb", str(kb), "--quiet"], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert ingest.returncode == 0 and "Traceback" not in ingest.stderr, ingest.stderr
    assert "nothing to index yet" in ingest.stdout
    build = cli("build", "--kb", str(kb), "--quiet")
    assert build.returncode == 1 and "Traceback" not in build.stderr
    assert build.stderr.strip().count("\n") == 0 and "no articles yet" in build.stderr


def test_output_cut_short_by_a_pipe_ends_quietly() -> None:
    """`python -m lecture deadlines … | head -3` printed a BrokenPipeError traceback once head had
    read its lines: the CLIs leave as a pipe's writer does (status 141, nothing on stderr)."""
    script = ("import sys\nfrom kb.errors import run_cli\n"
              "def many_lines():\n    for i in range(200_000):\n        print('第', i, '条')\n    return 0\n"
              "sys.exit(run_cli(many_lines))\n")
    proc = subprocess.run(f"{sys.executable} -c \"{script}\" | head -2; exit ${{PIPESTATUS[0]}}", shell=True,
                          executable="/bin/bash", cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.stdout.splitlines() == ["第 0 条", "第 1 条"]
    assert (proc.returncode, proc.stderr) == (141, "")
