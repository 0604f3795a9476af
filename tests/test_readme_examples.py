"""The README's "Try it" table holds on the README's demo corpus (../shared/corpus/xinfang), with
the default settings: the real loaders, the real bundled model and the real index, built in
tmp_path (the embedding cache too: see conftest)."""
import re
from pathlib import Path

import pytest

from conftest import REPO, SHARED, build_on_every_core, run_folder
from index.search import Searcher
from kb.files import exclusive
from kb.settings import load_config

DEMO = SHARED / "corpus" / "xinfang"
MARKERS = ("<!-- examples -->", "<!-- /examples -->")


def readme_examples() -> list[tuple[str, str]]:
    """(question, clause) rows of the README's examples table."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text.split(MARKERS[0], 1)[1].split(MARKERS[1], 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table.strip().splitlines()[2:]]
    return [(question, clause) for question, clause in rows]


def test_the_readme_has_examples() -> None:
    examples = readme_examples()
    assert len(examples) >= 4
    assert all(re.fullmatch(r"《[^》]+》第[一二三四五六七八九十百零]+条", clause) for _, clause in examples)


@pytest.fixture(scope="module")
def demo_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not DEMO.is_dir():
        pytest.skip(f"demo corpus not found at {DEMO}")
    from ingest import run
    kb = tmp_path_factory.mktemp("demo") / "kb"
    summary = run([DEMO], kb)
    assert summary.failed == 0 and summary.added == 35
    # should both workers get these tests, the second finds every vector in the shared cache
    with exclusive(run_folder(tmp_path_factory) / "demo-kb.lock"):
        build_on_every_core(kb)
    return kb


@pytest.mark.slow
@pytest.mark.parametrize("question, clause", readme_examples())
def test_readme_example_finds_its_clause_on_the_demo_corpus(demo_kb: Path, question: str, clause: str) -> None:
    hits = Searcher(demo_kb, load_config(kb=str(demo_kb))).search(question, k=10)
    assert clause in [h.citation for h in hits], [h.citation for h in hits]


@pytest.mark.slow
def test_the_replaced_2005_regulation_is_found_only_on_request(demo_kb: Path) -> None:
    # ingest/data/successors.tsv: 《信访工作条例》 (2022) took over from 《信访条例》 (2005)
    from index.search import Filters
    searcher = Searcher(demo_kb, load_config(kb=str(demo_kb)))
    question = "信访人对处理意见不服的，可以在多少日内请求复查？"
    assert "信访条例" not in {h.title for h in searcher.search(question, k=20)}
    asked = searcher.search(question, k=20, filters=Filters(statuses=("superseded",)))
    assert {h.status for h in asked} == {"superseded"} and "信访条例" in {h.title for h in asked}
    cited = searcher.search("信访条例第十四条", k=5)[0]
    assert (cited.title, cited.citation) == ("信访条例", "《信访条例》第十四条")
