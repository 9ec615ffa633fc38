"""The walls between the packages, read from the source (every import, the ones inside
functions too; not those under `if TYPE_CHECKING`):

- no import cycle between modules;
- the engines (`geofence`, `routing`) import nothing of ours but themselves (neither imports
  the other), and no web framework, database driver or HTTP client;
- the simulators import nothing of ours but themselves (they talk to the backend over HTTP);
- the backend imports neither the simulators nor the harness (which drives the backend with
  the simulators and is the one package that may import both);
- no two of the backend's domains (`common` and `db` counted as domains) import each other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("backend", "geofence", "harness", "routing", "simulators")
ENGINES = ("geofence", "routing")
FRAMEWORKS = ("litestar", "asyncpg", "sqlalchemy", "geoalchemy2", "psycopg", "httpx", "apscheduler")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imported(module: str, path: Path) -> Iterator[str]:
    """Every name `module` imports (dotted, absolute), outside TYPE_CHECKING blocks."""
    tree = ast.parse(path.read_text())
    skip = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _type_checking(node)
        for n in ast.walk(node)
    }
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield name
            yield from (f"{name}.{a.name}" for a in node.names)


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Module -> our modules it imports; module -> third-party top-level names it imports."""
    mods = _modules()

    def ours(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {}
    outside: dict[str, set[str]] = {}
    for m, path in mods.items():
        names = list(_imported(m, path))
        edges[m] = {o for n in names if (o := ours(n)) is not None and o != m}
        outside[m] = {n.split(".")[0] for n in names if ours(n) is None}
    return edges, outside


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on_stack.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def _top(m: str) -> str:
    return m.split(".")[0]


def _domain(m: str) -> str:
    return ".".join(m.split(".")[:2]) if m.startswith("backend.") else _top(m)


def test_no_module_imports_itself_back() -> None:
    edges, _ = _graph()
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]


def test_engines_import_only_themselves_and_no_framework() -> None:
    edges, outside = _graph()
    for m in edges:
        if _top(m) in ENGINES:
            assert {_top(o) for o in edges[m]} <= {_top(m)}, m
            assert not outside[m] & set(FRAMEWORKS), m


def test_simulators_import_only_themselves() -> None:
    edges, _ = _graph()
    for m, out in edges.items():
        if _top(m) == "simulators":
            assert {_top(o) for o in out} <= {"simulators"}, m


def test_the_backend_imports_neither_the_simulators_nor_the_harness() -> None:
    edges, _ = _graph()
    for m, out in edges.items():
        if _top(m) == "backend":
            assert not {_top(o) for o in out} & {"simulators", "harness"}, m


def test_no_two_domains_import_each_other() -> None:
    edges, _ = _graph()
    uses: dict[str, set[str]] = {}
    for m, out in edges.items():
        for o in out:
            if _domain(m) != _domain(o):
                uses.setdefault(_domain(m), set()).add(_domain(o))
    loops = {(a, b) for a, bs in uses.items() for b in bs if a < b and a in uses.get(b, set())}
    assert sorted(loops) == []


def test_a_domain_uses_only_another_domains_public_names() -> None:
    private = []
    for m, path in _modules().items():
        if not m.startswith("backend."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and not node.level
                and (node.module or "").startswith("backend.")
                and _domain(node.module or "") != _domain(m)
            ):
                private += [(m, node.module, a.name) for a in node.names if a.name[0] == "_"]
    assert private == []
