"""The app facing hostile or careless users: file names and other user strings shown as plain
text (never Markdown or HTML), uploads behind a password when the app is served to a network,
planted symlinks in the upload folder, and every uploaded file accounted for in the results."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from conftest import REPO, cache_sharing_models, run_until_done
from ingest import open_store
from ui.common import WORD_JOINER, escape
from ui.jobs import UPLOAD_SUBDIR, save_upload

ALLOWED = (".txt", ".md", ".pdf", ".docx", ".html")
TRACKER = "![x](http://127.0.0.1:9/track.png)y.txt"
BAIT = "[点我领取补贴](http://127.0.0.1:9/claim).txt"
HOSTILE = [TRACKER, BAIT, "<img src=x onerror=alert(1)>.md", ":red[假通知] $x^2$ www.example.com a@b.cn.txt",
           ":material/home: :smile: HTTPS://x.cn/a.txt",
           "**粗体** _斜体_ `代码` # 标题 > 引用 | 表 |.txt", "1. 列表\n- 项\n\n    缩进.txt"]
REGULATION = """示范社区议事协商规则

第一条 为了规范社区议事协商活动，制定本规则。

第二条 社区居民委员会负责组织议事协商。
"""


def tokens(source: str) -> list:
    """The Markdown tokens (CommonMark with HTML, tables and strikethrough, as Streamlit renders
    it) of `source`, nested ones included."""
    found, stack = [], MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).parse(source)
    while stack:
        token = stack.pop()
        found.append(token)
        stack.extend(token.children or [])
    return found


def markup_in(source: str) -> list[str]:
    """What Markdown would make of `source` beyond plain text: links, images, HTML, emphasis,
    code, headings, lists, quotes, tables; and bare URLs and e-mail addresses, which Streamlit's
    renderer (GitHub-flavoured Markdown) turns into links even after decoding character references."""
    plain = {"paragraph_open", "paragraph_close", "inline", "text", "softbreak", "hardbreak"}
    return autolinks(source) + [f"{t.type} {t.content!r}" for t in tokens(source) if t.type not in plain]


def autolinks(source: str) -> list[str]:
    """Text that GitHub-flavoured Markdown links by itself (the patterns of its autolink-literal
    extension), looked for in the decoded text, as the browser's renderer does."""
    return re.findall(r"https?://|www(?=\.)|[-.\w+]+@[-\w]+(?:\.[-\w]+)+", html.unescape(source), re.ASCII)


def assert_plain(values: list[str], *names: str) -> None:
    """No link, image, HTML or bare URL anywhere, and each name shown whole in one run of text."""
    dangerous = [(v, t.type) for v in values for t in tokens(v) if t.type in ("image", "link_open", "html_inline",
                                                                              "html_block")]
    assert not dangerous and not [v for v in values if autolinks(v)], dangerous
    texts = [t.content.replace(WORD_JOINER, "") for v in values for t in tokens(v) if t.type == "text"]
    for name in names:
        assert any(name in text for text in texts), (name, values)


def shown(at) -> list[str]:
    """Every string the page hands to Streamlit's Markdown renderer."""
    kinds = ("markdown", "caption", "error", "warning", "info", "success", "title", "subheader", "header")
    values = [element.value for kind in kinds for element in getattr(at, kind)]
    return values + [b.label for b in at.button] + [e.label for e in at.expander]


def test_escaped_text_is_plain_in_markdown_and_shows_unchanged():
    for name in HOSTILE:
        assert markup_in(escape(name)) == [], name
        # character references decode back to the name, with invisible word joiners that keep
        # URLs and addresses from being linked
        assert html.unescape(escape(name)).replace(WORD_JOINER, "") == name
    assert markup_in(TRACKER) and markup_in(BAIT)         # the check sees what it must remove


def _click(at, label: str):
    return at.button[[b.label for b in at.button].index(label)].click().run()


def test_refused_files_are_listed_with_their_names_as_plain_text(writable_kb, tmp_path, open_page, monkeypatch):
    monkeypatch.setenv("POLICYKB_CORPUS", str(tmp_path / "corpus"))
    at = open_page(writable_kb, "upload")
    uploader = at.get("file_uploader")[0]
    assert not uploader.proto.type      # every file reaches the server, which says why it refuses one
    uploader.set_value([(TRACKER, b"", "text/plain"), (BAIT.replace(".txt", ".exe"), b"MZ", "application/x-msdownload"),
                        ("<img src=x onerror=alert(1)>.md", b"", "text/markdown")])
    _click(at, "上传并导入")
    assert not at.exception
    values = shown(at)
    assert_plain(values, TRACKER, BAIT.replace(".txt", ".exe"), "<img src=x onerror=alert(1)>.md")
    decoded = [html.unescape(v).replace(WORD_JOINER, "") for v in values]
    assert any(TRACKER in v and "文件是空的" in v for v in decoded), decoded
    assert any(BAIT.replace(".txt", ".exe") in v and "不支持的文件类型" in v for v in decoded), decoded
    assert any("<img src=x onerror=alert(1)>.md" in v for v in decoded), decoded


def test_every_upload_has_a_result_line_in_chinese(writable_kb, tmp_path, open_page, monkeypatch):
    """Two uploads of one file in one batch, a file whose text is already stored, a refused one:
    each gets its own line, in Chinese, names as plain text."""
    monkeypatch.setenv("POLICYKB_CORPUS", str(tmp_path / "corpus"))
    monkeypatch.setenv("POLICYKB_CACHE_DIR", str(cache_sharing_models(tmp_path / "cache")))   # the job builds the index
    stored = next(p for p in (Path(__file__).parent / "app_corpus").rglob("*.md") if p.name != "README.md")
    at = open_page(writable_kb, "upload")
    at.get("file_uploader")[0].set_value([
        (TRACKER, REGULATION.encode(), "text/plain"),
        (TRACKER, REGULATION.encode(), "text/plain"),
        ("副本.md", stored.read_bytes(), "text/markdown"),
        ("空白.md", b"", "text/markdown"),
    ])
    _click(at, "上传并导入")
    run_until_done(at)
    assert not at.exception
    values = shown(at)
    lines = [html.unescape(v).replace(WORD_JOINER, "") for v in values if " — " in html.unescape(v)]
    assert len(lines) == 4, lines
    assert sum(TRACKER in line for line in lines) == 2
    assert any(TRACKER in line and "已导入" in line for line in lines), lines
    assert any(TRACKER in line and "本批" in line for line in lines), lines
    assert any("副本.md" in line and "同一版本" in line for line in lines), lines
    assert not [line for line in lines if re.search(r"[A-Za-z]{4,} [A-Za-z]{4,}", line)]    # no English sentence
    assert_plain(values, TRACKER, "副本.md")
    with open_store(writable_kb) as store:
        assert any(d.title == "示范社区议事协商规则" for d in store.documents())


# ---- uploads behind a password when served to a network --------------------------------------

def test_public_app_without_a_password_refuses_uploads(writable_kb, open_page, monkeypatch):
    monkeypatch.setenv("POLICYKB_PUBLIC", "1")
    monkeypatch.delenv("POLICYKB_UPLOAD_PASSWORD", raising=False)
    at = open_page(writable_kb, "upload")
    assert not at.exception
    assert not at.get("file_uploader")
    assert any("POLICYKB_UPLOAD_PASSWORD" in e.value and "upload_password" in e.value for e in at.error)


@pytest.mark.parametrize("where", ["environment", "secrets"])
def test_public_app_asks_for_the_upload_password(writable_kb, open_page, monkeypatch, where):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import _serve_page
    monkeypatch.setenv("POLICYKB_PUBLIC", "1")
    monkeypatch.delenv("POLICYKB_UPLOAD_PASSWORD", raising=False)
    if where == "environment":
        monkeypatch.setenv("POLICYKB_UPLOAD_PASSWORD", "正确的口令")
        at = open_page(writable_kb, "upload")
    else:
        at = AppTest.from_function(_serve_page, args=(str(writable_kb), "upload"), default_timeout=60)
        at.secrets["upload_password"] = "正确的口令"
        at.run()
    assert not at.exception and not at.error
    assert not at.get("file_uploader")
    at.text_input(key="upload-password").input("错的")
    _click(at, "解锁上传")
    assert not at.get("file_uploader") and any("密码不正确" in e.value for e in at.error)
    at.text_input(key="upload-password").input("正确的口令")
    _click(at, "解锁上传")
    assert not at.error and at.get("file_uploader")
    at.run()                                                # stays unlocked for this session
    assert at.get("file_uploader")


def test_a_server_listening_beyond_this_machine_counts_as_public(writable_kb, open_page, monkeypatch):
    from streamlit import config
    monkeypatch.delenv("POLICYKB_PUBLIC", raising=False)
    monkeypatch.delenv("POLICYKB_UPLOAD_PASSWORD", raising=False)
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    try:
        at = open_page(writable_kb, "upload")
    finally:
        config.set_option("server.address", before)
    assert not at.get("file_uploader") and any("POLICYKB_UPLOAD_PASSWORD" in e.value for e in at.error)
    assert open_page(writable_kb, "upload").get("file_uploader")     # loopback or unset: no password


# ---- the upload folder -----------------------------------------------------------------------

@pytest.mark.parametrize("target_content", [b"outside", "甲".encode(), None])
def test_a_planted_symlink_is_never_written_through(tmp_path, target_content):
    folder = tmp_path / UPLOAD_SUBDIR
    folder.mkdir()
    outside = tmp_path / "outside.txt"
    if target_content is not None:
        outside.write_bytes(target_content)
    (folder / "规定.txt").symlink_to(outside)
    saved = save_upload(folder, "规定.txt", "甲".encode(), allowed=ALLOWED, max_bytes=100)
    assert saved.parent == folder and not saved.is_symlink() and saved.read_bytes() == "甲".encode()
    assert (outside.read_bytes() if outside.exists() else None) == target_content
    assert (folder / "规定.txt").is_symlink()


@pytest.mark.parametrize(("page", "query"), [
    ("browse", {"doc": "²"}), ("browse", {"doc": "1", "ver": "²"}),
    ("browse", {"doc": "1", "art": "99999999999999999999999"}),
    ("tools", {"doc": "²"}), ("compare", {"old": "²", "new": "99999999999999999999999"})])
def test_odd_numbers_in_the_address_open_the_page_without_a_traceback(app_store_kb, open_page, page, query):
    # "²".isdigit() is true and int() refuses it; a 23-digit id overflowed SQLite's integers
    at = open_page(app_store_kb, page, **query)
    assert not at.exception, at.exception[0].value


def test_every_data_cache_of_the_app_is_bounded():
    # a cache kept for every user without a bound held every comparison and every choice of
    # documents anyone had asked for in the server's memory
    calls = [(path.name, call) for path in sorted([REPO / "app.py", *(REPO / "ui").glob("*.py")])
             for call in re.findall(r"st\.cache_data\([^)]*\)", path.read_text(encoding="utf-8"))]
    assert len(calls) >= 5 and all("max_entries=" in call for _, call in calls), calls


def test_a_secrets_file_that_is_no_toml_is_said_not_taken_for_no_password(writable_kb, open_page, monkeypatch,
                                                                           tmp_path):
    # a public app refused uploads as if no password were set, and the operator was told to set one
    from streamlit import config
    from streamlit.runtime.secrets import secrets_singleton
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('upload_password = "没有结尾的引号\n', encoding="utf-8")
    monkeypatch.setattr(secrets_singleton, "_secrets", None)        # read the files again, as a new server does
    monkeypatch.setattr(config, "get_option", lambda name, get=config.get_option: [str(secrets)]
                        if name == "secrets.files" else get(name))
    monkeypatch.setenv("POLICYKB_PUBLIC", "1")
    monkeypatch.delenv("POLICYKB_UPLOAD_PASSWORD", raising=False)
    at = open_page(writable_kb, "upload")
    assert not at.exception and len(at.error) == 1
    assert html.unescape(at.error[0].value).startswith(f"Error parsing secrets file at {secrets}: ")
