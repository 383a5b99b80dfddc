"""Load benchmark (issue 11.8): 50 keep-alive clients in production mode, a fresh JWT per call.

    .venv/bin/python bench/load.py                 # every scenario, 60 s each (~10 minutes)
    .venv/bin/python bench/load.py --duration 10   # shorter
    .venv/bin/python bench/load.py --workers 2 --store sqlite --only plain

Scenarios, each against a freshly started service (``python -m service --workers N``, production mode: a
trusted-clients file with a real ES384 key, ``CDS_ALLOW_UNAUTHENTICATED=false``, aud from CDS_PUBLIC_BASE_URL):
  * plain: 50 clients send the seed request (full prefetch; nothing is fetched);
  * hanging: 30 clients send the seed request while 20 others send a request without prefetch whose
    fhirServer is an allowlisted local server that accepts the connection and never answers
    (bench/hanging_fhir.py, a fault injector); those 20 wait for the service's FHIR time budget
    (CDS_FHIR_TIMEOUT_S, default 2 s) and expect 412 (medications and conditions unobtainable);
for 1 and 2 workers, with the SQLite store and with a throwaway PostgreSQL cluster (skipped, with a line
saying so, when PostgreSQL is not installed).

The load generator is wrk (Debian package ``wrk``) with bench/post.lua: its CPU per request is about half
that of the leanest Python client (bench/client_ceiling.py), and on 2 shared cores every client microsecond
is taken from the service. JWTs are signed before each run (the warm-up measures the rate, and twice the
tokens are made); wrk spends one per request and counts any request that found none: such a run is measured
again once, with tokens sized from its own rate, and is marked invalid if it runs out again.
Printed per scenario: req/s, p50/p99 (wrk's, client-side), errors by HTTP status and by socket error,
the RSS of every service process (supervisor and workers, from /proc) at start and at end, and the CPU
the service and wrk used (a reader can see whether the generator took much of the machine).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
import gen  # noqa: E402
import orjson  # noqa: E402
import wrk  # noqa: E402

CLIENTS = 50
HANGING = 20
URL_PATH = common.HOOK_PATH


@dataclass
class Group:
    """One wrk process: ``connections`` clients sending ``body`` and expecting ``expect``."""

    name: str
    body: bytes
    connections: int
    expect: str


def hanging_request(fhir_base: str) -> bytes:
    """The seed order without prefetch, pointing at the hanging server (which the service may call)."""
    request = copy.deepcopy(gen.load_seed())
    request.pop("prefetch", None)
    request["fhirServer"] = fhir_base
    request["fhirAuthorization"] = {"access_token": "bench-fake-access-token", "token_type": "Bearer",
                                    "expires_in": 300, "scope": "user/*.read", "subject": "bench"}
    return orjson.dumps(request)


def run_groups(url: str, groups: list[Group], creds: common.Credentials, duration_s: float, rate: float,
               work: Path, tag: str) -> list[wrk.WrkResult]:
    """All groups at once, each a wrk process with its own pre-generated tokens: twice what ``rate`` req/s
    would spend (a warm-up can be slower than the run), at least 150 req/s per worker."""
    total = sum(g.connections for g in groups)
    runs = []
    for g in groups:
        needed = int(rate * duration_s * 2 * g.connections / total) + 20 * g.connections
        tokens = creds.tokens("ES384", needed)
        runs.append(wrk.Wrk(url, g.body, g.name, tokens, connections=g.connections, threads=min(2, g.connections),
                            duration_s=duration_s, timeout_s=30, workdir=work, name=f"{tag}-{g.name}"))
    for r in runs:
        r.start()
    return [r.wait() for r in runs]


def scenario(name: str, store: str, workers: int, groups: list[Group], creds: common.Credentials,
             database_url: str, extra_env: dict[str, str], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    env = creds.env(database_url, **extra_env)
    with common.service(f"{name}-{store}-{workers}w", work, env, workers=workers) as svc:
        time.sleep(1.0)  # let the workers finish their start-up before reading their RSS
        rss_start = svc.rss_mb()
        url = f"http://127.0.0.1:{svc.port}{URL_PATH}"
        # warm-up (not counted): measures the rate the tokens of the run are sized from
        warm = run_groups(url, groups, creds, args.warmup, 800, work, f"{name}-warm")
        rate = max(sum(w.rps for w in warm), 150 * workers)
        if any(g.expect == "412" for g in groups):
            time.sleep(2.5)  # the warm-up's hanging calls end at the service's FHIR budget (2 s), not with wrk
        for attempt in (1, 2):
            cpu0 = svc.cpu_seconds()
            t0 = time.perf_counter()
            results = run_groups(url, groups, creds, args.duration, rate, work, name)
            wall = time.perf_counter() - t0
            service_cpu = (svc.cpu_seconds() - cpu0) / wall
            if attempt == 2 or not any(r.exhausted for r in results):
                break
            # the run outran its tokens (the warm-up was slower): run again, sized from this run's rate
            print(f"# {name}: tokens ran out at {sum(r.rps for r in results):.0f} req/s; measuring again", flush=True)
            rate = 1.5 * sum(r.rps for r in results)
            time.sleep(2.5)
        rss_end = svc.rss_mb()
    out = {"scenario": name, "store": store, "workers": workers, "rss_start_mb": rss_start, "rss_end_mb": rss_end,
           "service_cpu_cores": service_cpu, "wrk_cpu_cores": sum(r.cpu_s for r in results) / wall,
           "service_cpu_ms_per_request": service_cpu * wall / max(1, sum(r.requests for r in results)) * 1000,
           "groups": []}
    for g, r in zip(groups, results):
        errors = {k: v for k, v in r.errors().items() if k != f"HTTP {g.expect}"}
        out["groups"].append({"name": g.name, "clients": g.connections, "expect": g.expect, "rps": r.rps,
                              "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "max_ms": r.max_ms, "requests": r.requests,
                              "statuses": r.statuses, "errors": errors, "exhausted": r.exhausted})
    return out


def print_result(r: dict[str, Any]) -> None:
    def rss(processes: dict[str, float]) -> str:
        parts = " + ".join(f"{role.split()[0]} {mb:.0f}" for role, mb in processes.items())
        return f"{sum(processes.values()):.0f}" + (f" ({parts})" if len(processes) > 1 else "")

    for i, g in enumerate(r["groups"]):
        lead = f"{r['scenario']:<9}{r['store']:<7}{r['workers']:>3} " if i == 0 else " " * 20
        errors = ", ".join(f"{k}: {v}" for k, v in g["errors"].items()) or "none"
        if g["exhausted"]:
            errors += f", RAN OUT OF TOKENS: {g['exhausted']} (figures invalid)"
        line = (f"{lead}{g['clients']:>3} x {g['name']:<8}{g['rps']:>7.0f}{g['p50_ms']:>8.1f}{g['p99_ms']:>8.1f}"
                f"  expect {g['expect']}; errors: {errors}")
        if i == 0:
            line += (f"  | RSS MiB {rss(r['rss_start_mb'])} -> {rss(r['rss_end_mb'])}; CPU cores: service "
                     f"{r['service_cpu_cores']:.2f} ({r['service_cpu_ms_per_request']:.1f} ms per request), "
                     f"wrk {r['wrk_cpu_cores']:.2f}")
        print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60,
                        help="measured seconds per scenario (60); the hanging clients wait ~2 s per answer, so >= 10")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per scenario (default: duration/10, 2-5)")
    parser.add_argument("--workers", type=int, action="append", help="uvicorn workers; repeatable (1 and 2)")
    parser.add_argument("--store", action="append", choices=["sqlite", "pg"], help="repeatable (both)")
    parser.add_argument("--only", action="append", choices=["plain", "hanging"], help="repeatable (both)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON to FILE")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (server logs)")
    args = parser.parse_args(argv)
    args.warmup = args.warmup or min(5.0, max(2.0, args.duration / 10))
    workers = args.workers or [1, 2]
    stores = args.store or ["sqlite", "pg"]
    kinds = args.only or ["plain", "hanging"]
    if not wrk.available():
        print("load.py needs wrk: apt-get install wrk (Debian package)", file=sys.stderr)
        return 2

    started = time.perf_counter()
    results: dict[str, Any] = {"scenarios": [], "skipped": [], "machine_before": common.machine_line("before")}
    print(f"# axSpA CDS Hooks service under load (bench/load.py --duration {args.duration:g})")
    print(results["machine_before"])
    print(f"# production mode, ES384, a fresh JWT per call; wrk keep-alive clients; {args.duration:g} s per scenario "
          f"after {args.warmup:g} s of warm-up; latencies in ms, client-side (wrk)")
    print(f"{'scenario':<9}{'store':<7}{'wk':>3} {'clients':<14}{'req/s':>7}{'p50':>8}{'p99':>8}")
    seed = orjson.dumps(gen.load_seed())
    with contextlib.ExitStack() as stack:
        work = stack.enter_context(common.workdir(keep=args.keep))
        creds = common.Credentials(work)
        hang = stack.enter_context(common.Server("hanging-fhir", [common.PY, str(BENCH / "hanging_fhir.py")], {},
                                                 work, ready_path=None))
        fhir_base = f"http://127.0.0.1:{hang.port}/fhir"
        plans = {"plain": [Group("seed", seed, CLIENTS, "200")],
                 "hanging": [Group("seed", seed, CLIENTS - HANGING, "200"),
                             Group("hanging", hanging_request(fhir_base), HANGING, "412")]}
        for store in stores:
            if store == "pg":
                pg, why = stack.enter_context(common.postgres_or_none())
                if pg is None:
                    line = f"PostgreSQL scenarios skipped: PostgreSQL is not installed here ({why})"
                    print(line)
                    results["skipped"].append(line)
                    continue
            for n_workers in workers:
                for kind in kinds:
                    if store == "pg":
                        db = f"load_{kind}_{n_workers}w"
                        database_url = pg.create_database(db)
                    else:
                        database_url = f"sqlite:///{work / f'{kind}-{n_workers}w.sqlite3'}"
                    allowlist = f"{common.SEED_FHIR_SERVER},{fhir_base}"
                    r = scenario(kind, store, n_workers, plans[kind], creds, database_url,
                                 {"CDS_FHIR_ALLOWLIST": allowlist}, args, work)
                    results["scenarios"].append(r)
                    print_result(r)
    print("RSS: all the service's processes, from /proc (with 2 workers: uvicorn's supervisor, each worker and "
          "multiprocessing's resource tracker); CPU cores: CPU seconds per second of the run (2 = both cores).")
    return common.finish(results, started, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
