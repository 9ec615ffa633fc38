"""The texts a person reads, found in the code: what the catalogs must translate.

`python -m backend.i18n.extract` lists them, and with `--missing ko` those the Korean catalog
lacks. Found, as `tr` matches them (an f-string's fields and a concatenation's other parts
become `{}`):

- the message of every error the services raise (`Invalid`, `NotFound`, `Forbidden`,
  `Conflict`, `Unauthorized`, `TooManyRequests`, `DomainError`) and of every `ValueError` a
  validator raises (pydantic says it as "Value error, ...");
- the routing engine's explanations: a dropped stop's detail (`DroppedStop`), a lunch's note
  (`Fitted`), a problem's message (`ProblemError`);
- what is assigned to a variable named `...note`, `...detail` or `...label` (the engine's
  notes, the records' names);
- every text marked `N_(...)` where it is made (reasons, labels, notes).

The manager page's texts are the `web` domain (`web_found`).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from backend.i18n import entries

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("backend", "routing")
ERRORS = {
    "Invalid",
    "NotFound",
    "Forbidden",
    "Conflict",
    "Unauthorized",
    "TooManyRequests",
    "DomainError",
    "ValueError",
}
# Variables holding a text a person reads: a routing note (travel, lunch), a drop's detail, a
# record's label (what "{} {} not found" names).
EXPLAINING = ("note", "detail", "label")
# Calls whose n-th positional argument is a text a person reads.
ARGUMENT = {"DroppedStop": 3, "Fitted": 1, "ProblemError": 1, "N_": 0}


def template(node: ast.expr) -> str | None:
    """The text as `tr` sees it: the literal parts, `{}` for each value."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}"
            for v in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = template(node.left), template(node.right)
        if left is None and right is None:
            return None
        return (left if left is not None else "{}") + (right if right is not None else "{}")
    return None


def _texts(node: ast.expr) -> Iterator[str]:
    """The texts an argument can be: both branches of a conditional."""
    if isinstance(node, ast.IfExp):
        yield from _texts(node.body)
        yield from _texts(node.orelse)
        return
    found = template(node)
    if found and found.strip("{} "):
        yield found


def texts(path: Path) -> Iterator[tuple[str, int]]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id.endswith(EXPLAINING) for t in targets):
                for text in _texts(node.value):
                    yield text, node.lineno
            continue
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        if name in ERRORS and node.args:
            arg: ast.expr | None = node.args[0]
        elif name in ARGUMENT and len(node.args) > ARGUMENT[name]:
            arg = node.args[ARGUMENT[name]]
        else:
            arg = None
        if arg is not None:
            for text in _texts(arg):
                yield text, node.lineno


def found() -> dict[str, str]:
    """Every text, with where it is first made (path:line)."""
    out: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            for text, line in texts(path):
                out.setdefault(text, f"{path.relative_to(ROOT)}:{line}")
    return out


WEB = ROOT / "backend" / "web" / "static"
_MARKED = re.compile(r"<\w+[^>]*\bdata-i18n\b[^>]*>([^<]+)<")
_MARKED_ATTRIBUTE = re.compile(r'(?:title|aria-label)="([^"]+)"[^>]*\bdata-i18n-')
_CALLED = re.compile(r'\b(?:t|N_)\("((?:[^"\\]|\\.)*)"')


def web_found() -> dict[str, str]:
    """The manager page's texts: elements and attributes marked `data-i18n` in its HTML,
    and what its script passes to `t(...)` or marks `N_(...)`. (The codes the API sends and
    the page shows as words, a status or a role, are in the catalog by hand.)"""
    out: dict[str, str] = {}
    html = (WEB / "manager.html").read_text()
    for text in [*_MARKED.findall(html), *_MARKED_ATTRIBUTE.findall(html)]:
        out.setdefault(text, "backend/web/static/manager.html")
    for text in _CALLED.findall((WEB / "manager.js").read_text()):
        out.setdefault(text.replace('\\"', '"'), "backend/web/static/manager.js")
    return out


def missing(locale: str, domain: str = "messages") -> dict[str, str]:
    have = entries(locale, domain)
    texts = found() if domain == "messages" else web_found()
    return {text: where for text, where in texts.items() if text not in have}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.i18n.extract")
    parser.add_argument("--missing", metavar="LOCALE", help="only those this catalog lacks")
    parser.add_argument("--domain", choices=("messages", "web"), default="messages")
    args = parser.parse_args(argv)
    if args.missing:
        rows = missing(args.missing, args.domain)
    else:
        rows = found() if args.domain == "messages" else web_found()
    for text, where in rows.items():
        print(f'#: {where}\nmsgid {_po(text)}\nmsgstr ""\n')
    print(f"{len(rows)} texts", file=sys.stderr)
    return 0


def _po(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


if __name__ == "__main__":
    raise SystemExit(main())
