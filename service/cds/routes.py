"""The CDS Hooks routes: discovery, the hook endpoint and feedback, and the exception handlers they rely on."""

from __future__ import annotations

import logging
from datetime import date
from functools import cache

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from hooks.response import CDSResponse
from service.auth import Unauthorized
from service.cds import pipeline
from service.cds.deps import RuntimeDep, accepted, authenticated
from service.cds.discovery import DiscoveryMode, discovery_document, hooks_served, listed_id
from service.cds.errors import BadRequest, CdsError, TooManyRequests
from service.cds.feedback import ITEM_MAX_BYTES, FeedbackRequest
from service.cds.request import CDSRequest
from service.governance.attributes import discovery_extension
from service.outcome import outcome
from service.runtime import Runtime, runtime_of
from service.storage import StoreUnavailable

log = logging.getLogger("axspa.app")
JSON = "application/json"

router = APIRouter(tags=["CDS Hooks"])


@cache
def _discovery_body(mode: DiscoveryMode, base_url: str) -> bytes:
    return orjson.dumps(discovery_document(mode, discovery_extension(base_url)))


@router.get("/cds-services", summary="Discovery", dependencies=[Depends(authenticated)])
@router.get("/cds-services/", include_in_schema=False, dependencies=[Depends(authenticated)])
async def discovery(runtime: RuntimeDep) -> Response:
    return Response(_discovery_body(runtime.settings.discovery_mode, runtime.settings.public_base_url), media_type=JSON)


def _check_hook_for_service(service_id: str, cds_request: CDSRequest, mode: DiscoveryMode) -> None:
    """A hook this service serves, sent to the id of the other hook, is refused naming the id to call."""
    hook = cds_request.served_hook
    if hook is not None and hook not in hooks_served(service_id, mode):
        raise BadRequest(
            f"hook {hook!r} is not served by service id {service_id!r}; discovery lists it as {listed_id(hook, mode)!r}"
        )


@router.post(
    "/cds-services/{service_id}",
    summary="Call the service (order-select, or order-sign at its own id)",
    openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": CDSRequest.model_json_schema()}}}},
    responses={
        200: {"content": {JSON: {"schema": CDSResponse.model_json_schema()}}},
        400: {"description": "Malformed request (OperationOutcome)"},
        404: {"description": "Unknown service id"},
        412: {"description": "Required data unobtainable (OperationOutcome)"},
    },
)
async def call_service(request: Request, service_id: str) -> Response:
    cds_request = await accepted(request, service_id, CDSRequest)
    runtime = runtime_of(request)
    _check_hook_for_service(service_id, cds_request, runtime.settings.discovery_mode)
    result = await pipeline.run(cds_request, runtime, date.today(), settings=runtime.hook_settings,
                                max_response_bytes=runtime.settings.max_response_bytes)
    request.state.hook = result.hook
    _count(runtime, result)
    runtime.ledger.answered(result)
    if isinstance(result, pipeline.DataMissing):
        raise result.error()
    if isinstance(result, pipeline.Unrelated):
        return Response(b'{"cards":[]}', media_type=JSON)
    return Response(result.body(), media_type=JSON)


@router.post(
    "/cds-services/{service_id}/feedback",
    summary="Feedback on cards",
    openapi_extra={
        "requestBody": {"required": True, "content": {JSON: {"schema": FeedbackRequest.model_json_schema()}}}
    },
)
async def feedback(request: Request, service_id: str) -> Response:
    parsed = await accepted(request, service_id, FeedbackRequest)
    runtime = runtime_of(request)
    limit = runtime.settings.feedback_max_items
    if len(parsed.feedback) > limit:
        raise BadRequest(f"feedback: at most {limit} items per request (got {len(parsed.feedback)})")
    items = [item.model_dump(mode="json", exclude_none=True) for item in parsed.feedback]
    for index, item in enumerate(items):
        if len(orjson.dumps(item)) > ITEM_MAX_BYTES:
            raise BadRequest(f"feedback.{index}: larger than {ITEM_MAX_BYTES} bytes (extensions included)")
    # Per client: the JWT issuer in production; the remote address in development mode (no issuer).
    client = getattr(request.state, "client_iss", None) or f"addr:{request.client.host if request.client else '?'}"
    wait = runtime.feedback_limiter.take(client, len(items))
    if wait:
        raise TooManyRequests("feedback items", wait)
    try:
        stored = await run_in_threadpool(runtime.store.record_feedback, service_id, items)
    except Exception as exc:  # noqa: BLE001 - any store failure: nothing was stored, 503 (never a 500 traceback)
        log.warning("feedback store unavailable; the call is answered 503", extra={"error": type(exc).__name__})
        raise StoreUnavailable("the feedback store did not answer") from None
    for item in items:
        runtime.metrics.feedback.labels(item["outcome"]).inc()
    runtime.ledger.feedback(items)
    return Response(orjson.dumps({"received": len(items), "new": stored}), media_type=JSON)


def _count(runtime: Runtime, result: pipeline.Outcome) -> None:
    metrics = runtime.metrics
    if isinstance(result, pipeline.Unrelated):
        metrics.silent.labels(result.hook, "unrelated-order").inc()
        return
    if result.resolution.fetched:
        metrics.fhir_latency.observe(result.resolution.seconds)
    for key in result.resolution.failed:
        metrics.fhir_failures.labels(key).inc()
    if isinstance(result, pipeline.Evaluated):
        if not result.response.cards:
            metrics.silent.labels(result.hook, "nothing-actionable").inc()
        for card in result.response.cards:
            metrics.cards.labels(result.hook, card.indicator).inc()


# --------------------------------------------------------------------------- exception handlers


async def refused(request: Request, exc: Unauthorized) -> Response:
    """401 with no detail; the log line and the metric name the failed check."""
    runtime_of(request).metrics.auth_failures.labels(exc.check).inc()
    log.warning("client authentication failed", extra={"check": exc.check})
    return Response(b'{"error":"unauthorized"}', status_code=401, media_type=JSON, headers={"WWW-Authenticate": "Bearer"})


async def cds_error(request: Request, exc: CdsError) -> Response:
    response = outcome(exc.status, exc.code, *exc.messages)
    response.headers.update(exc.headers)
    return response
