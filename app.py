"""The web app: `streamlit run app.py -- --kb DIR` serves the knowledge base in DIR.

Options after `--` are the settings of kb/settings.py (defaults there, or POLICYKB_* environment
variables): --kb, --corpus (where uploads are saved), --model, --region (preferred region),
--top-k, --upload-max-mb, --public, …; `streamlit run app.py -- --help` lists them. The pages live in `ui/`.
Started from this folder, the server listens on 127.0.0.1 only (.streamlit/config.toml).
"""
from __future__ import annotations

import argparse
import sys

from kb.settings import SETTINGS, Config, add_arguments, config_from_args


def arg_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="streamlit run app.py --", allow_abbrev=False,
                                description="政策法规知识库 web app: search, browse, lecture packs, version comparison.")
    add_arguments(p, *(s.name for s in SETTINGS))
    return p


def config(argv: list[str]) -> Config:
    """Settings from the script arguments; unknown arguments (e.g. a test runner's) are ignored.

    Raises:
        ConfigError: for a setting with an invalid value.
        SystemExit: for malformed options (argparse), e.g. `--kb` without a folder.
    """
    args, _unknown = arg_parser().parse_known_args(argv)
    return config_from_args(args)


def main() -> None:
    import streamlit as st

    from kb.errors import KBError
    from ui.common import escape
    from ui.pages import serve
    try:
        cfg = config(sys.argv[1:])
    except KBError as e:
        st.error(escape(str(e)))
        st.stop()
    except SystemExit:
        st.error("启动参数有误（或请求了帮助）。用法：")
        st.code(arg_parser().format_help(), language=None)
        st.stop()
    serve(cfg)


if __name__ == "__main__":     # streamlit runs the script as __main__; tests import `config`
    main()
