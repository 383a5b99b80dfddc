"""What a goal of issue 12 leaves the clinical engine: the floor, the service, and the service with the engine's
answer reused, side by side in one run.

    .venv/bin/python bench/budget.py                   # development (goal 2.0x), production ES384 and RS384 (4.0x)
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

#: issue 12: the seed in development, and in production (SQLite replay store, or "-pg" PostgreSQL)
GOALS = {"dev": 2.0, "ES384": 4.0, "RS384": 4.0, "ES384-pg": 4.0, "RS384-pg": 4.0}
DEFAULT_MODES = ("dev", "ES384", "RS384")
SIDES = ("floor", "service", "engine reused")


def servers_for(mode: str, workdir: Path, creds: common.Credentials, floor_responses: Path,
                pg_url: str | None) -> list[common.Server]:
    def env(name: str) -> dict[str, str]:
        if mode == "dev":
            return common.dev_env(workdir, f"{mode}-{name}")
        return creds.env(pg_url if mode.endswith("-pg") and pg_url else f"sqlite:///{workdir / f'{mode}-{name}.sqlite3'}")

    return [common.floor(workdir, floor_responses),
            common.service(f"{mode}-service", workdir, env("svc")),
            common.Server(f"{mode}-engine-reused", [common.PY, str(BENCH / "engine_reused.py")], env("reused"),
                          workdir)]


def measure(mode: str, workdir: Path, creds: common.Credentials, floor_responses: Path, pg_url: str | None,
            body: bytes, rounds: int, per_round: int) -> dict[str, list[tuple[float, float]]]:
    """Per side, (CPU ms per request, p50 ms) of every counted round."""
    servers = servers_for(mode, workdir, creds, floor_responses, pg_url)
    figures: dict[str, list[tuple[float, float]]] = {side: [] for side in SIDES}
    try:
        for server in servers:
            server.start()
        n = per_round * (rounds + 1)
        alg = mode.removesuffix("-pg")
        headers = [clients.headers_for("seed", None if mode == "dev" or side == "floor" else creds.tokens(alg, n), n)
                   for side in SIDES]
        conns = [clients.Connection(server.port) for server in servers]
        for r in range(rounds + 1):  # round 0 warms every side up and is not counted
            order = [(r + k) % len(SIDES) for k in range(len(SIDES))]  # each side leads in turn
            for side in order:
                result = round_of(servers[side], conns[side], body, headers[side][r * per_round:(r + 1) * per_round])
                if r:
                    figures[SIDES[side]].append(result)
    finally:
        for server in servers:
            server.stop()
    return figures


def report(mode: str, figures: dict[str, list[tuple[float, float]]]) -> str:
    goal = GOALS[mode]
    floor, service, reused = (figures[side] for side in SIDES)

    def med(values: list[float]) -> float:
        return statistics.median(values)

    p50 = {side: med([x[1] for x in figures[side]]) for side in SIDES}
    cpu = {side: med([x[0] for x in figures[side]]) for side in SIDES}
    engine_p50 = med([s[1] - e[1] for s, e in zip(service, reused, strict=True)])
    engine_cpu = med([s[0] - e[0] for s, e in zip(service, reused, strict=True)])
    budget = med([goal * f[1] - e[1] for f, e in zip(floor, reused, strict=True)])
    needs = f"needs {engine_p50 / budget:.2f}x cheaper" if budget > 0 else "no budget"
    if 0 < engine_p50 <= budget:
        needs = "fits"
    service_x = med([s[1] / f[1] for s, f in zip(service, floor, strict=True)])
    reused_x = med([e[1] / f[1] for e, f in zip(reused, floor, strict=True)])
    sides = " | ".join(f"{side} p50 {p50[side]:.2f} cpu {cpu[side]:.2f}" for side in SIDES)
    return (f"{mode:<8} | {sides} | service {service_x:.2f}x, engine reused {reused_x:.2f}x | engine p50 "
            f"{engine_p50:.2f} cpu {engine_cpu:.2f} | goal <= {goal:.1f}x: budget {budget:.2f} ms, {needs}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.mode_arguments(parser, list(GOALS), DEFAULT_MODES)
    args = parser.parse_args(argv)
    modes = common.modes_of(parser, args, list(GOALS))
    body = orjson.dumps(gen.load_seed())
    print(common.machine_line("before"))
    print(f"# {args.rounds} rounds of {args.requests} seed requests per side; p50 and CPU in ms per request; "
          "production = a fresh JWT per call, SQLite replay store (-pg: PostgreSQL)")
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
