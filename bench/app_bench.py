"""Time from pressing Enter in the search box to the results drawn in a real browser.

    python -m bench app -- --kb DIR [--rounds 3]

Serves DIR with `streamlit run app.py` (a full knowledge base with its index, e.g. the whole
lawrefbook corpus), opens it in headless Chromium, types each question, presses Enter and waits
until the results are drawn (the app writes the question into the address after drawing them).
Prints the first search (loads the model and the index) apart, then per-question times, their
median and 90th percentile, and the server-side search time the app reports ("用时 … 毫秒").
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from bench import parse_kb_args, percentile

# Everyday questions of the kinds the app is for (not taken from any evaluation file).
QUESTIONS = ("对信访事项处理意见不服怎么办", "信访工作条例第三十六条", "邻居装修噪音扰民可以找谁调解",
             "用人单位拖欠工资怎么投诉", "老年人赡养费纠纷如何处理", "交通事故责任认定不服可以申请复核吗",
             "政府信息公开申请多久答复", "未成年人在学校受伤学校要承担责任吗", "离婚后孩子抚养权归谁",
             "行政复议的申请期限是多久")
WARM_UP = "信访人有哪些权利"        # the first search loads the model and the index: timed apart


def search_once(page, question: str) -> tuple[float, str]:
    """Seconds from Enter to results drawn, and the app's own search-time caption."""
    box = page.get_by_label("输入问题、关键词或条文（按回车检索）")
    box.fill(question)
    wanted = "q=" + urllib.parse.quote(question)
    start = time.perf_counter()
    box.press("Enter")
    page.wait_for_url(lambda url: wanted in url or wanted.replace("%20", "+") in url, timeout=120000)
    elapsed = time.perf_counter() - start
    caption = page.locator('[data-testid="stCaptionContainer"]', has_text="用时").first
    return elapsed, caption.inner_text() if caption.count() else "（无结果）"


def main(argv: list[str] | None = None) -> int:
    from ui.harness import chromium, running_app, wait_until_idle
    parser = argparse.ArgumentParser(prog="python -m bench app", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="times each question is asked (default 3)")
    if (parsed := parse_kb_args(parser, argv)) is None:
        return 2
    args, cfg = parsed
    kb = Path(cfg.kb)
    with tempfile.TemporaryDirectory() as tmp, running_app(kb, Path(tmp) / "streamlit.log", timeout=300) as url, \
            chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(300000)
        started = time.perf_counter()
        page.goto(url)
        wait_until_idle(page, timeout_ms=300000)
        print(f"app ready in browser: {time.perf_counter() - started:.2f} s")
        cold, cold_caption = search_once(page, WARM_UP)
        print(f"first search (loads model and index): {cold:.2f} s  [{cold_caption}]")
        times: list[float] = []
        for round_no in range(args.rounds):
            for question in QUESTIONS:
                elapsed, caption = search_once(page, question + "？" * round_no)   # a new question each round
                times.append(elapsed)
                print(f"  {elapsed * 1000:7.0f} ms  {question}  [{caption}]")
        print(f"Enter → results drawn, {len(times)} searches: median {statistics.median(times) * 1000:.0f} ms, "
              f"p90 {percentile(times, 0.9) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
