"""The tests mirror the source: a test folder for every backend domain (tests/backend/<domain>/,
at least one test module in it), for the harness, and the cross-domain tests in tests/e2e/."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _domains() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "backend").glob("*/__init__.py"))


def test_every_backend_domain_has_its_tests() -> None:
    missing = [d for d in _domains() if not list((ROOT / "tests/backend" / d).glob("test_*.py"))]
    assert missing == []


def test_no_test_module_lies_loose_in_the_backend_tests() -> None:
    assert sorted(p.name for p in (ROOT / "tests/backend").glob("test_*.py")) == []


def test_the_domains_are_found() -> None:
    assert {"tracking", "plans", "auth", "web"} <= set(_domains())
