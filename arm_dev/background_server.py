"""The stand-ins' shared HTTP server lifecycle: a threading server on a background thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class BackgroundServer:
    """``with Server(...) as s:`` serves on a daemon thread until the block ends.

    Port 0 picks a free port; ``origin`` says which (``http://host:port``).
    """

    def __init__(
        self, host: str, port: int, handler: type[BaseHTTPRequestHandler], queue_size: int = 5
    ) -> None:
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = queue_size  # listen() backlog: bursts of connections

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
