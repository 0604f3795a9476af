"""Learn the data-driven parts of ranking from questions with gold articles, honestly.

    python -m index.learn.fit --kb DIR --questions ../shared/eval/stard-train.jsonl [--folds 5]

What is learned:
1. the query-side linear adapter (`index/adapter.py`): W starts at the identity and is trained
   with a softmax cross-entropy of each gold passage against the hardest indexed passages of
   current versions and a random sample of the rest, plus `l2 · ‖W − I‖²` keeping it near
   the base model. Only questions are
   transformed, so the corpus vectors (and the embedding cache) stay as they are;
2. the fusion parameters (RRF k, dense weight), chosen on a small grid, on a fifth of the
   training questions held out from an adapter trained on the other four fifths.

How it is reported: k-fold cross-validation with folds fixed by a hash of the qid. In each fold
both parts are learned on the other k-1 folds only (nested: the fusion grid is searched with the
fold's own adapter) and measured on the held-out fold. Train-fit and held-out figures are
printed side by side for every stage of the ablation ladder, so what generalises can be told
from what is memorised. Then both are learned on all questions: the adapter is written (float16,
with the embedder's model id and the held-out figures in its note) to `--out`
(default `index/data/query_adapter.npz`) and the chosen fusion values are printed for the
`rrf_k` / `dense_weight` settings.

Rankings are computed once per question (lexical top-N, dense top-N over the passage matrix)
and fused in memory, so the grid costs seconds. Pure parts (folds, fusion of cached rankings,
metrics) are separate from the loading of the index.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.adapter import ADAPTER_FILE, QueryAdapter, normalise_rows
from index.eval import ArticleKey, Question, format_metrics, judge, read_questions, summarise
from index.fuse import rrf
from kb.errors import run_cli

Ranking = list[int]                      # catalog rows, best first
PLAIN_RRF = (60.0, 1.0)                  # (k, dense weight) of textbook RRF: the untuned stages use it
RRF_K_GRID = (5, 10, 20, 30, 60, 100)
DENSE_WEIGHT_GRID = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)


@dataclasses.dataclass(frozen=True)
class TrainParams:
    epochs: int = 30
    lr: float = 2e-3
    temperature: float = 0.02
    l2: float = 0.02
    batch: int = 64
    hard: int = 256          # hardest passages per question in the softmax
    shared: int = 4096       # random passages per batch in the softmax
    refresh: int = 5         # epochs between recomputing the hard passages
    seed: int = 0


# ---- pure parts ----------------------------------------------------------------------------

def fold_of(qid: object, folds: int) -> int:
    """A question's fold: stable across runs, machines and file order."""
    return int(hashlib.sha1(str(qid).encode()).hexdigest(), 16) % folds


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


def best_fusion(lexical: Sequence[Ranking], dense: Sequence[Ranking], gold: Sequence[frozenset[ArticleKey]],
                key_of: Callable[[int], ArticleKey], idx: Sequence[int]) -> tuple[float, float]:
    """The (rrf_k, dense_weight) of the grid with the best objective on questions `idx`."""
    sub_lex, sub_den = [lexical[i] for i in idx], [dense[i] for i in idx]
    sub_gold = [gold[i] for i in idx]
    scored = []
    for rrf_k, weight in itertools.product(RRF_K_GRID, DENSE_WEIGHT_GRID):
        metrics = evaluate(fused_rankings(sub_lex, sub_den, rrf_k, weight), sub_gold, key_of, range(len(idx)))
        scored.append((objective(metrics), -rrf_k, rrf_k, weight))
    _, _, rrf_k, weight = max(scored)
    return float(rrf_k), float(weight)


def fit_adapter(queries: np.ndarray, positives: Sequence[np.ndarray], passages: np.ndarray,
                params: TrainParams = TrainParams()) -> np.ndarray:
    """Weights W (dim × dim) such that normalise(q · W) ranks each query's positive passages high.

    `queries`: (n, dim) unit vectors; `positives[i]`: indexes into `passages` ((N, dim) unit
    vectors). Queries without positives are ignored.

    The softmax of each batch runs over a candidate set instead of all N passages: the `hard`
    best passages of every question of the batch under the current W (recomputed every
    `refresh` epochs), its gold passages, and `shared` passages drawn at random for the tail.
    On stard-train over the whole lawrefbook (157,000 passages, 2 cores) a fit takes 28 s
    against about 160 s with the full softmax (0.33 s a batch), with the same held-out figures
    (one fold: hybrid Recall@10 0.672 vs 0.656).
    """
    import os

    import torch

    torch.set_num_threads(os.cpu_count() or 1)       # a searcher may have set 1 for query latency
    torch.manual_seed(params.seed)
    keep = [i for i, p in enumerate(positives) if len(p)]
    x = torch.from_numpy(np.ascontiguousarray(queries[keep], dtype=np.float32))
    corpus = torch.from_numpy(np.ascontiguousarray(passages, dtype=np.float32))
    pos = [np.asarray(positives[i], dtype=np.int64) for i in keep]
    eye = torch.eye(x.shape[1])
    weights = torch.nn.Parameter(eye.clone())
    optimiser = torch.optim.Adam([weights], lr=params.lr)
    generator = torch.Generator().manual_seed(params.seed)
    rng = np.random.default_rng(params.seed)
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
            share = torch.from_numpy(np.concatenate([np.full(len(pos[i]), 1.0 / len(pos[i])) for i in batch]))
            q = torch.nn.functional.normalize(x[batch] @ weights, dim=1)
            log_probs = torch.log_softmax((q @ corpus[torch.from_numpy(candidates)].T) / params.temperature, dim=1)
            nll = -(log_probs[torch.from_numpy(rows), torch.from_numpy(cols)] * share.float()).sum() / len(batch)
            loss = nll + params.l2 * ((weights - eye) ** 2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return weights.detach().numpy().astype(np.float32)


def dense_rankings(query_vectors: np.ndarray, passages: np.ndarray, passage_rows: np.ndarray,
                   n: int) -> list[Ranking]:
    """Per question, the `n` best rows by their best passage (exact inner product)."""
    out = []
    for start in range(0, len(query_vectors), 256):
        scores = query_vectors[start:start + 256] @ passages.T
        for row_scores in scores:
            top = np.argpartition(-row_scores, min(4 * n, len(row_scores) - 1))[:4 * n]
            top = top[np.argsort(-row_scores[top], kind="stable")]
            out.append(list(dict.fromkeys(passage_rows[top].tolist()))[:n])
    return out


# ---- loading from a knowledge base -----------------------------------------------------------

@dataclasses.dataclass
class Material:
    """Everything the learning needs, computed once from the knowledge base."""
    questions: list[Question]
    queries: np.ndarray              # base query vectors
    passages: np.ndarray             # current passages' vectors
    passage_rows: np.ndarray         # catalog row of each passage
    positives: list[np.ndarray]      # per question: indexes into passages
    dense: list[Ranking]             # by the base query vectors
    lexical: list[Ranking]           # without expansion terms
    lexical_expanded: list[Ranking]
    key_of: Callable[[int], ArticleKey]


def load_material(searcher, questions: list[Question], n: int) -> Material:
    from index.search import Filters

    cat, dense = searcher.catalog, searcher.dense
    rows = cat.rows_of(dense.passage_articles)
    current = np.flatnonzero(cat.status[rows] == 0)
    passages = np.asarray(dense.index.reconstruct_batch(current), dtype=np.float32)
    passage_rows = rows[current]
    by_row: dict[int, list[int]] = {}
    for i, r in enumerate(passage_rows.tolist()):
        by_row.setdefault(r, []).append(i)
    mask = searcher.mask(Filters())
    positives, queries, lexical, expanded = [], [], [], []
    for q in questions:
        positives.append(np.array([p for r in gold_rows(searcher, q.gold) for p in by_row.get(r, [])], dtype=np.int64))
        parsed = searcher.parse(q.query, Filters())
        queries.append(searcher.embedder.encode_query(parsed.text))
        tokens, extra = searcher.query_terms(parsed)
        lexical.append([r for r, _ in searcher.lexical_ranking(tokens, [], mask, n)])
        expanded.append([r for r, _ in searcher.lexical_ranking(tokens, extra, mask, n)])
    docs = [d.key for d in cat.documents]

    def key_of(row: int) -> ArticleKey:
        return docs[cat.doc[row]], int(cat.no[row]), int(cat.suffix[row])

    query_vectors = np.stack(queries)
    return Material(questions, query_vectors, passages, passage_rows, positives,
                    dense_rankings(query_vectors, passages, passage_rows, n), lexical, expanded, key_of)


def gold_rows(searcher, gold: frozenset[ArticleKey]) -> list[int]:
    """Catalog rows of gold articles: their current versions, or any version if none is current."""
    cat = searcher.catalog
    rows: list[int] = []
    for key, no, suffix in gold:
        docs = np.flatnonzero(searcher._doc_keys == key)
        found = np.flatnonzero((cat.no == no) & (cat.suffix == suffix) & np.isin(cat.doc, docs))
        current = found[cat.status[found] == 0]
        rows.extend((current if len(current) else found).tolist())
    return rows


# ---- the experiment ------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Learned:
    weights: np.ndarray                  # the adapter
    fusion: tuple[float, float]          # (rrf_k, dense_weight)
    metrics: dict[str, dict[str, dict[str, float]]]   # stage → question set → metrics


def ladder(m: Material, train: Sequence[int], evals: dict[str, Sequence[int]], params: TrainParams,
           n: int) -> Learned:
    """Learn on questions `train`; metrics of every stage of the ablation ladder on each named set."""
    gold = [q.gold for q in m.questions]
    # the fusion is chosen on questions the adapter was not trained on: on its own training
    # questions an adapter ranks far better than on new ones, and a fusion chosen there leans
    # too far towards it
    for_fusion = {i for i in train if fold_of(f"fusion:{m.questions[i].qid}", 5) == 0}
    inner_fit = [i for i in train if i not in for_fusion]
    inner_val = [i for i in train if i in for_fusion]
    weights = fit_adapter(m.queries[inner_fit], [m.positives[i] for i in inner_fit], m.passages, params)
    inner = dense_rankings(normalise_rows(m.queries[inner_val] @ weights), m.passages, m.passage_rows, n)
    tuned = best_fusion([m.lexical_expanded[i] for i in inner_val], inner, [gold[i] for i in inner_val], m.key_of,
                        range(len(inner_val)))
    weights = fit_adapter(m.queries[list(train)], [m.positives[i] for i in train], m.passages, params)
    adapted = dense_rankings(normalise_rows(m.queries @ weights), m.passages, m.passage_rows, n)
    stages = {
        "lexical (BM25)": m.lexical,
        "lexical + expansion": m.lexical_expanded,
        "dense": m.dense,
        "dense + adapter*": adapted,
        "hybrid RRF": fused_rankings(m.lexical, m.dense, *PLAIN_RRF),
        "hybrid RRF + expansion": fused_rankings(m.lexical_expanded, m.dense, *PLAIN_RRF),
        "hybrid + expansion + adapter*": fused_rankings(m.lexical_expanded, adapted, *PLAIN_RRF),
        f"… + tuned fusion* (rrf_k, dense_weight) = {tuned}": fused_rankings(m.lexical_expanded, adapted, *tuned),
    }
    return Learned(weights, tuned, {stage: {name: evaluate(r, gold, m.key_of, idx) for name, idx in evals.items()}
                                    for stage, r in stages.items()})


UNSEEN = "held-out, gold unseen"     # held-out questions none of whose gold articles is in training


def cross_validate(m: Material, folds: int, params: TrainParams, n: int) -> dict[str, dict[str, dict[str, float]]]:
    """stage → "train-fit"/"held-out" → metrics averaged over `folds` folds (learned parts are
    learned on the other folds only)."""
    fold = np.array([fold_of(q.qid, folds) for q in m.questions])
    runs = []
    for f in range(folds):
        train, held = np.flatnonzero(fold != f).tolist(), np.flatnonzero(fold == f).tolist()
        seen = set().union(*(m.questions[i].gold for i in train))
        unseen = [i for i in held if not m.questions[i].gold & seen]
        runs.append(ladder(m, train, {"train-fit": train, "held-out": held, UNSEEN: unseen}, params, n).metrics)
    stages = [list(run) for run in runs]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for i, stage in enumerate(stages[0]):
        label = stage.split(" (")[0]
        out[label] = {}
        for part in ("train-fit", "held-out", UNSEEN):
            per_fold = [run[names[i]][part] for run, names in zip(runs, stages)]
            out[label][part] = {k: float(np.mean([r[k] for r in per_fold])) for k in per_fold[0]}
    return out


def print_ladder(results: dict[str, dict[str, dict[str, float]]]) -> None:
    """One line per stage and part; train-fit only for learned (*) stages."""
    for stage, parts in results.items():
        for part, metrics in parts.items():
            if part != "train-fit" or "*" in stage:
                print(f"  {stage:<34} {part:<22} {format_metrics(metrics)}")


def main(argv: Sequence[str] | None = None) -> int:
    from kb.settings import add_arguments

    parser = argparse.ArgumentParser(prog="python -m index.learn.fit",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--questions", type=Path, required=True, help="JSONL questions with gold articles")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5; 0: no CV)")
    parser.add_argument("--candidates", type=int, default=200, help="rankings' depth before fusion")
    parser.add_argument("--out", type=Path, default=ADAPTER_FILE, help=f"adapter file (default {ADAPTER_FILE})")
    parser.add_argument("--dry-run", action="store_true", help="report only, write no adapter")
    for f in dataclasses.fields(TrainParams):
        parser.add_argument(f"--{f.name}", type=type(f.default), default=f.default, help=f"training {f.name}")
    add_arguments(parser, "kb", "model", "query_prefix")
    args = parser.parse_args(argv)
    params = TrainParams(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainParams)})
    return run_cli(_fit, args, params)


def _fit(args: argparse.Namespace, params: TrainParams) -> int:
    from index.search import Searcher
    from kb.settings import config_from_args

    cfg = config_from_args(args)
    questions = read_questions(args.questions, need_gold=True)
    searcher = Searcher(cfg.kb, cfg)
    start = time.perf_counter()
    m = load_material(searcher, questions, args.candidates)
    print(f"{len(questions)} questions ({sum(len(p) > 0 for p in m.positives)} with gold passages), "
          f"{len(m.passages)} current passages, model {searcher.embedder.model_id}; "
          f"rankings in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print("* = learned from the questions; train-fit = measured on the questions it was learned from")
    everyone = list(range(len(questions)))
    held_out = ""
    if args.folds > 1:
        print(f"{args.folds}-fold cross-validation (mean over folds):")
        results = cross_validate(m, args.folds, params, args.candidates)
        print_ladder(results)
        held_out = f"; {args.folds}-fold held-out, last stage: {format_metrics(list(results.values())[-1]['held-out'])}"
    final = ladder(m, everyone, {"all": everyone}, params, args.candidates)
    print("learned on all questions, measured on all (train-fit for * stages):")
    for stage, parts in final.metrics.items():
        print(f"  {stage:<34} {format_metrics(parts['all'])}")
    print(f"fusion chosen on all questions: rrf_k={final.fusion[0]:g}, dense_weight={final.fusion[1]:g} "
          f"(settings rrf_k / dense_weight)")
    if not args.dry_run:
        note = (f"learned by index.learn.fit from {args.questions.name} ({len(questions)} questions), "
                f"{params}{held_out}")
        QueryAdapter(final.weights, searcher.embedder.model_id, note).save(args.out)
        print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB) for {searcher.embedder.model_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
