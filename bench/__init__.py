"""Benchmarks of dxltieclient against the sandbox: run ``python bench/run_all.py``."""
