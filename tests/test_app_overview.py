"""概览 page (AppTest): counts, the model and index in use, and files that failed with the reason."""
from __future__ import annotations

import html

from ingest import run


def test_overview_counts_and_index_in_use(app_kb, open_page):
    at = open_page(app_kb, "overview")
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["多版本法规"] == "1" and int(metrics["法规"]) >= 2 and int(metrics["条文"]) >= 25
    info = next(m.value for m in at.markdown if "向量模型" in m.value)
    assert "e5-small" in info and f"索引条目：{metrics['条文']} 条" in info
    assert "没有导入失败的文件。" in [c.value for c in at.caption]


def test_failed_files_are_listed_with_their_reason_and_a_missing_index_is_explained(writable_kb, tmp_path, open_page):
    broken = tmp_path / "扫描件.txt"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    assert run([broken], writable_kb).failed == 1
    at = open_page(writable_kb, "overview")
    assert not at.exception
    assert len(at.error) == 1 and f"python -m index build --kb {writable_kb}" in html.unescape(at.error[0].value)
    assert "未能导入的文件（1）" in [h.value for h in at.subheader]
    table = at.dataframe[0].value
    assert table["文件"].tolist() == [str(broken.resolve())] and "PNG" in table["原因"].tolist()[0]
