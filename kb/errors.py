"""The one errors module: every failure a user can see is a `KBError` whose `str()` is one line.

CLIs print `str(err)` and exit with `err.exit_code`; the app shows it in one `st.error`.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable

# Bidirectional overrides and isolates: they reorder what a terminal shows ("txt.exe" as "exe.txt").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(text: str) -> str:
    """`text` safe for a one-line message: control characters (newlines, ANSI escapes, …), line
    separators and bidi controls are written as escapes ("\\n", "\\x1b"), so a file name can
    neither break an error line nor restyle the user's terminal."""
    return "".join(ch.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI_CONTROLS else ch
                   for ch in text)


class KBError(Exception):
    """Base class. `str(err)` is a complete one-line message for the user."""

    exit_code = 1


class IngestError(KBError):
    """A file could not be read or parsed.

    `kind` is the coarse class the CLI and JSON report ("empty", "no_text_layer", "corrupt",
    "unsupported", "encoding"; "timeout" and "too_large" when a file exceeds a parsing limit);
    `reason` is the specific cause ("not_docx", "binary",
    "mixed_encoding", "truncated", ...), and `message` says it in words.
    """

    KINDS = ("empty", "no_text_layer", "corrupt", "unsupported", "encoding", "timeout", "too_large")
    exit_code = 2

    def __init__(self, file: str, kind: str, message: str, reason: str | None = None):
        if kind not in self.KINDS:
            raise ValueError(f"unknown IngestError kind {kind!r}")
        self.file = str(file)       # as given, for programs; messages show it with `printable`
        self.kind = kind
        self.reason = reason or kind
        self.message = printable(message)
        super().__init__(f"{printable(self.file)}: {self.message}")

    def to_json(self) -> dict:
        return {"file": self.file,
                "error": {"kind": self.kind, "reason": self.reason, "message": self.message}}


class StoreError(KBError):
    """The knowledge-base folder is missing, locked, or written by an incompatible version."""


class SearchIndexError(KBError):
    """The search index is missing or does not match the knowledge base or model.

    The message always ends with the command that rebuilds it.
    """


class QueryError(KBError):
    """A search request is invalid (empty query, unknown document, bad filter value)."""


class BackendError(KBError):
    """An external engine the settings name (a Milvus server, a Ray cluster) cannot be reached
    or refused a request; the message names the address and the reason."""


class ConfigError(KBError):
    """A setting has an invalid value (unknown model path, bad number, ...)."""


class PackError(KBError):
    """A lecture pack (讲义) cannot be created, read or written: bad name, damaged file, disk error."""


class NotADocument(KBError):
    """A file that holds no document text by design (e.g. a front-matter-only `_index.md`
    navigation page): it is skipped with a note, not counted as a failure."""

    def __init__(self, file: str, message: str):
        self.file = str(file)
        self.message = printable(message)
        super().__init__(f"{printable(self.file)}: {self.message}")


# The exit status of a batch command some of whose files failed while the others went in. Not 1,
# which says that nothing could be done (a `KBError`): a caller such as `make run` goes on after
# failed files, not after that.
FILES_FAILED = 3


def run_cli(command: Callable[..., int], *args: object, interrupted: str = "interrupted") -> int:
    """Run a CLI command function and turn failures into one line on stderr and an exit code:
    a `KBError` → its message and `exit_code`; Ctrl-C → `interrupted` and 130; a reader that
    stops reading (`| head`) → nothing said and 141, as for a tool SIGPIPE ends."""
    import os
    import sys

    try:
        return command(*args)
    except KBError as err:
        print(f"error: {printable(str(err))}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130
    except BrokenPipeError:
        # what is still buffered for the closed pipe would fail again as Python exits
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
