"""Plumbing shared by every Systole testbench: the runner helper and the TB base class."""
