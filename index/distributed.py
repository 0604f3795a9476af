"""The embedding of a build on Ray workers (setting `workers`): `local:N` or `ray://HOST:PORT`.

`passage_encoder(embedder, cfg)` gives what `index.cache.cached_vectors` embeds the missing
passages with: the embedder itself (setting empty), or a `RayEncoder` that hands each chunk of
missing passages, split into one part per worker, to Ray actors (one model loaded per actor)
and puts the vectors back in order. The driver alone reads and writes the embedding cache.
The vectors are bit for bit those of a single-process build: every text is embedded alone with
one thread (`index.embed`), so a vector depends on nothing but its text and the model.

On a cluster (`ray://`), every worker needs this project on its `PYTHONPATH` and the model
installed, as the driver has them (e.g. the same container image).
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from kb.errors import BackendError, ConfigError
from kb.settings import Config

PROJECT = Path(__file__).resolve().parents[1]
LOCAL = re.compile(r"local:(\d+)")


def parse_workers(workers: str) -> tuple[str, int]:
    """("", 0) for in-process, ("local", N) or (the ray:// address, 0).

    Raises:
        ConfigError: for any other form or a worker count below 1.
    """
    workers = workers.strip()
    if not workers:
        return "", 0
    local = LOCAL.fullmatch(workers)
    if local:
        if int(local.group(1)) < 1:
            raise ConfigError(f"setting workers: {workers!r} needs at least one worker")
        return "local", int(local.group(1))
    if workers.startswith("ray://"):
        return workers, 0
    raise ConfigError(f"setting workers: {workers!r} is not empty, local:N or ray://HOST:PORT")


class _EmbedActor:
    """One model per Ray worker (made a Ray actor class inside `RayEncoder`)."""

    def __init__(self, cfg: Config) -> None:
        from index.embed import load_embedder

        self.embedder = load_embedder(cfg)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.encode_passages(texts)


class RayEncoder:
    """The embedder's passages, model id and dimension, with `encode_passages` spread over Ray
    actors; anything else is the embedder's."""

    def __init__(self, embedder, actors: list) -> None:
        self.embedder = embedder
        self.actors = actors

    def __getattr__(self, name: str):
        return getattr(self.embedder, name)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length vectors of `texts` in order, each actor embedding every N-th text.

        Raises:
            BackendError: if a Ray worker fails.
        """
        import ray

        parts = [list(range(i, len(texts), len(self.actors))) for i in range(len(self.actors))]
        futures = [actor.encode.remote([texts[j] for j in part]) for actor, part in zip(self.actors, parts) if part]
        out = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        try:
            for part, vectors in zip((p for p in parts if p), ray.get(futures)):
                out[part] = vectors
        except ray.exceptions.RayError as err:
            raise BackendError(f"Ray worker failed while embedding ({type(err).__name__}: "
                               f"{str(err).splitlines()[0] if str(err) else ''})") from None
        return out


@contextlib.contextmanager
def passage_encoder(embedder, cfg: Config) -> Iterator:
    """What embeds a build's missing passages under the `workers` setting (see the module).
    A local Ray started here is shut down on leaving; a cluster is only disconnected from.

    Raises:
        ConfigError: for a malformed `workers` setting.
        BackendError: if the Ray cluster cannot be reached.
    """
    address, count = parse_workers(cfg.workers)
    if not address:
        yield embedder
        return
    import ray

    env = {"env_vars": {"PYTHONPATH": str(PROJECT)}}
    started = not ray.is_initialized()      # a Ray the caller started is used as it is, and left running
    try:
        if started and address == "local":
            ray.init(num_cpus=count, include_dashboard=False, log_to_driver=False, runtime_env=env)
        elif started:
            ray.init(address=address, log_to_driver=False, runtime_env=env)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = "a local Ray could not start" if address == "local" else f"Ray cluster unreachable at {address}"
        raise BackendError(f"{where} ({str(err).splitlines()[0]})") from None
    if address != "local":
        count = max(int(ray.cluster_resources().get("CPU", 1)), 1)
    actor_class = ray.remote(num_cpus=1)(_EmbedActor)
    # one thread per actor: the actors are the parallelism, as threads are in one process
    actors = [actor_class.remote(replace(cfg, embed_threads=1, workers="")) for _ in range(count)]
    try:
        yield RayEncoder(embedder, actors)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()
