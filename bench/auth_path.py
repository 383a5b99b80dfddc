"""The production path's pieces, in process: what a JWT verification and a replay claim cost, one at a time.

    .venv/bin/python bench/auth_path.py

Printed, per piece, the wall time and the process's CPU per call (the best of 5 rounds of ``--calls`` calls, each
call with a fresh token or ``jti``; the rounds of pieces printed together alternate):

* ``jwt.decode`` (PyJWT's whole decode, as the service called it before) beside the signature check alone
  (``PyJWK.Algorithm.verify``, what the service calls now), for ES384 and RS384;
* ``Authenticator.verify_token`` as the service runs it (our parse and claim checks, the signature, the claim);
* the SQLite claim as ``verify_token`` makes it (``claim_jti_async``: on the event loop, in a thread when that
  would wait, one claim in 300) beside every claim in anyio's worker thread (as the service did before);
* the PostgreSQL claim (a throwaway cluster; skipped without PostgreSQL): called directly, through anyio's worker
  thread (as before) and on the event loop's own async pool (as ``verify_token`` makes it now). A thread pool of
  the claims' own (``loop.run_in_executor``) was tried first: no cheaper than anyio's hop on uvloop (0.32-0.33
  against 0.28-0.34 ms of CPU).

It runs on uvloop, as uvicorn runs the service. bench/bench.py and bench/ab.py measure whole calls over sockets;
this says which piece of the production path costs what.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import common  # noqa: E402
import jwt  # noqa: E402
from jwt.utils import base64url_decode  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402

from service.app import create_app  # noqa: E402
from service.config import load_settings  # noqa: E402
from service.storage import PostgresStore, SqliteStore  # noqa: E402


async def timed(pieces: list[tuple[str, Callable[[int], Awaitable[object] | object]]], calls: int) -> None:
    """Wall and CPU per call in ms, the best of 5 rounds; the pieces' rounds alternate (A B A B ...: a VM whose speed
    drifts slows each alike); each call gets a fresh index (a fresh token or jti)."""
    walls: dict[str, list[float]] = {name: [] for name, _ in pieces}
    cpus: dict[str, list[float]] = {name: [] for name, _ in pieces}
    i = 0
    for round_ in range(6):  # the first round warms up
        for name, one in pieces:
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(calls):
                result = one(i)
                if inspect.isawaitable(result):
                    await result
                i += 1
            if round_:
                walls[name].append((time.perf_counter() - t0) / calls * 1000)
                cpus[name].append((time.process_time() - c0) / calls * 1000)
    for name, _ in pieces:
        print(f"{name:<64} {min(walls[name]):8.3f} {min(cpus[name]):8.3f}", flush=True)


async def main(calls: int) -> None:
    print(common.machine_line("before"))
    print(f"{'piece (ms per call, best of 5 rounds of ' + str(calls) + ')':<64} {'wall':>8} {'CPU':>8}")
    with common.workdir() as workdir:
        creds = common.Credentials(workdir)
        for alg, key in creds.keys.items():
            public = jwt.PyJWK(key.public_jwk())
            tokens = creds.tokens(alg, 12 * calls)

            def decode(i: int, token_list: list[str] = tokens, k: jwt.PyJWK = public, a: str = alg) -> object:
                return jwt.decode(token_list[i], key=k, algorithms=[a], leeway=60,
                                  options={"verify_aud": False, "require": ["exp", "iat", "iss", "jti"]})

            def verify(i: int, token_list: list[str] = tokens, k: jwt.PyJWK = public) -> object:
                signing_input, _, signature = token_list[i].rpartition(".")
                return k.Algorithm.verify(signing_input.encode(), k.key, base64url_decode(signature))

            await timed([(f"{alg} jwt.decode (PyJWT, before)", decode),
                         (f"{alg} signature alone (PyJWK.Algorithm.verify, now)", verify)], calls)

        for name, value in creds.env(f"sqlite:///{workdir / 'auth.sqlite3'}").items():
            os.environ[name] = value
        app = create_app(load_settings())
        async with app.router.lifespan_context(app):
            auth = app.state.runtime.authenticator
            for alg in creds.keys:
                tokens = creds.tokens(alg, 6 * calls)
                await timed([(f"{alg} Authenticator.verify_token (SQLite store)",
                              lambda i, t=tokens: auth.verify_token(t[i], creds.audience))], calls)

        store = SqliteStore(str(workdir / "claims.sqlite3"))
        store.claim_jti("iss", "first", time.time() + 300)  # the first claim runs the clean-up
        later = time.time() + 300

        async def as_the_service(i: int) -> bool:  # service.auth.tokens (before: every claim in a thread)
            if hasattr(store, "claim_jti_async"):
                return await store.claim_jti_async("iss", f"now-{i}", later)
            return await run_in_threadpool(store.claim_jti, "iss", f"now-{i}", later)

        await timed([("SQLite claim as verify_token makes it (on the loop)", as_the_service),
                     ("SQLite claim through anyio's worker thread (before)", lambda i: run_in_threadpool(
                         store.claim_jti, "iss", f"thread-{i}", later))], calls)
        store.close()

        with common.postgres_or_none() as (pg, why):
            if pg is None:
                print(f"# PostgreSQL skipped: {why}")
            else:
                pg_store = PostgresStore(pg.url)
                pg_store.claim_jti("iss", "first", later)
                pieces = [("PostgreSQL claim, called directly", lambda i: pg_store.claim_jti("iss", f"direct-{i}", later)),
                          ("PostgreSQL claim through anyio's worker thread (before)",
                           lambda i: run_in_threadpool(pg_store.claim_jti, "iss", f"thread-{i}", later))]
                if hasattr(pg_store, "claim_jti_async"):
                    pieces.append(("PostgreSQL claim on the loop's async pool (as verify_token)",
                                   lambda i: pg_store.claim_jti_async("iss", f"async-{i}", later)))
                await timed(pieces, calls)
                if hasattr(pg_store, "aclose"):
                    await pg_store.aclose()
                pg_store.close()
    print(common.machine_line("after"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=500, help="calls per round (default 500)")
    import uvloop  # the event loop uvicorn runs the service on

    uvloop.run(main(parser.parse_args().calls))
