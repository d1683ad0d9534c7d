"""Benchmarks: speed and memory measured on real audio, written to benchmarks/results/ (never timed tests)."""
