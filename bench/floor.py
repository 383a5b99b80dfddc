"""The floor: a bare FastAPI route, in the same environment and under the same uvicorn, that does the
least any implementation must do -- read the body, JSON-parse it -- and returns the bytes the real service
returned for that request (captured first by bench/bench.py, selected by the ``X-Bench-Case`` header).

    BENCH_FLOOR_RESPONSES=responses.json .venv/bin/python -m uvicorn bench.floor:app --port 8001

The ratio service/floor is the cost of the service's own work (validation, prefetch resolution, the
clinical engine, card serialisation, middleware) over HTTP + JSON overhead that nobody can avoid.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
_RESPONSES: dict[str, tuple[int, str, bytes]] = {}


def _load() -> None:
    path = os.environ.get("BENCH_FLOOR_RESPONSES")
    if not path:
        return
    for case, captured in orjson.loads(Path(path).read_bytes()).items():
        _RESPONSES[case] = (captured["status"], captured["media_type"], base64.b64decode(captured["body"]))


_load()


@app.post("/cds-services/{service_id}")
async def floor(service_id: str, request: Request) -> Response:
    document = orjson.loads(await request.body())
    if not isinstance(document, dict):
        return Response(b"{}", status_code=400)
    status, media_type, body = _RESPONSES[request.headers.get("x-bench-case", "")]
    return Response(body, status_code=status, media_type=media_type)


@app.get("/healthz")
async def healthz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")
