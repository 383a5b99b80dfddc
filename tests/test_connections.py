"""Connection hygiene over real sockets against ``python -m service`` (issue 11, points 1, 2 and 7): read timeouts,
the connection bound that sheds idle connections first, a 413 a write-everything-first client can read, quiet
disconnects. Timeouts are set small (a fraction of a second) so that nothing here sleeps for long."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from cds import HOOK_URL, seed_request, without_prefetch
from support import LiveService

SEED = json.dumps(seed_request()).encode()
FAST = {"CDS_KEEP_ALIVE_S": "0.6", "CDS_HEADER_TIMEOUT_S": "0.6", "CDS_BODY_TIMEOUT_S": "0.8",
        "CDS_MAX_HEADER_BYTES": "8192", "CDS_MAX_BODY_BYTES": "100000", "CDS_DRAIN_MAX_BYTES": "1000000"}


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    with LiveService(tmp_path_factory.mktemp("guarded"), **FAST) as service:
        yield service


def connect(svc: LiveService, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", svc.port), timeout=timeout)


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def read_response(sock: socket.socket) -> bytes:
    """One complete answer (head and a Content-Length body) from a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    top, _, rest = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in top.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(rest) < length:
        rest += sock.recv(65536)
    return top + b"\r\n\r\n" + rest


def head(path: str = "/healthz", method: str = "GET", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


# --------------------------------------------------------------------------- read timeouts


def test_a_connection_that_sends_nothing_is_closed_after_the_keep_alive_time(svc):
    before = svc.metric("cds_connections_closed_total", reason="idle-timeout")
    with connect(svc) as sock:
        started = time.monotonic()
        assert read_until_closed(sock) == b""  # closed without an answer: there was no request
        elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 3.0, elapsed
    assert svc.metric("cds_connections_closed_total", reason="idle-timeout") >= before + 1


def trickle(sock: socket.socket, pieces: list[bytes], limit_s: float = 3.0) -> tuple[bytes, float]:
    """Send ``pieces`` one every ~0.1 s until the server answers or closes; (what it sent back, seconds taken)."""
    started = time.monotonic()
    answer, closed = b"", False
    for piece in pieces:
        if closed or answer or time.monotonic() - started > limit_s:
            break
        try:
            sock.send(piece)
            sock.settimeout(0.1)
            answer = sock.recv(1024)
            closed = answer == b""
        except TimeoutError:
            continue
        except OSError:
            closed = True
    sock.settimeout(5)
    if not closed:
        answer += read_until_closed(sock)
    return answer, time.monotonic() - started


def test_headers_sent_one_byte_at_a_time_get_408_within_the_header_timeout(svc):
    """A slowloris: each byte is on time, the request never is. The deadline runs from the first byte."""
    with connect(svc) as sock:
        answer, elapsed = trickle(sock, [bytes([b]) for b in head()[:-2]])
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert elapsed < 2.5, elapsed


def test_a_lone_crlf_now_and_then_keeps_no_connection_open(svc):
    with connect(svc) as sock:
        answer, elapsed = trickle(sock, [b"\r\n"] * 40)
    assert answer == b"" and elapsed < 2.5, (answer, elapsed)


def test_a_body_that_trickles_in_gets_408_within_the_body_timeout(svc):
    before = svc.metric("cds_connections_closed_total", reason="body-timeout")
    with connect(svc) as sock:
        sock.sendall(head(HOOK_URL, "POST", "Content-Type: application/json\r\nContent-Length: 1000\r\n"))
        answer, elapsed = trickle(sock, [b" "] * 40)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert elapsed < 2.5
    assert svc.metric("cds_connections_closed_total", reason="body-timeout") == before + 1


def test_a_kept_alive_connection_is_closed_when_idle_and_served_until_then(svc):
    with connect(svc) as sock:
        for _ in range(3):  # well within the keep-alive time between requests: the same connection serves them
            sock.sendall(head())
            answer = read_response(sock)
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"status":"ok"}'), answer
            time.sleep(0.2)
        started = time.monotonic()
        assert read_until_closed(sock) == b""
    assert 0.3 < time.monotonic() - started < 3.0


def test_a_request_head_over_the_limit_gets_431(svc):
    with connect(svc) as sock:
        sock.sendall(head(extra="X-Padding: " + "a" * 9000 + "\r\n"))
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]


# --------------------------------------------------------------------------- a 413 the client can read


def test_a_client_that_writes_its_whole_oversized_body_first_reads_the_413(svc):
    """Like Python's urllib or many Java clients: the whole body goes out before anything is read."""
    body = b"x" * 400_000  # over the 100 kB limit, under the 1 MB drain
    with connect(svc) as sock:
        sock.sendall(head(HOOK_URL, "POST", f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n")
                     + body)
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    assert b"larger than 100000 bytes" in answer

    connection = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=10)  # the stdlib client, as urllib
    connection.request("POST", HOOK_URL, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 413 and b"OperationOutcome" in response.read()
    connection.close()
    assert svc.metric("cds_connections_closed_total", reason="drained") >= 1


def test_a_body_beyond_the_drain_bound_is_not_read(svc):
    """Draining is bounded: a body declared larger than CDS_DRAIN_MAX_BYTES is refused and not read at all."""
    with connect(svc) as sock:
        sock.sendall(head(HOOK_URL, "POST", "Content-Type: application/json\r\nContent-Length: 50000000\r\n"))
        started = time.monotonic()
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 413") and time.monotonic() - started < 2


# --------------------------------------------------------------------------- quiet disconnects


def test_a_thousand_clients_that_vanish_mid_body_are_counted_and_leave_no_log_line(svc):
    before = svc.metric("cds_client_disconnects_total", stage="body")
    log_before = svc.log_size()
    partial = head(HOOK_URL, "POST", "Content-Type: application/json\r\nContent-Length: 5000\r\n") + b'{"hook": '
    for _ in range(20):
        batch = [connect(svc) for _ in range(50)]
        for sock in batch:
            sock.sendall(partial)
        time.sleep(0.05)  # the service has read the headers and waits for the body
        for sock in batch:
            sock.close()
    deadline = time.monotonic() + 10
    while svc.metric("cds_client_disconnects_total", stage="body") < before + 1000 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert svc.metric("cds_client_disconnects_total", stage="body") == before + 1000
    written = svc.log()[log_before:]
    assert "Traceback" not in written and "ClientDisconnect" not in written
    # at INFO nothing is written per disconnect; the only new lines are the access lines of the /metrics polls
    assert all('"GET /metrics' in line for line in written.splitlines()), written[:2000]
    assert httpx.get(f"{svc.url}/healthz").status_code == 200


def test_a_client_that_vanishes_before_its_answer_is_counted_quietly(svc, faulty_fhir):
    hang = faulty_fhir("hang", hang_seconds=5)
    request = without_prefetch(seed_request())
    request["fhirServer"] = hang.base_url  # development mode: http on localhost may be read
    body = json.dumps(request).encode()
    before = svc.metric("cds_client_disconnects_total", stage="response")
    log_before = svc.log_size()
    with connect(svc) as sock:
        sock.sendall(head(HOOK_URL, "POST", f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n")
                     + body)
        deadline = time.monotonic() + 5
        while not hang.requests and time.monotonic() < deadline:  # the service is waiting on the FHIR server
            time.sleep(0.02)
    deadline = time.monotonic() + 5
    while svc.metric("cds_client_disconnects_total", stage="response") < before + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert svc.metric("cds_client_disconnects_total", stage="response") == before + 1
    time.sleep(2.2)  # the FHIR budget (2 s) ends and the service answers a client that is gone
    assert "Traceback" not in svc.log()[log_before:]


# --------------------------------------------------------------------------- many connections


def test_a_trusted_client_is_served_while_thousands_of_idle_connections_are_open(tmp_path):
    with LiveService(tmp_path, CDS_MAX_CONNECTIONS="4000", CDS_KEEP_ALIVE_S="20") as service:
        idle = [socket.create_connection(("127.0.0.1", service.port)) for _ in range(3000)]
        try:
            latencies = []
            with httpx.Client(base_url=service.url, timeout=10) as trusted:
                for _ in range(20):
                    started = time.perf_counter()
                    response = trusted.post(HOOK_URL, content=SEED, headers={"Content-Type": "application/json"})
                    latencies.append(time.perf_counter() - started)
                    assert response.status_code == 200 and response.json()["cards"]
            assert service.metric("cds_connections_open") >= 3000  # held, not shed: under the bound
            assert sorted(latencies)[10] < 1.0, latencies
        finally:
            for sock in idle:
                sock.close()


def _opened_then_closed(sock: socket.socket) -> bool:
    sock.settimeout(0.01)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_at_the_bound_idle_connections_are_shed_oldest_first_and_requests_in_progress_never(tmp_path, faulty_fhir):
    hang = faulty_fhir("hang", hang_seconds=10)
    stuck = without_prefetch(seed_request())
    stuck["fhirServer"] = hang.base_url
    with LiveService(tmp_path, CDS_MAX_CONNECTIONS="40", CDS_KEEP_ALIVE_S="30", CDS_HEADER_TIMEOUT_S="30",
                     CDS_FHIR_TIMEOUT_S="2") as service:
        in_flight: list[int] = []

        def call_stuck() -> None:
            response = httpx.post(f"{service.url}{HOOK_URL}", json=stuck, timeout=20)
            in_flight.append(response.status_code)

        callers = [threading.Thread(target=call_stuck) for _ in range(5)]
        for caller in callers:
            caller.start()
        deadline = time.monotonic() + 5
        while len(hang.requests_for("Patient")) < 5 and time.monotonic() < deadline:  # one read per call
            time.sleep(0.02)
        idle = [socket.create_connection(("127.0.0.1", service.port)) for _ in range(200)]
        time.sleep(0.3)
        try:
            closed = [_opened_then_closed(sock) for sock in idle]
            assert all(closed[:150]) and not any(closed[-30:]), closed  # the oldest idle ones went first
            trusted = httpx.post(f"{service.url}{HOOK_URL}", content=SEED, timeout=10,
                                 headers={"Content-Type": "application/json"})
            assert trusted.status_code == 200
        finally:
            for sock in idle:
                sock.close()
        for caller in callers:
            caller.join(20)
        assert in_flight == [412] * 5  # their requests were answered (the FHIR server hung), never cut off
        log = service.log()
        assert service.metric("cds_connections_closed_total", reason="shed") >= 165
    assert log.count("connection limit reached") == 1, log[-3000:]  # once per episode, not per connection
    assert log.count("connection limit episode over") == 1


def test_when_every_connection_has_a_request_in_progress_a_new_one_is_refused_with_503(tmp_path, faulty_fhir):
    hang = faulty_fhir("hang", hang_seconds=10)
    stuck = without_prefetch(seed_request())
    stuck["fhirServer"] = hang.base_url
    with LiveService(tmp_path, CDS_MAX_CONNECTIONS="8", CDS_FHIR_TIMEOUT_S="2") as service:
        callers = [threading.Thread(target=httpx.post, args=(f"{service.url}{HOOK_URL}",),
                                    kwargs={"json": stuck, "timeout": 20}) for _ in range(8)]
        for caller in callers:
            caller.start()
        deadline = time.monotonic() + 5
        while len(hang.requests_for("Patient")) < 8 and time.monotonic() < deadline:  # one read per call
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", service.port), timeout=5) as sock:
            assert read_until_closed(sock).startswith(b"HTTP/1.1 503")
        for caller in callers:
            caller.join(20)
        assert service.metric("cds_connections_closed_total", reason="refused") == 1
        assert httpx.get(f"{service.url}/healthz").status_code == 200  # once they are answered, all is well


def test_the_soft_fd_limit_is_raised_at_start_up_and_said(tmp_path):
    with LiveService(tmp_path, fd_soft_limit=1024) as service:
        pid = service.proc.pid
        soft = int(next(line.split()[3] for line in Path(f"/proc/{pid}/limits").read_text().splitlines()
                        if line.startswith("Max open files")))
        log = service.log()
    hard = int(next(line for line in log.splitlines() if "file descriptors" in line).split("hard limit ")[1]
               .split(";")[0])
    assert soft == hard
    if hard > 1024:
        assert "(raised from 1024)" in log


def test_two_workers_apply_the_same_guard(tmp_path):
    with LiveService(tmp_path, workers=2, **FAST) as service:
        assert httpx.post(f"{service.url}{HOOK_URL}", content=SEED, timeout=10,
                          headers={"Content-Type": "application/json"}).status_code == 200
        with socket.create_connection(("127.0.0.1", service.port), timeout=5) as sock:
            sock.sendall(b"GET /healthz HT")
            assert read_until_closed(sock).startswith(b"HTTP/1.1 408")


def test_an_invalid_request_gets_400_and_the_connection_closes_at_once(svc):
    before = svc.metric("cds_connections_closed_total", reason="invalid-request")
    with connect(svc) as sock:
        sock.sendall(b"NOT HTTP AT ALL\x00\r\n\r\n")
        started = time.monotonic()
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400") and time.monotonic() - started < 0.5
    assert svc.metric("cds_connections_closed_total", reason="invalid-request") == before + 1
    assert "Invalid HTTP request" not in svc.log()  # counted, not logged
