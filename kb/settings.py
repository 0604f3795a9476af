"""The one table of settings. It feeds the CLIs (flags and defaults), the app and the README.

Each value is resolved as: explicit argument (CLI flag / app control) > environment variable
`POLICYKB_<NAME>` > default. `python -m kb.settings` prints the table as Markdown; `--update-readme` writes it into README.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
from dataclasses import dataclass

from kb.errors import ConfigError
from kb.files import os_text


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str
    type: type = str
    least: float = 0        # of a number: the smallest value that means something (NaN and ∞ never do)
    words: bool = False     # text people type (a place, a name), not a path: read as `kb.files.os_text`

    @property
    def env(self) -> str:
        return "POLICYKB_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: tuple[Setting, ...] = (
    Setting("kb", "data/kb", "Knowledge-base folder (SQLite store and index files)."),
    Setting("corpus", "corpus", "Folder of source documents that `make run` ingests."),
    Setting("model", "e5-small",
            "Embedding model: `e5-small` (bundled: multilingual-e5-small, MIT), `m3e-small` (bundled; its README "
            "allows non-commercial research use only), `use-multilingual` (bundled; Apache-2.0, its own numpy "
            "engine) or any sentence-transformers name or path."),
    Setting("query_prefix", "", "Text put before every query before embedding, instead of the model's own "
            "query prompt (e5: `query: `), e.g. for bge models."),
    Setting("embed_backend", "onnx-int8",
            "How the model runs: `torch` (fp32 reference), `onnx` (ONNX Runtime, fp32) or `onnx-int8` "
            "(ONNX Runtime, int8 weights; about twice as fast on CPU, same recall)."),
    Setting("max_seq_length", 256, "Model window in tokens; longer articles are split between paragraphs.", int, 16),
    Setting("clause_passages", True, "Besides each article, embed each 款 of a current article with two or more "
            "as a passage of its own, so a question about one clause meets that clause's vector (about 65% "
            "more to embed in a first build; off = whole articles only).", bool),
    Setting("clause_min_chars", 0, "With `clause_passages`, only articles of at least this many characters have "
            "their 款 embedded as passages of their own (0 = every article with two or more 款). Over the whole "
            "corpus 150 embeds 23% fewer passages in a first build and 200 34% fewer, at a cost to the petition "
            "questions (held-out Recall@10 0.859 → 0.848 and 0.841).", int),
    Setting("embed_batch_size", 32, "Passages handed to an embedding thread at a time (each is embedded alone, so "
            "vectors do not depend on it).", int, 1),
    Setting("embed_threads", 0, "CPU threads for embedding: as many passages at once, one thread each; a "
            "question, all of them on its one text. 0 = one per core this process may use (its CPU affinity, "
            "at most `OMP_NUM_THREADS`).", int),
    Setting("cache_dir", "~/.cache/policykb",
            "Folder of the embedding cache and exported model files (kept across knowledge bases)."),
    Setting("dense_index", "auto",
            "FAISS index: `flat` (exact), `sq8` (exact scan of 8-bit vectors), `hnsw` (approximate graph) "
            "or `auto` (flat; sq8 above `quantize_threshold` passages, hnsw above `ann_threshold`)."),
    Setting("quantize_threshold", 50_000,
            "Passages above which `dense_index=auto` builds an sq8 index (a search scans a quarter of the bytes; "
            "the embedded backend only: Milvus's sq8 is an approximate IVF index).", int),
    Setting("ann_threshold", 100_000,
            "Passages above which `dense_index=auto` builds an HNSW graph (the embedded backend's holds 8-bit "
            "codes): its walk takes about as long at any size, where a scan grows with the passages.", int),
    Setting("backend", "",
            "Search backend a build loads the knowledge base into: `embedded` (SQLite + FAISS + bm25s files beside "
            "the store, no server) or `milvus` (Milvus collections at `milvus_uri`; see the README's operators "
            "section). Empty: the backend of the current snapshot (`embedded` for a new knowledge base). A "
            "snapshot records its backend, and searches use the one it records."),
    Setting("milvus_uri", "", "Milvus address for `backend=milvus`, e.g. `http://127.0.0.1:19530` (a Milvus "
            "standalone or distributed cluster, or `milvus-lite server`). Empty: the address the current "
            "snapshot's build recorded."),
    Setting("milvus_token", "", "Credentials of a Milvus with authentication: `user:password` or an API key. "
            "Set it in the environment (`POLICYKB_MILVUS_TOKEN`) rather than on a command line; it is never "
            "recorded in a snapshot. Empty: no authentication (milvus-lite, a Milvus without it)."),
    Setting("workers", "", "Where a build embeds the passages missing from the embedding cache: empty = in this "
            "process, `local:N` = N Ray workers on this machine, `ray://HOST:PORT` = a Ray cluster (its workers "
            "need this project and the model installed). Vectors are the same bit for bit."),
    Setting("region", "", "Preferred region, e.g. `四川省` or `四川省成都市`: its rules rank higher (a city's "
            "with its province's). Empty: no preference. A question that asks for a place's rules (上海对…怎么规定) "
            "prefers that place too.", words=True),
    Setting("rrf_k", 5.0, "Search: reciprocal-rank fusion constant k (chosen by `python -m index.learn.fit`).", float),
    Setting("dense_weight", 3.0, "Search: weight of the meaning (dense) ranking in the fusion; keywords weigh 1 "
            "(chosen by `python -m index.learn.fit`).", float),
    Setting("expansion_weight", 0.3, "Search: weight of the statute terms added for colloquial words "
            "(`index/data/expansions.txt`).", float),
    Setting("title_boost", 1.5, "Search: score factor for articles of a document the question names.", float),
    Setting("region_boost", 1.2, "Search: score factor for rules of the preferred `region` and national ones.", float),
    Setting("collection", "", "Search: the collection (文件集, `<kb>/collections.yaml`) whose documents rank higher "
            "(never exclusively): a name, empty for the knowledge base's default collection, `none` for no preference.",
            words=True),
    Setting("collection_boost", 1.1, "Search: score factor for the documents of the preferred `collection` "
            "(chosen on held-out petition questions; docs/search-quality.md).", float),
    Setting("candidates", 200, "Search: depth of the keyword and meaning rankings before fusion.", int, 1),
    Setting("query_adapter", "bundled", "Search: query-side adapter learned by `python -m index.learn.fit`: "
            "`bundled` (index/data/query_adapter.npz, used if trained for the model in use), a file, or `none`."),
    Setting("reranker", "bundled", "Search: the learned second stage over the fused candidates (`index/rerank.py`, "
            "learned by `python -m index.learn.fit`): `bundled` (index/data/reranker.json, used if learned for the model in use), a file, or `none`."),
    Setting("question_prior", "bundled", "Search: the question prior learned by `python -m index.learn.fit` "
            "(`index/prior.py`: the documents and articles that answer the nearest questions with known answers rank "
            "higher, by the learned weights): `bundled` (index/data/question_prior.npz, used if learned with the model in use), a file, "
            "or `none`."),
    Setting("top_k", 10, "Number of results a search returns.", int, 1),
    Setting("upload_max_mb", 50, "Largest file the app accepts for upload, in MB.", int, 1),
    Setting("parse_timeout", 60.0, "Ingest: seconds a file may take to parse (in its worker process); a slower "
            "file is stopped and reported as `timeout`, the others are stored.", float, 0.1),
    Setting("parse_memory_mb", 1024, "Ingest: memory limit (address space, MB) of a parser process; a file that "
            "needs more is reported as `too_large`, the others are stored.", int, 1),
    Setting("ocr_memory_mb", 2048, "Ingest: memory limit (address space, MB) of a parser process once it reads "
            "scans by OCR (the models and ONNX Runtime take about 1.7 GB of address space); at least "
            "`parse_memory_mb`.", int, 1),
    Setting("public", False, "Serve the app to the network (all interfaces) instead of this machine only "
            "(`make run PUBLIC=1`); uploads then need `upload_password`.", bool),
    Setting("upload_password", "", "Password for uploads when the app is `public` (without one, a public app "
            "refuses uploads). Set it in the environment or as `upload_password` in `.streamlit/secrets.toml`, "
            "not on the command line, where other users of the machine can read it."),
    Setting("upload_queue", "", "Folder of the writer queue when several app replicas serve one knowledge base: "
            "the app puts uploads there instead of ingesting them, and one `python -m ui.queue` process (the "
            "writer) ingests and indexes them. Empty: the app ingests its uploads itself."),
    Setting("wait", 600.0, "Writers (ingest, index build, app uploads): seconds to wait while another writer "
            "holds the knowledge base's lock; 0 = give up at once (`--no-wait`).", float),
)

_BY_NAME = {s.name: s for s in SETTINGS}
# What a search reads besides the knowledge base and the model: every command that searches takes
# them as flags (`python -m index search|eval`; the app takes every setting).
SEARCH_SETTINGS = ("region", "collection", "rrf_k", "dense_weight", "expansion_weight", "title_boost", "region_boost",
                   "collection_boost", "candidates", "query_adapter", "reranker", "question_prior")

Config = dataclasses.make_dataclass(
    "Config", [(s.name, s.type, dataclasses.field(default=s.default)) for s in SETTINGS], frozen=True)
Config.__doc__ = "Resolved settings; build it with `load_config`."


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")


def _convert(setting: Setting, value: object) -> object:
    if setting.type is bool and isinstance(value, str):     # bool("0") would be True
        if value.strip().lower() not in TRUE_WORDS + FALSE_WORDS:
            raise ConfigError(f"setting {setting.name} ({setting.env}): {value!r} is not one of "
                              f"{', '.join(TRUE_WORDS)} or {', '.join(w for w in FALSE_WORDS if w)}")
        return value.strip().lower() in TRUE_WORDS
    if setting.words and isinstance(value, str):
        value = os_text(value)
    try:
        converted = setting.type(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {setting.name} ({setting.env}): {value!r} is not a valid "
                          f"{setting.type.__name__}") from None
    if setting.type in (int, float) and not (math.isfinite(converted) and converted >= setting.least):
        raise ConfigError(f"setting {setting.name} ({setting.env}): {value!r} is not a number of at least "
                          f"{setting.least:g}")
    return converted


def load_config(**overrides: object) -> "Config":
    """Resolve every setting: a non-None override wins, then `POLICYKB_<NAME>`, then the default.

    Raises:
        ConfigError: for an unknown setting name or a value of the wrong type.
    """
    unknown = set(overrides) - set(_BY_NAME)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    values = {}
    for s in SETTINGS:
        value = overrides.get(s.name)
        if value is None:
            value = os.environ.get(s.env, s.default)
        values[s.name] = _convert(s, value)
    return Config(**values)


def add_arguments(parser: argparse.ArgumentParser, *names: str) -> None:
    """Add `--name` flags for the given settings to a CLI parser (default None = not given)."""
    for name in names:
        s = _BY_NAME[name]
        text = f"{s.help} Default: {s.default!r} (env {s.env}).".replace("%", "%%")    # argparse formats help with %
        if s.type is bool:          # `--public` / `--no-public`
            parser.add_argument(s.flag, dest=s.name, default=None, action=argparse.BooleanOptionalAction, help=text)
            continue
        parser.add_argument(s.flag, dest=s.name, default=None, type=s.type, metavar=s.name.upper(), help=text)


def count(text: str) -> int:
    """argparse type of a flag that counts something (`--parse-workers`, `--count`): a whole
    number of at least 1, else a usage error naming the flag."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def config_from_args(args: argparse.Namespace) -> "Config":
    """Build a Config from parsed CLI arguments made with `add_arguments`."""
    return load_config(**{s.name: getattr(args, s.name) for s in SETTINGS if hasattr(args, s.name)})


README_MARKERS = ("<!-- settings-table -->", "<!-- /settings-table -->")


def settings_markdown() -> str:
    """The settings table in Markdown, as the README shows it."""
    rows = ["| setting | flag | environment | default | meaning |", "|---|---|---|---|---|"]
    for s in SETTINGS:
        rows.append(f"| {s.name} | `{s.flag}` | `{s.env}` | `{s.default!r}` | {s.help} |")
    return "\n".join(rows)


def with_settings_table(readme: str) -> str:
    """`readme` with the text between the settings-table markers replaced by the current table."""
    start, end = README_MARKERS
    head, rest = readme.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{settings_markdown()}\n{end}{tail}"


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["--update-readme"]:
        from pathlib import Path
        readme = Path(__file__).resolve().parents[1] / "README.md"
        readme.write_text(with_settings_table(readme.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(settings_markdown())
