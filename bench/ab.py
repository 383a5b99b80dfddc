"""Two checkouts of the service side by side, in one run: is a change faster, and by how much?

    .venv/bin/python bench/ab.py ../before .                 # seed, development and production (ES384, RS384)
    .venv/bin/python bench/ab.py ../before . --modes dev --rounds 12
    .venv/bin/python bench/ab.py ../before . --modes ES384-pg,RS384-pg   # the PostgreSQL replay store

Each checkout runs as an operator runs it (``python -m service`` from its own directory with its own
``.venv``; development mode, or production mode with a fresh JWT per call and a SQLite replay store or a
throwaway PostgreSQL database both share, as in bench/bench.py). The two services alternate in rounds (A first
in even rounds, B first in odd ones), one keep-alive ``http.client`` connection each, one request at a time; per
round each gets ``--requests`` seed requests (the first not counted) and gives its CPU per request (user + system
from /proc) and its p50. Printed per mode: the median of each side's figures over the rounds, and the median of
the per-round ratios B/A (each pair measured seconds apart under the same machine load: on a shared VM whose
speed drifts by +-30% from one minute to the next, the ratio is the figure to read, and CPU the steadier one).
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

MODES = ("dev", "ES384", "RS384", "ES384-pg", "RS384-pg")  # production: SQLite, or "-pg" PostgreSQL


def checkout_service(name: str, checkout: Path, workdir: Path, env: dict[str, str]) -> common.Server:
    python = checkout / ".venv" / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{checkout}: no .venv (run its `bash scripts/test.sh` once)")
    return common.Server(name, [str(python), "-m", "service", "--workers", "1"], env, workdir, cwd=checkout)


def round_of(server: common.Server, conn: clients.Connection, body: bytes, headers: list[clients.Headers],
             ) -> tuple[float, float]:
    """(CPU ms per request, p50 ms) of one round; every request must be answered 200. The first request is not
    counted: while the other side ran, the keep-alive timeout (5 s) may have closed this idle connection."""
    conn.post(common.HOOK_PATH, body, headers[0])
    cpu0 = server.cpu_seconds()
    sample = clients.sequential(conn, common.HOOK_PATH, body, headers[1:])
    if set(sample.statuses) != {200}:
        raise SystemExit(f"{server.name}: answered {dict(sample.statuses)}\n{server.log_tail()}")
    return (server.cpu_seconds() - cpu0) / sample.n * 1000, sample.p50


def compare(mode: str, checkouts: tuple[Path, Path], workdir: Path, creds: common.Credentials, rounds: int,
            per_round: int, pg_url: str | None) -> str:
    body = orjson.dumps(gen.load_seed())
    servers: list[common.Server] = []
    headers = []
    try:  # whatever fails, every server started is stopped
        for tag, checkout in zip("AB", checkouts, strict=True):
            name = f"{tag}-{mode}"
            store = pg_url if mode.endswith("-pg") and pg_url else f"sqlite:///{workdir / name}.sqlite3"
            env = common.dev_env(workdir, name) if mode == "dev" else creds.env(store)
            servers.append(checkout_service(name, checkout, workdir, env).start())
            n = per_round * (rounds + 1)
            alg = mode.removesuffix("-pg")
            headers.append(clients.headers_for("seed", creds.tokens(alg, n) if mode != "dev" else None, n))
        conns = [clients.Connection(server.port) for server in servers]
        figures: list[list[tuple[float, float]]] = [[], []]
        for r in range(rounds + 1):  # round 0 warms both up and is not counted
            for side in (0, 1) if r % 2 == 0 else (1, 0):
                share = headers[side][r * per_round:(r + 1) * per_round]
                result = round_of(servers[side], conns[side], body, share)
                if r:
                    figures[side].append(result)
    finally:
        for server in servers:
            server.stop()
    a, b = figures

    def med(side: list[tuple[float, float]], k: int) -> float:
        return statistics.median(x[k] for x in side)

    cpu_x = statistics.median(y[0] / x[0] for x, y in zip(a, b, strict=True))
    p50_x = statistics.median(y[1] / x[1] for x, y in zip(a, b, strict=True))
    return (f"{mode:<8} | A cpu {med(a, 0):5.2f} p50 {med(a, 1):5.2f} | B cpu {med(b, 0):5.2f} p50 {med(b, 1):5.2f} "
            f"| B/A cpu {cpu_x:.3f} p50 {p50_x:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path, help="checkout A (before)")
    parser.add_argument("b", type=Path, help="checkout B (after)")
    common.mode_arguments(parser, MODES, MODES)
    args = parser.parse_args(argv)
    modes = common.modes_of(parser, args, MODES)
    checkouts = (args.a.resolve(), args.b.resolve())
    print(common.machine_line("before"))
    print(f"# A = {checkouts[0]}, B = {checkouts[1]}; {args.rounds} rounds of {args.requests} seed requests per side; "
          "CPU and p50 in ms per request")
    with common.workdir() as workdir, contextlib.ExitStack() as stack:
        creds = common.Credentials(workdir)
        pg_url, modes = common.postgres_for_modes(stack, modes)
        for mode in modes:
            print(compare(mode, checkouts, workdir, creds, args.rounds, args.requests, pg_url), flush=True)
    print(common.machine_line("after"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
