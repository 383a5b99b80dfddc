"""The service beside the framework floor, in one run: interleaved rounds, low-overhead clients, issue 12's goals.

    .venv/bin/python bench/bench.py                    # every row, ~3 minutes on 2 cores
    .venv/bin/python bench/bench.py --quick            # a short run that proves the script works (seconds)
    .venv/bin/python bench/bench.py --only seed        # one row (or a prefix: --only prod)
    .venv/bin/python bench/bench.py --json out.json    # also write the figures as JSON

How it measures:
  * The service runs as an operator runs it, ``python -m service --port P`` with CDS_* variables, at its
    defaults otherwise (log level INFO: the access log is on; it goes to a file). Development mode:
    ``CDS_ALLOW_UNAUTHENTICATED=true`` and a temporary SQLite store. Production mode: a trusted-clients file in
    a temporary directory holding a real ES384 and a real RS384 key, ``CDS_ALLOW_UNAUTHENTICATED=false``, every
    JWT's ``aud`` derived from ``CDS_PUBLIC_BASE_URL``, a fresh JWT per call (unique ``jti``, generated before
    the clock starts), and the SQLite or a throwaway PostgreSQL replay store.
  * The floor (bench/floor.py) is a bare FastAPI route under the same uvicorn: it JSON-parses the same body and
    answers the bytes the service answered for that row (captured first). ratio = service / floor.
  * Each row alternates the service and the floor in rounds (service first in even rounds, floor first in odd
    ones), each round ~``--round-seconds`` per side after a warm-up. A round gives each side's p50, p99 and
    req/s; the table prints the median over the rounds, and the ratio is the median of the per-round ratios
    (each round's pair was measured under the same machine load), with its min-max over the rounds.
  * Latency rows: one keep-alive ``http.client.HTTPConnection``, one request at a time. Throughput rows:
    8 client processes, each on its own keep-alive connection, each request built before the clock starts
    (``--throughput-client``, chosen by bench/client_ceiling.py: threads contend for the GIL, and http.client
    costs ~3x the client CPU of the bare-socket client, which held the floor back).
  * "cpu x" is the service's CPU per request over the floor's (from /proc): steadier than latency when the
    machine is busy. "client" is the client's own CPU per request (us): on 2 shared cores it is taken from
    the server. The "# machine" lines before and after give nproc and the load average, to judge the noise.
  * docs/performance.md explains every figure and records runs.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import clients  # noqa: E402
import common  # noqa: E402
import gen  # noqa: E402
import orjson  # noqa: E402


@dataclass(frozen=True)
class Row:
    name: str
    what: str
    server: str  # which service process: "dev", "prod-sqlite" or "prod-pg"
    case: str  # request body: "seed", "h1000", "h5000"
    concurrency: int = 1
    alg: str | None = None  # production mode: the JWT algorithm
    goal: str = ""

    def met(self, r: dict[str, Any]) -> bool | None:
        """Issue 12's goal for this row, or None when the row has none."""
        if self.name == "seed":
            return r["ratio_p50"] <= 2.0
        if self.name == "h1000":
            return r["ratio_p50"] <= 2.5 and r["service"]["p50"] <= 60
        if self.name == "seed-c8":
            return r["ratio_rps"] >= 0.5
        if self.name.startswith("prod-"):
            return r["ratio_p50"] <= 4.0
        return None


ROWS = [
    Row("seed", "seed, development mode", "dev", "seed", goal="<= 2.0x"),
    Row("h1000", "1,000 MS + 200 Cond + 50 Allergy", "dev", "h1000", goal="<= 2.5x, <= 60 ms"),
    Row("h5000", "5,000 MS + 1,000 Cond + 250 Allergy", "dev", "h5000", goal="(none)"),
    Row("seed-c8", "seed, 8 concurrent clients", "dev", "seed", concurrency=8, goal=">= 0.5x req/s"),
    Row("prod-es384-sqlite", "seed, production, ES384, SQLite", "prod-sqlite", "seed", alg="ES384", goal="<= 4.0x"),
    Row("prod-rs384-sqlite", "seed, production, RS384, SQLite", "prod-sqlite", "seed", alg="RS384", goal="<= 4.0x"),
    Row("prod-es384-pg", "seed, production, ES384, PostgreSQL", "prod-pg", "seed", alg="ES384", goal="<= 4.0x"),
    Row("prod-rs384-pg", "seed, production, RS384, PostgreSQL", "prod-pg", "seed", alg="RS384", goal="<= 4.0x"),
]
BODIES = {"seed": lambda: gen.load_seed(), "h1000": lambda: gen.history_request(1000),
          "h5000": lambda: gen.history_request(5000)}


# ----------------------------------------------------------------------------- one row, interleaved rounds
def measure_row(row: Row, port: dict[str, int], body: bytes, creds: common.Credentials | None,
                args: argparse.Namespace) -> dict[str, Any]:
    """Service and floor alternately, ``args.rounds`` rounds; per-round figures and their medians."""
    case = f"{row.server}:{row.case}"

    def tokens(n: int) -> list[str] | None:
        return creds.tokens(row.alg, n) if row.alg else None

    rounds: dict[str, list[clients.Sample]] = {"service": [], "floor": []}
    cpu: dict[str, list[float]] = {"service": [], "floor": []}  # server CPU seconds used during each round
    servers = {"service": args.servers[row.server], "floor": args.servers["floor"]}
    if row.concurrency == 1:
        conns = {side: clients.CLIENTS[args.latency_client](port[side]) for side in ("service", "floor")}
        warm = {side: clients.sequential(conns[side], common.HOOK_PATH, body,
                                         clients.headers_for(case, tokens(args.warmup), args.warmup))
                for side in ("service", "floor")}
        per_request_s = statistics.median(warm["service"].latencies_ms) / 1000
        n = max(5, min(3000, round(args.round_seconds / per_request_s)))
        # every token of the row, made now (before the first timed round); the floor gets the same headers
        headers = clients.headers_for(case, tokens(n * args.rounds), n * args.rounds)
    else:
        n = 0
        # more requests per round than the floor answers on 2 cores (tokens are costly, plain headers are not)
        estimate = int(args.throughput_seconds * (6000 if row.alg else 20000))
        headers = clients.headers_for(case, tokens(estimate * args.rounds), estimate * args.rounds)
    for r in range(args.rounds):
        for side in (("service", "floor") if r % 2 == 0 else ("floor", "service")):
            mine = headers[r * n:(r + 1) * n] if n else headers[r::args.rounds]
            cpu0 = servers[side].cpu_seconds()
            if row.concurrency == 1:
                sample = clients.sequential(conns[side], common.HOOK_PATH, body, mine)
            else:
                sample = clients.concurrent(port[side], common.HOOK_PATH, body, mine, row.concurrency,
                                            args.throughput_seconds, client=args.throughput_client)
            cpu[side].append(servers[side].cpu_seconds() - cpu0)
            rounds[side].append(sample)
    if row.concurrency == 1:
        for conn in conns.values():
            conn.close()

    def summary(side: str) -> dict[str, Any]:
        samples = rounds[side]
        statuses: dict[str, int] = {}
        for s in samples:
            for status, count in s.statuses.items():
                statuses[str(status)] = statuses.get(str(status), 0) + count
        return {"p50": statistics.median(s.p50 for s in samples), "p99": statistics.median(s.p99 for s in samples),
                "rps": statistics.median(s.rps for s in samples), "n": sum(s.n for s in samples),
                "statuses": statuses,
                "server_cpu": statistics.median(c / s.elapsed_s for c, s in zip(cpu[side], samples)),
                "server_cpu_ms_per_request": statistics.median(c / s.n * 1000 for c, s in zip(cpu[side], samples)),
                "client_us_per_request": statistics.median(s.client_cpu_s / s.n * 1e6 for s in samples),
                "rounds": [{"p50": s.p50, "p99": s.p99, "rps": s.rps, "n": s.n} for s in samples]}

    def ratios(figure: str) -> list[float]:
        return [getattr(s, figure) / getattr(f, figure) for s, f in zip(rounds["service"], rounds["floor"])]

    result = {"row": row.name, "what": row.what, "concurrency": row.concurrency, "request_bytes": len(body),
              "service": summary("service"), "floor": summary("floor"), "goal": row.goal}
    for figure in ("p50", "p99", "rps"):
        values = ratios(figure)
        result[f"ratio_{figure}"] = statistics.median(values)
        result[f"ratio_{figure}_range"] = [min(values), max(values)]
    # server CPU per request, service over floor: steadier than latency on a busy machine (/proc: 10 ms ticks)
    result["ratio_cpu"] = statistics.median(
        (cs / s.n) / (cf / f.n) if cf else float("nan")
        for cs, cf, s, f in zip(cpu["service"], cpu["floor"], rounds["service"], rounds["floor"]))
    result["met"] = row.met(result)
    return result


# ----------------------------------------------------------------------------- printing
HEADER = (f"{'row':<18}{'conc':>4} |{'svc p50':>8}{'p99':>7}{'req/s':>7} |{'flr p50':>8}{'p99':>7}{'req/s':>7} |"
          f"{'ratio':>7}{'(min-max)':>13}{'p99 x':>6}{'rps x':>6}{'cpu x':>6} |{'client':>7} | {'goal':<18}{'result'}")


def row_line(r: dict[str, Any]) -> str:
    s, f = r["service"], r["floor"]
    key = "rps" if r["concurrency"] > 1 else "p50"  # the figure the goal is about
    low, high = r[f"ratio_{key}_range"]
    verdict = {True: "MET", False: "MISSED", None: "-"}[r["met"]]
    bad = {k: v for k, v in s["statuses"].items() if k != "200"} | {k: v for k, v in f["statuses"].items()
                                                                      if k != "200"}
    return (f"{r['row']:<18}{r['concurrency']:>4} |{s['p50']:>8.2f}{s['p99']:>7.2f}{s['rps']:>7.0f} |"
            f"{f['p50']:>8.2f}{f['p99']:>7.2f}{f['rps']:>7.0f} |{r[f'ratio_{key}']:>6.2f}x"
            f"{f' ({low:.2f}-{high:.2f})':>13}{r['ratio_p99']:>6.2f}{r['ratio_rps']:>6.2f}{r['ratio_cpu']:>6.1f} |"
            f"{s['client_us_per_request']:>7.0f} | {r['goal']:<18}{verdict}"
            + (f"  UNEXPECTED STATUSES {bad}" if bad else ""))


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 short rounds per row: checks the script works")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this row (or the rows starting with NAME); repeatable. Rows: "
                             + ", ".join(r.name for r in ROWS))
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON to FILE")
    parser.add_argument("--rounds", type=int, help="rounds per row (default 7, --quick 3)")
    parser.add_argument("--round-seconds", type=float, help="latency rows: seconds per side per round (1.0)")
    parser.add_argument("--throughput-seconds", type=float, help="throughput rows: seconds per side per round (2)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up requests per latency row and side")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (server logs)")
    parser.add_argument("--latency-client", choices=list(clients.CLIENTS), default="http.client")
    parser.add_argument("--throughput-client", choices=list(clients.CLIENTS), default="socket")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (3 if args.quick else 7)
    args.round_seconds = args.round_seconds or (0.3 if args.quick else 1.0)
    args.throughput_seconds = args.throughput_seconds or (0.5 if args.quick else 2.0)
    names = {r.name for r in ROWS}  # --only NAME: that row if NAME is a row's name, else every row starting with it
    rows = [r for r in ROWS if not args.only
            or any(r.name == o if o in names else r.name.startswith(o) for o in args.only)]
    if not rows:
        parser.error(f"--only matches no row (rows: {', '.join(r.name for r in ROWS)})")

    started = time.perf_counter()
    print("# axSpA CDS Hooks service beside the framework floor (bench/bench.py" + (" --quick" if args.quick else "")
          + ")")
    results: dict[str, Any] = {"rows": [], "skipped": [], "quick": args.quick,
                               "argv": sys.argv[1:] if argv is None else argv,
                               "machine_before": common.machine_line("before")}
    print(results["machine_before"])
    print(f"# {args.rounds} interleaved rounds per row; latency rows ~{args.round_seconds:g} s per side per round "
          f"with {args.latency_client} (one keep-alive connection); throughput rows {args.throughput_seconds:g} s "
          f"per side per round, 8 processes x {args.throughput_client}. Times in ms, client-side.")
    with contextlib.ExitStack() as stack:
        work = stack.enter_context(common.workdir(keep=args.keep))
        # ---- the servers each selected row needs, started once; then the floor with their captured answers
        needed = {r.server for r in rows}
        creds = common.Credentials(work) if needed & {"prod-sqlite", "prod-pg"} else None
        envs: dict[str, dict[str, str]] = {}
        if "dev" in needed:
            envs["dev"] = common.dev_env(work, "dev")
        if "prod-sqlite" in needed:
            envs["prod-sqlite"] = creds.env(f"sqlite:///{work / 'prod.sqlite3'}")
        if "prod-pg" in needed:
            pg, why = stack.enter_context(common.postgres_or_none())
            if pg is None:
                line = f"PostgreSQL rows skipped: PostgreSQL is not installed here ({why})"
                print(f"# {line}")
                results["skipped"].append(line)
                rows = [r for r in rows if r.server != "prod-pg"]
            else:
                envs["prod-pg"] = creds.env(pg.url)
        args.servers = {name: stack.enter_context(common.service(name, work, env)) for name, env in envs.items()}
        bodies = {case: orjson.dumps(BODIES[case]()) for case in {r.case for r in rows}}
        captured = {}
        for row in rows:
            key = f"{row.server}:{row.case}"
            if key not in captured:
                auth = {"Authorization": f"Bearer {creds.tokens(row.alg, 1)[0]}"} if row.alg else {}
                captured[key] = common.capture(args.servers[row.server].port, bodies[row.case], auth)
                if captured[key]["status"] != 200:
                    raise SystemExit(f"bench: {key} answered {captured[key]['status']}: "
                                     f"{captured[key]['bytes'][:300]!r}\n{args.servers[row.server].log_tail()}")
        responses = common.write_floor_responses(work / "floor-responses.json", captured)
        args.servers["floor"] = stack.enter_context(common.floor(work, responses))
        rss_start = {name: sum(s.rss_mb().values()) for name, s in args.servers.items()}

        print(HEADER)
        print("-" * len(HEADER))
        for row in rows:
            port = {"service": args.servers[row.server].port, "floor": args.servers["floor"].port}
            result = measure_row(row, port, bodies[row.case], creds, args)
            results["rows"].append(result)
            print(row_line(result), flush=True)
        rss_end = {name: sum(s.rss_mb().values()) for name, s in args.servers.items()}

    by_name = {r["row"]: r for r in results["rows"]}
    print()
    print("ratio = median over rounds of service/floor (p50; req/s for concurrency 8); (min-max) over the rounds;")
    print("cpu x = the service's CPU per request over the floor's (from /proc, 10 ms ticks); client = the client's"
          " own CPU per request to the service, in us.")
    for r in results["rows"]:
        if r["concurrency"] > 1:
            print(f"{r['row']}: CPU used by the service {r['service']['server_cpu']:.2f} cores, by the floor "
                  f"{r['floor']['server_cpu']:.2f} (one uvicorn process each: 1.00 = saturated)")
    if "h1000" in by_name and "h5000" in by_name:
        grow = by_name["h5000"]["service"]["p50"] / by_name["h1000"]["service"]["p50"]
        floor_grow = by_name["h5000"]["floor"]["p50"] / by_name["h1000"]["floor"]["p50"]
        print(f"5,000 vs 1,000 statements: service p50 x{grow:.1f}, floor p50 x{floor_grow:.1f} for 5x the "
              f"statements (linear: about x5)")
    print("RSS (MiB) at start -> end: " + ", ".join(f"{n} {rss_start[n]:.0f} -> {rss_end[n]:.0f}" for n in rss_start))
    for line in results["skipped"]:
        print(line)
    results["rss_mb"] = {"start": rss_start, "end": rss_end}
    return common.finish(results, started, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
