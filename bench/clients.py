"""Low-overhead HTTP/1.1 clients for bench/bench.py and bench/client_ceiling.py.

* ``Connection``: a raw keep-alive ``http.client.HTTPConnection`` (the latency client of issue 12).
* ``SocketConnection``: the same on a bare socket (request bytes built by hand, the response read up to its
  Content-Length): a quarter to a third of http.client's CPU per request.
* ``sequential``: one connection, one request after the other (latency).
* ``concurrent``: N connections for a fixed time (throughput), one forked *process* per connection by default.
  Measured on this 2-core machine (bench/client_ceiling.py, two runs): 8 threads of http.client got 1,900-2,800
  req/s from the floor with the floor under two-thirds of a core; 8 processes of the bare-socket client got
  3,100-4,100: the threaded client, not the floor, was the limit (the GIL, and http.client's 170-330 us of
  CPU per request against the socket client's 50-90).

JWTs and header sets are made before the clock starts; a latency is measured from just before the request is
sent to the end of reading the response body.
"""

from __future__ import annotations

import http.client
import multiprocessing
import resource
import socket
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from common import percentile

Headers = dict[str, str]


@dataclass
class Sample:
    """What one measured batch of requests gave."""

    latencies_ms: list[float]
    elapsed_s: float
    statuses: Counter = field(default_factory=Counter)  # HTTP status -> count; "connection error" counted too
    client_cpu_s: float = 0.0  # CPU time the client itself spent (user + system)

    @property
    def n(self) -> int:
        return len(self.latencies_ms)

    @property
    def p50(self) -> float:
        return percentile(sorted(self.latencies_ms), 50)

    @property
    def p99(self) -> float:
        return percentile(sorted(self.latencies_ms), 99)

    @property
    def rps(self) -> float:
        return self.n / self.elapsed_s if self.elapsed_s else float("nan")


def headers_for(case: str, tokens: Sequence[str] | None, n: int) -> list[Headers]:
    """``n`` request header sets; with tokens, each carries its own ``Authorization: Bearer <jwt>``."""
    base = {"Content-Type": "application/json", "X-Bench-Case": case}
    if tokens is None:
        return [base] * n
    if len(tokens) < n:
        raise ValueError(f"{n} requests need {n} tokens, got {len(tokens)}")
    return [{**base, "Authorization": f"Bearer {token}"} for token in tokens[:n]]


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects after a connection error."""

    def __init__(self, port: int, timeout_s: float = 60) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)

    def post(self, path: str, body: bytes, headers: Headers) -> tuple[int | str, float, bytes]:
        """(status or "connection error", latency in ms, response body)."""
        t0 = time.perf_counter()
        try:
            self.conn.request("POST", path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout_s)
            return "connection error", (time.perf_counter() - t0) * 1000, b""
        return response.status, (time.perf_counter() - t0) * 1000, data

    def close(self) -> None:
        self.conn.close()


class SocketConnection:
    """The same, written on a bare socket: the request bytes are assembled by hand and the response is read
    with two ``readline`` loops (status line, headers up to Content-Length) and one ``read``. About a third
    of ``http.client``'s client CPU per request (``bench/client_ceiling.py`` measures both)."""

    def __init__(self, port: int, timeout_s: float = 60) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self._open()

    def _open(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def post(self, path: str, body: bytes, headers: Headers) -> tuple[int | str, float, bytes]:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        message = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n{head}"
                   f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body
        t0 = time.perf_counter()
        try:
            self.sock.sendall(message)
            status_line = self.reader.readline()
            length = 0
            while (line := self.reader.readline()) not in (b"\r\n", b""):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            data = self.reader.read(length)
            status = int(status_line[9:12])
        except (OSError, ValueError):
            self.close()
            self._open()
            return "connection error", (time.perf_counter() - t0) * 1000, b""
        return status, (time.perf_counter() - t0) * 1000, data

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


CLIENTS = {"http.client": Connection, "socket": SocketConnection}


def _cpu() -> float:
    """This process's CPU time (user + system); getrusage is finer than os.times' 10 ms ticks."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sequential(conn: Connection | SocketConnection, path: str, body: bytes, headers: list[Headers]) -> Sample:
    """One request per header set, one after the other, on one keep-alive connection."""
    latencies, statuses = [], Counter()
    cpu0, t0 = _cpu(), time.perf_counter()
    for h in headers:
        status, ms, _ = conn.post(path, body, h)
        latencies.append(ms)
        statuses[status] += 1
    return Sample(latencies, time.perf_counter() - t0, statuses, _cpu() - cpu0)


def _run_one_connection(client: str, port: int, path: str, body: bytes, headers: list[Headers], start_at: float,
                        duration_s: float) -> tuple[list[float], Counter, float, bool, float]:
    """One client's loop: open the connection (one request, not counted), wait for the common start, then send
    until the deadline. Returns (latencies, statuses, own CPU seconds, ran out of headers, end time)."""
    conn = CLIENTS[client](port)
    conn.post(path, body, headers[0])
    latencies, statuses, i = [], Counter(), 1
    while time.time() < start_at:
        time.sleep(0.001)
    cpu0 = _cpu()  # in a thread this is the whole process's CPU: the threaded caller measures it itself
    deadline = start_at + duration_s
    while time.time() < deadline and i < len(headers):
        status, ms, _ = conn.post(path, body, headers[i])
        latencies.append(ms)
        statuses[status] += 1
        i += 1
    conn.close()
    return latencies, statuses, _cpu() - cpu0, i >= len(headers), time.time()


def _process_main(out, *args) -> None:
    out.send(_run_one_connection(*args))
    out.close()


def concurrent(port: int, path: str, body: bytes, headers: list[Headers], concurrency: int, duration_s: float,
               client: str = "http.client", mode: str = "processes") -> Sample:
    """``concurrency`` clients, each on its own keep-alive connection, for ``duration_s`` seconds.

    ``mode`` "processes": one forked process per client (no GIL between them); "threads": one thread each in
    this process. ``headers`` is split among the clients (each token is used once); a client that runs out
    raises ValueError, so an exhausted token supply never passes for a slow service.
    """
    start_at = time.time() + 0.3 + 0.02 * concurrency  # every client starts together, its connection open
    shares = [(client, port, path, body, headers[k::concurrency], start_at, duration_s) for k in range(concurrency)]
    if mode == "processes":
        ctx = multiprocessing.get_context("fork")
        pipes, procs = [], []
        for share in shares:
            receiver, sender = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_process_main, args=(sender, *share), daemon=True)
            proc.start()
            sender.close()
            pipes.append(receiver)
            procs.append(proc)
        results = [receiver.recv() for receiver in pipes]
        for proc in procs:
            proc.join()
        cpu = sum(r[2] for r in results)
    else:
        results = [None] * concurrency
        threads = [threading.Thread(target=lambda k=k: results.__setitem__(k, _run_one_connection(*shares[k])))
                   for k in range(concurrency)]
        for t in threads:
            t.start()
        cpu0 = _cpu()
        for t in threads:
            t.join()
        cpu = _cpu() - cpu0  # includes the connection set-up: a slight over-estimate
    if any(r[3] for r in results):
        raise ValueError("a client ran out of pre-generated headers/tokens: give it more")
    sample = Sample([ms for r in results for ms in r[0]], max(r[4] for r in results) - start_at, Counter(), cpu)
    for r in results:
        sample.statuses.update(r[1])
    return sample
