"""Legacy word-processor files (.doc, .wps, .rtf, .odt) via LibreOffice, then the DOCX loader.

`soffice --headless --convert-to docx` runs in a temporary folder with its own user profile (two
conversions at once would otherwise fight over the profile's lock) under a time limit, and dies
with the parse worker. LibreOffice is optional: without it these files fail with kind
"unsupported", naming the Debian package to install.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from ingest.loaders import RawText
from ingest.loaders import docx as docx_loader
from kb.errors import IngestError
from kb.workers import die_with_parent

PACKAGE = "libreoffice-writer-nogui"    # Debian's LibreOffice Writer without the desktop parts
CONVERT_TIMEOUT = 50.0                  # seconds; below the default parse_timeout, so this message wins


def soffice() -> str | None:
    """The LibreOffice command on the PATH, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def load(path: Path, data: bytes) -> RawText:
    """Text of a .doc/.wps/.rtf/.odt file, converted to .docx by LibreOffice.

    Raises:
        IngestError: kind "unsupported"/reason "no_libreoffice" without LibreOffice; kind
            "timeout" when the conversion takes longer than `CONVERT_TIMEOUT`; kind
            "corrupt"/reason "not_converted" when LibreOffice cannot convert the file; the
            DOCX loader's errors for what it produced.
    """
    command = soffice()
    suffix = path.suffix.lower()
    if command is None:
        raise IngestError(str(path), "unsupported", f"{suffix} files are converted with LibreOffice, which is not "
                          f"installed: install the Debian package {PACKAGE} (apt-get install {PACKAGE})",
                          reason="no_libreoffice")
    with tempfile.TemporaryDirectory(prefix="policykb-convert-") as tmp:
        source = Path(tmp) / f"source{suffix}"      # the user's file name stays out of the command line
        source.write_bytes(data)
        process = subprocess.Popen(
            [command, f"-env:UserInstallation={(Path(tmp) / 'profile').as_uri()}", "--headless", "--norestore",
             "--convert-to", "docx", "--outdir", str(Path(tmp) / "out"), str(source)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True, preexec_fn=lambda parent=os.getpid(): die_with_parent(parent))
        try:
            _, stderr = process.communicate(timeout=CONVERT_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)      # soffice starts helpers of its own
            process.wait()
            raise IngestError(str(path), "timeout", f"LibreOffice took longer than {CONVERT_TIMEOUT:g} s to convert "
                              "it; not stored", reason="timeout") from None
        converted = Path(tmp) / "out" / "source.docx"
        if not converted.is_file():
            said = stderr.decode("utf-8", "replace").strip().splitlines()
            raise IngestError(str(path), "corrupt", f"LibreOffice cannot convert this {suffix} file"
                              + (f" ({said[-1]})" if said else ""), reason="not_converted")
        raw = docx_loader.load(path, converted.read_bytes())
    return dataclasses.replace(raw, source_kind="converted")
