"""The benchmark harness behind bench/run (entry point: bench/run.py)."""
