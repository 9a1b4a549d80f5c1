"""Request limits of the platform: the body size cap (every route) and a rate limit for the
public, CPU-heavy verification of uploaded documents.

:class:`BodyLimit` is an ASGI middleware: a request whose ``Content-Length`` exceeds the cap is
answered 413 before any byte of its body is read, and a body streamed without (or with a false)
``Content-Length`` is cut off with 413 the moment it passes the cap — nothing beyond the cap is
buffered or spooled to disk.  With ``authenticate`` it also answers 401 before reading the body
of a request to a protected route that carries no valid token (a 1 GiB anonymous upload costs
one header check).

:class:`PublishFastPath` hands the hot publish route to its handler without the framework's
routing (the route stays declared in the app for its OpenAPI description).

:class:`RateLimit` is a token bucket per client address, per server process.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Awaitable, Callable

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


async def _answer(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *headers]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Cap request bodies at ``max_bytes``; ``authenticate(scope) -> str | None`` (awaitable)
    names what is wrong with the credentials of a protected request (None: go on)."""

    def __init__(self, app, max_bytes: int,
                 authenticate: Callable[[Scope], Awaitable[str | None]] | None = None) -> None:
        self.app, self.max_bytes, self.authenticate = app, max_bytes, authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return await _answer(send, 400, "Content-Length is not a number")
            if declared > self.max_bytes:
                return await _answer(send, 413, f"the request body ({declared} bytes) exceeds the "
                                     f"platform's limit of {self.max_bytes} bytes")
        if self.authenticate is not None:
            problem = await self.authenticate(scope)
            if problem is not None:
                return await _answer(send, 401, problem, [(b"www-authenticate", b"Bearer")])
        received, started, cut = 0, False, False

        async def limited_receive() -> dict:
            nonlocal received, cut
            if cut:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # answer 413 now and tell the app the client left (an exception here would
                    # be turned into a 400 by the body parser); the app's own answer is dropped
                    cut = True
                    if not started:
                        await _answer(send, 413, f"the request body exceeds the platform's limit of "
                                      f"{self.max_bytes} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if cut:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            if not cut:
                raise


class PublishFastPath:
    """``POST path`` straight to ``handler`` (an ASGI callable), past the framework's routing and
    its per-request layers; every other request to ``app``.  Placed inside :class:`BodyLimit`,
    so the cap and the token check come first; an error the handler raises still reaches the
    framework's outermost error middleware (HTTP 500)."""

    def __init__(self, app, path: str, handler) -> None:
        self.app, self.path, self.handler = app, path, handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path:
            return await self.handler(scope, receive, send)
        await self.app(scope, receive, send)


class RateLimit:
    """At most ``burst`` requests at once and ``per_minute`` on average per client address."""

    def __init__(self, per_minute: int, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> float:
        """0 if the request may go ahead, else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                if len(self._buckets) > 10_000:        # forget idle clients
                    self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 600}
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate
