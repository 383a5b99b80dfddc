"""Where the time goes, in-process: per-stage timings, the whole app's CPU per request, the collector, a profile.

    .venv/bin/python bench/profile_hot.py                  # seed and a 1,000-statement history: stages + whole app
    .venv/bin/python bench/profile_hot.py 5000             # ... a 5,000-statement history instead
    .venv/bin/python bench/profile_hot.py --profile seed   # then a pyinstrument profile of 2,000 seed requests
    .venv/bin/python bench/profile_hot.py --profile h1000 --html out.html

What it prints, for the seed and the N-statement history (development mode, no JWT, no socket):

* **stages**: each step of a hook call run on its own, in the order the service runs them (body decode, request
  model, relevance check, prefetch resolution, the hook's reading, history, rules and cards, response
  serialisation). Each figure is the lowest of 7 batch means (a batch: enough calls for ~0.2 s), so that other
  load on the machine inflates it as little as possible.
* **whole app**: the same request through the whole ASGI app (middleware, routing, dependencies, the pipeline,
  metrics, the card ledger), called directly with an in-memory receive/send: no uvicorn, no socket, no client.
  Wall time and CPU per request (the process's user + system time, so the ledger's writer thread is counted).
* **gc**: during the whole-app requests, the collections of each generation per request and the time spent in
  them (``gc.callbacks``).
* **the parts** of the seed call: the whole app, then without the card ledger (answers not queued), then also
  without the engine (its answer to this request reused): CPU per call, the median of alternating rounds.

bench/bench.py measures the real thing (uvicorn, the HTTP protocol, a client) beside the floor; this script says
which stage to work on, and measures a change to one stage the same way before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from itertools import chain
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))
import gen  # noqa: E402

import hooks  # noqa: E402
from hooks import engine  # noqa: E402
from hooks.history import build_history  # noqa: E402
from hooks.knowledge import knowledge  # noqa: E402
from hooks.record import MedicationIndex, read_allergies, read_conditions, read_medications  # noqa: E402
from service.app import create_app  # noqa: E402
from service.cds import CDSRequest, CDSResponse  # noqa: E402
from service.cds.card_ids import unique_ids  # noqa: E402
from service.config import Settings  # noqa: E402
from service.fhir import resolve_prefetch  # noqa: E402

URL = "/cds-services/axspa-therapy-switch"
TODAY = date(2026, 11, 24)


def timed(fn: Callable[[], Any], batch_s: float = 0.2, batches: int = 7) -> float:
    """ms per call: the lowest of ``batches`` batch means (each batch ~``batch_s`` seconds)."""
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-6)
    n = max(1, min(5000, round(batch_s / once)))
    means = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        means.append((time.perf_counter() - t0) / n * 1000)
    return min(means)


def stages(name: str, body: bytes) -> list[tuple[str, float]]:
    """Each stage of one hook call, timed on its own."""
    loop = asyncio.new_event_loop()
    doc = orjson.loads(body)
    req = CDSRequest.model_validate(doc)
    hook = req.served_hook
    assert hook is not None
    context = req.context
    resolution = loop.run_until_complete(resolve_prefetch(req.prefetch, context.patientId, None))
    data = resolution.data
    inp = hooks.HookInput(hook=hook, hook_instance=req.hookInstance, patient_id=context.patientId,
                          user_id=context.userId, draft_orders=context.draftOrders, selections=req.selections,
                          data=data, today=TODAY)
    kb = knowledge()
    meds = MedicationIndex(data.medications)
    statements = list(chain(data.medication_statements, data.medication_requests))
    records = read_medications(kb, statements, [], meds)
    allergies = read_allergies(kb, data.allergies, [])
    evaluation = hooks.evaluate(inp)
    response = CDSResponse(cards=unique_ids(evaluation.cards))
    built: dict[str, float] = {}

    def measure_cards() -> None:  # the card builders' share of evaluate: time them inside one evaluate call
        spent = 0.0
        originals = {f: getattr(engine, f) for f in ("conflict_card", "caution_card", "hold_card", "unchecked_card")}

        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            def timed_builder(*args: Any, **kwargs: Any) -> Any:
                nonlocal spent
                t0 = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    spent += time.perf_counter() - t0
            return timed_builder

        for f, fn in originals.items():
            setattr(engine, f, wrap(fn))
        try:
            runs = 200 if name == "seed" else 5
            best = float("inf")
            for _ in range(runs):
                spent = 0.0
                hooks.evaluate(inp)
                best = min(best, spent)
        finally:
            for f, fn in originals.items():
                setattr(engine, f, fn)
        built["cards"] = best * 1000

    measure_cards()
    rows = [
        ("decode body (orjson.loads)", timed(lambda: orjson.loads(body))),
        ("CDSRequest.model_validate", timed(lambda: CDSRequest.model_validate(doc))),
        ("relevance (is_relevant_order)", timed(lambda: hooks.is_relevant_order(hook, context.draftOrders,
                                                                                 req.selections))),
        ("resolve_prefetch", timed(lambda: loop.run_until_complete(
            resolve_prefetch(req.prefetch, context.patientId, None)))),
        ("hooks.evaluate, whole", timed(lambda: hooks.evaluate(inp))),
        ("  read conditions", timed(lambda: read_conditions(kb, data.conditions, []))),
        ("  read medications", timed(lambda: read_medications(kb, statements, [], meds))),
        ("  read allergies", timed(lambda: read_allergies(kb, data.allergies, []))),
        ("  build_history", timed(lambda: build_history(kb, records, allergies, TODAY, []))),
        ("  card builders (inside evaluate)", built["cards"]),
        ("unique_ids + CDSResponse", timed(lambda: CDSResponse(cards=unique_ids(evaluation.cards)))),
        ("serialise (model_dump_json)", timed(lambda: response.model_dump_json(exclude_none=True))),
    ]
    loop.close()
    return rows


async def call(app: Any, body: bytes) -> int:
    """One POST through the ASGI app, in memory; the response status."""
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # never a disconnect
        raise AssertionError("unreachable")

    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": URL, "raw_path": URL.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {}}
    await app(scope, receive, send)
    return status


class GcWatch:
    """Collections per generation and the time spent in them, from gc.callbacks."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.counts[info["generation"]] += 1
            self.seconds += time.perf_counter() - self._started

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


async def whole_app(app: Any, body: bytes, n: int) -> tuple[float, float, GcWatch]:
    """(wall ms, process CPU ms) per request over ``n`` calls, the lowest of 5 rounds; the collector's work."""
    for _ in range(max(5, n // 10)):
        assert await call(app, body) == 200
    walls, cpus = [], []
    with GcWatch() as watch:
        for _ in range(5):
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(n):
                await call(app, body)
            walls.append((time.perf_counter() - t0) / n * 1000)
            cpus.append((time.process_time() - c0) / n * 1000)
    return min(walls), min(cpus), watch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("statements", nargs="?", type=int, default=1000, help="history size (default 1000)")
    parser.add_argument("--profile", metavar="CASE", help="then profile CASE (seed or hN) with pyinstrument")
    parser.add_argument("--html", type=Path, help="also write the profile as HTML")
    args = parser.parse_args()
    cases = {"seed": orjson.dumps(gen.load_seed()), f"h{args.statements}": orjson.dumps(
        gen.history_request(args.statements))}
    if args.profile and args.profile not in cases:
        cases[args.profile] = orjson.dumps(gen.history_request(int(args.profile.lstrip("h"))))

    print("# in-process, development mode; ms per call (lowest of 7 batch means)")
    names = ["seed", f"h{args.statements}"]
    table = {name: dict(stages(name, cases[name])) for name in names}
    print(f"{'stage':<36}" + "".join(f"{n:>12}" for n in names))
    for stage in table[names[0]]:
        print(f"{stage:<36}" + "".join(f"{table[n][stage]:>12.3f}" for n in names))
    asyncio.run(through_the_app(cases, names, args))


async def parts(app: Any, body: bytes, rounds: int = 10, n: int = 400) -> None:
    """What the whole app's seed call costs without one of its parts: the card ledger (answers not queued) and the
    engine (its answer to this request reused), in alternating rounds within this process (the median of each)."""
    from service.cds import pipeline

    ledger = app.state.runtime.ledger
    answered, evaluate = ledger.answered, pipeline.hooks.evaluate
    reused: dict[str, Any] = {}

    def evaluate_once(inp: Any) -> Any:
        if "answer" not in reused:
            reused["answer"] = evaluate(inp)
        return reused["answer"]

    variants = {"whole app": (answered, evaluate), "  without the card ledger": (lambda result: None, evaluate),
                "  without the ledger and the engine": (lambda result: None, evaluate_once)}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for r in range(rounds):
            for name in (list(variants) if r % 2 == 0 else list(reversed(variants))):
                ledger.answered, pipeline.hooks.evaluate = variants[name]
                c0 = time.process_time()
                for _ in range(n):
                    await call(app, body)
                cpu[name].append((time.process_time() - c0) / n * 1000)
    finally:
        ledger.answered, pipeline.hooks.evaluate = answered, evaluate
    print()
    print(f"{'seed: the parts (alternating rounds)':<36}{'CPU ms':>10}")
    for name, figures in cpu.items():
        print(f"{name:<36}{statistics.median(figures):>10.3f}")


async def through_the_app(cases: dict[str, bytes], names: list[str], args: argparse.Namespace) -> None:
    settings = Settings(allow_unauthenticated=True, database_url=f"sqlite:///{tempfile.mkdtemp()}/p.sqlite3")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.runtime  # noqa: B018 - the lifespan has started the runtime
        print()
        print(f"{'whole app (ASGI, in memory)':<36}{'wall ms':>10}{'CPU ms':>10}{'gc0/req':>10}{'gc1/req':>10}"
              f"{'gc2/req':>10}{'gc ms/req':>10}")
        for name in names:
            n = 400 if name == "seed" else max(4, 20_000 // args.statements)
            wall, cpu, watch = await whole_app(app, cases[name], n)
            total = 5 * n
            print(f"{name:<36}{wall:>10.3f}{cpu:>10.3f}" + "".join(f"{c / total:>10.2f}" for c in watch.counts)
                  + f"{watch.seconds / total * 1000:>10.3f}")
        await parts(app, cases["seed"])
        if args.profile:
            from pyinstrument import Profiler

            body = cases[args.profile]
            n = 2000 if args.profile == "seed" else max(10, 50_000 // int(args.profile.lstrip("h")))
            profiler = Profiler(interval=0.0002 if args.profile == "seed" else 0.0005, async_mode="enabled")
            profiler.start()
            for _ in range(n):
                await call(app, body)
            profiler.stop()
            print()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
            if args.html:
                args.html.write_text(profiler.output_html())


if __name__ == "__main__":
    main()
