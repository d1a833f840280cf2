"""Benchmarks of the auth and chat services: ``python -m bench`` (or ``bench/run``)."""
