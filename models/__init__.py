"""Systole golden models: plain numpy, importable and testable without a simulator."""
