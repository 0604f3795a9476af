"""A query-side linear adapter over embeddings: q' = normalise(q · W).

Only queries are transformed, so the corpus vectors (and the embedding cache) stay as they
are. The weights are learned by `python -m index.learn.fit` from questions with gold
articles and saved with the `model_id` of the embedder they were trained against; an adapter
for another model is refused (its vectors would live in another space); another backend or
window of the same model is accepted (see `same_model`).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from index.tokenize import DATA_DIR
from kb.errors import ConfigError
from kb.files import ARRAY_FILE_ERRORS

ADAPTER_FILE = DATA_DIR / "query_adapter.npz"
Learned = TypeVar("Learned")
_MODEL_FOLDER = re.compile(r"[A-Za-z0-9_-]+")


def bundled_file(model_id: str, default: Path) -> Path:
    """Where the bundled learned file `default` (index/data/NAME) is for the model of `model_id`:
    index/data/<model name>/NAME when that model has its own (e.g. use-multilingual), else
    `default`, learned for the default model (whose recorded model id the caller checks)."""
    model = model_id.split("@", 1)[0]
    own = default.parent / model / default.name
    return own if _MODEL_FOLDER.fullmatch(model) and own.is_file() else default


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """Unit-length rows (float32); zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


@dataclass(frozen=True)
class QueryAdapter:
    weights: np.ndarray        # (dim, dim) float32
    model_id: str              # embedder the weights were trained against
    note: str = ""             # how it was trained (data, folds, held-out figures)

    def apply(self, query_vectors: np.ndarray) -> np.ndarray:
        """Adapted, unit-length query vector(s)."""
        return normalise_rows(np.asarray(query_vectors, dtype=np.float32) @ self.weights)

    def save(self, path: Path) -> None:
        np.savez_compressed(path, weights=self.weights.astype(np.float16), model_id=np.array(self.model_id),
                            note=np.array(self.note))

    @classmethod
    def load(cls, path: Path) -> "QueryAdapter":
        """Raises:
            ConfigError: if the file is unreadable or not an adapter."""
        try:
            with np.load(path) as data:
                return cls(data["weights"].astype(np.float32), str(data["model_id"]), str(data["note"]))
        except ARRAY_FILE_ERRORS as err:
            raise ConfigError(f"{path}: not a query adapter ({err})") from None


def same_model(a: str, b: str) -> bool:
    """Whether two embedder model ids (`name@fingerprint/backend/lenN`) are one model's files.

    The backend (torch, ONNX, ONNX int8) and the window move a vector by about 1% (cosine 0.99
    to fp32, measured by `python -m bench embed`), so an adapter trained on one applies to all.
    """
    return a.split("/", 1)[0] == b.split("/", 1)[0]


def adapter_for(model_id: str, path: Path | None = None) -> QueryAdapter | None:
    """The adapter in `path` (default: the bundled one for this model) if it was trained for this
    model, else None (also if there is none).

    Raises:
        ConfigError: if the adapter file exists but is unreadable.
    """
    path = path or bundled_file(model_id, ADAPTER_FILE)
    if not path.is_file():
        return None
    adapter = QueryAdapter.load(path)
    return adapter if same_model(adapter.model_id, model_id) else None


def configured_learned(setting: str, name: str, model_id: str, default: Path, load: Callable[[Path], Learned],
                       model_of: Callable[[Learned], str]) -> Learned | None:
    """What a setting for a learned file (`name`: query_adapter, reranker, question_prior) names for
    the embedder `model_id`: "bundled" (`bundled_file`, used if it exists and was learned with this
    model), "none", or a file. A file recording no model (`model_of` gives "") serves any model.

    Raises:
        ConfigError: if a named file is missing, unreadable or learned with another model.
    """
    if setting == "none":
        return None
    path = bundled_file(model_id, default) if setting == "bundled" else Path(setting).expanduser()
    if not path.is_file():
        if setting == "bundled":
            return None
        raise ConfigError(f"setting {name}: {path} does not exist")
    learned = load(path)
    own = model_of(learned)
    if not own or same_model(own, model_id):
        return learned
    if setting == "bundled":
        return None        # its vectors or scores would mean something else
    raise ConfigError(f"setting {name}: {path} was learned for {own}, not {model_id}")


def configured_adapter(setting: str, model_id: str) -> QueryAdapter | None:
    """The adapter the `query_adapter` setting names: "bundled", "none" or a file.

    Raises:
        ConfigError: if a named file is missing or unreadable, or was trained for another model.
    """
    return configured_learned(setting, "query_adapter", model_id, ADAPTER_FILE, QueryAdapter.load,
                              lambda adapter: adapter.model_id)
