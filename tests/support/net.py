"""Small networking helpers: free ports and an ASGI app served by uvicorn in a background thread."""
from __future__ import annotations

import socket
import threading
import time

import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port on `host` (racy by nature; prefer bound sockets when possible)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class BackgroundASGIServer:
    """Serve an ASGI app with uvicorn in a daemon thread on 127.0.0.1:<free port>.

    The listening socket is bound before the thread starts, so there is no port race.
    Use as a context manager, or call start()/stop().
    """

    def __init__(self, app, host: str = "127.0.0.1", log_level: str = "warning"):
        self.app = app
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level=log_level, lifespan="off", access_log=False, interface="asgi3",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundASGIServer:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name=f"asgi-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"background ASGI server on port {self.port} died during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError(f"background ASGI server on port {self.port} not started after {timeout}s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():  # a handler is stuck (e.g. a "hang" fault): force it
                self._server.force_exit = True
                self._thread.join(timeout)
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> BackgroundASGIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class ServedApp:
    """What the fake servers share: an ASGI ``_app`` served by a BackgroundASGIServer, and a record of every
    request it received (``requests``, guarded by ``_lock``; both set up by the subclass)."""

    _server: BackgroundASGIServer
    _lock: threading.Lock
    requests: list[RecordedRequest]

    async def _record(self, scope, receive) -> RecordedRequest:
        rec = RecordedRequest.from_scope(scope, await read_body(receive))
        with self._lock:
            self.requests.append(rec)
        return rec

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def start(self):
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class RecordedRequest:
    """One request received by a test server (fake FHIR server or recording proxy)."""

    __slots__ = ("method", "path", "query", "authorization", "headers", "body")

    def __init__(self, method: str, path: str, query: str, authorization: str | None,
                 headers: dict[str, str], body: bytes = b""):
        self.method = method
        self.path = path
        self.query = query
        self.authorization = authorization
        self.headers = headers
        self.body = body

    @classmethod
    def from_scope(cls, scope, body: bytes = b"") -> RecordedRequest:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        return cls(scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"),
                   headers.get("authorization"), headers, body)

    def __repr__(self) -> str:
        q = f"?{self.query}" if self.query else ""
        return f"<{self.method} {self.path}{q} auth={self.authorization!r}>"


async def read_body(receive) -> bytes:
    chunks = []
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            break
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body"):
            break
    return b"".join(chunks)


async def send_response(send, status: int, body: bytes = b"", content_type: str = "application/fhir+json",
                        headers: list[tuple[bytes, bytes]] | None = None) -> None:
    hdrs = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    hdrs += headers or []
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})
