"""The embedding of a build on Ray (`workers` setting): the same vectors, bit for bit, as one
process. One local Ray of two CPUs for the module; tiny made-up corpus; caches in tmp_path."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from conftest import cache_sharing_models
from index.build import DENSE_DIR, build, current_folder
from index.dense import INDEX_FILE, PASSAGES_FILE
from index.distributed import PROJECT, RayEncoder, parse_workers
from ingest import run
from kb.errors import ConfigError
from kb.settings import load_config

ARTICLES = ("信访工作坚持属地管理，分级负责。", "信访人应当如实反映情况，不得捏造、歪曲事实。",
            "行政机关应当自收到信访事项之日起十五日内登记。", "人民调解委员会调解民间纠纷，不收取任何费用。",
            "".join(f"复查机关应当自收到第{n}项复查请求之日起三十日内提出复查意见。" for n in range(30)), "听证应当公开举行，涉及国家秘密的除外。")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    with pytest.MonkeyPatch.context() as mp:
        # Ray waits 30 s for its control store to start; on a machine busy with other tests that was too little once
        mp.setenv("RAY_gcs_server_port_wait_time_s", "180")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT)}})
        yield
        ray.shutdown()


def store(root: Path) -> Path:
    from kb.chinese import article_label

    (root / "docs").mkdir(parents=True)
    body = "\n\n".join(f"{article_label(i)} {text}" for i, text in enumerate(ARTICLES, start=1))
    (root / "docs" / "某县信访分布式测试条例.md").write_text(f"# 某县信访分布式测试条例\n\n<!-- INFO END -->\n\n{body}\n",
                                                    encoding="utf-8")
    assert run([root / "docs"], root / "kb").failed == 0
    return root / "kb"


def vectors(kb: Path) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    folder = current_folder(kb) / DENSE_DIR
    index = faiss.read_index(str(folder / INDEX_FILE))
    return index.reconstruct_n(0, index.ntotal), np.load(folder / PASSAGES_FILE)


def test_ray_workers_embed_the_same_vectors_bit_for_bit(local_ray: None, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    single, spread = store(tmp_path / "single"), store(tmp_path / "spread")
    spread_texts: list[str] = []
    encode = RayEncoder.encode_passages

    def counted(self: RayEncoder, texts) -> np.ndarray:
        spread_texts.extend(texts)
        return encode(self, texts)

    monkeypatch.setattr(RayEncoder, "encode_passages", counted)
    # separate caches: each build embeds every passage itself
    build(single, load_config(kb=str(single), cache_dir=str(cache_sharing_models(tmp_path / "cache-single"))),
          progress=False)
    build(spread, load_config(kb=str(spread), cache_dir=str(cache_sharing_models(tmp_path / "cache-spread")),
                              workers="local:2"),
          progress=False)
    (one, one_ids), (two, two_ids) = vectors(single), vectors(spread)
    assert len(one) > len(ARTICLES)          # the long article is split: several passages
    assert len(spread_texts) == len(one)     # every passage went through the Ray workers
    assert np.array_equal(one_ids, two_ids)
    assert one.tobytes() == two.tobytes()


@pytest.mark.parametrize("text, parsed", [("", ("", 0)), ("local:3", ("local", 3)),
                                          ("ray://head:10001", ("ray://head:10001", 0))])
def test_workers_setting(text: str, parsed: tuple[str, int]) -> None:
    assert parse_workers(text) == parsed


@pytest.mark.parametrize("text", ["local:0", "local", "head:10001", "ray:/x"])
def test_bad_workers_setting_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="setting workers"):
        parse_workers(text)
