"""``osrm-routed`` serving one graph on a loopback port, owned by this process."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from backend.roads import programs
from backend.roads.graphs import Graph
from routing.roads import OsrmClient, RoutingUnavailable
from routing.travel import GeoPoint

# Large enough for a team's day (agents x 2 + every candidate stop) in one /table request.
MAX_TABLE_SIZE = 5000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RoutedServer:
    """Start with ``start()``, stop with ``stop()``; ``url`` is where it answers."""

    def __init__(self, graph: Graph, log: Path | None = None) -> None:
        self.graph = graph
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or graph.folder / "routed.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> RoutedServer:
        with self.log.open("ab") as out:
            args = [
                str(programs.program("osrm-routed")),
                "--algorithm", "ch",
                "--ip", "127.0.0.1",
                "--port", str(self.port),
                "--threads", "2",
                "--max-table-size", str(MAX_TABLE_SIZE),
                "--max-viaroute-size", "1000",
                str(self.graph.base),
            ]  # fmt: skip
            self.process = subprocess.Popen(  # noqa: S603 - our program, arguments we built
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        client = OsrmClient(self.url, timeout_s=2.0)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"osrm-routed exited with {self.process.returncode}; see {self.log}"
                )
            try:
                client.nearest(GeoPoint(0.0, 0.0))
                return self
            except RoutingUnavailable:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"osrm-routed did not answer in {timeout_s} s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> RoutedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
