"""Connection hygiene, where connections are visible: uvicorn's HTTP protocol.

``python -m service`` runs uvicorn with ``http=GuardedHttpToolsProtocol``, uvicorn's supported extension point for
the HTTP protocol (``uvicorn.run(http=<an asyncio.Protocol class>)``): its httptools protocol, plus

* **read timeouts**: a connection with no request in progress is closed after ``keep_alive_s`` (before its first
  request too: uvicorn's own keep-alive timer starts only after a first response, and any byte, even a lone CRLF,
  cancels it); a request's line and headers must arrive within ``header_timeout_s`` of its first byte and its body
  within ``body_timeout_s`` of its headers, else 408 and the connection is closed (one byte a second never renews
  a deadline); a request head larger than ``max_header_bytes`` gets 431;
* **a bound on connections per process** (``max_connections``, within the file-descriptor limit): at the bound a
  new connection is admitted by closing one that has no request in progress (one that never finished a request or
  is sending its headers first, then one idle between requests, then one whose body is still trickling in; oldest
  first in each group), and is refused only when every connection has a request in progress. One warning when
  the bound is reached and one when the episode is over (never one line per connection);
* **a readable 413**: an answer sent before the request's body was read (the body limit) closes the connection
  only after the rest of the body (at most ``drain_max_bytes``, within the body timeout) was read and discarded,
  the write side shut first: closing with unread data makes the kernel reset the connection, and a client that
  writes its whole body before reading would see that reset instead of the 413;
* **quiet disconnects**: a client that goes away mid-request is counted in ``cds_client_disconnects_total{stage}``
  (headers, body, response) with at most one DEBUG line; malformed requests and upgrade attempts are counted, not
  logged (uvicorn would log a warning for each).

Why not uvicorn's options alone: ``timeout_keep_alive`` only runs between requests; ``limit_concurrency`` counts
idle connections and answers 503 to new *requests* at the limit, so a slowloris holding the connections would lock
every trusted client out; ``h11_max_incomplete_event_size`` bounds only the h11 protocol. Why not an ASGI
middleware: the app sees a request only once its headers are complete, so connections that send nothing, or their
headers slowly, never reach it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from service.config import Settings
from service.ops.limits import ConnectionLimits
from service.ops.metrics import CONNECTIONS, ConnectionMetrics

log = logging.getLogger("axspa.connections")

# ------------------------------------------------------------------------------------------ the guard


class Phase(enum.Enum):
    NEW = "new"  # connected, no request yet
    HEADERS = "headers"  # a request's first byte arrived, its headers are not complete
    BODY = "body"  # headers complete, body still arriving
    IN_FLIGHT = "in-flight"  # request read, answer not yet complete
    KEPT_ALIVE = "kept-alive"  # idle between requests


#: Who is closed first at the connection bound: the lower the tier the sooner; None: never (a request in progress).
_TIER = {Phase.NEW: 0, Phase.HEADERS: 0, Phase.KEPT_ALIVE: 1, Phase.BODY: 2, Phase.IN_FLIGHT: None}


class ConnectionGuard:
    """The connections of one uvicorn server (one process): the bound, and which connection to shed."""

    def __init__(self, limits: ConnectionLimits, metrics: ConnectionMetrics = CONNECTIONS) -> None:
        self.limits = limits
        self.metrics = metrics
        self.open: set[GuardedHttpToolsProtocol] = set()
        self._tiers: tuple[OrderedDict[GuardedHttpToolsProtocol, None], ...] = (OrderedDict(), OrderedDict(),
                                                                               OrderedDict())
        self._episode: _Episode | None = None

    def admit(self, conn: GuardedHttpToolsProtocol) -> bool:
        """Register a new connection, shedding an idle or slow one at the bound; False: refused (none could be shed)."""
        if len(self.open) >= self.limits.max_connections:
            episode = self._episode or self._start_episode()
            victim = next((next(iter(tier)) for tier in self._tiers if tier), None)
            if victim is None:
                episode.refused += 1
                return False
            episode.shed += 1
            victim.close_by_server("shed")
        self.open.add(conn)
        self.metrics.open.inc()
        return True

    def place(self, conn: GuardedHttpToolsProtocol, phase: Phase) -> None:
        for tier in self._tiers:
            tier.pop(conn, None)
        index = _TIER[phase]
        if index is not None and conn in self.open:
            self._tiers[index][conn] = None

    def forget(self, conn: GuardedHttpToolsProtocol) -> None:
        if conn not in self.open:
            return
        self.open.discard(conn)
        self.metrics.open.dec()
        for tier in self._tiers:
            tier.pop(conn, None)
        if self._episode is not None and len(self.open) < 0.9 * self.limits.max_connections:
            episode, self._episode = self._episode, None
            log.warning(
                "connection limit episode over after %.0f s: %d idle or slow connections closed, %d new ones refused",
                time.monotonic() - episode.started, episode.shed, episode.refused,
                extra={"shed": episode.shed, "refused": episode.refused},
            )

    def _start_episode(self) -> _Episode:
        self._episode = _Episode(time.monotonic())
        log.warning(
            "connection limit reached: %d connections open in this process (CDS_MAX_CONNECTIONS); closing idle and "
            "slow ones, oldest first, to admit new ones", len(self.open),
            extra={"max_connections": self.limits.max_connections},
        )
        return self._episode


@dataclass
class _Episode:
    started: float
    shed: int = 0
    refused: int = 0


def _guard_of(server_state: ServerState, limits: ConnectionLimits | None) -> ConnectionGuard:
    """The guard shared by every connection of this uvicorn server (made by its first connection)."""
    guard: ConnectionGuard | None = getattr(server_state, "cds_guard", None)
    if guard is None:
        guard = ConnectionGuard(limits or ConnectionLimits.from_settings(Settings()))
        server_state.cds_guard = guard  # type: ignore[attr-defined]  # ServerState is a plain object
    return guard


# ------------------------------------------------------------------------------------------ the protocol


class _GuardedTransport:
    """The transport uvicorn's protocol writes to: ``close`` asks the guard first (a refused body is drained)."""

    def __init__(self, real: asyncio.Transport, conn: GuardedHttpToolsProtocol) -> None:
        self._real = real
        self._conn = conn
        self.write = real.write
        self.get_extra_info = real.get_extra_info
        self.pause_reading = real.pause_reading
        self.resume_reading = real.resume_reading

    def close(self) -> None:
        self._conn.close_requested()

    def is_closing(self) -> bool:
        return self._conn.draining or self._real.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with read timeouts, the connection bound, the drain and quiet disconnects.

    ``limits`` None: read from the ``CDS_*`` settings once per process (``python -m service``; each worker).
    A test makes a subclass with its own ``limits``.
    """

    limits: ClassVar[ConnectionLimits | None] = None

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.guard = _guard_of(server_state, type(self).limits)
        self.bounds = self.guard.limits
        self.phase = Phase.NEW
        self.draining = False
        self._real: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closed_by: str | None = None  # set when the server side closes: then it is no client disconnect
        self._head_bytes = 0  # bytes received while no request head was complete (a head still arriving)
        self._head_size = 0  # the current request's line and headers, as parsed
        self._body_length: int | None = None
        self._body_seen = 0
        self._pending = 0  # requests read whose answer is not complete
        self._drain_left = 0

    # ---------------------------------------------------------------- asyncio.Protocol
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._real = transport
        super().connection_made(cast(asyncio.Transport, _GuardedTransport(transport, self)))
        if not self.guard.admit(self):
            transport.write(_status(503, b"retry-after: 1\r\n"))
            self.close_by_server("refused")
            return
        self._enter(Phase.NEW, self.bounds.keep_alive_s, "idle-timeout")

    def connection_lost(self, exc: Exception | None) -> None:
        stage = None
        if self._closed_by is None and not self.draining:
            cycle = self.cycle
            if self.phase is Phase.HEADERS:
                stage = "headers"
            elif self.phase is Phase.BODY and cycle is not None and not cycle.response_complete:
                stage = "body"
            elif self._pending or (cycle is not None and cycle.response_started and not cycle.response_complete):
                stage = "response"
        self._cancel_timer()
        self.guard.forget(self)
        super().connection_lost(exc)
        if stage is not None:
            self.guard.metrics.disconnects.labels(stage).inc()
            log.debug("client disconnected", extra={"stage": stage})

    def data_received(self, data: bytes) -> None:
        if self._closed_by is not None:
            return
        if self.draining:
            self._drain_left -= len(data)
            if self._drain_left < 0:
                self.close_by_server("drain-limit")
                return
            try:
                self.parser.feed_data(data)  # on_message_complete ends the drain
            except (httptools.HttpParserError, httptools.HttpParserUpgrade):
                self.close_by_server("drained")
            return
        if self.phase is not Phase.BODY:
            self._head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._count_close("invalid-request")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            pass  # no WebSocket here (ws="none"): the request is served as plain HTTP, nothing worth a log line
        if self.phase in (Phase.NEW, Phase.HEADERS, Phase.KEPT_ALIVE) and self._closed_by is None \
                and self._head_bytes > self.bounds.max_header_bytes:
            self._answer_and_close(431, "header-too-large")

    # ---------------------------------------------------------------- parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_size = 0
        if self._closed_by is None and not self.draining:
            self._enter(Phase.HEADERS, self.bounds.header_timeout_s, "header-timeout")

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._closed_by is not None or self.draining:
            return
        if self._head_size > self.bounds.max_header_bytes:  # a head that arrived in one piece: never reaches the app
            self._answer_and_close(431, "header-too-large")
            return
        super().on_headers_complete()
        declared = next((value for name, value in self.headers if name == b"content-length"), None)
        self._body_length = int(declared) if declared is not None and declared.isdigit() else None
        self._body_seen = 0
        self._head_bytes = 0
        self._enter(Phase.BODY, self.bounds.body_timeout_s, "body-timeout")

    def on_body(self, body: bytes) -> None:
        if self._closed_by is None:
            self._body_seen += len(body)
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._closed_by is not None:
            return
        super().on_message_complete()
        if self.draining:
            self.close_by_server("drained")
            return
        self._head_bytes = 0
        if self.cycle is not None and self.cycle.response_complete:  # answered before its body was read
            self._enter(Phase.KEPT_ALIVE, self.bounds.keep_alive_s, "idle-timeout")
            return
        self._pending += 1
        self._enter(Phase.IN_FLIGHT)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._closed_by is not None or self.draining or self.transport.is_closing():
            return
        if self.phase is Phase.IN_FLIGHT:
            self._pending = max(0, self._pending - 1)
            if self._pending == 0:
                self._enter(Phase.KEPT_ALIVE, self.bounds.keep_alive_s, "idle-timeout")

    def timeout_keep_alive_handler(self) -> None:  # uvicorn's own keep-alive timer: the same decision as ours
        self._expired("idle-timeout")

    # ---------------------------------------------------------------- closing
    def close_requested(self) -> None:
        """uvicorn closes the connection (an answer with ``Connection: close``, an invalid request's 400, an error,
        a shutdown). An answer given before the request's body was read is drained first (the module docstring)."""
        if self.draining:
            return
        if self._closed_by is None and self._start_drain():
            return
        self._closed_by = self._closed_by or "server"
        self._shut()

    def _start_drain(self) -> bool:
        """Half-close and read the rest of the body (bounded) when the answer came before the body; False: no."""
        cycle = self.cycle
        if self.phase is not Phase.BODY or cycle is None or not cycle.response_complete or self._real is None:
            return False
        left = None if self._body_length is None else self._body_length - self._body_seen
        if self.bounds.drain_max_bytes <= 0 or (left is not None and left > self.bounds.drain_max_bytes):
            return False
        self.draining = True
        self._drain_left = self.bounds.drain_max_bytes
        if self._real.can_write_eof():
            self._real.write_eof()  # the client reads the answer and our EOF once it has written its body
        self._real.resume_reading()
        return True  # the body deadline still runs: it bounds the drain

    def close_by_server(self, reason: str) -> None:
        """Close now, for ``reason`` (counted in cds_connections_closed_total)."""
        if self._closed_by is None:
            self._count_close(reason)
        self._shut()

    def _count_close(self, reason: str) -> None:
        self._closed_by = reason
        self.guard.metrics.closed.labels(reason).inc()

    def _shut(self) -> None:
        self._cancel_timer()
        self.guard.forget(self)
        if self._real is not None and not self._real.is_closing():
            self._real.close()

    def _answer_and_close(self, status: int, reason: str) -> None:
        """Answer ``status`` (408, 431) and close; silently if this request was already answered (or its app has
        started answering), or an answer to an earlier request is still being sent."""
        cycle = self.cycle
        if self.phase is Phase.BODY:
            quiet = cycle is None or cycle.response_started
        else:
            quiet = bool(self._pending) or (cycle is not None and cycle.response_started
                                            and not cycle.response_complete)
        if not quiet and self._real is not None and not self._real.is_closing():
            self._real.write(_status(status))
        self.close_by_server(reason)

    # ---------------------------------------------------------------- phases and their deadlines
    def _enter(self, phase: Phase, seconds: float | None = None, reason: str = "") -> None:
        self.phase = phase
        # a pipelined request arriving while an earlier one is answered: that connection is busy, never shed
        self.guard.place(self, Phase.IN_FLIGHT if self._pending else phase)
        self._cancel_timer()
        if seconds is not None:
            self._timer = self.loop.call_later(seconds, self._expired, reason)

    def _expired(self, reason: str) -> None:
        self._timer = None
        if self.draining or reason == "idle-timeout":
            self.close_by_server("drained" if self.draining else reason)
        else:
            self._answer_and_close(408, reason)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _status(status: int, extra_headers: bytes = b"") -> bytes:
    """A complete, empty answer that closes the connection."""
    return STATUS_LINE[status] + extra_headers + b"content-length: 0\r\nconnection: close\r\n\r\n"
