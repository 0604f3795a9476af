"""Serving: `make run` and `streamlit run app.py` (from the repository) listen on this machine
only; `make run PUBLIC=1` is the explicit way to serve the network and tells the app so; `make
run` serves a corpus with a broken file, as soon as search works, and Ctrl-C stops all it started."""
from __future__ import annotations

import ipaddress
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.faults_bench import group_members
from ui.harness import CHROMIUM, chromium, free_port, stop_process, wait_healthy, wait_until_idle

REPO = Path(__file__).resolve().parents[1]


def make_run_command(*assignments: str) -> list[str]:
    """The streamlit command line of `make run` with these variable assignments (`make -n`
    prints the recipe without running anything)."""
    recipe = subprocess.run(["make", "-n", "run", *assignments], cwd=REPO, capture_output=True, text=True,
                            check=True, timeout=60).stdout.replace("\\\n", " ")     # join continued lines
    return shlex.split(next(line for line in recipe.splitlines() if "streamlit run app.py" in line))


def listening_addresses(port: int) -> set[str]:
    """The local addresses of TCP sockets listening on `port`, from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:       # 0A: LISTEN
                raw = bytes.fromhex(address)
                # the kernel prints each 32-bit word in host (little-endian) order
                found.add(str(ipaddress.ip_address(b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4)))))
    return found


def addresses_served_by(command: list[str], port: int, log: Path) -> set[str]:
    """Start `command` (a streamlit server on `port`), wait until it listens, return where, stop it."""
    with open(log, "wb") as out:
        server = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not listening_addresses(port):
            assert server.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
            time.sleep(0.3)
        time.sleep(1.0)            # a server binding several addresses binds them one after another
        return listening_addresses(port)
    finally:
        stop_process(server, timeout=20)


@pytest.mark.slow
def test_make_run_listens_on_this_machine_only(tmp_path: Path):
    port = free_port()
    command = make_run_command(f"PORT={port}", f"KB={tmp_path / 'kb'}")
    assert "--no-public" in command
    assert addresses_served_by(command, port, tmp_path / "make-run.log") == {"127.0.0.1"}


@pytest.mark.slow
def test_streamlit_run_from_the_repository_listens_on_this_machine_only(tmp_path: Path):
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--",
               "--kb", str(tmp_path / "kb")]
    assert addresses_served_by(command, port, tmp_path / "streamlit-run.log") == {"127.0.0.1"}


def test_make_run_public_serves_the_network_and_tells_the_app(tmp_path: Path):
    command = make_run_command("PUBLIC=1", f"KB={tmp_path / 'kb'}")
    assert command[command.index("--server.address") + 1] == "0.0.0.0"
    assert "--public" in command[command.index("--"):]


REGULATION = """# 某县信访接待测试办法

<!-- INFO END -->

第一条 为了规范信访接待工作，制定本办法。

第二条 信访人对复查意见不服的，可以自收到书面复查意见之日起三十日内向复查机关的上一级机关请求复核。
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed (make browser)")
def test_make_run_serves_a_corpus_with_a_broken_file(tmp_path: Path):
    # a broken file among a user's documents used to stop `make run` before it served the others
    from playwright.sync_api import expect
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "某县信访接待测试办法.md").write_text(REGULATION, encoding="utf-8")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    port, log = free_port(), tmp_path / "make-run.log"
    with open(log, "wb") as out:        # a process group of its own, as in a terminal
        make = subprocess.Popen(["make", "run", f"CORPUS={corpus}", f"KB={tmp_path / 'kb'}", f"PORT={port}"],
                                cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", make, log, timeout=300)
        output = log.read_text(encoding="utf-8", errors="replace")
        assert "broken.pdf" in output and "1 failed" in output, output
        with chromium() as browser:
            page = browser.new_page(locale="zh-CN")
            page.set_default_timeout(60000)
            page.goto(f"http://127.0.0.1:{port}")
            wait_until_idle(page)
            box = page.get_by_label("输入问题、关键词或条文（按回车检索）")
            box.fill("对复查意见不服还能找谁？")
            box.press("Enter")
            wait_until_idle(page)
            # a retrying check: on a slow machine the cards were seen half drawn (CI, session 59)
            expect(page.locator(".kb-cite").first).to_contain_text("《某县信访接待测试办法》第二条")
        os.killpg(make.pid, signal.SIGINT)          # what Ctrl-C in its terminal sends
        make.wait(timeout=60)
        deadline = time.monotonic() + 30
        while group_members(make.pid):
            assert time.monotonic() < deadline, f"Ctrl-C left processes {group_members(make.pid)} running"
            time.sleep(0.3)
    finally:
        if group_members(make.pid):
            os.killpg(make.pid, signal.SIGKILL)
