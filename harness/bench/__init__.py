"""Benchmarks: `fieldsense bench NAME --json PATH`."""
