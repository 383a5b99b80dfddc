"""What a goal of issue 12 leaves the clinical engine: the floor, the service, and the service with the engine's
answer reused, side by side in one run.

    .venv/bin/python bench/budget.py                   # development (dev 2.0x, dev-c8 0.5x), ES384, RS384 (4.0x)
    .venv/bin/python bench/budget.py --modes dev --rounds 12
    .venv/bin/python bench/budget.py --modes ES384-pg,RS384-pg   # production with the PostgreSQL replay store

Three servers, each as bench/bench.py runs it, alternate in rounds (the order turns each round), one keep-alive
``http.client`` connection each, one seed request at a time:

* **floor**: bench/floor.py, the bare FastAPI route that parses the body and answers the service's bytes;
* **service**: ``python -m service``;
* **engine reused**: bench/engine_reused.py, the service with the engine's answer computed once and reused, so
  that everything else (uvicorn, middleware, authentication, parsing, prefetch, metrics, the card ledger) still
  runs on every call.

Per round each side gives its p50 and its CPU per request (/proc). Printed per mode, as medians over the rounds of
the per-round figures: each side's p50 and CPU, the service's and the engine-reused side's p50 over the floor's,
the engine's share (service minus engine reused, p50 and CPU), and the **budget**: the goal times the floor's p50,
minus what the engine-reused side already takes. The engine fits the goal when its share is within the budget;
``needs`` says how many times cheaper it would have to be ("no budget": the rest of the service alone misses the
goal).

``dev-c8`` is the throughput goal: 8 concurrent clients (processes of the socket client, 2 s per side per round, as
bench/bench.py's seed-c8 row), and req/s instead of p50. Each server saturates one core, so a goal on the rate is
one on the time per call: at least 0.5x the floor's req/s is at most 2 / (the floor's req/s) per call. The engine's
share and the budget are in those terms.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import clients  # noqa: E402
import common  # noqa: E402
import gen  # noqa: E402
import orjson  # noqa: E402
from ab import round_of  # noqa: E402

#: issue 12: the seed in development (p50 <= 2.0x the floor's; "dev-c8": 8 concurrent clients, req/s >= 0.5x the
#: floor's), and in production (p50 <= 4.0x; SQLite replay store, or "-pg" PostgreSQL)
GOALS = {"dev": 2.0, "dev-c8": 0.5, "ES384": 4.0, "RS384": 4.0, "ES384-pg": 4.0, "RS384-pg": 4.0}
DEFAULT_MODES = ("dev", "dev-c8", "ES384", "RS384")
CONCURRENCY, THROUGHPUT_S = 8, 2.0  # as bench/bench.py's seed-c8 row: 8 processes of the socket client, 2 s a side
SIDES = ("floor", "service", "engine reused")


def servers_for(mode: str, workdir: Path, creds: common.Credentials, floor_responses: Path,
                pg_url: str | None) -> list[common.Server]:
    def env(name: str) -> dict[str, str]:
        if mode.startswith("dev"):
            return common.dev_env(workdir, f"{mode}-{name}")
        store = pg_url if mode.endswith("-pg") and pg_url else f"sqlite:///{workdir / f'{mode}-{name}.sqlite3'}"
        return creds.env(store)

    return [common.floor(workdir, floor_responses),
            common.service(f"{mode}-service", workdir, env("svc")),
            common.Server(f"{mode}-engine-reused", [common.PY, str(BENCH / "engine_reused.py")], env("reused"),
                          workdir)]


def throughput_round(server: common.Server, body: bytes, headers: list[clients.Headers]) -> tuple[float, float]:
    """(CPU ms per request, req/s) of one round of 8 concurrent clients; every request must be answered 200."""
    cpu0 = server.cpu_seconds()
    sample = clients.concurrent(server.port, common.HOOK_PATH, body, headers, CONCURRENCY, THROUGHPUT_S,
                                client="socket")
    if set(sample.statuses) != {200}:
        raise SystemExit(f"{server.name}: answered {dict(sample.statuses)}\n{server.log_tail()}")
    return (server.cpu_seconds() - cpu0) / sample.n * 1000, sample.rps


def measure(mode: str, workdir: Path, creds: common.Credentials, floor_responses: Path, pg_url: str | None,
            body: bytes, rounds: int, per_round: int) -> dict[str, list[tuple[float, float]]]:
    """Per side, (CPU ms per request, p50 ms; for dev-c8 req/s) of every counted round."""
    servers = servers_for(mode, workdir, creds, floor_responses, pg_url)
    figures: dict[str, list[tuple[float, float]]] = {side: [] for side in SIDES}
    try:
        for server in servers:
            server.start()
        if mode == "dev-c8":  # no tokens: the same headers for every request, as many as a round could ask
            per_round = 5_000 * CONCURRENCY
        n = per_round * (rounds + 1)
        alg = mode.removesuffix("-pg")
        headers = [clients.headers_for("seed", None if mode.startswith("dev") or side == "floor"
                                       else creds.tokens(alg, n), n) for side in SIDES]
        conns = [clients.Connection(server.port) for server in servers]
        for r in range(rounds + 1):  # round 0 warms every side up and is not counted
            order = [(r + k) % len(SIDES) for k in range(len(SIDES))]  # each side leads in turn
            for side in order:
                share = headers[side][r * per_round:(r + 1) * per_round]
                result = (throughput_round(servers[side], body, share) if mode == "dev-c8"
                          else round_of(servers[side], conns[side], body, share))
                if r:
                    figures[SIDES[side]].append(result)
    finally:
        for server in servers:
            server.stop()
    return figures


def _med(values: list[float]) -> float:
    return statistics.median(values)


def _verdict(share: float, budget: float) -> str:
    if budget <= 0:
        return "no budget"
    return "fits" if share <= budget else f"needs {share / budget:.2f}x cheaper"


def report(mode: str, figures: dict[str, list[tuple[float, float]]]) -> str:
    """One line per mode. Everything is in time per call: the p50, or for dev-c8 one over the req/s (each server
    saturates one core: at least 0.5x the floor's req/s is at most 2 / (the floor's req/s) per call)."""
    goal = GOALS[mode]
    throughput = mode == "dev-c8"
    floor, service, reused = (figures[side] for side in SIDES)

    def per_call(x: tuple[float, float]) -> float:  # ms
        return 1000 / x[1] if throughput else x[1]

    def ratio(x: tuple[float, float], f: tuple[float, float]) -> float:  # the goal's figure: req/s x, or p50 x
        return per_call(f) / per_call(x) if throughput else per_call(x) / per_call(f)

    allowed = [(per_call(f) / goal if throughput else goal * per_call(f)) for f in floor]
    engine = _med([per_call(s) - per_call(e) for s, e in zip(service, reused, strict=True)])
    engine_cpu = _med([s[0] - e[0] for s, e in zip(service, reused, strict=True)])
    budget = _med([a - per_call(e) for a, e in zip(allowed, reused, strict=True)])
    service_x = _med([ratio(s, f) for s, f in zip(service, floor, strict=True)])
    reused_x = _med([ratio(e, f) for e, f in zip(reused, floor, strict=True)])
    figure = "req/s" if throughput else "p50"
    sides = " | ".join(f"{side} {figure} {_med([x[1] for x in figures[side]]):.{0 if throughput else 2}f} "
                       f"cpu {_med([x[0] for x in figures[side]]):.2f}" for side in SIDES)
    return (f"{mode:<8} | {sides} | service {service_x:.2f}x, engine reused {reused_x:.2f}x | engine "
            f"{engine:.2f} ms per call, cpu {engine_cpu:.2f} | goal {'>=' if throughput else '<='} {goal:.1f}x: "
            f"budget {budget:.2f} ms, {_verdict(engine, budget)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.mode_arguments(parser, list(GOALS), DEFAULT_MODES)
    args = parser.parse_args(argv)
    modes = common.modes_of(parser, args, list(GOALS))
    body = orjson.dumps(gen.load_seed())
    print(common.machine_line("before"))
    print(f"# {args.rounds} rounds of {args.requests} seed requests per side (dev-c8: {CONCURRENCY} concurrent clients, "
          f"{THROUGHPUT_S:g} s per side); p50 and CPU in ms per request; production = a fresh JWT per call, SQLite "
          "replay store (-pg: PostgreSQL)")
    with common.workdir() as workdir, contextlib.ExitStack() as stack:
        creds = common.Credentials(workdir)
        pg_url, modes = common.postgres_for_modes(stack, modes)
        with common.service("capture", workdir, common.dev_env(workdir, "capture")) as server:
            captured = common.capture(server.port, body, {})
        floor_responses = common.write_floor_responses(workdir / "floor.json", {"seed": captured})
        for mode in modes:
            figures = measure(mode, workdir, creds, floor_responses, pg_url, body, args.rounds, args.requests)
            print(report(mode, figures), flush=True)
    print(common.machine_line("after"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
