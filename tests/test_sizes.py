"""Sizes a reader can hold (issue 25): no module of ours over 500 lines, no function over 80
(the migrations excepted: each is one step, read once)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("backend", "geofence", "harness", "routing", "simulators")
MODULE_LINES = 500
FUNCTION_LINES = 80


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_no_module_over_500_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _sources()
        if (n := len(p.read_text().splitlines())) > MODULE_LINES
    }
    assert long == {}


def test_no_function_over_80_lines() -> None:
    long = {}
    for p in _sources():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > FUNCTION_LINES:
                    long[f"{p.relative_to(ROOT)}:{node.name}"] = lines
    assert long == {}


def test_the_sources_are_read() -> None:
    names = {str(p.relative_to(ROOT)) for p in _sources()}
    assert {"backend/app.py", "geofence/stops.py", "routing/core.py"} <= names
