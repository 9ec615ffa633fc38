"""A database that refuses, resets or drops its connections is an outage: 503 with
Retry-After, never a 500 (seen once: a reset while the server was shutting down reached
the handler as a bare ConnectionResetError)."""

from __future__ import annotations

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from backend.errors import exception_handlers


@pytest.mark.parametrize(
    "error", [ConnectionRefusedError, ConnectionResetError, BrokenPipeError, ConnectionAbortedError]
)
def test_connection_errors_are_503_with_retry_after(error: type[Exception]) -> None:
    @get("/boom", sync_to_thread=False)
    def boom() -> None:
        raise error(104, "Connection reset by peer")

    app = Litestar([boom], exception_handlers=exception_handlers)
    with TestClient(app) as client:
        resp = client.get("/boom")
    assert resp.status_code == 503
    assert resp.headers["retry-after"]
    assert resp.json()["detail"] == "database unavailable"


def test_other_errors_are_not_taken_for_an_outage() -> None:
    @get("/bug", sync_to_thread=False)
    def bug() -> None:
        raise ValueError("a bug")

    app = Litestar([bug], exception_handlers=exception_handlers)
    with TestClient(app) as client:
        assert client.get("/bug").status_code == 500
