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
