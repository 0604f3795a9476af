"""Documents replaced by a successor of another title (`ingest/data/successors.tsv`).

A new version of the same title supersedes the old one by itself (`ingest.store.derive_statuses`),
and a text that says "《…》同时废止" repeals what it names. Some successors say neither: the 2022
《信访工作条例》 took over the matters of the 2005 《信访条例》 without a repeal clause. Such pairs
are listed in a small data file; the store marks the replaced document superseded once its
successor is in the knowledge base, so search serves the rule in force first.
`parse_successors` is pure; `load_successors` reads the bundled file.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from kb.chinese import title_key

SUCCESSORS_FILE = Path(__file__).parent / "data" / "successors.tsv"


@dataclass(frozen=True)
class Successors:
    """Replaced title key → the title keys of its successors; `fingerprint` names the list."""
    by_replaced: dict[str, frozenset[str]]
    fingerprint: str

    def replaced_by(self, successor_keys: set[str]) -> set[str]:
        """Title keys of the documents that any of `successor_keys` replaces."""
        return {old for old, new in self.by_replaced.items() if new & successor_keys}


def parse_successors(text: str) -> Successors:
    """The pairs of a successors file: tab-separated `replaced title, successor title, reason`
    lines; `#` comments and blank lines are skipped.

    Raises:
        ValueError: for a line without both titles (names the line).
    """
    pairs: dict[str, set[str]] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < 2 or not fields[0] or not fields[1]:
            raise ValueError(f"line {n}: expected 'replaced title<TAB>successor title<TAB>reason'")
        old, new = title_key(fields[0]), title_key(fields[1])
        if old != new:
            pairs.setdefault(old, set()).add(new)
    body = "\n".join(f"{old}\t{','.join(sorted(new))}" for old, new in sorted(pairs.items()))
    return Successors({old: frozenset(new) for old, new in pairs.items()},
                      hashlib.sha256(body.encode("utf-8")).hexdigest()[:16])


def load_successors(path: Path = SUCCESSORS_FILE) -> Successors:
    """The bundled successors list.

    Raises:
        ValueError: if the file is malformed (names the file and line).
        OSError: if it cannot be read.
    """
    try:
        return parse_successors(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
