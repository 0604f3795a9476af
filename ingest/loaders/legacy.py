"""Legacy word-processor files (.doc, .wps, .rtf, .odt) via LibreOffice, then the DOCX loader; a web
page or text file saved under such a name by the loader of what it holds.

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

from ingest.loaders import OLE_MAGIC, RawText
from ingest.loaders import docx as docx_loader
from ingest.loaders import html as html_loader
from ingest.loaders import text as text_loader
from kb.errors import IngestError
from kb.workers import die_with_parent

PACKAGE = "libreoffice-writer-nogui"    # Debian's LibreOffice Writer without the desktop parts
CONVERT_TIMEOUT = 50.0                  # seconds; below the default parse_timeout, so this message wins
# How the files LibreOffice converts begin: Word 97 and WPS (OLE), DOCX and ODT (ZIP), RTF. Other
# bytes it reads as text, so garbage became a "document" of garbage characters.
DOCUMENT_MAGIC = (OLE_MAGIC, b"PK\x03\x04", b"{\\rtf")
OLE_HEADER_BYTES = 512                  # an OLE file's header alone; shorter is a damaged file
# Word keeps a .docx encrypted with a password in an OLE container, in a stream of this name
ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")


def soffice() -> str | None:
    """The LibreOffice command on the PATH, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def load(path: Path, data: bytes, *, described: str = "") -> RawText:
    """Text of a .doc/.wps/.rtf/.odt file, converted to .docx by LibreOffice (which reads a file
    by what it holds, whatever its name). `described`: what the file is when its name says
    otherwise (an old .doc named .docx), for the messages.

    Raises:
        IngestError: kind "unsupported"/reason "no_libreoffice" without LibreOffice; kind
            "timeout" when the conversion takes longer than `CONVERT_TIMEOUT`; kind
            "corrupt"/reason "not_converted" when LibreOffice cannot convert the file, reason
            "truncated" for an old Office file shorter than its header, "encrypted" for a Word
            document encrypted with a password; the DOCX loader's errors for what it produced;
            `_saved_as_doc`'s for bytes of none of these formats.
    """
    suffix = path.suffix.lower()
    kind = ".doc" if described else suffix
    said = f"{described}: " if described else ""
    body = data.lstrip(b"\xef\xbb\xbf \t\r\n")       # LibreOffice reads an RTF after a BOM as text
    if not body.startswith(DOCUMENT_MAGIC):
        return _saved_as_doc(path, data, body, kind)
    data = body
    if data.startswith(OLE_MAGIC) and len(data) < OLE_HEADER_BYTES:
        raise IngestError(str(path), "corrupt", f"{said}a damaged {kind} file: {len(data)} bytes, shorter than the "
                          f"{OLE_HEADER_BYTES}-byte header of an old Office file", reason="truncated")
    if data.startswith(OLE_MAGIC) and ENCRYPTED_PACKAGE in data:
        raise IngestError(str(path), "corrupt", "Word document encrypted with a password: save a copy without "
                          "the password and ingest that", reason="encrypted")
    command = soffice()
    if command is None:
        raise IngestError(str(path), "unsupported", f"{said}{kind} files are converted with LibreOffice, which is "
                          f"not installed: install the Debian package {PACKAGE} (apt-get install {PACKAGE})",
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
            told = stderr.decode("utf-8", "replace").strip().splitlines()
            raise IngestError(str(path), "corrupt", f"{said}LibreOffice cannot convert this {kind} file"
                              + (f" ({told[-1]})" if told else ""), reason="not_converted")
        raw = docx_loader.load(path, converted.read_bytes())
    return dataclasses.replace(raw, source_kind="converted")


def _saved_as_doc(path: Path, data: bytes, body: bytes, kind: str) -> RawText:
    """A web page, single-file web page (MHT) or text file named .doc (government sites serve
    pages so, and Word opens them all), read by the loader of what it holds; `body`: `data`
    without a leading byte-order mark or blanks, where a page's first tag stands.

    Raises:
        IngestError: kind "corrupt"/reason "not_document" for bytes that are neither; the HTML
            or text loader's errors.
    """
    if body[:1024].lower().startswith((b"<!doctype html", b"<html")):
        return html_loader.load(path, data)
    if html_loader.is_web_archive(data):
        return html_loader.load_web_archive(path, data)
    try:
        return text_loader.load_text(path, data)
    except IngestError as err:
        if err.reason != "binary":
            raise
    raise IngestError(str(path), "corrupt", f"not a {kind} file: its bytes are none of Word, WPS, RTF or "
                      "OpenDocument, nor a web page or text", reason="not_document")
