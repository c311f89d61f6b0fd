"""Benchmarks of retrieval quality, vector-search scale and end-to-end latency (`python -m bench`).

Nothing runs at import. The evaluation data is read from `../shared/data` (next to the repository)
and never copied into the project; every benchmark skips with a message when its inputs are absent.
"""
