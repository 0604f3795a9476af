"""app.py: settings from the script arguments, the navigation, and errors shown as one line."""
from __future__ import annotations

import html

from streamlit.testing.v1 import AppTest

from conftest import REPO

APP = REPO / "app.py"


def _config(argv):
    import importlib.util
    spec = importlib.util.spec_from_file_location("policykb_app", APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)          # defines functions only: main() runs under streamlit
    return module.config(argv)


def test_script_arguments_become_settings():
    cfg = _config(["--kb", "data/law", "--top-k", "5", "--region", "四川省", "-q", "--other"])
    assert (cfg.kb, cfg.top_k, cfg.region) == ("data/law", 5, "四川省")


def test_app_serves_the_knowledge_base_from_the_environment(app_store_kb, monkeypatch):
    monkeypatch.setenv("POLICYKB_KB", str(app_store_kb))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception and not at.error
    assert at.title[0].value == "检索"
    assert [b.label for b in at.button if b.key and b.key.startswith("example-")]
    assert at.sidebar.selectbox(key="active_pack").value == "我的讲义"


def test_a_bad_setting_is_one_error_line(monkeypatch, tmp_path):
    monkeypatch.setenv("POLICYKB_KB", str(tmp_path))
    monkeypatch.setenv("POLICYKB_TOP_K", "many")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert len(at.error) == 1 and "POLICYKB_TOP_K" in html.unescape(at.error[0].value)     # shown as plain text
