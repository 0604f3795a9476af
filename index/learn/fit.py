"""Learn the data-driven parts of ranking from questions with gold articles, honestly.

    python -m index.learn.fit --kb DIR --questions ../shared/eval/stard-train.jsonl \
        --questions ../shared/eval/xinfang-dev.jsonl [--folds 5]

What is learned:
1. the query-side linear adapter (`index/adapter.py`): W starts at the identity and is trained
   with a softmax cross-entropy of each gold passage against the hardest indexed passages of
   current versions and a random sample of the rest, plus `l2 · ‖W − I‖²` keeping it near
   the base model. Only questions are
   transformed, so the corpus vectors (and the embedding cache) stay as they are;
2. the fusion parameters (RRF k, dense weight), chosen on a small grid, on a fifth of the
   training questions held out from an adapter trained on the other four fifths;
3. whether the adapter is used at all (the gate): the best fusion with it and without it are
   compared on those same held-out questions;
4. the second stage (`index/rerank.py`) and its gate, on the same questions; its vote features
   (`index/prior.py`: for the document and for the article) come, for each of them, from the
   votes of the other training questions only, as a new question's do at search time.

Several question sets (e.g. STARD's civil-law questions and the petition-work questions of the
product's own users) are learned from together, and every choice is made on the *worst* set: a
grid point or the adapter wins only by what it does for the set it helps least, so gains on one
benchmark are never bought with losses on the other. In the losses of the adapter and of the
second stage a question weighs (its set's size)^-`balance` (default 0.5): STARD's 1,235
questions no longer outweigh the product's 141 petition questions ninefold, only threefold
(whole corpus, held-out, against every question alike: petition MRR@10 0.445 → 0.472, Recall@100
0.903 → 0.920; STARD Recall@10 0.690 → 0.682, MRR@10 0.587 → 0.585).

Questions written for learning (`--learn-from`, default `index/data/petition-written.jsonl`:
petition-work questions on the clauses of the petition course's documents) are learned from in
every fold and never measured nor used for a choice: they train the adapter and vote in the prior,
and the measured sets judge what they do.

How it is reported: k-fold cross-validation with folds fixed by a hash of the qid. In each fold
every part is learned on the other k-1 folds only (nested: the fusion grid is searched with the
fold's own adapter) and measured on the held-out fold. Train-fit and held-out figures are
printed for every stage of the ablation ladder and every question set, so what generalises can
be told from what is memorised. Then both are learned on all questions: the adapter is written (float16,
with the embedder's model id and the held-out figures in its note) to `--out`
(default `index/data/query_adapter.npz`) and the chosen fusion values are printed for the
`rrf_k` / `dense_weight` settings.

Rankings are computed once per question (lexical top-N, dense top-N over the passage matrix)
and fused in memory, so the grid costs seconds. Pure parts (folds, fusion of cached rankings,
metrics) are separate from the loading of the index.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import functools
import hashlib
import itertools
import sys
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from index.adapter import ADAPTER_FILE, QueryAdapter, normalise_rows
from index.build import rebuild_hint
from index.collections import load_collections
from index.eval import ArticleKey, Question, judge, read_questions, summarise
from index.fuse import boost, rrf
from index.prior import PRIOR_FILE, QuestionPrior, key_votes, nearest_questions, pooled_votes, vote_matrix
from index.rerank import RERANK_DEPTH, RERANKED_RRF_K, RERANKER_FILE, Reranker, fit_reranker
from index.tokenize import DATA_DIR
from kb.errors import ConfigError, QueryError, SearchIndexError, run_cli
from kb.workers import usable_cores

Ranking = list[int]                      # catalog rows, best first
PriorVotes = tuple[dict[str, float], dict[ArticleKey, float]]   # the prior's document and article votes
PLAIN_RRF = (60.0, 1.0)                  # (k, dense weight) of textbook RRF: the untuned stages use it
RRF_K_GRID = (5, 10, 20, 30, 60, 100)
DENSE_WEIGHT_GRID = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)
# petition-work questions written for learning, on the clauses of the petition course's documents:
# learned from in every fold, never measured (docs/search-quality.md)
WRITTEN_QUESTIONS = DATA_DIR / "petition-written.jsonl"


@dataclasses.dataclass(frozen=True)
class TrainParams:
    # 23 since the bundled written questions joined (1,783 questions): about the updates 30 epochs
    # gave the 1,376 measured questions alone; more updates move W further from the identity
    # (--epochs 60 cost STARD Recall@10, docs/search-quality.md)
    epochs: int = 23
    lr: float = 2e-3
    temperature: float = 0.02
    l2: float = 0.02
    batch: int = 64
    hard: int = 256          # hardest passages per question in the softmax
    # random passages per batch in the softmax: 16,384 held-out beat 4,096 on both sets in 3- and 5-fold
    # CV over the whole corpus (docs/search-quality.md), the fit taking about a minute longer
    shared: int = 16384
    refresh: int = 5         # epochs between recomputing the hard passages
    seed: int = 0
    # the adapter is the mean of this many fits (seeds seed, seed+1, …): 5 against 1, 3-fold CV over
    # the whole corpus, Recall@10 STARD +0.006, petition +0.026 (docs/search-quality.md)
    seeds: int = 5
    balance: float = 0.5     # question weight ∝ (its set's size)^-balance: 0 each question alike, 1 each set alike

    def __post_init__(self) -> None:
        """Raises:
            ConfigError: naming the flag, if a setting is below its least value (`TRAIN_LEAST`).
        """
        for name, (least, strict) in TRAIN_LEAST.items():
            value = getattr(self, name)
            if value < least or (strict and value == least):
                raise ConfigError(f"--{name.replace('_', '-')} {value}: must be {'>' if strict else '≥'} {least}")


# each training setting's least value, and whether that value itself is refused (a zero batch or
# refresh would crash mid-fit, a zero temperature divide by zero)
TRAIN_LEAST = {"epochs": (1, False), "lr": (0, True), "temperature": (0, True), "l2": (0, False), "batch": (1, False),
               "hard": (0, False), "shared": (0, False), "refresh": (1, False), "seeds": (1, False),
               "balance": (0, False)}


# ---- pure parts ----------------------------------------------------------------------------

def set_weights(sets: Sequence[str], balance: float) -> np.ndarray:
    """Per question, a weight ∝ (number of questions of its set)^-`balance`, with mean 1."""
    sizes = collections.Counter(sets)
    w = np.array([sizes[name] ** -balance for name in sets], dtype=np.float64)
    return w / w.mean() if len(w) else w


def fold_of(qid: object, folds: int) -> int:
    """A question's fold: stable across runs, machines and file order."""
    return int(hashlib.sha1(str(qid).encode()).hexdigest(), 16) % folds


def fold_splits(qids: Sequence[object], measured: Sequence[bool], folds: int) -> list[tuple[list[int], list[int]]]:
    """Per fold, (the questions learned from, the held-out ones): a question that is not measured
    (a learn-only set's) is learned from in every fold and held out in none."""
    fold = [fold_of(qid, folds) if keep else -1 for qid, keep in zip(qids, measured)]
    return [([i for i, g in enumerate(fold) if g != f], [i for i, g in enumerate(fold) if g == f])
            for f in range(folds)]


def objective(metrics: dict[str, float]) -> float:
    """What the fusion grid maximises: the mean of the three target metrics."""
    return (metrics["Recall@10"] + metrics["Recall@100"] + metrics["MRR@10"]) / 3


def fused_rankings(lexical: Sequence[Ranking], dense: Sequence[Ranking], rrf_k: float, dense_weight: float
                   ) -> list[Ranking]:
    """RRF of cached per-question rankings (lexical weight 1)."""
    return [[r for r, _ in rrf([lex, den], [1.0, dense_weight], rrf_k)] for lex, den in zip(lexical, dense)]


def evaluate(rankings: Sequence[Ranking], gold: Sequence[frozenset[ArticleKey]],
             key_of: Callable[[int], ArticleKey], idx: Sequence[int], k: int = 100) -> dict[str, float]:
    return summarise([(judge([key_of(r) for r in rankings[i][:k]], gold[i]), len(gold[i])) for i in idx])


def worst_objective(rankings: Sequence[Ranking], gold: Sequence[frozenset[ArticleKey]],
                    key_of: Callable[[int], ArticleKey], groups: Sequence[Sequence[int]]) -> float:
    """The objective of the question group (set) that does worst: what every choice maximises."""
    return min(objective(evaluate(rankings, gold, key_of, g)) for g in groups if len(g))


def best_fusion(lexical: Sequence[Ranking], dense: Sequence[Ranking], gold: Sequence[frozenset[ArticleKey]],
                key_of: Callable[[int], ArticleKey], groups: Sequence[Sequence[int]]) -> tuple[float, float, float]:
    """(rrf_k, dense_weight, worst objective) of the grid point whose worst group does best;
    `groups` index into the given rankings."""
    scored = []
    for rrf_k, weight in itertools.product(RRF_K_GRID, DENSE_WEIGHT_GRID):
        fused = fused_rankings(lexical, dense, rrf_k, weight)
        scored.append((worst_objective(fused, gold, key_of, groups), -rrf_k, rrf_k, weight))
    score, _, rrf_k, weight = max(scored)
    return float(rrf_k), float(weight), score


def fit_adapter(queries: np.ndarray, positives: Sequence[np.ndarray], passages: np.ndarray,
                params: TrainParams = TrainParams(), question_weights: np.ndarray | None = None) -> np.ndarray:
    """Weights W (dim × dim) such that normalise(q · W) ranks each query's positive passages high:
    the mean of `params.seeds` fits (`fit_adapter_once`) that differ only in their random draws.
    A mean of linear maps is one linear map, so search costs the same; it varies less with the
    draws than one fit does (docs/search-quality.md: "One adapter from five draws")."""
    return np.mean([fit_adapter_once(queries, positives, passages, params, question_weights, params.seed + s)
                    for s in range(params.seeds)], axis=0).astype(np.float32)


def fit_adapter_once(queries: np.ndarray, positives: Sequence[np.ndarray], passages: np.ndarray,
                     params: TrainParams, question_weights: np.ndarray | None, seed: int) -> np.ndarray:
    """One fit of W (dim × dim) such that normalise(q · W) ranks each query's positive passages
    high, its random draws (batch order, random passages) from `seed`.

    `queries`: (n, dim) unit vectors; `positives[i]`: indexes into `passages` ((N, dim) unit
    vectors); `question_weights`: (n,) each query's weight in the loss (None: all 1). Queries without
    positives are ignored.

    The softmax of each batch runs over a candidate set instead of all N passages: the `hard`
    best passages of every question of the batch under the current W (recomputed every
    `refresh` epochs), its gold passages, and `shared` passages drawn at random for the tail.
    On stard-train over the whole lawrefbook (157,000 passages, 2 cores) a fit takes 28 s
    against about 160 s with the full softmax (0.33 s a batch), with the same held-out figures
    (one fold: hybrid Recall@10 0.672 vs 0.656).
    """
    import torch

    torch.set_num_threads(usable_cores())       # a searcher may have set 1 for query latency
    torch.manual_seed(seed)
    keep = [i for i, p in enumerate(positives) if len(p)]
    weight_of = np.ones(len(positives)) if question_weights is None else np.asarray(question_weights, dtype=np.float64)
    qw = weight_of[keep]                 # per kept question
    x = torch.from_numpy(np.ascontiguousarray(queries[keep], dtype=np.float32))
    corpus = torch.from_numpy(np.ascontiguousarray(passages, dtype=np.float32))
    pos = [np.asarray(positives[i], dtype=np.int64) for i in keep]
    eye = torch.eye(x.shape[1])
    weights = torch.nn.Parameter(eye.clone())
    optimiser = torch.optim.Adam([weights], lr=params.lr)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    hard = np.empty((len(keep), 0), dtype=np.int64)
    for epoch in range(params.epochs):
        if epoch % params.refresh == 0:
            with torch.no_grad():
                current = torch.nn.functional.normalize(x @ weights, dim=1)
                hard = torch.topk(current @ corpus.T, min(params.hard, len(passages)), dim=1).indices.numpy()
        order = torch.randperm(len(keep), generator=generator).tolist()
        for start in range(0, len(order), params.batch):
            batch = order[start:start + params.batch]
            candidates = np.unique(np.concatenate([hard[batch].ravel(), *(pos[i] for i in batch),
                                                   rng.integers(0, len(passages), params.shared)]))
            # each question weighs 1 in the mean, shared between its gold passages (every gold
            # article of a question counts)
            rows = np.concatenate([np.full(len(pos[i]), r) for r, i in enumerate(batch)])
            cols = np.searchsorted(candidates, np.concatenate([pos[i] for i in batch]))
            share = torch.from_numpy(np.concatenate([np.full(len(pos[i]), qw[i] / len(pos[i])) for i in batch]))
            q = torch.nn.functional.normalize(x[batch] @ weights, dim=1)
            log_probs = torch.log_softmax((q @ corpus[torch.from_numpy(candidates)].T) / params.temperature, dim=1)
            nll = -(log_probs[torch.from_numpy(rows), torch.from_numpy(cols)] * share.float()).sum() / qw[batch].sum()
            loss = nll + params.l2 * ((weights - eye) ** 2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return weights.detach().numpy().astype(np.float32)


def dense_scored(query_vectors: np.ndarray, passages: np.ndarray, passage_rows: np.ndarray,
                 n: int) -> list[list[tuple[int, float]]]:
    """Per question, the `n` best (row, score) by their best passage (exact inner product)."""
    out = []
    for start in range(0, len(query_vectors), 256):
        scores = query_vectors[start:start + 256] @ passages.T
        for row_scores in scores:
            top = np.argpartition(-row_scores, min(4 * n, len(row_scores) - 1))[:4 * n]
            top = top[np.argsort(-row_scores[top], kind="stable")]
            best: dict[int, float] = {}
            for row, score in zip(passage_rows[top].tolist(), row_scores[top].tolist()):
                best.setdefault(row, score)
            out.append(list(best.items())[:n])
    return out


def dense_rankings(query_vectors: np.ndarray, passages: np.ndarray, passage_rows: np.ndarray,
                   n: int) -> list[Ranking]:
    """Per question, the `n` best rows by their best passage (exact inner product)."""
    return [[r for r, _ in pairs] for pairs in dense_scored(query_vectors, passages, passage_rows, n)]


# ---- loading from a knowledge base -----------------------------------------------------------

@dataclasses.dataclass
class Material:
    """Everything the learning needs, computed once from the knowledge base."""
    questions: list[Question]
    sets: list[str]                  # the question set (file) each question comes from
    queries: np.ndarray              # base query vectors
    passages: np.ndarray             # current passages' vectors
    passage_rows: np.ndarray         # catalog row of each passage
    positives: list[np.ndarray]      # per question: indexes into passages
    dense: list[Ranking]             # by the base query vectors
    lexical: list[Ranking]           # without expansion terms
    lexical_expanded: list[Ranking]
    key_of: Callable[[int], ArticleKey]
    # (question, fused rows, lexical (row, score), dense (row, score), prior votes) → reranker features
    features: Callable[[int, Ranking, list[tuple[int, float]], list[tuple[int, float]], PriorVotes], np.ndarray]
    lexical_scored: list[list[tuple[int, float]]]      # lexical_expanded with BM25 scores
    collection: str = ""             # the knowledge base's default collection ("" = none): reported, never learned
    in_collection: Callable[[int], bool] = lambda row: False     # whether a row's document is in it
    collection_boost: float = 1.0
    # sets learned from in every fold and never measured nor used for a choice (questions written
    # for training): they teach the adapter and vote in the prior, the product's users judge
    learn_only: frozenset[str] = frozenset()

    @functools.cached_property
    def doc_keys(self) -> tuple[str, ...]:
        """The documents the gold articles are in: the document prior's vote columns."""
        return tuple(sorted({key for q in self.questions for key, *_ in q.gold}))

    @functools.cached_property
    def votes(self) -> np.ndarray:
        """(questions, doc_keys) each question's vote for its gold documents."""
        return vote_matrix([[key for key, *_ in q.gold] for q in self.questions], self.doc_keys)

    @functools.cached_property
    def article_keys(self) -> tuple[ArticleKey, ...]:
        """The gold articles: the prior's article vote columns."""
        return tuple(sorted({key for q in self.questions for key in q.gold}))

    @functools.cached_property
    def article_votes(self) -> np.ndarray:
        """(questions, article_keys) each question's vote for its gold articles."""
        return vote_matrix([list(q.gold) for q in self.questions], self.article_keys)

    def prior_votes(self, questions: Sequence[int], voters: Sequence[int]) -> list[PriorVotes]:
        """Per question of `questions`, the prior's votes (document key → vote, article key →
        vote) made of the questions `voters` only."""
        nearest, weights = nearest_questions(normalise_rows(self.queries[list(questions)]),
                                             normalise_rows(self.queries[list(voters)]))
        documents = pooled_votes(nearest, weights, self.votes[list(voters)])
        articles = pooled_votes(nearest, weights, self.article_votes[list(voters)])
        return [(key_votes(d, self.doc_keys), key_votes(a, self.article_keys)) for d, a in zip(documents, articles)]

    def set_names(self) -> list[str]:
        """The measured sets, in file order (not the learn-only ones)."""
        return [name for name in dict.fromkeys(self.sets) if name not in self.learn_only]

    def measured(self, i: int) -> bool:
        return self.sets[i] not in self.learn_only

    def by_set(self, idx: Sequence[int]) -> dict[str, list[int]]:
        """The measured questions of `idx` split by question set, in set order."""
        out: dict[str, list[int]] = {name: [] for name in self.set_names()}
        for i in idx:
            if self.measured(i):
                out[self.sets[i]].append(i)
        return out


def learning_threads() -> threadpool_limits:
    """Give numpy's BLAS every usable core again (`usable_cores`), for learning's big matrix
    products (a `Searcher` sets one for query latency); used as a context manager, the searcher's
    one comes back after it."""
    return threadpool_limits(usable_cores(), user_api="blas")


def load_material(searcher, question_sets: dict[str, list[Question]], n: int,
                  learn_only: dict[str, list[Question]] | None = None) -> Material:
    """Rankings and vectors of every question of every set (name → questions), and of the
    `learn_only` sets, which are learned from and never measured."""
    from index.search import Filters

    learn_only = learn_only or {}
    question_sets = question_sets | learn_only
    questions = [q for qs in question_sets.values() for q in qs]
    sets = [name for name, qs in question_sets.items() for _ in qs]
    cat, dense = searcher.catalog, searcher.backend.dense_index     # learning reads FAISS: embedded snapshots only
    positions, articles = dense.live_passages()      # a grown index keeps dead passages (article -1)
    rows = cat.rows_of(articles)
    current = np.flatnonzero(cat.status[rows] == 0)
    passages = np.asarray(dense.index.reconstruct_batch(positions[current]), dtype=np.float32)
    passage_rows = rows[current]
    by_row: dict[int, list[int]] = {}
    for i, r in enumerate(passage_rows.tolist()):
        by_row.setdefault(r, []).append(i)
    scope = searcher.scope(Filters())
    positives, queries, lexical, expanded, parsed_queries = [], [], [], [], []
    for q in questions:
        positives.append(np.array([p for r in gold_rows(searcher, q.gold) for p in by_row.get(r, [])], dtype=np.int64))
        parsed = searcher.parse(q.query, Filters())
        parsed_queries.append(parsed)
        queries.append(searcher.embedder.encode_query(parsed.scored_text))
        lexical.append([r for r, _ in searcher.lexical_ranking(searcher.lexical_query(parsed, expanded=False),
                                                               scope, n)])
        expanded.append(searcher.lexical_ranking(searcher.lexical_query(parsed), scope, n))
    docs = [d.key for d in cat.documents]

    def key_of(row: int) -> ArticleKey:
        return docs[cat.doc[row]], int(cat.no[row]), int(cat.suffix[row])

    def features(i: int, rows: Ranking, lexical_pairs: list[tuple[int, float]],
                 dense_pairs: list[tuple[int, float]], votes: PriorVotes) -> np.ndarray:
        return searcher.features(parsed_queries[i], query_vectors[i], rows, lexical_pairs, dense_pairs, *votes)

    query_vectors = np.stack(queries)
    collection = load_collections(searcher.kb_dir).chosen(searcher.cfg.collection)
    members = searcher.collection_documents(collection) if collection else frozenset()
    return Material(questions, sets, query_vectors, passages, passage_rows, positives,
                    dense_rankings(query_vectors, passages, passage_rows, n), lexical,
                    [[r for r, _ in pairs] for pairs in expanded], key_of, features, expanded,
                    collection, lambda row: int(cat.doc[row]) in members, searcher.tuning.collection_boost,
                    frozenset(learn_only))


def gold_rows(searcher, gold: frozenset[ArticleKey]) -> list[int]:
    """Catalog rows of gold articles: their current versions, or any version if none is current."""
    cat = searcher.catalog
    rows: list[int] = []
    for key, no, suffix in gold:
        docs = searcher.documents_keyed([key])
        found = np.flatnonzero((cat.no == no) & (cat.suffix == suffix) & np.isin(cat.doc, docs))
        current = found[cat.status[found] == 0]
        rows.extend((current if len(current) else found).tolist())
    return rows


# ---- the experiment ------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Learned:
    weights: np.ndarray                  # the adapter
    use_adapter: bool                    # the gate's choice
    fusion: tuple[float, float]          # (rrf_k, dense_weight) of the chosen stage
    reranker: np.ndarray                 # the second stage's weights
    use_reranker: bool                   # the gate's choice
    metrics: dict[str, dict[str, dict[str, float]]]   # stage → question group → metrics


def preferred(ranking: Ranking, favoured: Callable[[int], bool], factor: float, rrf_k: float) -> Ranking:
    """`ranking` with the rows `favoured` (a preferred collection's) raised as search raises them:
    RRF over this one ranking scores it (1 / (rrf_k + rank); after the second stage rrf_k is
    `RERANKED_RRF_K`, without one the fusion's k, as search scores them), and the favoured rows'
    scores are multiplied by `factor`."""
    return [row for row, _ in boost(rrf([ranking], k=rrf_k), {row: factor for row in ranking if favoured(row)})]


def rerank_all(fused: Sequence[Ranking], features: Sequence[np.ndarray], weights: np.ndarray) -> list[Ranking]:
    """Each fused ranking with its first `RERANK_DEPTH` rows in the order of the reranker `weights`."""
    out = []
    for rows, f in zip(fused, features):
        head = rows[:RERANK_DEPTH]
        out.append([head[j] for j in np.argsort(-(f @ weights), kind="stable")] + list(rows[RERANK_DEPTH:]))
    return out


SHIPPED = "shipped*"


def ladder(m: Material, train: Sequence[int], evals: dict[str, Sequence[int]], params: TrainParams,
           n: int) -> Learned:
    """Learn on questions `train`; metrics of every stage of the ablation ladder on each named group."""
    gold = [q.gold for q in m.questions]
    # the fusion and the gate are chosen on questions the adapter was not trained on: on its own
    # training questions an adapter ranks far better than on new ones, and a choice made there
    # leans too far towards it
    for_fusion = {i for i in train if m.measured(i) and fold_of(f"fusion:{m.questions[i].qid}", 3) == 0}
    inner_fit = [i for i in train if i not in for_fusion]
    inner_val = [i for i in train if i in for_fusion]
    position = {i: p for p, i in enumerate(inner_val)}
    groups = [[position[i] for i in idx] for idx in m.by_set(inner_val).values()]
    val_gold, val_lexical = [gold[i] for i in inner_val], [m.lexical_expanded[i] for i in inner_val]
    inner_weights = fit_adapter(m.queries[inner_fit], [m.positives[i] for i in inner_fit], m.passages, params,
                                set_weights([m.sets[i] for i in inner_fit], params.balance))
    inner_vectors = normalise_rows(m.queries[inner_val] @ inner_weights)
    inner = dense_rankings(inner_vectors, m.passages, m.passage_rows, n)
    *with_adapter, with_score = best_fusion(val_lexical, inner, val_gold, m.key_of, groups)
    *without, without_score = best_fusion(val_lexical, [m.dense[i] for i in inner_val], val_gold, m.key_of, groups)
    use_adapter = with_score > without_score
    fusion = tuple(with_adapter if use_adapter else without)
    reranker, use_reranker = learn_reranker(m, inner_val, inner_vectors if use_adapter else m.queries[inner_val],
                                            fusion, n, m.prior_votes(inner_val, inner_fit), params.balance)
    weights = fit_adapter(m.queries[list(train)], [m.positives[i] for i in train], m.passages, params,
                          set_weights([m.sets[i] for i in train], params.balance))
    adapted = dense_rankings(normalise_rows(m.queries @ weights), m.passages, m.passage_rows, n)
    tuned_plain = fused_rankings(m.lexical_expanded, m.dense, *without)
    tuned_adapted = fused_rankings(m.lexical_expanded, adapted, *with_adapter)
    chosen = tuned_adapted if use_adapter else tuned_plain
    dense_pairs = dense_scored(normalise_rows(m.queries @ weights) if use_adapter else m.queries, m.passages,
                               m.passage_rows, n)
    votes = m.prior_votes(range(len(m.questions)), train)
    reranked = rerank_all(chosen, [m.features(i, chosen[i][:RERANK_DEPTH], m.lexical_scored[i], dense_pairs[i],
                                              votes[i]) for i in range(len(m.questions))], reranker)
    shipped = reranked if use_reranker else chosen
    stages = {
        "lexical (BM25)": m.lexical,
        "lexical + expansion": m.lexical_expanded,
        "dense": m.dense,
        "dense + adapter*": adapted,
        "hybrid RRF": fused_rankings(m.lexical, m.dense, *PLAIN_RRF),
        "hybrid RRF + expansion": fused_rankings(m.lexical_expanded, m.dense, *PLAIN_RRF),
        f"hybrid + expansion, tuned fusion* [{tuple(without)}]": tuned_plain,
        "hybrid + expansion + adapter*": fused_rankings(m.lexical_expanded, adapted, *PLAIN_RRF),
        f"… + tuned fusion* [{tuple(with_adapter)}]": tuned_adapted,
        f"… gated [adapter {'on' if use_adapter else 'off'}]": chosen,
        "… + reranker*": reranked,
        f"{SHIPPED} [adapter {'on' if use_adapter else 'off'}, reranker {'on' if use_reranker else 'off'}]": shipped,
    }
    if m.collection:
        # what a user of the collection gets (nothing is learned from it)
        stages[f"… + collection {m.collection} preferred"] = [
            preferred(r, m.in_collection, m.collection_boost, RERANKED_RRF_K if use_reranker else fusion[0])
            for r in shipped]
    return Learned(weights, use_adapter, fusion, reranker, use_reranker,
                   {stage: {name: evaluate(r, gold, m.key_of, idx) for name, idx in evals.items()}
                    for stage, r in stages.items()})


def learn_reranker(m: Material, questions: Sequence[int], query_vectors: np.ndarray, fusion: tuple[float, float],
                   n: int, votes: Sequence[PriorVotes], balance: float) -> tuple[np.ndarray, bool]:
    """The second stage's weights, and whether its gate keeps it.

    It learns from candidate lists ranked with an adapter that was not trained on their
    questions (`query_vectors` of `questions`, the fusion questions), as every list is at search
    time: lists of the adapter's own training questions rank their gold far too well, and a
    reranker learned from them trusts the dense ranks too much. The gate compares the lists with
    and without it on the worst set, each list fused as chosen on the other half of those
    questions (`cross_fitted_fusion`) and reranked by weights learned on that half
    (`cross_fitted`). Each question weighs as `TrainParams.balance` says.
    """
    dense_pairs = dense_scored(query_vectors, m.passages, m.passage_rows, n)
    lexical = [m.lexical_expanded[i] for i in questions]
    dense = [[r for r, _ in p] for p in dense_pairs]
    gold = [m.questions[i].gold for i in questions]
    halves = [fold_of(f"rerank:{m.questions[i].qid}", 2) for i in questions]
    groups = [[p for p, i in enumerate(questions) if m.sets[i] == name] for name in m.set_names()]
    list_weights = set_weights([m.sets[i] for i in questions], balance)

    def features_and_labels(fused: Sequence[Ranking]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return ([m.features(i, fused[p][:RERANK_DEPTH], m.lexical_scored[i], dense_pairs[p], votes[p])
                 for p, i in enumerate(questions)],
                [np.array([m.key_of(r) in gold[p] for r in fused[p][:RERANK_DEPTH]], dtype=np.float64)
                 for p in range(len(questions))])

    # the gate: `fusion` was chosen on these very questions, so lists fused with it flatter the
    # side without the second stage; both sides are judged on lists fused as chosen on the other
    # half. (With 款 passages and the fusion's own choice, the petition set's objective there fell
    # by 0.005 and 0.007 in 2 of 3 folds and the stage was dropped, while it raised the held-out
    # petition Recall@10 from 0.692 to 0.764.)
    checked = cross_fitted_fusion(lexical, dense, gold, m.key_of, halves, groups, fusion)
    after = cross_fitted(checked, *features_and_labels(checked), halves, list_weights)
    keep = worst_objective(after, gold, m.key_of, groups) > worst_objective(checked, gold, m.key_of, groups)
    features, labels = features_and_labels(fused_rankings(lexical, dense, *fusion))
    return fit_reranker(features, labels, question_weights=list_weights), keep


def cross_fitted_fusion(lexical: Sequence[Ranking], dense: Sequence[Ranking], gold: Sequence[frozenset[ArticleKey]],
                        key_of: Callable[[int], ArticleKey], halves: Sequence[int],
                        groups: Sequence[Sequence[int]], fallback: tuple[float, float]) -> list[Ranking]:
    """Every list fused with the grid point (`best_fusion`) chosen on the lists of the other half
    (`halves`: 0 or 1 per list; `groups`: the sets, as indexes into the lists), so no list is
    ordered by a choice made on its own gold. Where the other half has no list of any set (a
    handful of questions), `fallback` (rrf_k, dense weight) fuses them."""
    out: list[Ranking] = [[] for _ in lexical]
    for half in (0, 1):
        learn = [p for p, h in enumerate(halves) if h != half]
        check = [p for p, h in enumerate(halves) if h == half]
        at = {p: j for j, p in enumerate(learn)}
        learn_groups = [[at[p] for p in group if p in at] for group in groups]
        rrf_k, weight = fallback
        if any(learn_groups):
            rrf_k, weight, _ = best_fusion([lexical[p] for p in learn], [dense[p] for p in learn],
                                           [gold[p] for p in learn], key_of, learn_groups)
        for p, ranking in zip(check, fused_rankings([lexical[p] for p in check], [dense[p] for p in check],
                                                    rrf_k, weight)):
            out[p] = ranking
    return out


def cross_fitted(fused: Sequence[Ranking], features: Sequence[np.ndarray], labels: Sequence[np.ndarray],
                 halves: Sequence[int], question_weights: np.ndarray | None = None) -> list[Ranking]:
    """Every list reranked by weights learned on the lists of the other half (`halves`: 0 or 1
    per list), so no list is ordered by what was learned from its own gold.

    Both halves are checked, not one: the gate then judges every question it is given (with one
    half only, ~15 petition questions decided it and it flipped between folds).
    `question_weights`: each list's weight in the learning (None: all 1).
    """
    out = list(fused)
    for half in (0, 1):
        learn = [p for p, h in enumerate(halves) if h != half]
        check = [p for p, h in enumerate(halves) if h == half]
        weights = fit_reranker([features[p] for p in learn], [labels[p] for p in learn],
                               question_weights=None if question_weights is None else question_weights[learn])
        for p, ranking in zip(check, rerank_all([fused[p] for p in check], [features[p] for p in check], weights)):
            out[p] = ranking
    return out


UNSEEN = "held-out, gold unseen"     # held-out questions none of whose gold articles is in training


def cross_validate(m: Material, folds: int, params: TrainParams, n: int) -> dict[str, dict[str, dict[str, float]]]:
    """stage → "<set> train-fit" / "<set> held-out" / "<set> held-out, gold unseen" → metrics averaged
    over `folds` folds (learned parts are learned on the other folds only, from every set)."""
    runs = []
    for train, held in fold_splits([q.qid for q in m.questions], [m.measured(i) for i in range(len(m.questions))],
                                   folds):
        seen = set().union(*(m.questions[i].gold for i in train))
        evals: dict[str, Sequence[int]] = {}
        for name in m.set_names():
            evals[f"{name} train-fit"] = [i for i in train if m.sets[i] == name]
            evals[f"{name} held-out"] = [i for i in held if m.sets[i] == name]
            evals[f"{name} {UNSEEN}"] = [i for i in held if m.sets[i] == name and not m.questions[i].gold & seen]
        runs.append(ladder(m, train, evals, params, n).metrics)
    stages = [list(run) for run in runs]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for i, stage in enumerate(stages[0]):
        label = stage.split(" [")[0]
        out[label] = {}
        for part in runs[0][stage]:
            per_fold = [run[names[i]][part] for run, names in zip(runs, stages)]
            out[label][part] = {k: float(np.mean([r[k] for r in per_fold])) for k in per_fold[0]}
        if label == SHIPPED:
            for part in ("adapter", "reranker"):
                out[label][f"{part} on in folds"] = {"count": float(sum(f"{part} on" in names[i] for names in stages))}
    return out


def short_metrics(metrics: dict[str, float]) -> str:
    return f"R@10 {metrics['Recall@10']:.3f} R@100 {metrics['Recall@100']:.3f} MRR@10 {metrics['MRR@10']:.3f}"


def print_ladder(results: dict[str, dict[str, dict[str, float]]], sets: Sequence[str]) -> None:
    """One line per stage and part with the question sets side by side; train-fit only for
    learned (*) stages."""
    for stage, parts in results.items():
        kinds = dict.fromkeys(part.split(" ", 1)[1] for part in parts if " " in part and part.split(" ", 1)[0] in sets)
        for kind in kinds:
            if kind == "train-fit" and "*" not in stage:
                continue
            cells = "  |  ".join(f"{name}: {short_metrics(parts[f'{name} {kind}'])}" for name in sets
                                 if f"{name} {kind}" in parts)
            print(f"  {stage:<36} {kind:<22} {cells}")
        for part in ("adapter", "reranker"):
            if f"{part} on in folds" in parts:
                print(f"  {stage:<36} the gate kept the {part} in {parts[f'{part} on in folds']['count']:.0f} fold(s)")


def write_or_remove(path: Path, keep: bool, make: Callable[[], Reranker | QueryAdapter | QuestionPrior]) -> None:
    """Save what `make` returns to `path` if the gate kept it; otherwise remove an old `path`."""
    if keep:
        make().save(path)
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    elif path.exists():
        path.unlink()
        print(f"the gate turned it down: removed {path}")
    else:
        print(f"the gate turned it down: {path} not written")


def add_learn_from_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--learn-from", type=Path, action="append", default=None, metavar="FILE.jsonl",
                        help="questions with gold articles learned from in every fold, never measured nor used "
                             f"for a choice; repeatable; 'none' for none (default: {WRITTEN_QUESTIONS.name}, "
                             "the bundled questions written for learning)")


def add_folds_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--folds", type=int, default=5,
                        help="cross-validation folds, by question id (default 5; 0: none)")


def check_folds(folds: int) -> int:
    """`folds` if it is 0 (no cross-validation) or 2 and more.

    Raises:
        ConfigError: naming --folds otherwise (one fold leaves nothing to learn from, and a
            negative count was quietly taken as none, 0 crashed `python -m bench search`).
    """
    if folds != 0 and folds < 2:
        raise ConfigError(f"--folds {folds}: must be 0 (no cross-validation) or ≥ 2")
    return folds


def learn_only_sets(paths: Sequence[Path] | None, measured: Collection[str]) -> dict[str, list[Question]]:
    """The `--learn-from` question sets: the bundled written questions unless `paths` are given;
    none if a path is `none`. `measured`: the names of the measured sets.

    Raises:
        QueryError: if a file cannot be read or a line is malformed, or a set is also measured.
    """
    if paths is None:
        paths = [WRITTEN_QUESTIONS]
    sets = {} if Path("none") in paths else read_question_sets(paths)
    if clash := set(sets) & set(measured):
        raise QueryError(f"question sets named both in --questions and --learn-from: {', '.join(sorted(clash))}")
    return sets


def read_question_sets(paths: Sequence[Path]) -> dict[str, list[Question]]:
    """Question sets by file stem (e.g. `stard-train`, `xinfang-dev`).

    Raises:
        QueryError: if a file cannot be read or a line is malformed.
    """
    return {path.stem: read_questions(path, need_gold=True) for path in paths}


def main(argv: Sequence[str] | None = None) -> int:
    from kb.settings import add_arguments

    parser = argparse.ArgumentParser(prog="python -m index.learn.fit",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--questions", type=Path, action="append", required=True,
                        help="JSONL questions with gold articles; repeat for several sets (each choice is made "
                             "on the set it helps least)")
    add_learn_from_argument(parser)
    add_folds_argument(parser)
    parser.add_argument("--candidates", type=int, default=200, help="rankings' depth before fusion")
    parser.add_argument("--out", type=Path, default=ADAPTER_FILE, help=f"adapter file (default {ADAPTER_FILE})")
    parser.add_argument("--reranker-out", type=Path, default=RERANKER_FILE,
                        help=f"reranker file (default {RERANKER_FILE})")
    parser.add_argument("--prior-out", type=Path, default=PRIOR_FILE,
                        help=f"question prior file (default {PRIOR_FILE})")
    parser.add_argument("--dry-run", action="store_true", help="report only, write nothing")
    for f in dataclasses.fields(TrainParams):
        parser.add_argument(f"--{f.name}", type=type(f.default), default=f.default, help=f"training {f.name}")
    add_arguments(parser, "kb", "model", "query_prefix")
    args = parser.parse_args(argv)
    return run_cli(_fit, args)


def _fit(args: argparse.Namespace) -> int:
    from index.search import Searcher
    from kb.settings import config_from_args

    params = TrainParams(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainParams)})
    check_folds(args.folds)
    # the learned parts in use are not read: they are what is being learned (and may be stale)
    cfg = dataclasses.replace(config_from_args(args), query_adapter="none", reranker="none", question_prior="none")
    question_sets = read_question_sets(args.questions)
    learn_only = learn_only_sets(args.learn_from, question_sets)
    searcher = Searcher(cfg.kb, cfg)
    if searcher.keywords_only:
        raise SearchIndexError(f"{cfg.kb}: the index has keywords only, its first build has not finished "
                               f"embedding, and learning needs the passage vectors: {rebuild_hint(cfg.kb)}")
    learning_threads()              # for the rest of this process, which only learns
    start = time.perf_counter()
    m = load_material(searcher, question_sets, args.candidates, learn_only)
    sizes = ", ".join(f"{name} {count}{' (learn only)' if name in m.learn_only else ''}"
                      for name, count in collections.Counter(m.sets).items())
    print(f"{len(m.questions)} questions ({sizes}; {sum(len(p) > 0 for p in m.positives)} with gold passages), "
          f"{len(m.passages)} current passages, model {searcher.embedder.model_id}; "
          f"rankings in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print("* = learned from the questions; train-fit = measured on the questions it was learned from")
    everyone = list(range(len(m.questions)))
    held_out = ""
    if args.folds:
        print(f"{args.folds}-fold cross-validation (mean over folds):")
        results = cross_validate(m, args.folds, params, args.candidates)
        print_ladder(results, m.set_names())
        shipped = results[SHIPPED]
        held_out = f"; {args.folds}-fold held-out, shipped stage: " + "; ".join(
            f"{name} {short_metrics(shipped[f'{name} held-out'])}" for name in m.set_names())
    final = ladder(m, everyone, m.by_set(everyone), params, args.candidates)
    print("learned on all questions, measured on all (train-fit for * stages):")
    for stage, parts in final.metrics.items():
        print(f"  {stage:<44} " + "  |  ".join(f"{name}: {short_metrics(v)}" for name, v in parts.items()))
    print(f"chosen on all questions: query_adapter={'bundled' if final.use_adapter else 'none'}, "
          f"rrf_k={final.fusion[0]:g}, dense_weight={final.fusion[1]:g} (settings query_adapter / rrf_k / dense_weight)")
    print(f"chosen on all questions: reranker={'bundled' if final.use_reranker else 'none'} (setting reranker)")
    if args.dry_run:
        return 0
    note = (f"learned by index.learn.fit from {', '.join(f'{name}.jsonl' for name in dict.fromkeys(m.sets))} "
            f"({len(m.questions)} questions)")
    # a part the gate turned down is removed, so that `bundled` never means a stale file
    write_or_remove(args.reranker_out, final.use_reranker,
                    lambda: Reranker(final.reranker, note + held_out, searcher.embedder.model_id, RERANK_DEPTH))
    # the prior gives the second stage's vote features: shipped with it or not at all
    write_or_remove(args.prior_out, final.use_reranker,
                    lambda: QuestionPrior(normalise_rows(m.queries), m.doc_keys, m.votes, searcher.embedder.model_id,
                                          note, m.article_keys, m.article_votes))
    write_or_remove(args.out, final.use_adapter,
                    lambda: QueryAdapter(final.weights, searcher.embedder.model_id, f"{note}, {params}{held_out}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
