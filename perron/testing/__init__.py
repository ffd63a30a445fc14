"""Helpers for perron's own test suite and benchmarks (real servers on loopback)."""
