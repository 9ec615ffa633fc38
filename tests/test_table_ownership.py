"""Each domain owns its tables' queries (issue 25): SQL in a domain's modules names only the
tables of its own models (backend/db/models/<domain>.py) and the tenancy backbone every scope
reads (tenants, org units, users, devices, store apps). Another domain's data comes through a
function of its owner: a relation or a fragment its `queries.py` returns, or a lookup."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKBONE = {"tenants", "org_units", "users", "devices", "store_apps"}
# Tables whose model file is not named after the domain that owns them.
OWNER = {"segment_outcomes": "recommendations", "audit_log": "activity"}
SQL = re.compile(r"\b(SELECT|UPDATE|INSERT|DELETE)\b")
TABLE = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE)\s+(\w+)", re.I)


def _owners() -> dict[str, str]:
    owners = {}
    for p in (ROOT / "backend/db/models").glob("*.py"):
        for m in re.finditer(r'__tablename__ = "(\w+)"', p.read_text()):
            owners[m.group(1)] = OWNER.get(m.group(1), p.stem)
    return owners


def _strings(tree: ast.AST) -> list[str]:
    """Every string literal, an f-string as one (its fields as a placeholder)."""
    inside = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.JoinedStr):
            out.append("".join(v.value if isinstance(v, ast.Constant) else " _ " for v in n.values))
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in inside:
            out.append(n.value)
    return out


def _foreign() -> set[tuple[str, str]]:
    owners = _owners()
    found = set()
    for p in (ROOT / "backend").glob("*/*.py"):
        domain = p.parent.name
        if domain == "db":
            continue
        tree = ast.parse(p.read_text())
        for text in _strings(tree):
            if not SQL.search(text):
                continue
            for table in TABLE.findall(text):
                owner = owners.get(table)
                if owner and owner != domain and table not in BACKBONE:
                    found.add((f"{domain}/{p.name}", table))
    return found


def test_no_query_over_another_domains_table() -> None:
    assert sorted(_foreign()) == []


def test_a_query_over_another_domains_table_is_found() -> None:
    tree = ast.parse('Q = f"SELECT 1 FROM visits v JOIN {x} c ON true"\nD = "DELETE FROM pings"')
    assert _strings(tree) == ["SELECT 1 FROM visits v JOIN  _  c ON true", "DELETE FROM pings"]
    assert [TABLE.findall(t) for t in _strings(tree)] == [["visits", "_"], ["pings"]]


def test_the_owners_are_read() -> None:
    owners = _owners()
    assert owners["visits"] == "tracking" and owners["plans"] == "plans"
