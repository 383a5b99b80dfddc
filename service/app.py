"""The app factory: ``uvicorn service.app:create_app --factory`` (or ``python -m service``).

Nothing is built at import time. The runtime (store, HTTP client, authenticator) is built completely in the
lifespan; the middleware order is set here, in one place: metrics (outermost), body limit, CORS, then the routes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from service.auth import Unauthorized
from service.cds import CdsError
from service.cds import routes as cds
from service.config import Settings
from service.dev import preview
from service.governance import routes as governance
from service.ops import BodyLimitMiddleware, Metrics, MetricsMiddleware
from service.outcome import outcome
from service.runtime import Runtime
from service.storage import StoreUnavailable

log = logging.getLogger("axspa.app")
JSON = "application/json"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.start(settings, metrics)
        app.state.runtime = runtime
        try:
            yield
        finally:
            await runtime.stop()

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        return outcome(500, "exception", "internal error; the event has been logged")

    async def store_unavailable(request: Request, exc: StoreUnavailable) -> Response:
        response = outcome(503, "transient", f"{exc}; try again shortly")
        response.headers["Retry-After"] = "5"
        return response

    async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client went away while its body was read: nobody reads this answer. The HTTP protocol
        # (service.ops.connections) counts it in cds_client_disconnects_total; no log line, no traceback.
        return Response(status_code=499)

    handlers: dict[Any, Any] = {
        Exception: unexpected, Unauthorized: cds.refused, CdsError: cds.cds_error,
        StoreUnavailable: store_unavailable, ClientDisconnect: client_gone,
    }
    app = FastAPI(
        title="axSpA therapy-switch CDS Hooks service",
        version="0.1.0",
        description="CDS Hooks 2.0 service (order-select, order-sign) for axial spondyloarthritis therapy switching.",
        lifespan=lifespan,
        redirect_slashes=False,
        exception_handlers=handlers,
    )

    @app.get("/healthz", tags=["Operations"], summary="Liveness")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @app.get("/readyz", tags=["Operations"], summary="Readiness (store reachable, knowledge loaded)")
    async def readyz(request: Request) -> Response:
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)  # None until the lifespan ran
        if runtime is not None and runtime.ready and await run_in_threadpool(runtime.store.ping):
            return Response(b'{"status":"ready"}', media_type=JSON)
        return Response(b'{"status":"not ready"}', status_code=503, media_type=JSON)

    @app.get("/metrics", tags=["Operations"], summary="Prometheus metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    app.include_router(cds.router)
    app.include_router(governance.router)
    if settings.allow_unauthenticated:  # a development tool: never mounted in production
        app.include_router(preview.router)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       feedback_max_bytes=settings.feedback_max_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app

