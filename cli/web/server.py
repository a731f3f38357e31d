"""Running the review app: in the foreground (``lookalike serve``) or in a background thread
(tests, benchmarks, a notebook)."""

from __future__ import annotations

__all__ = ["bind", "url_of", "BackgroundServer"]

import socket
import threading
import time
from typing import Any


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one). Raises ``OSError``."""
    return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


class BackgroundServer:
    """``app`` served by uvicorn on ``host`` (a free port) in a daemon thread; ``url`` once started.

    >>> with BackgroundServer(create_app("lookalike-index")) as s:   # doctest: +SKIP
    ...     urllib.request.urlopen(s.url + "api/info")
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.sock = bind(host, port)
        self.url = url_of(self.sock)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "BackgroundServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the review server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
