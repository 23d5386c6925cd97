"""Benchmarks run by ``make bench`` (``python -m benchmarks``); figures, not pass/fail tests."""
