"""Thin Dagster wrappers around market/: one module per layer or path."""
