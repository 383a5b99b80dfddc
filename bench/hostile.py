"""Hostile traffic against the real service (issue 11): what a trusted client sees, and what the service spends.

    .venv/bin/python bench/hostile.py               # every scenario (~1 minute)
    .venv/bin/python bench/hostile.py --only idle   # one (idle, slowloris, disconnects, drafts)

Each scenario starts ``python -m service`` in development mode (bench/common.py), so the figures are the
service's own and not a test's. Printed:
  * idle: N connections opened and left silent (under CDS_MAX_CONNECTIONS), then the seed request 200 times on a
    fresh keep-alive connection: p50/p99 latency, and RSS before and after;
  * slowloris: CDS_MAX_CONNECTIONS=500 and 5,000 connections sending their headers one byte at a time: how many
    were shed, the seed request's latency meanwhile, the log lines the episode wrote;
  * disconnects: 1,000 clients that send headers and part of a body, then vanish: log bytes written, the count in
    cds_client_disconnects_total, the time to absorb them;
  * drafts: 10,000 identical selected drafts, then 10,000 distinct drafts (order-sign): the answer's size and time,
    and /healthz's worst latency meanwhile.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import http.client
import re
import socket
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
import gen  # noqa: E402
import orjson  # noqa: E402

SEED = orjson.dumps(gen.load_seed())
JSON_HEADERS = {"Content-Type": "application/json"}


def post_seed(conn: http.client.HTTPConnection) -> float:
    started = time.perf_counter()
    conn.request("POST", common.HOOK_PATH, body=SEED, headers=JSON_HEADERS)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"seed answered {response.status}")
    return (time.perf_counter() - started) * 1000


def latencies(port: int, n: int) -> tuple[float, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    values = sorted(post_seed(conn) for _ in range(n))
    conn.close()
    return common.percentile(values, 50), common.percentile(values, 99)


def metric(port: int, name: str, **labels: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if match and match[1] == name and dict(re.findall(r'(\w+)="([^"]*)"', match[2] or "")) == labels:
            return float(match[3])
    return 0.0


def rss(svc: common.Server) -> float:
    return sum(svc.rss_mb().values())


def scenario_idle(work: Path) -> None:
    for idle_count in (0, 3000, 10000):
        env = {**common.dev_env(work, f"idle{idle_count}"), "CDS_MAX_CONNECTIONS": "12000", "CDS_KEEP_ALIVE_S": "120",
               "CDS_LOG_LEVEL": "WARNING"}
        with common.service(f"idle-{idle_count}", work, env) as svc:
            latencies(svc.port, 20)  # warm-up
            before = rss(svc)
            idle = [socket.create_connection(("127.0.0.1", svc.port)) for _ in range(idle_count)]
            time.sleep(0.5)
            p50, p99 = latencies(svc.port, 200)
            after = rss(svc)
            open_now = metric(svc.port, "cds_connections_open")
            for sock in idle:
                sock.close()
        print(f"idle        {idle_count:>6} idle connections held ({open_now:.0f} open): seed p50 {p50:.1f} ms, "
              f"p99 {p99:.1f} ms; RSS {before:.0f} -> {after:.0f} MiB", flush=True)


def scenario_slowloris(work: Path) -> None:
    env = {**common.dev_env(work, "slowloris"), "CDS_MAX_CONNECTIONS": "500", "CDS_HEADER_TIMEOUT_S": "60",
           "CDS_KEEP_ALIVE_S": "60"}
    with common.service("slowloris", work, env) as svc:
        latencies(svc.port, 20)
        log_before = svc.log.stat().st_size
        head = b"POST " + common.HOOK_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
        socks = []
        for _ in range(5000):
            sock = socket.create_connection(("127.0.0.1", svc.port))
            with contextlib.suppress(OSError):
                sock.send(head[:1])
            socks.append(sock)
        p50, p99 = latencies(svc.port, 100)
        shed = metric(svc.port, "cds_connections_closed_total", reason="shed")
        for sock in socks:
            sock.close()
        time.sleep(0.5)
        written = svc.log.read_bytes()[log_before:].decode(errors="replace")
    lines = [line for line in written.splitlines() if '"uvicorn.access"' not in line]
    print(f"slowloris   5000 connections, bound 500: {shed:.0f} shed; seed p50 {p50:.1f} ms, p99 {p99:.1f} ms "
          f"meanwhile; {len(lines)} log lines besides the access log", flush=True)


def scenario_disconnects(work: Path) -> None:
    with common.service("disconnects", work, common.dev_env(work, "disconnects")) as svc:
        latencies(svc.port, 5)
        log_before = svc.log.stat().st_size
        partial = (b"POST " + common.HOOK_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 5000\r\n\r\n{\"hook\": ")
        started = time.perf_counter()
        for _ in range(20):
            batch = [socket.create_connection(("127.0.0.1", svc.port)) for _ in range(50)]
            for sock in batch:
                sock.sendall(partial)
            time.sleep(0.02)
            for sock in batch:
                sock.close()
        while metric(svc.port, "cds_client_disconnects_total", stage="body") < 1000 and \
                time.perf_counter() - started < 30:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        counted = metric(svc.port, "cds_client_disconnects_total", stage="body")
        written = svc.log.read_bytes()[log_before:]
    others = [line for line in written.decode(errors="replace").splitlines() if "GET /metrics" not in line]
    print(f"disconnects 1000 clients gone mid-body: {counted:.0f} counted in {elapsed:.1f} s; "
          f"{sum(len(line) + 1 for line in others)} log bytes written for them ({len(others)} lines)", flush=True)


def scenario_drafts(work: Path) -> None:
    seed = gen.load_seed()
    draft = seed["context"]["draftOrders"]["entry"][0]
    same = copy.deepcopy(seed)
    same["context"]["draftOrders"]["entry"] = [copy.deepcopy(draft) for _ in range(10_000)]
    distinct = copy.deepcopy(seed)
    distinct["hook"] = "order-sign"
    distinct["context"].pop("selections", None)
    distinct["context"]["draftOrders"]["entry"] = [
        {**draft, "resource": {**draft["resource"], "id": f"draft-{n}"}} for n in range(10_000)]
    with common.service("drafts", work, common.dev_env(work, "drafts")) as svc:
        latencies(svc.port, 5)
        for name, document in (("identical", same), ("distinct", distinct)):
            body = orjson.dumps(document)
            worst, done = [0.0], threading.Event()

            def poll(worst: list[float] = worst, done: threading.Event = done) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=30)
                while not done.is_set():
                    t0 = time.perf_counter()
                    conn.request("GET", "/healthz")
                    conn.getresponse().read()
                    worst[0] = max(worst[0], time.perf_counter() - t0)
                    time.sleep(0.005)
                conn.close()

            poller = threading.Thread(target=poll)
            poller.start()
            conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=60)
            started = time.perf_counter()
            conn.request("POST", common.HOOK_PATH, body=body, headers=JSON_HEADERS)
            response = conn.getresponse()
            answer = response.read()
            elapsed = time.perf_counter() - started
            done.set()
            poller.join()
            conn.close()
            cards = len(orjson.loads(answer)["cards"]) if response.status == 200 else 0
            print(f"drafts      10,000 {name} drafts ({len(body) / 1e6:.1f} MB): {response.status}, {cards} cards, "
                  f"{len(answer) / 1e3:.1f} kB in {elapsed:.2f} s; /healthz worst {worst[0] * 1000:.0f} ms", flush=True)


SCENARIOS = {"idle": scenario_idle, "slowloris": scenario_slowloris, "disconnects": scenario_disconnects,
             "drafts": scenario_drafts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), help="repeatable (default: all)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results: dict = {"machine_before": common.machine_line("before")}
    print(results["machine_before"])
    with common.workdir() as work:
        for name in args.only or list(SCENARIOS):
            SCENARIOS[name](work)
    return common.finish(results, started, None)


if __name__ == "__main__":
    raise SystemExit(main())
