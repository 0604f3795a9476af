"""The learned second stage: a linear ranker over the fused candidates, from cheap features.

No cross-encoder ships here, so the second stage re-scores the best fused candidates (as many
as it was learned on, `RERANK_DEPTH` = 200 for a new one: twice the 100 it started with lifted
Recall@100 of both question sets over the whole corpus by 0.024, held-out) from features
computed in a few milliseconds for all of them:

- retrieval: each retriever's rank and score (BM25, dense), the fused rank;
- document: how many of the candidates come from the same document (a question about one
  regulation retrieves many of its articles), that document's best fused rank, whether the
  question names it, how much of the question's wording is in its title, and whether it
  implies it: the document prior's vote (`index/prior.py`: the documents that answer the
  nearest questions with known answers);
- article: the prior's vote for the article itself (the nearest questions' gold articles);
- article: how much of the question's wording is in its text and in its chapter/section
  headings, its length, its position in its document;
- article: the same share of the question's wording in its text, each bigram weighted by how
  few of the candidates have it (`rare_overlap`): the articles of one regulation all share a
  question's common words (信访, 事项), and the rare one (推搡, 解释) tells which of them is
  asked about (sub-corpus, held-out: STARD Recall@10 0.705 → 0.709, MRR@10 0.606 → 0.610;
  petition MRR@10 0.493 → 0.495; whole corpus: Recall@10 0.688 → 0.690 and 0.681 → 0.688,
  petition MRR@10 0.449 → 0.445);
- question type × article kind: a "how long / by when" question and an article with a time
  limit (15日内, 三个月), "who / which office" and an article naming an office, "may I / is it
  legal" and an article saying 可以/不得/应当, "what happens if" and an article with a penalty;
- meaning before the query adapter: each candidate's best passage's cosine with the question's
  plain vector (`base_dense_score`), its gap to the best candidate's and its rank among them. The
  adapter is learned from the training questions and sees a new one through them; the plain
  model has seen no question (whole corpus, held-out: petition Recall@10 0.764 → 0.792, MRR@10
  0.510 → 0.569; STARD within 0.004).

No feature names a region or a level, and no weight belongs to a document: a document counts
only through the vote of the questions nearest to this one, so a local rule is preferred for
questions like those it answered and is never pushed down as such (the user's own preferences —
region, collection — apply after).

The weights are learned by `python -m index.learn.fit` (a listwise softmax over each
question's candidates, L2-regularised, on the training folds of every question set) and saved
as JSON with their feature names and held-out figures: `index/data/reranker.json`.
`candidate_features` is pure (tested on hand-made candidates); `Reranker.load` is the only
file access.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.adapter import configured_learned
from index.tokenize import DATA_DIR
from kb.errors import ConfigError

RERANKER_FILE = DATA_DIR / "reranker.json"
RERANK_DEPTH = 200              # how many fused candidates a newly learned second stage reorders
LEGACY_DEPTH = 100              # what files that do not record their depth were learned at
# The second stage's order is scored 1 / (RERANKED_RRF_K + rank) whatever the fusion's k: the
# boosts after it (a named document, the region, the collection) multiply these scores, and they
# were set and measured on this scale; a fusion learned to favour its very top (k 5) must not
# weaken them.
RERANKED_RRF_K = 60.0

# Question types, by the words people use to ask them (bounded alternations: no backtracking).
QUESTION_TYPES = {
    "time": re.compile(r"几天|多少天|多久|多长时间|几个月|多少日|期限|时限|期间|天内|日内|什么时候|哪天|截止|超过.{0,4}天"),
    "who": re.compile(r"谁|哪个部门|哪个机关|哪个单位|哪些部门|哪级|哪里|哪儿|哪个|什么部门|什么机关|找谁|向谁|归谁|负责"),
    "may": re.compile(r"能不能|可不可以|可以吗|能否|是否可以|允许|合法吗|违法吗|行不行|有没有权|算不算|是不是"),
    "consequence": re.compile(r"后果|处罚|罚款|会怎样|会怎么样|怎么处理|怎么处罚|追究|责任|处分|拘留|会不会被"),
}
# What an article that answers each type contains.
ARTICLE_KINDS = {
    "time": re.compile(r"[0-9零一二三四五六七八九十百两]{1,4}\s?(?:个)?(?:工作日|日|天|个月|月|年|小时)(?:内|以内|之内|起|前)|届满|期限"),
    "who": re.compile(r"机关|部门|单位|委员会|人民政府|人民法院|人民检察院|机构|组织"),
    "may": re.compile(r"可以|不得|禁止|应当|有权|无权"),
    "consequence": re.compile(r"罚款|拘留|处分|法律责任|追究|处罚|责令|赔偿"),
}

FEATURES = (
    "lexical_rank", "lexical_score", "dense_rank", "dense_score", "dense_gap", "fused_rank", "both",
    "doc_share", "doc_best_rank", "title_named", "title_overlap", "doc_vote", "article_vote",
    "text_overlap", "heading_overlap", "length", "position", "rare_overlap",
    *(f"{kind}_match" for kind in QUESTION_TYPES),
    "base_dense_score", "base_dense_gap", "base_dense_rank",
)


def bigrams(text: str) -> set[str]:
    """Character bigrams of the CJK/letter/digit runs of `text` (punctuation and spaces cut runs)."""
    out: set[str] = set()
    for run in re.findall(r"[\w]+", text):
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out


def overlap(query: Collection[str], text: str) -> float:
    """Share of the question's bigrams (`bigrams`) found in `text`.

    A substring test per question bigram equals `len(query & bigrams(text))`: both characters
    of a question bigram are word characters, so where they stand side by side in `text` they
    are in one run. Taking every candidate's bigrams instead cost about 5 ms of each search
    with 200 candidates (text, headings and title of each)."""
    if not query:
        return 0.0
    return sum(gram in text for gram in query) / len(query)


def question_types(question: str) -> dict[str, bool]:
    return {kind: bool(pattern.search(question)) for kind, pattern in QUESTION_TYPES.items()}


def _recip(rank: int | None) -> float:
    """1 at rank 1, falling slowly; 0 when the retriever did not return the candidate."""
    return 0.0 if rank is None else 10.0 / (9.0 + rank)


@dataclass(frozen=True)
class Candidate:
    """What the features need of one fused candidate."""
    doc: int                        # document index
    lexical_rank: int | None        # 1-based, None if BM25 did not return it
    lexical_score: float
    dense_rank: int | None
    dense_score: float
    title: str
    headings: Sequence[str]
    text: str
    position: float                 # 0 first article … 1 last article of its document
    title_named: bool               # the question names its document
    vote: float = 0.0               # the document prior's vote for its document (0 … 1)
    article_vote: float = 0.0       # the prior's vote for the article itself (0 … 1)
    # its best passage's cosine with the question's vector before the query adapter (0 if it has
    # no passage): the adapter is learned from the training questions and sees new ones through
    # them; the plain model's opinion is the one that has seen no question
    base_dense_score: float = 0.0


def candidate_features(question: str, candidates: Sequence[Candidate]) -> np.ndarray:
    """(len(candidates), len(FEATURES)) float32 features of fused candidates, best fused first."""
    q = sorted(bigrams(question))       # a fixed order: the weighted sums come out the same in every process
    types = question_types(question)
    top_lexical = max((c.lexical_score for c in candidates), default=0.0) or 1.0
    top_dense = max((c.dense_score for c in candidates if c.dense_rank is not None), default=0.0)
    per_doc: dict[int, int] = {}
    best_rank: dict[int, int] = {}
    for rank, c in enumerate(candidates, start=1):
        per_doc[c.doc] = per_doc.get(c.doc, 0) + 1
        best_rank.setdefault(c.doc, rank)
    # per document and per chapter: the candidates of one regulation share them
    title_overlap: dict[int, float] = {}
    heading_overlap: dict[tuple[str, ...], float] = {}
    # which of the question's bigrams each text has: its share (`overlap`), and its share weighted
    # by how few candidates have each bigram (`rare_overlap`), which tells apart the articles of
    # one regulation that all share the question's common words
    present = np.array([[gram in c.text for gram in q] for c in candidates], dtype=np.float32)
    present = present.reshape(len(candidates), len(q))
    text_overlap = present.mean(axis=1) if q else np.zeros(len(candidates), dtype=np.float32)
    rarity = np.log((len(candidates) + 1.0) / (present.sum(axis=0) + 1.0))
    rare_overlap = (present @ rarity / (float(rarity.sum()) or 1.0)).tolist()
    text_overlap = text_overlap.tolist()
    base = np.array([c.base_dense_score for c in candidates], dtype=np.float64)
    base_rank = np.empty(len(candidates), dtype=np.int64)
    base_rank[np.argsort(-base, kind="stable")] = np.arange(1, len(candidates) + 1)
    top_base = float(base.max()) if len(candidates) else 0.0
    rows = []
    for rank, c in enumerate(candidates, start=1):
        if c.doc not in title_overlap:
            title_overlap[c.doc] = overlap(q, c.title)
        headings = tuple(c.headings)
        if headings not in heading_overlap:
            heading_overlap[headings] = overlap(q, " ".join(headings))
        row = [
            _recip(c.lexical_rank), c.lexical_score / top_lexical,
            _recip(c.dense_rank), c.dense_score if c.dense_rank is not None else 0.0,
            (c.dense_score - top_dense) if c.dense_rank is not None else -1.0,
            _recip(rank), float(c.lexical_rank is not None and c.dense_rank is not None),
            per_doc[c.doc] / len(candidates), _recip(best_rank[c.doc]), float(c.title_named), title_overlap[c.doc],
            c.vote, c.article_vote,
            text_overlap[rank - 1], heading_overlap[headings], math.log1p(len(c.text)) / 8.0,
            c.position, rare_overlap[rank - 1],
        ]
        row.extend(float(asked and bool(ARTICLE_KINDS[kind].search(c.text))) for kind, asked in types.items())
        row.extend([c.base_dense_score, c.base_dense_score - top_base, _recip(int(base_rank[rank - 1]))])
        rows.append(row)
    return np.asarray(rows, dtype=np.float32).reshape(len(candidates), len(FEATURES))


@dataclass(frozen=True)
class Reranker:
    """A linear model over `FEATURES`: score = features · weights."""
    weights: np.ndarray             # (len(FEATURES),) float32
    note: str = ""                  # how it was learned, with held-out figures
    model_id: str = ""              # embedder whose dense scores it was learned on ("" = any)
    depth: int = RERANK_DEPTH       # fused candidates it reorders: those it was learned on (doc_share counts them)

    def scores(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weights

    def order(self, features: np.ndarray) -> np.ndarray:
        """Candidate positions, best first (ties keep the fused order)."""
        return np.argsort(-self.scores(features), kind="stable")

    def save(self, path: Path) -> None:
        body = {"features": list(FEATURES), "weights": [round(float(w), 6) for w in self.weights], "note": self.note,
                "model_id": self.model_id, "depth": self.depth}
        path.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "Reranker":
        """Raises:
            ConfigError: if the file is unreadable or was learned over other features."""
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            names, learned = list(body["features"]), [float(w) for w in body["weights"]]
            depth = int(body.get("depth", LEGACY_DEPTH))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"{path}: not a reranker ({err})") from None
        unknown = sorted(set(names) - set(FEATURES))
        if unknown or len(set(names)) != len(names) or len(learned) != len(names):
            raise ConfigError(f"{path}: learned over other features ({', '.join(unknown) or 'repeated or unweighted'});"
                              " re-run python -m index.learn.fit")
        # a feature added since the file was learned weighs nothing: the ranker it learned
        weights = np.zeros(len(FEATURES), dtype=np.float32)
        weights[[FEATURES.index(name) for name in names]] = learned
        if depth < 1:
            raise ConfigError(f"{path}: depth {depth} must be positive")
        return cls(weights, str(body.get("note", "")), str(body.get("model_id", "")), depth)


def configured_reranker(setting: str, model_id: str) -> Reranker | None:
    """The reranker the `reranker` setting names for the embedder `model_id`: "bundled" (if the
    file exists and was learned on this model's dense scores), "none" or a file.

    Raises:
        ConfigError: if a named file is missing, unreadable or learned on another model.
    """
    return configured_learned(setting, "reranker", model_id, RERANKER_FILE, Reranker.load,
                              lambda reranker: reranker.model_id)


def fit_reranker(features: Sequence[np.ndarray], labels: Sequence[np.ndarray], *, l2: float = 1e-3,
                 epochs: int = 300, lr: float = 0.05, seed: int = 0,
                 question_weights: np.ndarray | None = None) -> np.ndarray:
    """Weights maximising the listwise softmax likelihood of each question's gold candidates.

    `features[i]`: (n_i, len(FEATURES)); `labels[i]`: (n_i,) 1 for gold candidates;
    `question_weights`: each question's weight in the loss (None: all 1). Questions without a
    gold candidate teach nothing and are skipped. Full-batch Adam, deterministic.
    """
    weight_of = np.ones(len(labels)) if question_weights is None else np.asarray(question_weights, dtype=np.float64)
    lists = [(f, y / y.sum(), q) for f, y, q in zip(features, labels, weight_of) if len(y) and y.sum() > 0]
    total = sum(q for _, _, q in lists)
    dim = len(FEATURES)
    w = np.zeros(dim, dtype=np.float64)
    if not lists:
        return w.astype(np.float32)
    m, v = np.zeros(dim), np.zeros(dim)
    rng = np.random.default_rng(seed)
    w += rng.normal(scale=1e-3, size=dim)
    for step in range(1, epochs + 1):
        grad = 2 * l2 * w
        for f, target, q in lists:
            s = f @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            grad += q * (f.T @ (p - target)) / total
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad ** 2
        w -= lr * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return w.astype(np.float32)
