"""Benchmarks for the Shadow-MVS verify suite: ``python -m bench.<name>`` (see README.md)."""
