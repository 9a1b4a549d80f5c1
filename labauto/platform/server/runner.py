"""Run the platform with uvicorn: in the foreground (``serve``, one or several worker processes)
or on a pre-bound socket in a background thread (``ThreadedServer``, used by tests and the demo)."""
from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time

import uvicorn

from labauto.platform.server.app import create_app
from labauto.platform.server.settings import PlatformSettings


def serve(settings: PlatformSettings, host: str = "127.0.0.1", port: int = 8080,
          log_level: str = "info", workers: int = 1) -> None:
    """Serve until interrupted (SIGINT/SIGTERM shut uvicorn down cleanly).

    ``workers`` > 1 runs that many server processes on the one socket (Python spends most of a
    publication in the interpreter, so one process uses one core).  The database is migrated
    once, here, before they start; they get the settings through the environment.  On SQLite
    the processes share the file: writes queue on its lock (``BEGIN IMMEDIATE``).
    """
    if workers <= 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level,
                    timeout_graceful_shutdown=10)
        return
    from labauto.platform.server.db import migrate
    if settings.migrate_on_startup:
        migrate(settings.database_url)
    os.environ.update(dataclasses.replace(settings, migrate_on_startup=False).to_env())
    uvicorn.run("labauto.platform.server.app:create_app_from_env", factory=True, workers=workers,
                host=host, port=port, log_level=log_level, timeout_graceful_shutdown=10)


class ThreadedServer:
    """uvicorn on 127.0.0.1 (a free port) in a daemon thread; ``start()`` returns the base URL."""

    def __init__(self, settings: PlatformSettings, host: str = "127.0.0.1", port: int = 0) -> None:
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when
        # the socket says it is TCP; with proto 0 every response waits for a delayed ACK (~40 ms)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()[:2]
        config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       name=f"labauto-platform-{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the platform server failed to start (see the log above)")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the platform server did not start within {timeout} s")
            time.sleep(0.01)
        return self.base_url

    def stop(self, timeout: float = 15.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()
