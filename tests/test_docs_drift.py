"""The docs' lists that can be checked against the code are: the jobs in docs/operations.md
are the jobs the app registers, at the same intervals; every resource path the API serves is
in docs/api.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _registered_jobs() -> dict[str, float | None]:
    """`jobs.add(name, job, every_s=...)` in backend/app.py: name -> interval (None when it
    comes from a setting)."""
    tree = ast.parse((ROOT / "backend" / "app.py").read_text())
    found: dict[str, float | None] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "jobs"
        ):
            name = node.args[0]
            assert isinstance(name, ast.Constant)
            every = next(k.value for k in node.keywords if k.arg == "every_s")
            found[str(name.value)] = float(every.value) if isinstance(every, ast.Constant) else None
    return found


def _documented_jobs() -> dict[str, float]:
    text = (ROOT / "docs" / "operations.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| ([\d,.]+) s \|", text, re.M)
    return {name: float(every.replace(",", "")) for name, every in rows}


def _served_paths() -> set[str]:
    """The base path of every controller (a class's `path = "/..."`, or `crud_controller(path=
    "/...")`)."""
    paths: set[str] = set()
    for p in (ROOT / "backend").glob("*/controllers.py"):
        tree = ast.parse(p.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if (
                        isinstance(stmt, ast.Assign)
                        and [getattr(t, "id", None) for t in stmt.targets] == ["path"]
                        and isinstance(stmt.value, ast.Constant)
                    ):
                        paths.add(str(stmt.value.value))
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "crud_controller":
                for k in node.keywords:
                    if k.arg == "path" and isinstance(k.value, ast.Constant):
                        paths.add(str(k.value.value))
    return paths


def test_the_jobs_table_lists_the_registered_jobs() -> None:
    registered = _registered_jobs()
    documented = _documented_jobs()
    assert set(documented) == set(registered)
    for name, every in registered.items():
        if every is not None:
            assert documented[name] == every, name


def test_every_resource_path_is_in_the_api_docs() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    missing = sorted(p for p in _served_paths() if f"`{p}" not in text and f" {p}" not in text)
    assert missing == []


def test_the_checks_see_what_they_check() -> None:
    assert {"plan_tomorrow", "enforce_retention"} <= set(_registered_jobs())
    assert {"/plans", "/customers", "/ingest"} <= _served_paths()
