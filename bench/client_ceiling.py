"""How much does the load generator itself cost? Every client of the benchmarks against the floor.

    .venv/bin/python bench/client_ceiling.py [--quick]

A client can only show a server's speed if it is faster than the server. On this 2-core machine the client and
the server share the cores, so the figure that matters is the client's CPU per request: every microsecond of
it is taken from the server (and inflates the floor's latency, which shrinks every service/floor ratio).
For each client it prints the floor's req/s and p50, the client's CPU per request and the floor's CPU use
(a floor below ~90% of one core is held back by its client, or by other load on the machine).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import clients  # noqa: E402
import common  # noqa: E402
import gen  # noqa: E402
import orjson  # noqa: E402
import wrk  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 s per measurement instead of 4 s")
    args = parser.parse_args(argv)
    seconds = 1.0 if args.quick else 4.0
    with common.workdir() as work:
        return measure(work, seconds)


def measure(work: Path, seconds: float) -> int:
    body = orjson.dumps(gen.load_seed())
    print(common.machine_line("before"))
    with common.service("service", work, common.dev_env(work, "service")) as svc:
        captured = {"seed": common.capture(svc.port, body, {})}
    floor = common.floor(work, common.write_floor_responses(work / "responses.json", captured)).start()
    url = f"http://127.0.0.1:{floor.port}{common.HOOK_PATH}"
    headers = clients.headers_for("seed", None, 1)
    try:
        print(f"{'client':<34}{'conc':>5}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'client us/req':>14}"
              f"{'client CPU':>11}{'floor CPU':>10}")

        def show(name: str, conc: int, rps: float, p50: float, p99: float, cpu_s: float, n: int, elapsed: float,
                 floor_cpu: float) -> None:
            print(f"{name:<34}{conc:>5}{rps:>8.0f}{p50:>8.2f}{p99:>8.2f}{cpu_s / n * 1e6:>14.0f}"
                  f"{cpu_s / elapsed:>10.0%}{floor_cpu / elapsed:>10.0%}", flush=True)

        for client in clients.CLIENTS:  # latency: one connection, one request at a time
            conn = clients.CLIENTS[client](floor.port)
            clients.sequential(conn, common.HOOK_PATH, body, headers * 200)  # warm-up
            n = int(seconds * 1500)
            f0 = floor.cpu_seconds()
            s = clients.sequential(conn, common.HOOK_PATH, body, headers * n)
            show(f"{client}, sequential", 1, s.rps, s.p50, s.p99, s.client_cpu_s, s.n, s.elapsed_s,
                 floor.cpu_seconds() - f0)
            conn.close()
        for conc, variants in ((8, [("http.client", "threads"), ("http.client", "processes"),
                                    ("socket", "threads"), ("socket", "processes")]),
                               (50, [("http.client", "threads"), ("socket", "threads"),
                                     ("socket", "processes")])):
            for client, mode in variants:
                f0 = floor.cpu_seconds()
                s = clients.concurrent(floor.port, common.HOOK_PATH, body, headers * 100_000, conc, seconds,
                                       client=client, mode=mode)
                show(f"{client}, {conc} {mode}", conc, s.rps, s.p50, s.p99, s.client_cpu_s, s.n, s.elapsed_s,
                     floor.cpu_seconds() - f0)
            if wrk.available():
                f0, t0 = floor.cpu_seconds(), time.perf_counter()
                r = wrk.run(url, body, "seed", connections=conc, threads=2, duration_s=seconds, timeout_s=10,
                            workdir=work, name=f"ceiling{conc}")
                show("wrk -t 2 + bench/post.lua", conc, r.rps, r.p50_ms, r.p99_ms, r.cpu_s, r.requests,
                     time.perf_counter() - t0, floor.cpu_seconds() - f0)
            else:
                print("wrk: not installed (apt-get install wrk); skipped")
    finally:
        floor.stop()
    print(common.machine_line("after"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
