"""ASGI middleware owned by the service (ordered in the app factory)."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.ops.metrics import Metrics
from service.outcome import outcome


class BodyLimitMiddleware:
    """Refuse request bodies over the limit with 413, without reading the rest: ``max_bytes``, or
    ``feedback_max_bytes`` for a feedback route (``.../feedback``).

    A declared Content-Length is checked before anything is read; a chunked body is read only up to
    the limit, then replayed to the app. The 413 closes the connection; ``python -m service``'s protocol
    first reads and discards a bounded part of the body so that a client that writes it all before
    reading still reads the 413 (service.ops.connections).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, feedback_max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.feedback_max_bytes = feedback_max_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.feedback_max_bytes if scope["path"].endswith("/feedback") else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                await self._refuse(scope, receive, send, limit)
            else:
                await self.app(scope, receive, send)
            return
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                await self._refuse(scope, receive, send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = outcome(413, "too-costly", f"request body larger than {limit} bytes")
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


class MetricsMiddleware:
    """Count and time every HTTP request by route template, method, hook and status (499: the client went away
    before an answer was started; 500: the app raised)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except BaseException:
            status = status or 500
            raise
        else:
            status = status or 499  # returned without answering: the client is gone (the body limit saw it leave)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            hook = scope.get("state", {}).get("hook") or "none"
            self.metrics.request_done(route, scope["method"], hook, status, time.perf_counter() - started)
