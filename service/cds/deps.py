"""The checks of the CDS Hooks routes: the caller is trusted, the service id is ours, the body is a valid request.
Each refuses by raising (:class:`~service.auth.Unauthorized`, :class:`~service.cds.errors.CdsError`); the app's
exception handlers turn that into the response. :func:`authenticated` is the discovery routes' FastAPI dependency;
the hook and feedback routes call :func:`accepted`, which runs the three in this order: auth, service id, body."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from service._http import is_json_content_type
from service.cds.discovery import hooks_served
from service.cds.errors import BadRequest, UnknownService, UnsupportedMediaType
from service.runtime import Runtime, get_runtime, runtime_of

Model = TypeVar("Model", bound=BaseModel)
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def authenticated(request: Request, runtime: RuntimeDep) -> None:
    """The caller is a trusted CDS client (or the service runs in development mode)."""
    await runtime.authenticator.verify(request)


def check_service(service_id: str, runtime: Runtime) -> None:
    """The path's service id is one of this service's (either discovery mode's ids)."""
    if not hooks_served(service_id, runtime.settings.discovery_mode):
        raise UnknownService(service_id)


async def json_object(request: Request) -> dict[str, Any]:
    """The request body, which must be declared as JSON (else 415, before it is read) and be a JSON object."""
    content_type = request.headers.get("content-type")
    if not is_json_content_type(content_type):
        raise UnsupportedMediaType(content_type)
    raw = await request.body()
    if not raw:
        raise BadRequest("request body is empty; a JSON object is required")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON ({exc.args[0].split(':')[0]})") from None
    if not isinstance(document, dict):
        raise BadRequest("request body must be a JSON object")
    return document


def describe_validation_error(exc: ValidationError, limit: int = 10) -> list[str]:
    """Human-readable ``location: message`` lines, without echoing the offending values."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False)[:limit]:
        location = ".".join(str(part) for part in error["loc"]) or "body"
        lines.append(f"{location}: {error['msg']}")
    return lines


async def accepted(request: Request, service_id: str, model: type[Model]) -> Model:
    """The authenticated caller's body for our service, validated as ``model``: the three checks in order (auth,
    service id, body). The routes call it first thing rather than declaring it as a FastAPI dependency: resolving
    a dependency costs more per call than the body's validation (docs/performance.md), and the routes' OpenAPI
    request bodies are declared with the models' schemas either way."""
    runtime = runtime_of(request)
    await authenticated(request, runtime)
    check_service(service_id, runtime)
    document = await json_object(request)
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise BadRequest(*describe_validation_error(exc)) from None
