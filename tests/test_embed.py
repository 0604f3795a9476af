"""Embedding engine and embedding cache: pure helpers on strings/arrays, then the real default
model (e5-small) on every backend, exported into a temporary cache folder, and the other bundled
ones (m3e-small, use-multilingual)."""
from __future__ import annotations

import functools
import json
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tqdm

from conftest import APP_CORPUS, cache_sharing_models, kb_of_texts
from index.cache import EmbeddingCache, cache_key, cached_vectors, stored_roundtrip
from index.embed import (EXPORT_FORMAT, EXPORT_INFO, TOKENIZER_FILE, HubTokenizer, OnnxBackend, SavedTokenizer,
                         export_format, export_onnx, fingerprint_folder, hub_tokenizer, length_batches, load_embedder,
                         normalise, passage_head, passage_text, resolve_model, save_tokenizer, split_passages)
from kb.errors import ConfigError

HEAD = "《某某市物业管理条例》 第三章 物业服务 第十条"


# ---- passages ---------------------------------------------------------------------------------

def test_passage_text_is_title_and_text():
    # no breadcrumb, no 第X条: they cost 10% of the tokens embedded; without them, held-out over the whole
    # corpus, petition Recall@10 0.680 → 0.729 and STARD 0.684 → 0.680
    assert passage_head("信访工作条例") == "《信访工作条例》"
    assert passage_text("民法典", "当事人应当按照约定全面履行自己的义务。") == "《民法典》 当事人应当按照约定全面履行自己的义务。"


def test_short_article_is_one_passage():
    paragraphs = ["业主应当按时交纳物业费。", "物业服务人应当公示收费标准。"]
    assert split_passages(HEAD, paragraphs, 200) == [HEAD + " " + "\n".join(paragraphs)]


def test_long_article_splits_between_paragraphs_and_repeats_the_head():
    paragraphs = [f"第{i}款的内容" + "甲" * 30 + "。" for i in range(6)]      # 37 characters each
    passages = split_passages(HEAD, paragraphs, 100)
    assert len(passages) > 1
    assert all(p.startswith(HEAD + " ") and len(p) <= 100 for p in passages)
    bodies = [p[len(HEAD) + 1:] for p in passages]
    assert "\n".join(bodies).split("\n") == paragraphs                   # every 款 once, in order, uncut


def test_overlong_paragraph_is_cut_after_sentence_ends():
    sentences = ["第一句讲的是申请的条件" + "乙" * 20 + "。", "第二句讲的是办理的期限" + "丙" * 20 + "；",
                 "第三句讲的是救济的途径" + "丁" * 20 + "。"]
    passages = split_passages(HEAD, ["".join(sentences)], 80)
    bodies = [p[len(HEAD) + 1:] for p in passages]
    assert len(passages) == 3 and all(len(p) <= 80 for p in passages)
    assert bodies == sentences


def test_sentence_without_any_break_is_cut_by_length():
    passages = split_passages("头", ["戊" * 95], 40)
    assert all(len(p) <= 40 for p in passages)
    assert "".join(p[2:] for p in passages) == "戊" * 95


def test_split_uses_the_given_token_count():
    # A counter that sees every character as two tokens halves what fits.
    paragraphs = ["己" * 20, "庚" * 20, "辛" * 20]
    by_chars = split_passages("头", paragraphs, 70)
    by_double = split_passages("头", paragraphs, 70, count=lambda s: 2 * len(s))
    assert len(by_chars) == 1 and len(by_double) == 3


def test_split_fits_the_window_when_a_character_is_several_tokens():
    # byte-level BPE, or NFKC turning "㈠" into "(一)": cutting a sentence every `budget` characters
    # is then not enough
    count = lambda s: sum(3 if c == "㈠" else 1 for c in s)     # noqa: E731
    passages = split_passages("头", ["㈠" * 40 + "乙" * 40], 30, count=count)
    assert all(count(p) <= 30 for p in passages)
    assert "".join(p[2:] for p in passages) == "㈠" * 40 + "乙" * 40


def test_a_backend_counts_tokens_a_bounded_batch_at_a_time(monkeypatch: pytest.MonkeyPatch):
    # the whole corpus's articles counted in one batch held every token's encoding at once (+1.3 GB)
    import index.embed as embed_module

    batches: list[int] = []

    class Tokens:
        def count_tokens(self, texts):
            batches.append(len(texts))
            return [len(t) for t in texts]

    backend = embed_module.TokenizedBackend()
    backend.tokens = Tokens()
    monkeypatch.setattr(embed_module, "COUNT_BATCH", 3)
    texts = [str(i) * i for i in range(1, 9)]
    assert backend.count_tokens(texts) == list(range(1, 9)) and batches == [3, 3, 2]


def test_split_rejects_a_tiny_window():
    with pytest.raises(ValueError):
        split_passages(HEAD, ["文"], 1)


def test_length_batches_sort_longest_first_and_restore_order():
    texts = ["aaaa", "a", "aaaaaaa", "aa", "aaaaa", "aaa", "aaaaaa"]
    batches = length_batches([len(t) for t in texts], 3)
    assert [len(b) for b in batches] == [3, 3, 1]
    lengths = [[len(texts[i]) for i in b] for b in batches]
    assert lengths == [[7, 6, 5], [4, 3, 2], [1]]
    out = np.zeros(len(texts), dtype=np.int64)
    for b in batches:
        out[b] = [len(texts[i]) * 10 for i in b]
    assert out.tolist() == [len(t) * 10 for t in texts]
    with pytest.raises(ValueError):
        length_batches([1, 2], 0)


def test_normalise_gives_unit_rows_and_keeps_zero_rows():
    v = normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert v.dtype == np.float32
    assert np.allclose(v, [[0.6, 0.8], [0.0, 0.0]])


# ---- model files ------------------------------------------------------------------------------

def test_bundled_model_resolves_to_its_folder(tmp_path: Path):
    folder = resolve_model("m3e-small", tmp_path)
    assert folder.name == "m3e-small" and (folder / "config.json").is_file()


def test_unknown_models_are_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(ConfigError, match="not a model folder"):
        resolve_model(str(tmp_path / "nowhere"), tmp_path)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)       # offline unless the environment says otherwise
    with pytest.raises(ConfigError, match="not found locally"):
        resolve_model("no-such-org/no-such-model-xyz", tmp_path)


def test_loading_a_model_leaves_the_process_environment_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # (torch and its friends write KMP_* / TORCHINDUCTOR_* themselves; what we check is our own code)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    ours = lambda: {k: v for k, v in os.environ.items() if k.startswith(("HF_", "POLICYKB_", "TOKENIZERS_"))}  # noqa: E731
    before = ours()
    load_embedder(cache_dir=str(cache_sharing_models(tmp_path / "cache"))).encode_query("信访")
    assert ours() == before


def test_fingerprint_changes_with_config_and_weights(tmp_path: Path):
    (tmp_path / "config.json").write_text('{"hidden_size": 8}')
    (tmp_path / "weights.bin").write_bytes(bytes(3 << 20))
    first = fingerprint_folder(tmp_path)
    assert fingerprint_folder(tmp_path) == first
    (tmp_path / "config.json").write_text('{"hidden_size": 16}')
    second = fingerprint_folder(tmp_path)
    assert second != first
    with (tmp_path / "weights.bin").open("r+b") as fh:
        fh.seek(-10, os.SEEK_END)
        fh.write(b"\x01")
    assert fingerprint_folder(tmp_path) != second


@pytest.mark.parametrize("setting, value, message", [("embed_backend", "tensorflow", "embed_backend"),
                                                     ("max_seq_length", 4, "max_seq_length"),
                                                     ("embed_batch_size", 0, "embed_batch_size")])
def test_bad_settings_are_config_errors(setting: str, value: object, message: str, tmp_path: Path):
    with pytest.raises(ConfigError, match=message):
        load_embedder(cache_dir=str(tmp_path), **{setting: value})


# ---- embedding cache --------------------------------------------------------------------------

def test_cache_round_trip_survives_reopening(tmp_path: Path):
    vectors = normalise(np.random.default_rng(1).standard_normal((3, 16)))
    texts = ["第一条 甲", "第二条 乙", "第三条 丙"]
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many("model-a", texts, vectors)
    with EmbeddingCache.open(tmp_path) as cache:
        got, found = cache.get_many("model-a", ["第二条 乙", "未存", "第一条 甲"], 16)
        assert len(cache) == 3
    assert found.tolist() == [True, False, True]
    assert np.allclose(got[[0, 2]], vectors[[1, 0]], atol=1e-3)
    assert np.allclose(np.linalg.norm(got[[0, 2]], axis=1), 1, atol=1e-6)
    assert not got[1].any()
    assert np.array_equal(got[[0, 2]], stored_roundtrip(vectors[[1, 0]]))


def test_cache_key_depends_on_model_and_exact_text(tmp_path: Path):
    assert cache_key("m", "文本") == cache_key("m", "文本")
    assert len({cache_key("m", "文本"), cache_key("n", "文本"), cache_key("m", "文本 "), cache_key("m", "文夲")}) == 4
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many("m", ["文本"], normalise(np.ones((1, 4))))
        assert cache.get_many("m", ["文本"], 4)[1].tolist() == [True]
        assert cache.get_many("n", ["文本"], 4)[1].tolist() == [False]
        assert cache.get_many("m", ["文本 ", "文本\n"], 4)[1].tolist() == [False, False]


def test_cache_rejects_mismatched_input(tmp_path: Path):
    with EmbeddingCache.open(tmp_path) as cache:
        with pytest.raises(ValueError):
            cache.put_many("m", ["a", "b"], np.ones((1, 4)))
        cache.put_many("m", ["a"], normalise(np.ones((1, 4))))
        with pytest.raises(ConfigError, match="another dimension"):
            cache.get_many("m", ["a"], 8)


def test_cache_file_of_another_layout_is_started_afresh(tmp_path: Path):
    import sqlite3
    from index.cache import CACHE_FILE

    with sqlite3.connect(tmp_path / CACHE_FILE) as conn:
        conn.execute("CREATE TABLE vectors (key BLOB PRIMARY KEY, vec BLOB)")
        conn.execute("INSERT INTO vectors VALUES (x'00', x'00')")
    with EmbeddingCache.open(tmp_path) as cache:
        assert len(cache) == 0
        cache.put_many("m", ["文本"], normalise(np.ones((1, 4))))
    with EmbeddingCache.open(tmp_path) as cache:
        assert cache.get_many("m", ["文本"], 4)[1].tolist() == [True]


def test_a_damaged_cache_file_says_it_may_be_deleted(tmp_path: Path):
    from index.cache import CACHE_FILE
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many("m", [f"文本{i}" for i in range(2000)], normalise(np.ones((2000, 4))))
    (tmp_path / CACHE_FILE).write_bytes((tmp_path / CACHE_FILE).read_bytes()[:20_000])
    with pytest.raises(ConfigError, match="cannot be opened .*: delete it and build again"):
        EmbeddingCache.open(tmp_path)


def test_cache_in_an_unwritable_place_is_a_config_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="embedding cache"):
        EmbeddingCache.open(blocker / "cache")


# ---- the real bundled model -------------------------------------------------------------------

LABOUR = "《劳动合同法》 第三十七条 劳动者提前三十日以书面形式通知用人单位，可以解除劳动合同。"
PETITION = "《信访工作条例》 第十七条 信访人可以采用信息网络、书信、电话、传真、走访等形式提出信访事项。"
FOREST = "《森林法》 第二十条 国有森林资源由国务院自然资源主管部门负责登记造册。"
SENTENCES = [LABOUR, PETITION, FOREST, "短句。", "《某条例》 第九条 " + "本条例所称的社区服务包括养老、托育、助残等内容；" * 6]


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedding cache of the module's own with the session's converted and exported models
    (converting and exporting e5-small in a cache of its own cost the module ~55 s)."""
    return cache_sharing_models(tmp_path_factory.mktemp("model-cache"))


def export_folder(embedder, cache: Path) -> Path:
    """The folder of `embedder`'s model's ONNX exports in `cache` (the session's may hold other models' too)."""
    return cache / "onnx" / fingerprint_folder(embedder.folder)


@pytest.fixture(scope="module")
def torch_embedder(model_cache: Path):
    return load_embedder(embed_backend="torch", cache_dir=str(model_cache))


@pytest.fixture(scope="module")
def int8_embedder(model_cache: Path):
    return load_embedder(embed_backend="onnx-int8", cache_dir=str(model_cache))


def test_vectors_are_unit_float32_in_input_order(torch_embedder):
    vectors = torch_embedder.encode_passages(SENTENCES)
    assert vectors.shape == (len(SENTENCES), torch_embedder.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    one_by_one = np.stack([torch_embedder.encode_passages([s])[0] for s in SENTENCES])
    assert np.allclose(vectors, one_by_one, atol=1e-4)


def test_parallel_batches_come_back_in_input_order(model_cache: Path):
    small_batches = load_embedder(embed_backend="onnx-int8", embed_batch_size=2, embed_threads=2,
                                  cache_dir=str(model_cache))
    together = small_batches.encode_passages(SENTENCES)
    one_by_one = np.stack([small_batches.encode_passages([s])[0] for s in SENTENCES])
    assert np.array_equal(together, one_by_one)


def test_a_close_sentence_ranks_above_unrelated_ones(int8_embedder):
    passages = int8_embedder.encode_passages([LABOUR, PETITION, FOREST])
    scores = passages @ int8_embedder.encode_query("辞职需要提前多久告诉公司？")
    assert scores.argmax() == 0
    scores = passages @ int8_embedder.encode_query("老百姓可以通过哪些方式反映问题、提出信访？")
    assert scores.argmax() == 1


def test_onnx_exports_agree_with_pytorch(torch_embedder, int8_embedder, model_cache: Path):
    reference = torch_embedder.encode_passages(SENTENCES)
    fp32 = load_embedder(embed_backend="onnx", cache_dir=str(model_cache))
    # batch shapes and lengths unlike the export example: the exported axes are really dynamic
    assert np.sum(fp32.encode_passages(SENTENCES) * reference, axis=1).min() > 0.9999
    assert np.sum(int8_embedder.encode_passages(SENTENCES) * reference, axis=1).min() > 0.97
    # both graphs in the one folder named by the model's fingerprint
    assert {"model.onnx", "model.int8.onnx"} <= {p.name for p in export_folder(int8_embedder, model_cache).iterdir()}


def test_export_is_reused_on_the_next_load(int8_embedder, model_cache: Path):
    onnx_file = export_folder(int8_embedder, model_cache) / "model.int8.onnx"
    stamp = onnx_file.stat().st_mtime_ns
    again = load_embedder(embed_backend="onnx-int8", cache_dir=str(model_cache))
    assert onnx_file.stat().st_mtime_ns == stamp and again.model_id == int8_embedder.model_id


def test_the_export_takes_no_attention_mask(int8_embedder, model_cache: Path):
    # every text runs alone, unpadded: its mask would be all ones, and the masking cost ~20% of each run
    out_dir = export_folder(int8_embedder, model_cache)
    assert export_format(out_dir) == EXPORT_FORMAT
    inputs = int8_embedder.backend.query_session.get_inputs()
    # and one text per run: a batch of several would be padded, and padding needs a mask
    assert [i.name for i in inputs] == ["input_ids"] and inputs[0].shape[0] == 1


def test_an_export_of_an_older_format_is_made_again(int8_embedder, model_cache: Path, tmp_path: Path):
    # a copy: the session's export, which other tests load, stays as it is
    out_dir = Path(shutil.copytree(export_folder(int8_embedder, model_cache), tmp_path / "onnx"))
    # the first format's description: a mask among the inputs, and no "format"
    first = {"input_names": ["input_ids", "attention_mask"], "dim": 384, "max_seq_length": 512}
    (out_dir / EXPORT_INFO).write_text(json.dumps(first), encoding="utf-8")
    assert export_format(out_dir) == 1
    # the fp32 graph alone is made again, and the int8 file quantised from the old graph goes with it
    export_onnx(int8_embedder.folder, out_dir, "onnx")
    assert export_format(out_dir) == EXPORT_FORMAT and not (out_dir / "model.int8.onnx").exists()
    remade = OnnxBackend(int8_embedder.folder, export_onnx(int8_embedder.folder, out_dir, "onnx-int8"), "onnx-int8", 1)
    window = int8_embedder.max_seq_length
    for text in SENTENCES:
        assert np.array_equal(remade.embed_one(text, window), int8_embedder.backend.embed_one(text, window))


def test_two_exports_at_once_make_the_files_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # the second of two first builds remade the fp32 graph and deleted the int8 file the first had made
    import onnxruntime.quantization

    made = []

    def fake_export(model, target: Path) -> dict:
        made.append(target.name)
        time.sleep(0.5)                 # both would be exporting at once
        target.write_bytes(b"graph")
        return {"format": EXPORT_FORMAT}

    monkeypatch.setattr("index.embed._load_sentence_transformer", lambda folder, threads: None)
    monkeypatch.setattr("index.embed._export_fp32", fake_export)
    monkeypatch.setattr(onnxruntime.quantization, "quantize_dynamic",
                        lambda source, target, **_: made.append("int8") or Path(target).write_bytes(b"int8"))
    out_dir, found = tmp_path / "onnx", []
    threads = [threading.Thread(target=lambda: found.append(export_onnx(tmp_path, out_dir, "onnx-int8")))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made == ["model.onnx", "int8"]
    assert found == [out_dir / "model.int8.onnx"] * 2 and found[0].read_bytes() == b"int8"


def test_onnx_runs_skip_layer_norm_unfused(int8_embedder, model_cache: Path):
    # with each SkipLayerNormalization left as Add + LayerNormalization a first build embedded in 10% less time
    import onnxruntime

    onnx_file = export_folder(int8_embedder, model_cache) / "model.int8.onnx"

    def session(disabled: list[str]):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        return onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"],
                                            disabled_optimizers=disabled)

    fused, unfused = session([]), session(["SkipLayerNormFusion"])
    backend, window = int8_embedder.backend, int8_embedder.max_seq_length
    differ = 0
    for text in SENTENCES:
        ids = {"input_ids": backend.tokens.model_inputs(text, window)["input_ids"].astype(np.int64)}
        vector = backend.embed_one(text, window)
        assert np.array_equal(vector, unfused.run(None, ids)[0][0])
        differ += not np.array_equal(vector, fused.run(None, ids)[0][0])
    # int8 rounding moves the vectors, so they are another space: a model id of their own
    assert differ > 0 and "/onnx-int8-unfused-skipln/" in int8_embedder.model_id


# texts a tokenizer may treat in its own way: empty, spaces of all widths, full-width forms, emoji,
# characters beyond the BMP, case and ligatures, line breaks, a text longer than any window
TOKENIZER_TEXTS = [*SENTENCES, "", " ", "\u3000全角　空格", "ＡＢＣ１２３ abc", "表情 😀", "İstanbul ß ﬁ", "𠀀𪚥",
                   "\t\n混合\r\n换行", "第十条之一" * 200]


def tokenizes_alike(saved: SavedTokenizer, hub: HubTokenizer, texts: list[str]) -> None:
    assert (saved.special_tokens, saved.chars_bound_tokens) == (hub.special_tokens, hub.chars_bound_tokens)
    assert saved.count_tokens(texts) == hub.count_tokens(texts) == [hub.count_tokens([t])[0] for t in texts]
    for window in (256, 16):
        for text in texts:       # counts (untruncated) between truncated runs: each call sets its own truncation
            assert saved.count_tokens([text]) == hub.count_tokens([text]), text
            mine, theirs = saved.model_inputs(text, window), hub.model_inputs(text, window)
            for name in set(theirs) - {"attention_mask"}:
                assert mine[name].tolist() == theirs[name].tolist(), (name, window, text)


@pytest.mark.parametrize("model", ["e5-small", "m3e-small"])
def test_the_saved_tokenizer_tokenises_as_transformers_does(model: str, model_cache: Path, tmp_path: Path):
    # searching processes tokenise with the saved state, without importing transformers (and torch)
    hub = hub_tokenizer(resolve_model(model, model_cache))
    assert save_tokenizer(hub, tmp_path / TOKENIZER_FILE)
    articles = [line for path in APP_CORPUS.rglob("*.md") for line in path.read_text(encoding="utf-8").splitlines()]
    tokenizes_alike(SavedTokenizer(tmp_path / TOKENIZER_FILE), HubTokenizer(hub), TOKENIZER_TEXTS + articles)


def test_the_saved_tokenizer_keeps_the_truncation_side(tmp_path: Path):
    folder = tmp_path / "left"
    shutil.copytree(resolve_model("m3e-small", tmp_path), folder, ignore=shutil.ignore_patterns("*.bin", "*.safetensors"))
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "truncation_side": "left"}), encoding="utf-8")
    hub = hub_tokenizer(folder)
    assert save_tokenizer(hub, tmp_path / TOKENIZER_FILE)
    saved = SavedTokenizer(tmp_path / TOKENIZER_FILE)
    tokenizes_alike(saved, HubTokenizer(hub), TOKENIZER_TEXTS)
    assert saved.direction == "left"


def test_a_damaged_export_is_a_config_error_naming_it(int8_embedder, model_cache: Path, tmp_path: Path):
    # it was a traceback of ONNX Runtime's InvalidProtobuf, from `python -m index search` too
    exported = export_folder(int8_embedder, model_cache)
    cache = tmp_path / "cache"
    damaged = cache / "onnx" / exported.name
    damaged.mkdir(parents=True)
    (cache / "models").symlink_to((model_cache / "models").resolve(), target_is_directory=True)
    for name in (EXPORT_INFO, TOKENIZER_FILE):
        shutil.copy(exported / name, damaged / name)
    (damaged / "model.int8.onnx").write_bytes((exported / "model.int8.onnx").read_bytes()[:100_000])
    embedder = load_embedder(embed_backend="onnx-int8", cache_dir=str(cache))
    with pytest.raises(ConfigError) as err:
        embedder.encode_query("对处理意见不服还能找谁？")
    message = str(err.value)
    assert str(damaged / "model.int8.onnx") in message and f"delete the folder {damaged}" in message
    assert "\n" not in message


def test_a_model_with_damaged_weights_is_a_config_error_naming_it(int8_embedder, tmp_path: Path):
    # it was a traceback of safetensors' SafetensorError, from `python -m index search` too
    model = tmp_path / "model"
    shutil.copytree(int8_embedder.folder, model, ignore=shutil.ignore_patterns("model.safetensors"),
                    copy_function=os.symlink)
    (model / "model.safetensors").write_bytes((int8_embedder.folder / "model.safetensors").read_bytes()[:100_000])
    with pytest.raises(ConfigError) as err:
        load_embedder(model=str(model), embed_backend="onnx-int8", cache_dir=str(tmp_path / "cache"))
    assert f"model {model}: cannot be loaded" in str(err.value) and "\n" not in str(err.value)


def test_a_damaged_saved_tokenizer_is_a_config_error_naming_it(tmp_path: Path):
    damaged = tmp_path / TOKENIZER_FILE
    damaged.write_text('{"version": "1.0", "model": ', encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot be read") as err:
        SavedTokenizer(damaged)
    assert str(damaged) in str(err.value) and "\n" not in str(err.value)


def test_the_onnx_backend_saves_the_tokenizer_beside_its_export(int8_embedder, model_cache: Path):
    assert isinstance(int8_embedder.backend.tokens, SavedTokenizer)
    assert (export_folder(int8_embedder, model_cache) / TOKENIZER_FILE).is_file()


def test_a_tokenizer_without_a_saved_state_runs_through_transformers(int8_embedder, model_cache: Path,
                                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    exported = export_folder(int8_embedder, model_cache)
    for name in (EXPORT_INFO, "model.int8.onnx"):
        (tmp_path / name).symlink_to(exported / name)
    monkeypatch.setattr("index.embed.save_tokenizer", lambda hub, target: False)
    backend = OnnxBackend(int8_embedder.folder, tmp_path / "model.int8.onnx", "onnx-int8", 1)
    assert isinstance(backend.tokens, HubTokenizer) and not (tmp_path / TOKENIZER_FILE).exists()
    window = int8_embedder.max_seq_length
    for text in SENTENCES:
        assert np.array_equal(backend.embed_one(text, window), int8_embedder.backend.embed_one(text, window))


def test_a_question_runs_on_every_core_without_spinning_and_keeps_its_vector(int8_embedder, model_cache: Path):
    # a search waits for its one question: on one core its encoding was half the search on a slow
    # machine; and idle workers left spinning held the core the FAISS scan runs on next
    onnx_file = export_folder(int8_embedder, model_cache) / "model.int8.onnx"
    backend = OnnxBackend(int8_embedder.folder, onnx_file, "onnx-int8", 2)
    options = backend.query_session.get_session_options()
    assert options.intra_op_num_threads == 2
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert list(backend._sessions) == [2]           # a searcher holds one copy of the weights
    window = int8_embedder.max_seq_length
    for text in SENTENCES:
        assert np.array_equal(backend.embed_query(text, window), backend.embed_one(text, window))
    # passages keep one thread each, as many texts at once as cores
    assert backend.passage_session.get_session_options().intra_op_num_threads == 1
    single = OnnxBackend(int8_embedder.folder, onnx_file, "onnx-int8", 1)
    assert single.passage_session is single.query_session
    # and a build, which never encodes a question, holds one too
    builder = OnnxBackend(int8_embedder.folder, onnx_file, "onnx-int8", 2)
    assert np.array_equal(builder.embed_one(SENTENCES[0], window), backend.embed_one(SENTENCES[0], window))
    assert list(builder._sessions) == [1]


def test_model_id_names_everything_that_changes_vectors(torch_embedder, int8_embedder, model_cache: Path):
    assert torch_embedder.model_id != int8_embedder.model_id
    assert torch_embedder.model_id.startswith("e5-small@") and "/torch/" in torch_embedder.model_id
    shorter = load_embedder(embed_backend="onnx-int8", max_seq_length=128, cache_dir=str(model_cache))
    # <s>, </s> and the model's passage prompt take part of the window
    assert shorter.passage_prefix == "passage: "
    assert shorter.model_id != int8_embedder.model_id and shorter.max_tokens == 126 - shorter.count_tokens("passage: ")
    # the query prefix changes query vectors only, so passage vectors (and caches) stay valid
    prefixed = load_embedder(embed_backend="onnx-int8", query_prefix="查询：", cache_dir=str(model_cache))
    assert prefixed.model_id == int8_embedder.model_id


def test_query_prefix_is_put_before_the_query(int8_embedder, model_cache: Path):
    prefix = "为这个句子生成表示以用于检索相关文章："
    prefixed = load_embedder(embed_backend="onnx-int8", query_prefix=prefix, cache_dir=str(model_cache))
    query = "信访事项多久办结"
    plain, with_prefix = int8_embedder.encode_query(query), prefixed.encode_query(query)
    assert float(plain @ with_prefix) < 0.999
    raw = int8_embedder.backend.embed_one(prefix + query, int8_embedder.max_seq_length)     # instead of "query: "
    assert np.allclose(with_prefix, raw / np.linalg.norm(raw), atol=1e-5)


def test_long_article_passages_fit_the_real_window(int8_embedder):
    paragraphs = ["物业服务人应当按照约定和物业的使用性质，妥善维修、养护、清洁、绿化和经营管理物业服务区域内的"
                  "业主共有部分，维护物业服务区域内的基本秩序，采取合理措施保护业主的人身、财产安全。" * 2] * 5
    passages = int8_embedder.passages(HEAD, paragraphs)
    assert len(passages) >= 3
    assert all(int8_embedder.count_tokens(p) <= int8_embedder.max_tokens for p in passages)
    assert int8_embedder.passages(HEAD, ["短。"]) == [HEAD + " 短。"]
    articles = [(HEAD, paragraphs), (HEAD, ["短。"]), (HEAD, paragraphs[:1]), ("", [])]
    assert int8_embedder.passages_of(articles) == [int8_embedder.passages(h, p) for h, p in articles]


def test_cached_vectors_embed_each_distinct_text_once(int8_embedder, tmp_path: Path):
    calls: list[int] = []

    class CountingEmbedder:
        """The real embedder, counting what it is asked to embed."""
        model_id, dim = int8_embedder.model_id, int8_embedder.dim

        def encode_passages(self, texts):
            calls.append(len(texts))
            return int8_embedder.encode_passages(texts)

    texts = [LABOUR, PETITION, LABOUR, FOREST]
    with EmbeddingCache.open(tmp_path) as cache:
        first, embedded = cached_vectors(texts, CountingEmbedder(), cache)
        assert embedded == 3 and sum(calls) == 3
        again, embedded = cached_vectors(texts + ["新增的一条。"], CountingEmbedder(), cache)
        assert embedded == 1 and sum(calls) == 4
    assert np.array_equal(first, again[:4])
    assert np.array_equal(first[0], first[2])
    assert np.sum(first * int8_embedder.encode_passages(texts), axis=1).min() > 0.999


def test_the_embed_bar_counts_the_work_done_not_the_passages(int8_embedder, tmp_path: Path, monkeypatch, capsys):
    # the longest passage goes first and holds most of the characters: after its chunk the bar
    # must show most of the work done (a bar of passages showed a third, and an ETA three times too long)
    monkeypatch.setattr("index.cache.WRITE_CHUNK", 1)
    # every update drawn, however fast the machine (tqdm reads its TQDM_* variables only at import)
    monkeypatch.setattr("tqdm.tqdm", functools.partial(tqdm.tqdm, mininterval=0, miniters=1))
    texts = [PETITION * 6, "短句一。", "短句二。"]
    with EmbeddingCache.open(tmp_path) as cache:
        cached_vectors(texts, int8_embedder, cache, progress=True)
    shown = capsys.readouterr().err
    first_chunk = len(texts[0]) / sum(map(len, texts))
    assert f"{100 * first_chunk:3.0f}%" in shown and "1/3 passages" in shown
    assert "100%" in shown and "3/3 passages" in shown


# ---- determinism and thread safety ------------------------------------------------------------

SHORT_TEXTS = ["第一条 甲。", "第二条 乙。", "第三条 丙丁。", "第四条 戊。", "第五条 己庚。", "第六条 辛。"]
LONG_TEXTS = [f"《某市条例》 第{n}条 " + "街道办事处应当建立健全矛盾纠纷排查化解机制，及时受理群众反映的问题；" * (4 + n)
              for n in range(7)]


@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8"])
def test_a_text_gets_the_same_bytes_whatever_its_batch(backend: str, model_cache: Path):
    embedder = load_embedder(embed_backend=backend, embed_batch_size=4, cache_dir=str(model_cache))
    alone = embedder.encode_passages([PETITION])[0]
    among_short = embedder.encode_passages([PETITION, *SHORT_TEXTS])[0]       # longest of its batch
    among_long = embedder.encode_passages([*LONG_TEXTS, PETITION])[-1]        # shortest of its batch
    one_batch = load_embedder(embed_backend=backend, embed_batch_size=64, cache_dir=str(model_cache))
    among_all = one_batch.encode_passages([*LONG_TEXTS, PETITION, *SHORT_TEXTS])[len(LONG_TEXTS)]
    assert alone.tobytes() == among_short.tobytes() == among_long.tobytes() == among_all.tobytes()
    # queries are embedded the same way, after the model's query prompt instead of its passage one
    query = normalise(embedder.backend.embed_one(embedder.query_prefix + PETITION, embedder.max_seq_length))
    assert embedder.encode_query(PETITION).tobytes() == query.tobytes()


def _dense_vectors(kb: Path) -> tuple[np.ndarray, np.ndarray]:
    """The passage vectors of a knowledge base's current index and the article id of each."""
    import faiss

    from index.build import DENSE_DIR, current_folder
    from index.dense import INDEX_FILE, PASSAGES_FILE
    folder = current_folder(kb) / DENSE_DIR
    index = faiss.read_index(str(folder / INDEX_FILE))
    return index.reconstruct_n(0, index.ntotal), np.load(folder / PASSAGES_FILE)


def test_two_clean_builds_give_identical_vectors(tmp_path: Path):
    from index.build import build
    from kb.settings import load_config

    # three made-up documents, one article longer than the window (split into passages)
    texts = {f"规定{d}.md": f"# 某市测试规定{d}\n\n" + "\n\n".join(
        f"第{label}条 " + "本规定所称的社区服务包括养老、托育、助残等内容；" * (40 if (d, n) == (0, 0) else n + 1)
        for n, label in enumerate("一二三四五六七八")) for d in range(3)}
    store = kb_of_texts(tmp_path / "store", texts)
    built = []
    for n, batch_size in enumerate((32, 5)):       # another batch size, as another history would give
        kb = Path(shutil.copytree(store, tmp_path / f"kb{n}"))
        cache = cache_sharing_models(tmp_path / f"cache{n}")
        build(kb, load_config(kb=str(kb), cache_dir=str(cache), embed_batch_size=batch_size),
              progress=False)
        built.append(_dense_vectors(kb))
    (first, first_ids), (second, second_ids) = built
    assert len(first) > 20 and np.array_equal(first_ids, second_ids)
    assert first.tobytes() == second.tobytes()


THREADS_SCRIPT = """
import json, sys, threading
from index.embed import load_embedder

barrier = threading.Barrier(8)
results, errors = {}, []

def first_search(i):
    barrier.wait()
    try:
        embedder = load_embedder(embed_backend="onnx-int8", cache_dir=sys.argv[1])
        results[i] = (id(embedder.backend), embedder.encode_query("信访事项的办理期限是多久").tobytes().hex())
    except BaseException as err:
        errors.append(f"{type(err).__name__}: {err}")

threads = [threading.Thread(target=first_search, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"errors": errors, "models": len({r[0] for r in results.values()}),
                  "vectors": len({r[1] for r in results.values()}), "answered": len(results)}))
"""


@pytest.mark.slow
def test_eight_threads_loading_at_once_share_one_model(tmp_path: Path):
    """Eight first searches at once in a fresh process (heavy imports not yet done, nothing
    exported yet in the cache folder): no error, one model, one answer."""
    import json
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, "-c", THREADS_SCRIPT, str(tmp_path / "cache")], cwd=repo,
                         env={**os.environ, "PYTHONPATH": str(repo)}, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report == {"errors": [], "models": 1, "vectors": 1, "answered": 8}


# ---- use-multilingual: the licence-clean model with its own numpy engine -----------------------

def test_use_multilingual_resolves_to_its_package_files(tmp_path: Path):
    folder = resolve_model("use-multilingual", tmp_path)
    assert (folder / "sp.model").is_file() and (folder / "weights.npz").is_file()


def test_use_multilingual_embeds_deterministically_and_ranks_sensibly(tmp_path: Path):
    embedder = load_embedder(model="use-multilingual", embed_batch_size=4, cache_dir=str(tmp_path))
    assert embedder.model_id.startswith("use-multilingual@") and "/numpy/len256/" in embedder.model_id
    assert embedder.dim == 512 and embedder.max_tokens == 253     # <s>, </s> and a leading ▁ take three
    alone = embedder.encode_passages([PETITION])[0]
    among = embedder.encode_passages([*LONG_TEXTS, PETITION, *SHORT_TEXTS])[len(LONG_TEXTS)]
    assert alone.tobytes() == among.tobytes() == embedder.encode_query(PETITION).tobytes()
    assert abs(float(np.linalg.norm(alone)) - 1) < 1e-5
    question = embedder.encode_query("对信访事项处理意见不服，多少天内可以请求复查？")
    unrelated = embedder.encode_passages(["《某市绿化条例》 第八条 城市绿地应当定期修剪。"])[0]
    assert float(question @ alone) > float(question @ unrelated)


def test_use_multilingual_splits_passages_by_exact_token_counts(tmp_path: Path):
    # NFKC inside the tokenizer expands characters ("㈠" → "(一)"): a character count is no bound
    embedder = load_embedder(model="use-multilingual", max_seq_length=40, cache_dir=str(tmp_path))
    assert not embedder.backend.chars_bound_tokens
    assert embedder.count_tokens("㈠㈡①②") > len("㈠㈡①②")
    assert embedder.count_tokens("罕见字𠀀𪚥") == len("罕见字𠀀𪚥")      # the leading ▁ is counted as special
    passages = embedder.passages(HEAD, ["㈠" * 30, "依法办理。" * 10])
    assert len(passages) > 1
    assert all(embedder.count_tokens(p) <= embedder.max_tokens for p in passages)
    articles = [(HEAD, ["㈠" * 30, "依法办理。" * 10]), (HEAD, ["㈠" * 12]), (HEAD, ["依法办理。"])]
    assert embedder.passages_of(articles) == [embedder.passages(h, p) for h, p in articles]


def test_use_multilingual_truncates_a_long_query_to_the_window(tmp_path: Path):
    embedder = load_embedder(model="use-multilingual", max_seq_length=16, cache_dir=str(tmp_path))
    head = "信访人对处理意见不服的可以请求复查复查机关应当"
    tail = "另外还有很多很多与此无关的文字" * 50
    assert embedder.encode_query(head + tail).tobytes() == embedder.encode_query(head + "其他内容").tobytes()
