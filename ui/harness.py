"""Run the app for real: `streamlit run app.py` in a subprocess on a free localhost port, and a
headless Debian Chromium driven by Playwright. Used by the browser tests and `bench/app_bench.py`.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(kb: Path, log: Path, *app_args: str, timeout: float = 120.0) -> Iterator[str]:
    """Serve the knowledge base `kb` with the app (further settings in `app_args`, e.g.
    "--upload-queue", DIR); yield its base URL; stop the server after.

    Raises:
        RuntimeError: if the server exits or is not healthy within `timeout` seconds (the end of
            its log is in the message).
    """
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--", "--kb", str(kb), *app_args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log, timeout)
        yield url
    finally:
        stop_process(proc, timeout=15)


def stop_process(proc: subprocess.Popen, *, timeout: float) -> None:
    """Ask `proc` to end (SIGTERM), kill it if it has not after `timeout` seconds, and reap it.

    Raises nothing of its own (a process already gone is fine).
    """
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    """Return once the app at `url` says it is healthy.

    Raises:
        RuntimeError: if `proc` (the server, or the command that starts it) exits first, or
            `timeout` seconds pass (the end of its `log` is in the message).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}: {_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"streamlit not healthy after {timeout:.0f} s: {_tail(log)}")


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return " | ".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (Debian's, since Playwright cannot download browsers here).

    Raises:
        RuntimeError: if Chromium is not installed at /usr/bin/chromium.
    """
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} not found: install it with `make browser`")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_until_idle(page, timeout_ms: float = 60000) -> None:
    """Wait until Streamlit has finished the current script run: its status widget (which may
    take a moment to appear) is gone, the app says its script is not running and no element is
    still marked stale. Content a run draws last may still be on its way: check it with
    Playwright's retrying `expect`."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    status = page.locator('[data-testid="stStatusWidget"]')
    try:
        status.wait_for(state="attached", timeout=1000)
    except PlaywrightTimeout:
        pass                    # a quick run finishes before the widget shows
    status.wait_for(state="detached", timeout=timeout_ms)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(state="attached",
                                                                                         timeout=timeout_ms)
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=timeout_ms)


def count_script_runs(page) -> None:
    """Count each run of the app's script from now on, in the page's `window.kbScriptRuns` (read it
    with `page.evaluate("kbScriptRuns")`): the app marks a run in its `data-test-script-state`."""
    page.evaluate("""() => {
        window.kbScriptRuns = 0;
        const app = document.querySelector('[data-testid="stApp"]');
        new MutationObserver(() => {
            if (app.getAttribute('data-test-script-state') === 'running') window.kbScriptRuns++;
        }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
    }""")
