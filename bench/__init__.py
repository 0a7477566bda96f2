"""Benchmarks: `uv run python -m bench` measures every performance row side by side.

Each row lives in its own module (``row_*.py``) as a function that takes the
run's `Options` and returns `Row`s; `bench.harness` holds what they share
(paired repetitions, medians and spread, verdicts, subprocess servers on
127.0.0.1). Nothing here is imported by the bot.
"""
