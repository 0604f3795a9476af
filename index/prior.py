"""Which documents answer questions like this one: a document prior learned from questions.

A petition worker's deadline question and a villager's inheritance question are answered from
different documents, and the words of a question tell which long before they tell which
article: the nearest questions with known answers (cosine of the base query embeddings, the
`NEIGHBOURS` nearest, softmax weights at `TEMPERATURE`) vote for the documents their gold
articles are in, and, as a second feature, for the gold articles themselves (a trainee's
question is often worded like an earlier one about the same clause). The votes are features of
the learned second stage (`index/rerank.py`), which weighs them against the others: they reorder
the fused candidates, never add or remove one.

What is stored (`index/data/question_prior.npz`, plain arrays, no pickle): the training
questions' unit vectors (float16), the document keys their gold articles name, each question's
votes (its gold documents, equal shares), the gold articles (document, number, 之N suffix) and
each question's votes for them (equal shares), and the model id of the embedder (another model's
vectors live in another space and are refused, as for the query adapter). The questions' texts
are not stored. `python -m index.learn.fit` writes it beside the reranker that learned its weight.
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.adapter import configured_learned, normalise_rows
from index.eval import ArticleKey
from index.tokenize import DATA_DIR
from kb.errors import ConfigError
from kb.files import ARRAY_FILE_ERRORS

PRIOR_FILE = DATA_DIR / "question_prior.npz"
NEIGHBOURS = 10
TEMPERATURE = 0.05


def vote_matrix(gold: Sequence[Sequence[Hashable]], keys: Sequence[Hashable]) -> np.ndarray:
    """(questions, keys) float32: each question's gold documents (or articles), equal shares summing to 1."""
    column = {key: j for j, key in enumerate(keys)}
    votes = np.zeros((len(gold), len(keys)), dtype=np.float32)
    for i, answers in enumerate(gold):
        for key in set(answers):
            votes[i, column[key]] = 1.0 / len(set(answers))
    return votes


def nearest_questions(query_vectors: np.ndarray, question_vectors: np.ndarray, neighbours: int = NEIGHBOURS,
                      temperature: float = TEMPERATURE) -> tuple[np.ndarray, np.ndarray]:
    """Each query's nearest questions and their softmax weights, both (queries, n).

    `query_vectors` and `question_vectors` are unit rows of one embedding space."""
    sims = np.atleast_2d(query_vectors) @ question_vectors.T
    n = min(neighbours, sims.shape[1])
    if n == 0:
        return np.zeros((sims.shape[0], 0), dtype=np.int64), np.zeros((sims.shape[0], 0), dtype=np.float32)
    nearest = np.argpartition(-sims, n - 1, axis=1)[:, :n]
    near_sims = np.take_along_axis(sims, nearest, axis=1)
    weights = np.exp((near_sims - near_sims.max(axis=1, keepdims=True)) / temperature)
    return nearest, weights / weights.sum(axis=1, keepdims=True)


def pooled_votes(nearest: np.ndarray, weights: np.ndarray, votes: np.ndarray) -> np.ndarray:
    """(queries, keys): the `votes` rows of each query's nearest questions, weighted."""
    return np.einsum("qn,qnd->qd", weights, votes[nearest]).astype(np.float32)


def key_votes(row: np.ndarray, keys: Sequence[Hashable]) -> dict:
    """Key → vote of one row of votes, for the keys that have one."""
    return {keys[j]: float(row[j]) for j in np.flatnonzero(row > 0)}


@dataclass(frozen=True)
class QuestionPrior:
    vectors: np.ndarray            # (questions, dim) float32 unit rows
    doc_keys: tuple[str, ...]      # document keys (`kb.chinese.title_key`) the votes are over
    votes: np.ndarray              # (questions, documents) float32
    model_id: str                  # embedder of the vectors
    note: str = ""                 # how it was learned, with held-out figures
    article_keys: tuple[ArticleKey, ...] = ()   # the gold articles the article votes are over
    article_shares: np.ndarray | None = None    # (questions, articles) float32 votes; None: no article votes

    def votes_for(self, query_vector: np.ndarray) -> tuple[dict[str, float], dict[ArticleKey, float]]:
        """The votes of the question's neighbours: document key → vote and article key → vote
        (keys with a vote only; no article votes from a prior of documents only). One search for
        the neighbours serves both."""
        nearest, weights = nearest_questions(normalise_rows(query_vector.reshape(1, -1)), self.vectors)
        documents = key_votes(pooled_votes(nearest, weights, self.votes)[0], self.doc_keys)
        if self.article_shares is None:
            return documents, {}
        return documents, key_votes(pooled_votes(nearest, weights, self.article_shares)[0], self.article_keys)

    def save(self, path: Path) -> None:
        articles = {} if self.article_shares is None else {
            "article_docs": np.array([key for key, _, _ in self.article_keys]),
            "article_numbers": np.array([(no, suffix) for _, no, suffix in self.article_keys], dtype=np.int32),
            "article_votes": self.article_shares.astype(np.float16)}
        np.savez_compressed(path, vectors=self.vectors.astype(np.float16), doc_keys=np.array(self.doc_keys),
                            votes=self.votes.astype(np.float16), model_id=np.array(self.model_id), note=np.array(self.note),
                            **articles)

    @classmethod
    def load(cls, path: Path) -> "QuestionPrior":
        """Raises:
            ConfigError: if the file is unreadable or not a question prior."""
        try:
            with np.load(path, allow_pickle=False) as data:
                vectors, votes = data["vectors"].astype(np.float32), data["votes"].astype(np.float32)
                article_keys, article_votes = (), None
                if "article_votes" in data:       # (a prior of documents only has none)
                    article_keys = tuple((str(doc), int(no), int(suffix)) for doc, (no, suffix)
                                         in zip(data["article_docs"], data["article_numbers"].reshape(-1, 2)))
                    article_votes = data["article_votes"].astype(np.float32)
                prior = cls(vectors, tuple(str(k) for k in data["doc_keys"]), votes, str(data["model_id"]),
                            str(data["note"]), article_keys, article_votes)
        except ARRAY_FILE_ERRORS as err:
            raise ConfigError(f"{path}: not a question prior ({err})") from None
        if votes.shape != (len(vectors), len(prior.doc_keys)):
            raise ConfigError(f"{path}: not a question prior (votes {votes.shape} for {len(vectors)} questions "
                              f"and {len(prior.doc_keys)} documents)")
        if article_votes is not None and article_votes.shape != (len(vectors), len(article_keys)):
            raise ConfigError(f"{path}: not a question prior (article votes {article_votes.shape} for "
                              f"{len(vectors)} questions and {len(article_keys)} articles)")
        return prior


def configured_prior(setting: str, model_id: str) -> QuestionPrior | None:
    """The prior the `question_prior` setting names for the embedder `model_id`: "bundled" (if the
    file exists and was learned with this model), "none" or a file.

    Raises:
        ConfigError: if a named file is missing, unreadable or learned with another model.
    """
    return configured_learned(setting, "question_prior", model_id, PRIOR_FILE, QuestionPrior.load,
                              lambda prior: prior.model_id)
