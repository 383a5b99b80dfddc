"""Card preview page (``GET /``) and the small JSON API it uses.

The page lets a developer or a clinician reviewer pick a fixture patient (``fhir_fixtures/``) or paste a patient
Bundle / CDS Hooks request, pick the order, and see the cards the REAL hook endpoint returns, rendered the way an
EHR shows them. The page's JavaScript POSTs the CDS Hooks request to ``/cds-services/axspa-therapy-switch``
itself; nothing here evaluates anything. It is a development tool: the app mounts it only in development mode.

Routes, mounted only in development mode (``CDS_ALLOW_UNAUTHENTICATED=true``; in production they do not exist, 404),
without authentication (they only expose the synthetic test fixtures and the drug catalogue):

* ``GET /``                          the page (static HTML; ``/preview/static/app.js`` and ``.../style.css``)
* ``GET /preview/cases``             fixture cases: id, rule, description, patient, orders, expected outcome;
                                      plus the drug catalogue for "order something else"
* ``GET /preview/cases/{rule}/{case}`` the case's CDS Hooks request
* ``POST /preview/request``          ``{"document": Bundle|request, "order"?: MedicationRequest}`` -> the CDS Hooks
                                      request the offline evaluator would build (``service.dev.bundles``)

Fixtures are read from ``CDS_PREVIEW_FIXTURES`` (the container sets /app/fhir_fixtures), else from the
``fhir_fixtures`` folder beside the package when running from a checkout.
"""

from __future__ import annotations

import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from hooks.knowledge import RXNORM, knowledge
from service._http import is_json_content_type
from service.dev.bundles import is_request, request_from_bundle, request_with_order
from service.dev.errors import InputError

log = logging.getLogger("axspa.preview")

WEB_DIR = Path(__file__).with_name("web")
_STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
_NO_STORE = {"Cache-Control": "no-cache"}
# The page's own headers: nothing from elsewhere (no CDN), no framing, no inline script.
_PAGE_HEADERS = {
    **_NO_STORE,
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
JSON = "application/json"
MAX_PASTE_BYTES = 5_000_000

router = APIRouter(include_in_schema=False)


def fixtures_dir() -> Path:
    configured = os.environ.get("CDS_PREVIEW_FIXTURES")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "fhir_fixtures"


def _orders(request: dict[str, Any]) -> list[dict[str, Any]]:
    entries = ((request.get("context") or {}).get("draftOrders") or {}).get("entry") or []
    out = []
    for entry in entries:
        resource = (entry or {}).get("resource") or {}
        if resource.get("resourceType") in ("MedicationRequest", "MedicationOrder"):
            concept = resource.get("medicationCodeableConcept") or {}
            text = concept.get("text") or next((c.get("display") for c in concept.get("coding") or []), None)
            out.append({"id": resource.get("id"), "text": text or resource.get("id") or "order"})
    return out


@lru_cache(maxsize=4)
def _index(directory: str) -> tuple[dict[str, Path], bytes]:
    """(case id -> request path, the /preview/cases JSON), read once per fixtures folder."""
    paths: dict[str, Path] = {}
    cases: list[dict[str, Any]] = []
    root = Path(directory)
    candidates = sorted(root.glob("*/*.request.json"), key=lambda p: (p.parent.name != "seed", str(p)))
    for path in candidates:
        case_id = f"{path.parent.name}/{path.name[: -len('.request.json')]}"
        try:
            request = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("unreadable fixture skipped", extra={"case": case_id})
            continue
        expected_path = path.with_name(path.name.replace(".request.json", ".expected.json"))
        try:
            expected = json.loads(expected_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            expected = {}
        paths[case_id] = path
        cases.append({
            "id": case_id,
            "rule": path.parent.name,
            "name": path.name[: -len(".request.json")],
            "description": expected.get("description", ""),
            "source": expected.get("source", ""),
            "hook": request.get("hook"),
            "patientId": (request.get("context") or {}).get("patientId"),
            "orders": _orders(request),
            "expected": {k: expected[k] for k in ("cards", "indicator") if k in expected},
            "malformed": bool(expected.get("malformed")),
        })
    return paths, orjson.dumps({"cases": cases, "catalog": _catalog()})


def _catalog() -> list[dict[str, Any]]:
    """Drugs the page can order instead of the fixture's draft (from the hook's knowledge base)."""
    try:
        drugs = knowledge().drugs.values()
        return [
            {"key": d.key, "name": d.name, "class": d.drug_class.label, "text": d.order_text, "rxnorm": d.order_rxnorm,
             "system": RXNORM}
            for d in sorted(drugs, key=lambda d: (d.drug_class.family, d.name))
            if d.order_text
        ]
    except Exception:  # the page still works with the fixtures' own orders
        log.exception("drug catalogue unavailable for the preview page")
        return []


def _web_file(name: str) -> bytes:
    return (WEB_DIR / name).read_bytes()


@router.get("/")
async def page() -> Response:
    return Response(_web_file("index.html"), media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


@router.get("/preview/static/{name}")
async def static(name: str) -> Response:
    if name not in _STATIC:
        return Response(b'{"error":"not found"}', status_code=404, media_type=JSON)
    return Response(_web_file(name), media_type=_STATIC[name], headers=_PAGE_HEADERS)


@router.get("/preview/cases")
async def cases() -> Response:
    _, body = _index(str(fixtures_dir()))
    return Response(body, media_type=JSON, headers=_NO_STORE)


@router.get("/preview/cases/{rule}/{case}")
async def case(rule: str, case: str) -> Response:
    paths, _ = _index(str(fixtures_dir()))
    path = paths.get(f"{rule}/{case}")  # only ids from the index: no path is built from the URL
    if path is None:
        return Response(b'{"error":"no such fixture case"}', status_code=404, media_type=JSON)
    return Response(path.read_bytes(), media_type=JSON, headers=_NO_STORE)


@router.post("/preview/request")
async def build_request(request: Request) -> Response:
    """Turn a pasted patient Bundle (or request) + optional order into a CDS Hooks request for the page."""
    if not is_json_content_type(request.headers.get("content-type")):
        return _error(415, "Content-Type must be application/json")
    raw = await request.body()
    if len(raw) > MAX_PASTE_BYTES:
        return _error(413, f"larger than {MAX_PASTE_BYTES} bytes")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _error(400, "the body is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("document"), dict):
        return _error(400, 'expected {"document": <Bundle or CDS Hooks request>, "order"?: <MedicationRequest>}')
    document, order = body["document"], body.get("order")
    try:
        if is_request(document):
            built = request_with_order(document, order) if order else document
        else:
            built = request_from_bundle(document, order)
    except InputError as exc:
        return _error(400, str(exc))
    return Response(orjson.dumps({"request": built, "orders": _orders(built)}), media_type=JSON)


def _error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status_code=status, media_type=JSON)
