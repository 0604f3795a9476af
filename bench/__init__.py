"""Benchmarks: each module prints its figures; `python -m bench NAME` runs one, `python -m bench` all."""
