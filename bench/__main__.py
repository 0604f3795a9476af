"""`python -m bench [NAME ...] [-- ARGS]`: run benchmarks by name (default: all) and print their figures."""
from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

from kb.errors import run_cli


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name[:-len("_bench")] for m in pkgutil.iter_modules([str(here)]) if m.name.endswith("_bench"))


def main(argv: list[str]) -> int:
    names, rest = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    if any(n in ("-h", "--help") for n in names):
        print(__doc__ + "\nbenchmarks: " + ", ".join(available()))
        return 0
    unknown = set(names) - set(available())
    if unknown:
        print(f"error: unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(available())}",
              file=sys.stderr)
        return 2
    status = 0
    for name in names or available():
        print(f"== {name}", flush=True)
        status |= run_cli(importlib.import_module(f"bench.{name}_bench").main, rest)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
