"""The HTTP face: discovery, the hook endpoint and feedback, assembled in one app factory."""

from __future__ import annotations

import gc
import logging
import time
from contextlib import asynccontextmanager
from datetime import date
from typing import AsyncIterator, TypeVar

import httpx
import orjson
from fastapi import FastAPI, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

import hooks
from hooks.response import CDSResponse as HookResponse
from service import errors
from service.auth import Authenticator, Unauthorized
from service.config import SERVICE_ID, Settings
from service.discovery import SERVED_HOOKS, discovery_document
from service.fhir import FhirReader, FhirTarget
from service.metrics import Metrics
from service.middleware import BodyLimitMiddleware, MetricsMiddleware
from service.models import CDSRequest, CDSResponse, FeedbackRequest
from service.prefetch import PrefetchResolver, required_data_missing
from service.preview import router as preview_router
from service.security import fhir_server_allowed, startup_check
from service.store import Store, open_store

log = logging.getLogger("axspa.app")
JSON = "application/json"
Body = TypeVar("Body", CDSRequest, FeedbackRequest)


class Runtime:
    """What the routes share: settings, the store, the FHIR client. Built once per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: Store | None = None
        self.http: httpx.AsyncClient | None = None
        self.resolver: PrefetchResolver | None = None
        self.authenticator: Authenticator | None = None
        self.metrics = Metrics()
        self.ready = False
        self.discovery = orjson.dumps(discovery_document())

    async def start(self) -> None:
        startup_check(self.settings)
        self.store = await run_in_threadpool(open_store, self.settings.database_url)
        self.http = httpx.AsyncClient(
            follow_redirects=False,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            timeout=self.settings.fhir_timeout_s,
        )
        reader = FhirReader(
            self.http,
            max_bytes=self.settings.fhir_max_response_bytes,
            max_pages=self.settings.fhir_max_pages,
            max_resources=self.settings.fhir_max_resources,
        )
        self.resolver = PrefetchResolver(reader, self.settings.fhir_timeout_s)
        self.authenticator = Authenticator(self.settings, self.store, self.http)
        hooks.warm_up()
        # Start-up objects (modules, knowledge, schemas) are never scanned by the collector again, and one large
        # prefetch no longer triggers several full collections (bench/gc_tuned.py: -11% CPU on big histories).
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        if self.authenticator is not None:
            await self.authenticator.aclose()
        if self.http is not None:
            await self.http.aclose()
        if self.store is not None:
            self.store.close()

    def fhir_target(self, request: CDSRequest) -> FhirTarget | None:
        """The EHR's FHIR server, if we may call it; otherwise None (treated as no server)."""
        if not request.fhirServer:
            return None
        if not fhir_server_allowed(request.fhirServer, self.settings):
            log.warning("fhirServer not allowlisted; it will not be contacted")
            return None
        token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
        return FhirTarget(request.fhirServer.rstrip("/"), token)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="axSpA therapy-switch CDS Hooks service",
        version="0.1.0",
        description="CDS Hooks 2.0 service (order-select, order-sign) for axial spondyloarthritis therapy switching.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.runtime = runtime

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        return errors.outcome(500, "exception", "internal error; the event has been logged")

    async def refused(request: Request) -> Response | None:
        """None if the caller is a trusted CDS client; else the 401 (no detail in the body)."""
        assert runtime.authenticator is not None
        try:
            await runtime.authenticator.verify(request)
        except Unauthorized as exc:
            runtime.metrics.auth_failures.labels(exc.check).inc()
            log.warning("client authentication failed", extra={"check": exc.check})
            return Response(b'{"error":"unauthorized"}', status_code=401, media_type=JSON,
                            headers={"WWW-Authenticate": "Bearer"})
        return None

    async def accepted(request: Request, service_id: str, model: type[Body]) -> Body | Response:
        """The authenticated, decoded and validated body for our service, or the response that refuses it."""
        if denied := await refused(request):
            return denied
        if service_id != SERVICE_ID:
            return errors.outcome(404, "not-found", f"no CDS service with id {service_id!r}")
        document = errors.json_object(await request.body())
        if isinstance(document, Response):
            return document
        try:
            return model.model_validate(document)
        except ValidationError as exc:
            return errors.bad_request(*errors.describe_validation_error(exc))

    @app.get("/cds-services", tags=["CDS Hooks"], summary="Discovery")
    @app.get("/cds-services/", include_in_schema=False)
    async def discovery(request: Request) -> Response:
        if denied := await refused(request):
            return denied
        return Response(runtime.discovery, media_type=JSON)

    @app.get("/healthz", tags=["Operations"], summary="Liveness")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @app.get("/readyz", tags=["Operations"], summary="Readiness (store reachable, knowledge loaded)")
    async def readyz() -> Response:
        if runtime.ready and runtime.store is not None and await run_in_threadpool(runtime.store.ping):
            return Response(b'{"status":"ready"}', media_type=JSON)
        return Response(b'{"status":"not ready"}', status_code=503, media_type=JSON)

    @app.get("/metrics", tags=["Operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(runtime.metrics.render(), media_type=runtime.metrics.content_type)

    @app.post(
        "/cds-services/{service_id}",
        tags=["CDS Hooks"],
        summary="Call the service (order-select or order-sign)",
        openapi_extra={
            "requestBody": {"required": True, "content": {JSON: {"schema": CDSRequest.model_json_schema()}}}
        },
        responses={
            200: {"content": {JSON: {"schema": CDSResponse.model_json_schema()}}},
            400: {"description": "Malformed request (OperationOutcome)"},
            404: {"description": "Unknown service id"},
            412: {"description": "Required data unobtainable (OperationOutcome)"},
        },
    )
    async def call_service(service_id: str, request: Request) -> Response:
        cds_request = await accepted(request, service_id, CDSRequest)
        if isinstance(cds_request, Response):
            return cds_request
        if cds_request.hook not in SERVED_HOOKS:
            return errors.bad_request(
                f"hook {cds_request.hook!r} is not served by {SERVICE_ID} (served: {', '.join(SERVED_HOOKS)})"
            )
        request.state.hook = cds_request.hook
        return await _evaluate(runtime, cds_request)

    @app.post(
        "/cds-services/{service_id}/feedback",
        tags=["CDS Hooks"],
        summary="Feedback on cards",
        openapi_extra={
            "requestBody": {"required": True, "content": {JSON: {"schema": FeedbackRequest.model_json_schema()}}}
        },
    )
    async def feedback(service_id: str, request: Request) -> Response:
        parsed = await accepted(request, service_id, FeedbackRequest)
        if isinstance(parsed, Response):
            return parsed
        items = [item.model_dump(mode="json", exclude_none=True) for item in parsed.feedback]
        assert runtime.store is not None
        stored = await run_in_threadpool(runtime.store.record_feedback, SERVICE_ID, items)
        for item in items:
            runtime.metrics.feedback.labels(item["outcome"]).inc()
        return Response(orjson.dumps({"received": len(items), "new": stored}), media_type=JSON)

    app.include_router(preview_router)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=runtime.metrics)
    return app


async def _evaluate(runtime: Runtime, cds_request: CDSRequest) -> Response:
    context = cds_request.context
    metrics = runtime.metrics
    if not hooks.is_relevant_order(cds_request.hook, context.draftOrders, cds_request.selections):
        metrics.silent.labels(cds_request.hook, "unrelated-order").inc()
        return Response(b'{"cards":[]}', media_type=JSON)
    assert runtime.resolver is not None
    started = time.perf_counter()
    resolution = await runtime.resolver.resolve(
        cds_request.prefetch, {"patientId": context.patientId}, runtime.fhir_target(cds_request)
    )
    data = resolution.data
    if resolution.fetched:
        metrics.fhir_latency.observe(time.perf_counter() - started)
    for key in resolution.failed:
        metrics.fhir_failures.labels(key).inc()
    missing = required_data_missing(data.unavailable)
    if missing:
        return errors.outcome(
            412, "not-found", f"required data could not be obtained: {', '.join(missing)}", *data.notes
        )
    evaluation = hooks.evaluate(cds_request.hook_input(data, date.today()))
    response = HookResponse(cards=evaluation.cards)  # typed cards, validated as they were built
    if not response.cards:
        metrics.silent.labels(cds_request.hook, "nothing-actionable").inc()
    for card in response.cards:
        metrics.cards.labels(cds_request.hook, card.indicator).inc()
    return Response(response.model_dump_json(exclude_none=True), media_type=JSON)


app = create_app()
