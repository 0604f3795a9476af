"""Chinese tokenisation for the lexical index: jieba with a policy-term dictionary and stop words.

Documents and queries go through the same `Tokenizer`, so a term is matched only if both sides
split it the same way. Search mode (jieba `cut_for_search`) also emits the sub-words of long
words ("借款合同" → 借款, 合同, 借款合同), which lets a colloquial "借款" meet a statute's "借款合同";
`bench/search_bench.py` measures the gain.

The word lists live in `index/data/` (one entry per line, `#` comments):
`userdict.txt` (term and optional frequency) and `stopwords.txt`.
"""
from __future__ import annotations

import functools
import os
import re
import sys
import threading
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from kb.errors import ConfigError

if TYPE_CHECKING:
    import jieba

DATA_DIR = Path(__file__).resolve().parent / "data"
USER_DICT = DATA_DIR / "userdict.txt"
STOP_WORDS = DATA_DIR / "stopwords.txt"

# A token is kept only if it holds a CJK character, a letter or a digit (drops punctuation).
_CONTENT = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf0-9a-z]")
# jieba cuts runs of these characters (its `re_han_default`) as one block, and its HMM copies its
# path at every character of a block of unknown single characters: 40,000 × "的" took 4.8 s. The
# longest run in all of LawRefBook has 89 characters; a longer one is cut every `MAX_RUN`.
MAX_RUN = 200
_RUN_CHARS = r"[\u4E00-\u9FD5a-zA-Z0-9+#&._%\-]"
_LONG_RUN = re.compile(rf"(?<!{_RUN_CHARS}){_RUN_CHARS}{{{MAX_RUN + 1},}}+")     # starts only where a run does


def _cut_long_runs(text: str) -> str:
    """`text` with a space after every `MAX_RUN` characters of a longer run."""
    return _LONG_RUN.sub(lambda m: " ".join(m.group()[i:i + MAX_RUN] for i in range(0, len(m.group()), MAX_RUN)), text)


def read_word_list(path: Path) -> list[list[str]]:
    """Read a word-list data file: one entry per line, fields split on whitespace, `#` comments.

    Raises:
        ConfigError: if the file cannot be read.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read word list ({err.strerror or err})") from None
    return [line.split() for line in lines if line.strip() and not line.lstrip().startswith("#")]


# Loading jieba's dictionary takes 1.2–1.5 s on a slow machine (a marshal load of ~500,000
# entries), and every build and every searcher made its own: a process shares one engine per word
# list (`cut` only reads it). The lock makes threads asking at once wait for one load.
_ENGINE_LOCK = threading.Lock()


def _fresh_locks_in_child() -> None:
    """Give a forked child (a tokeniser worker) unheld loading locks. A fork copies a lock that
    another thread holds (the app forks its build's workers while its other threads serve
    searches, and may be loading an engine) and that thread does not exist in the child, so the
    child would wait for it for ever; the engines are loaded before they are cached, so the cache
    holds no half-made one."""
    global _ENGINE_LOCK
    _ENGINE_LOCK = threading.Lock()
    jieba = sys.modules.get("jieba")
    if jieba is not None:
        jieba.DICT_WRITING.clear()       # jieba's own lock of a first load, which writes its cache file


if hasattr(os, "register_at_fork"):         # (Windows has no fork)
    os.register_at_fork(after_in_child=_fresh_locks_in_child)


@functools.lru_cache(maxsize=2)
def _jieba_engine(user_words: tuple[tuple[str, int | None], ...]) -> "jieba.Tokenizer":
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    engine = jieba.Tokenizer()
    for word, freq in user_words:
        engine.add_word(normalise(word), freq)
    engine.check_initialized()
    return engine


def normalise(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


class Tokenizer:
    """jieba with its own dictionary instance (the global `jieba` is left untouched)."""

    def __init__(self, *, search_mode: bool = True, user_dict: Path = USER_DICT,
                 stop_words: Path = STOP_WORDS, extra_words: Iterable[str] = ()) -> None:
        """`extra_words` are kept whole as well (e.g. short names of the indexed documents).

        Raises:
            ConfigError: if a word list cannot be read.
        """
        self.search_mode = search_mode
        self._user_words = [(fields[0], int(fields[1]) if len(fields) > 1 else None)
                            for fields in read_word_list(user_dict)]
        self._user_words += [(word, None) for word in extra_words]
        self.stop_words = frozenset(fields[0] for fields in read_word_list(stop_words))
        self._jieba: jieba.Tokenizer | None = None

    def _engine(self) -> "jieba.Tokenizer":
        if self._jieba is None:
            with _ENGINE_LOCK:
                self._jieba = _jieba_engine(tuple(self._user_words))
        return self._jieba

    def tokens(self, text: str) -> list[str]:
        """Content tokens of `text` in order (duplicates kept: BM25 counts term frequency)."""
        engine = self._engine()
        text = _cut_long_runs(normalise(text))
        words = engine.cut_for_search(text) if self.search_mode else engine.cut(text)
        return [w for w in words if w not in self.stop_words and _CONTENT.search(w)]

    def __getstate__(self) -> dict:
        # A worker process loads its own jieba engine (once) instead of unpickling one.
        state = dict(self.__dict__)
        state["_jieba"] = None
        return state
