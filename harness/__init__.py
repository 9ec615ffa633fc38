"""What runs the whole: the benchmarks, the evals and the demo's simulated day.

It starts the backend (a PostGIS of its own, the API as a process), drives it with the
simulators over HTTP or runs the engines on simulated phones, and scores what comes out. It is
the one package that imports both the backend and the simulators: the backend imports neither
this nor the simulators (tests/test_import_graph.py). `fieldsense demo`, `fieldsense eval` and
`fieldsense bench` run it as `python -m harness`.
"""
