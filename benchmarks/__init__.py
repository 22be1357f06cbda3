"""Benchmarks: speed, training overhead and transfer, measured side by side with peers.

Not installed with the package; run as ``python -m benchmarks.<name>`` from the repo root.
"""
