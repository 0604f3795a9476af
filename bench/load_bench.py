"""Many users searching the app at once, over loopback, in real browser tabs.

    python -m bench load -- --kb DIR [--users 4] [--searches 10]

Serves DIR with `streamlit run app.py` on a free port of 127.0.0.1 (`ui.harness.running_app`),
opens one headless Chromium (Debian's, driven by Playwright's async API) with one browser
context per user (its own Streamlit session), lets every user load the page, then all users
search at once, each `--searches` times (bounded: every search has a time limit, the run stops
by itself). A search is timed from Enter to the results drawn (the app writes the question into
the address once they are). Prints throughput (searches/s over the search phase), p50/p95/p99
latency, errors (timeouts, error boxes), wrong results (the first card's article differs from
what an in-process `index.search.Searcher` ranks first for the same question and default
filters) and the server's peak resident memory (VmHWM of the streamlit process).

Each tab is a Chromium renderer (~40–80 MB) and every search is a Streamlit script run in the
server's threads, which share one Python interpreter: on 2 cores the server, not the browsers,
is the limit; the default is 4 users, `--users 16 --searches 50` is the full run.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from bench import parse_kb_args, percentile
from bench.app_bench import QUESTIONS, WARM_UP
from bench.faults_bench import descendants, vm_hwm_mb
from kb.settings import count

SEARCH_BOX = "输入问题、关键词或条文（按回车检索）"
SEARCH_TIMEOUT_MS = 120_000         # one search; a slower one counts as an error
OPEN_TIMEOUT_MS = 300_000           # the first page of each user (the server loads model and index)
CARD_ID = re.compile(r"st-key-card-s-(\d+)")


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)


def question(user: int, n: int) -> str:
    """The n-th question of a user: the users start at different questions, and a question comes
    back with one more full-width question mark each round (a new text for any cache)."""
    i = user + n
    return QUESTIONS[i % len(QUESTIONS)] + "？" * (i // len(QUESTIONS))


def expected_tops(kb: Path, questions: set[str], cfg) -> dict[str, int]:  # noqa: ANN001
    """What an in-process Searcher ranks first for each question (article id; -1 for no hit)."""
    from index.search import Searcher
    searcher = Searcher(kb, cfg)
    out = {}
    for q in questions:
        hits = searcher.search(q, 1)
        out[q] = hits[0].article_id if hits else -1
    return out


async def open_user(browser, url: str):  # noqa: ANN001, ANN201
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    page.set_default_timeout(OPEN_TIMEOUT_MS)
    await page.goto(url)
    await page.get_by_label(SEARCH_BOX).wait_for()
    page.set_default_timeout(SEARCH_TIMEOUT_MS)
    return context, page


async def search(page, q: str, want: int, tally: Tally) -> None:  # noqa: ANN001
    box = page.get_by_label(SEARCH_BOX)
    wanted = "q=" + urllib.parse.quote(q)
    try:
        await box.fill(q)
        started = time.perf_counter()
        await box.press("Enter")
        await page.wait_for_url(lambda u: wanted in u or wanted.replace("%20", "+") in u)
        tally.latencies.append(time.perf_counter() - started)
        await page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')")
        if await page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count():
            tally.errors.append(f"{q}: error shown")
            return
        card = page.locator('[class*="st-key-card-s-"]').first
        found = CARD_ID.search(await card.get_attribute("class") or "") if await card.count() else None
        got = int(found.group(1)) if found else -1
        if got != want:
            tally.wrong.append(f"{q}: app {got}, searcher {want}")
    except Exception as err:        # noqa: BLE001 - a timeout or a closed page is an error of the run
        tally.errors.append(f"{q}: {type(err).__name__}: {str(err).splitlines()[0][:120]}")


async def user_searches(page, user: int, searches: int, expected: dict[str, int], tally: Tally) -> None:  # noqa: ANN001
    for n in range(searches):
        q = question(user, n)
        await search(page, q, expected[q], tally)


async def run_users(url: str, users: int, searches: int, expected: dict[str, int], server: int | None
                    ) -> tuple[Tally, float, Tally, float, tuple[float, float]]:
    """(tally of the warm-up search, seconds to open all pages, tally of the search phase, its
    seconds, CPU seconds of the server and of everything else this process started (browser and
    Playwright driver) during it). The warm-up search (the server loads the model and the index)
    is made by the first user alone, once all pages are open."""
    from playwright.async_api import async_playwright

    from ui.harness import CHROMIUM, CHROMIUM_ARGS
    tally = Tally()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            started = time.perf_counter()
            opened = await asyncio.gather(*(open_user(browser, url) for _ in range(users)))
            ready = time.perf_counter() - started
            warm = Tally()
            await search(opened[0][1], WARM_UP, expected[WARM_UP], warm)
            cpu_before = cpu_split(server)
            started = time.perf_counter()
            await asyncio.gather(*(user_searches(page, u, searches, expected, tally)
                                   for u, (_, page) in enumerate(opened)))
            seconds = time.perf_counter() - started
            cpu_after = cpu_split(server)
            return warm, ready, tally, seconds, (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])
        finally:
            await browser.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a living process (0 if gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    values = text[text.rindex(")") + 2:].split()
    return (int(values[11]) + int(values[12])) / os.sysconf("SC_CLK_TCK")


def cpu_split(server: int | None) -> tuple[float, float]:
    """CPU seconds so far of the server (and its children) and of the other processes this one
    started (the browser and the Playwright driver), counting the living ones."""
    family = descendants(os.getpid())
    theirs = set(descendants(server)) | {server} if server else set()
    return (sum(cpu_seconds(p) for p in family if p in theirs),
            sum(cpu_seconds(p) for p in family if p not in theirs))


def server_pid() -> int | None:
    """The streamlit server this process started."""
    for pid in descendants(os.getpid()):
        try:
            if b"streamlit" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            pass
    return None


def main(argv: list[str] | None = None) -> int:
    from ui.harness import CHROMIUM, running_app
    parser = argparse.ArgumentParser(prog="python -m bench load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=count, default=4, help="concurrent users, one browser context each (default 4)")
    parser.add_argument("--searches", type=count, default=10, help="searches per user (default 10)")
    if (parsed := parse_kb_args(parser, argv)) is None:
        return 2
    args, cfg = parsed
    kb = Path(cfg.kb)
    if not Path(CHROMIUM).exists():
        print(f"error: {CHROMIUM} not found: install it with `make browser`", file=sys.stderr)
        return 2
    questions = {WARM_UP} | {question(u, n) for u in range(args.users) for n in range(args.searches)}
    expected = expected_tops(kb, questions, cfg)
    with tempfile.TemporaryDirectory() as tmp, running_app(kb, Path(tmp) / "streamlit.log", timeout=300) as url:
        pid = server_pid()
        peak = [vm_hwm_mb(pid) if pid else 0.0]
        stop = threading.Event()

        def watch() -> None:        # VmHWM is a high-water mark; read it while the server lives
            while not stop.wait(0.5):
                peak[0] = max(peak[0], vm_hwm_mb(pid) if pid else 0.0)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        print(f"server {url} (pid {pid}), {args.users} users × {args.searches} searches", flush=True)
        warm, ready, tally, seconds, cpu = asyncio.run(run_users(url, args.users, args.searches, expected, pid))
        stop.set()
        watcher.join()
        peak[0] = max(peak[0], vm_hwm_mb(pid) if pid else 0.0)
    lat = tally.latencies
    total = args.users * args.searches
    print(f"pages opened: {ready:.1f} s for {args.users} users")
    print("warm-up search (the server loads the model and the index): "
          + (f"{warm.latencies[0]:.1f} s" if warm.latencies else "failed")
          + "".join(f"; {line}" for line in warm.errors + warm.wrong))
    print(f"searches: {total} ({len(lat)} answered) in {seconds:.1f} s: throughput {len(lat) / seconds:.2f} searches/s")
    if lat:
        print(f"latency Enter → results drawn: p50 {percentile(lat, 0.5) * 1000:.0f} ms, p95 "
              f"{percentile(lat, 0.95) * 1000:.0f} ms, p99 {percentile(lat, 0.99) * 1000:.0f} ms, "
              f"max {max(lat) * 1000:.0f} ms")
    print(f"errors: {len(tally.errors)}; wrong results: {len(tally.wrong)} (first card ≠ in-process Searcher)")
    for line in (tally.errors + tally.wrong)[:10]:
        print(f"  {line}")
    print(f"server peak RSS (VmHWM): {peak[0]:.0f} MB")
    print(f"CPU during the searches ({os.cpu_count()} cores, {seconds:.0f} s): server {cpu[0]:.0f} s, "
          f"browser + driver {cpu[1]:.0f} s")
    return 1 if tally.errors or tally.wrong or warm.errors or warm.wrong else 0


if __name__ == "__main__":
    sys.exit(main())
