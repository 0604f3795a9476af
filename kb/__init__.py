"""Shared foundations of the policy knowledge base: settings, errors and Chinese text helpers.

Nothing here imports a heavy library; `ingest`, `index` and `app.py` all build on it.
"""
