"""The settings table: resolution order, types, and the README kept in step with it."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kb.errors import ConfigError
from kb.settings import SETTINGS, add_arguments, load_config, with_settings_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_override_beats_environment_beats_default(monkeypatch):
    monkeypatch.setenv("POLICYKB_TOP_K", "7")
    assert load_config().top_k == 7
    assert load_config(top_k=3).top_k == 3
    monkeypatch.delenv("POLICYKB_TOP_K")
    assert load_config().top_k == next(s.default for s in SETTINGS if s.name == "top_k")


def test_bad_values_and_names_are_config_errors(monkeypatch):
    monkeypatch.setenv("POLICYKB_TOP_K", "ten")
    with pytest.raises(ConfigError, match="POLICYKB_TOP_K"):
        load_config()
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config(colour="red")


def test_readme_shows_the_current_settings_table():
    text = README.read_text(encoding="utf-8")
    assert with_settings_table(text) == text, "run: python -m kb.settings --update-readme"


def test_tests_never_use_the_users_cache() -> None:
    # conftest points the cache at the session's temporary folder; a test run must not fill ~/.cache
    cache = Path(load_config().cache_dir).expanduser().resolve()
    assert not cache.is_relative_to(Path.home() / ".cache")


def test_every_setting_shows_in_a_cli_help() -> None:
    # a help text with "%" once broke `python -m index build --help` (argparse formats help with %)
    parser = argparse.ArgumentParser(prog="x")
    add_arguments(parser, *(s.name for s in SETTINGS))
    text = parser.format_help()
    assert all(s.flag in text for s in SETTINGS)
    assert "65% more" in " ".join(text.split())


@pytest.mark.parametrize("name, value", [("rrf_k", "-1"), ("dense_weight", "nan"), ("title_boost", "inf"),
                                         ("top_k", "0"), ("candidates", "-5"), ("parse_timeout", "-1"),
                                         ("wait", "-1"), ("max_seq_length", "0")])
def test_numbers_out_of_range_are_config_errors(monkeypatch, name: str, value: str) -> None:
    """A negative RRF k died as a traceback deep in the search; a NaN weight searched, ranking nothing."""
    monkeypatch.setenv(f"POLICYKB_{name.upper()}", value)
    with pytest.raises(ConfigError, match=rf"setting {name} \(POLICYKB_{name.upper()}\): {value!r} is not"):
        load_config()
    monkeypatch.delenv(f"POLICYKB_{name.upper()}")
    with pytest.raises(ConfigError, match=f"setting {name}"):
        load_config(**{name: float(value)})


def test_zero_stays_a_valid_weight_and_wait() -> None:
    cfg = load_config(dense_weight=0.0, rrf_k=0.0, wait=0.0, embed_threads=0)
    assert (cfg.dense_weight, cfg.rrf_k, cfg.wait, cfg.embed_threads) == (0.0, 0.0, 0.0, 0)


def test_the_parser_processes_of_an_ingest_are_not_the_embedding_workers(tmp_path: Path) -> None:
    """`python -m ingest DIR --workers 2` (parser processes) passed 2 to the build as the `workers`
    setting (where to embed), which refused it after the ingest: the flag is `--parse-workers`."""
    from ingest.__main__ import _ingest_parser
    from kb.settings import config_from_args
    args = _ingest_parser().parse_args([str(tmp_path), "--parse-workers", "2"])
    assert args.parse_workers == 2 and config_from_args(args).workers == ""


def test_flags_that_count_refuse_zero_and_below() -> None:
    """`python -m lecture quiz --count 0` said the document had nothing to ask about; -3 gave ten."""
    from lecture.__main__ import _parser as lecture_parser
    for argv in (["quiz", "--doc", "信访工作条例", "--count", "0"], ["quiz", "--doc", "甲", "--count", "-3"]):
        with pytest.raises(SystemExit):
            lecture_parser().parse_args(argv)
    assert lecture_parser().parse_args(["quiz", "--doc", "甲", "--count", "3"]).count == 3


def test_a_place_typed_in_a_gbk_terminal_reads_as_chinese(monkeypatch) -> None:
    """The preferred region from a GBK shell reached the search as surrogate escapes: no place."""
    import os
    monkeypatch.setenv("POLICYKB_REGION", os.fsdecode("四川省".encode("gb18030")))
    assert load_config().region == "四川省"
    assert load_config(collection=os.fsdecode("信访课程".encode("gb18030"))).collection == "信访课程"
    assert load_config(kb=os.fsdecode(b"/tmp/\xd6\xd0")).kb == os.fsdecode(b"/tmp/\xd6\xd0")   # a path stays the file's
