"""Serving: `make run` and `streamlit run app.py` (from the repository) listen on this machine
only; `make run PUBLIC=1` is the explicit way to serve the network and tells the app so."""
from __future__ import annotations

import ipaddress
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ui.harness import free_port, stop_process

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
