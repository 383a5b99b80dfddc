"""In-process profile of the hot path: the whole app through httpx.ASGITransport, and hooks.evaluate alone.

    .venv/bin/python bench/profile_hot.py [N_STATEMENTS] [--html out.html]
    .venv/bin/python bench/profile_hot.py --seed      # profile 1,000 seed requests instead

Prints per-stage timings (best of 5) for the seed and an N-statement history (default 1,000), then a pyinstrument
profile of 50 whole-app requests on the history (or of 1,000 seed requests with --seed). In-process, through
httpx.ASGITransport: no uvicorn, no socket, development mode (no JWT); bench/bench.py measures the real thing.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx
import orjson

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))
import gen  # noqa: E402

import hooks  # noqa: E402
from service.app import create_app  # noqa: E402
from service.cds import CDSRequest, CDSResponse  # noqa: E402
from service.config import Settings  # noqa: E402
from service.fhir import resolve_prefetch  # noqa: E402

URL = "/cds-services/axspa-therapy-switch"


def best(fn, n=5):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return min(times), out


async def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), 1000))
    html = sys.argv[sys.argv.index("--html") + 1] if "--html" in sys.argv else None
    settings = Settings(allow_unauthenticated=True, database_url=f"sqlite:///{tempfile.mkdtemp()}/p.sqlite3")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for name, request in (("seed", gen.load_seed()), (f"h{n}", gen.history_request(n))):
                body = orjson.dumps(request)
                t_decode, doc = best(lambda body=body: orjson.loads(body))
                t_model, req = best(lambda doc=doc: CDSRequest.model_validate(doc))
                res_times = []
                for _ in range(5):
                    t = time.perf_counter()
                    resolution = await resolve_prefetch(req.prefetch, req.context.patientId, None)
                    res_times.append((time.perf_counter() - t) * 1000)
                inp = hooks.HookInput(hook=req.hook, hook_instance=req.hookInstance, patient_id=req.context.patientId,
                                      user_id=req.context.userId, draft_orders=req.context.draftOrders,
                                      selections=tuple(req.context.selections or ()), data=resolution.data,
                                      today=date(2026, 11, 24))
                t_eval, evaluation = best(lambda inp=inp: hooks.evaluate(inp))
                t_resp, resp = best(lambda e=evaluation: CDSResponse.model_validate({"cards": e.cards}))
                t_dump, _ = best(lambda resp=resp: resp.model_dump_json(exclude_none=True))
                whole = []
                for _ in range(20):
                    t = time.perf_counter()
                    r = await client.post(URL, content=body, headers={"content-type": "application/json"})
                    whole.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text[:300]
                print(f"{name}: body {len(body) / 1024:.0f} KiB | orjson.loads {t_decode:.2f} ms | CDSRequest "
                      f"{t_model:.2f} ms | resolve {min(res_times):.2f} ms | hooks.evaluate {t_eval:.2f} ms | "
                      f"CDSResponse validate {t_resp:.2f} ms + dump {t_dump:.2f} ms | whole app (ASGI) "
                      f"{min(whole):.2f} ms best, {sorted(whole)[10]:.2f} ms median")
            from pyinstrument import Profiler

            seed_only = "--seed" in sys.argv
            body = orjson.dumps(gen.load_seed() if seed_only else gen.history_request(n))
            profiler = Profiler(interval=0.0002 if seed_only else 0.0005, async_mode="enabled")
            profiler.start()
            for _ in range(1000 if seed_only else 50):
                await client.post(URL, content=body, headers={"content-type": "application/json"})
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
            if html:
                Path(html).write_text(profiler.output_html())


if __name__ == "__main__":
    asyncio.run(main())
