"""A store app's webhook endpoint: a real HTTP server on loopback that verifies signatures.

It verifies every request with the `standardwebhooks` library, as a store's app would, and
keeps what it got. For tests it can fail its first N requests (HTTP 500), answer slowly, or
be down (its port closed).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Hit:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int
    at: float

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    def event_ids(self) -> list[str]:
        p = self.payload
        messages = p["data"]["events"] if p["type"] == "batch" else [p]
        return [m["data"]["event_id"] for m in messages]


@dataclass
class Receiver:
    secret: str | None = None
    fail_first: int = 0
    delay_s: float = 0.0
    hits: list[Hit] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = False
                if receiver.secret:
                    try:
                        Webhook(receiver.secret).verify(body, headers)
                        verified = True
                    except WebhookVerificationError:
                        verified = False
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                failing = len(receiver.hits) < receiver.fail_first
                status = 500 if failing else 204
                receiver.hits.append(
                    Hit(headers.get("webhook-id", ""), headers, body, verified, status, time.time())
                )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down: the port refuses connections until `start` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def refuses(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) != 0

    def delivered_ids(self) -> set[str]:
        return {e for h in self.hits if h.status < 300 for e in h.event_ids()}
