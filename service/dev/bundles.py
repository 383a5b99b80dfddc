"""CDS Hooks requests built from a patient Bundle or an edited request (the offline CLI and the preview page).

A patient Bundle's resources are sorted into the prefetch keys by resource type (``service.fhir.keys``); its draft
MedicationRequest (or a given order) becomes the selected draft order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.dev.errors import InputError
from service.fhir.keys import SEARCH_KEY_FOR_TYPE

HOOK_INSTANCE = "00000000-0000-4000-8000-0000000ff11e"  # fixed: offline runs are reproducible
USER_ID = "Practitioner/offline-evaluation"
BUNDLE_TYPES = ("collection", "searchset", "transaction", "batch")


def read_json(path: Path, what: str) -> Any:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{what} {path} is a directory, not a JSON file") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} {path} is not valid JSON ({str(exc).splitlines()[0]})") from None


def is_request(document: Any) -> bool:
    return isinstance(document, dict) and "hook" in document and "context" in document


def _ref_id(reference: Any, kind: str) -> str | None:
    if isinstance(reference, dict):
        reference = reference.get("reference")
    if isinstance(reference, str) and reference.startswith(f"{kind}/"):
        return reference.split("/", 1)[1] or None
    return None


def _bundle_resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InputError("Bundle.entry is not a list")
    return [e["resource"] for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)]


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }


def request_from_bundle(
    bundle: Any, order: dict[str, Any] | None = None, select: str | None = None, hook: str = "order-select"
) -> dict[str, Any]:
    """A CDS Hooks request equivalent to "this patient's draft order was just selected".

    Raises :class:`InputError` for anything that is not a patient Bundle with an order to evaluate.
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        kind = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        raise InputError(f"expected a FHIR Bundle or a CDS Hooks request, got {kind or 'JSON without resourceType'}")
    if bundle.get("type") not in BUNDLE_TYPES:
        raise InputError(f"Bundle.type must be one of {', '.join(BUNDLE_TYPES)} (got {bundle.get('type')!r})")
    resources = _bundle_resources(bundle)
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    data: dict[str, list[dict[str, Any]]] = {key.key: [] for key in SEARCH_KEY_FOR_TYPE.values()}
    drafts: list[dict[str, Any]] = []
    for resource in resources:
        kind = resource.get("resourceType")
        if kind == "MedicationRequest" and resource.get("status") == "draft":
            drafts.append(resource)
        elif isinstance(kind, str) and kind in SEARCH_KEY_FOR_TYPE:
            data[SEARCH_KEY_FOR_TYPE[kind].key].append(resource)
    if order is not None:
        if not isinstance(order, dict) or order.get("resourceType") != "MedicationRequest":
            raise InputError("--order must be a FHIR MedicationRequest")
        order = dict(order)
        order.setdefault("id", "offline-order")
        order["status"] = "draft"
        drafts = [order]
    if not drafts:
        raise InputError("no draft MedicationRequest in the Bundle (status 'draft'); give one with --order")
    if select is not None:
        chosen = [d for d in drafts if d.get("id") == select]
        if not chosen:
            raise InputError(f"no draft MedicationRequest with id {select!r}")
        drafts = chosen + [d for d in drafts if d.get("id") != select]
    for index, draft in enumerate(drafts):
        if not isinstance(draft.get("id"), str) or not draft["id"]:
            drafts[index] = {**draft, "id": f"draft-{index + 1}"}
    patient = patients[0] if patients else None
    patient_id = (patient or {}).get("id") or _ref_id(drafts[0].get("subject"), "Patient")
    if len(patients) > 1:
        wanted = _ref_id(drafts[0].get("subject"), "Patient")
        patient = next((p for p in patients if p.get("id") == wanted), patients[0])
        patient_id = patient.get("id") or wanted
    if not patient_id:
        raise InputError("cannot tell which patient: no Patient resource with an id and no draft subject reference")
    context: dict[str, Any] = {
        "userId": USER_ID,
        "patientId": patient_id,
        "draftOrders": {"resourceType": "Bundle", "type": "collection",
                        "entry": [{"resource": d} for d in drafts]},
    }
    if hook == "order-select":
        context["selections"] = [f"MedicationRequest/{drafts[0]['id']}"]
    prefetch: dict[str, Any] = {"patient": patient}
    prefetch.update({key: _searchset(items) for key, items in data.items()})
    return {"hook": hook, "hookInstance": HOOK_INSTANCE, "context": context, "prefetch": prefetch}


def request_with_order(request: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    """A request whose draft order is replaced by ``order`` (selected)."""
    if not isinstance(order, dict) or order.get("resourceType") != "MedicationRequest":
        raise InputError("--order must be a FHIR MedicationRequest")
    order = {**order, "status": "draft"}
    order.setdefault("id", "offline-order")
    context = dict(request.get("context") or {})
    context["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}
    if request.get("hook") == "order-select":
        context["selections"] = [f"MedicationRequest/{order['id']}"]
    return {**request, "context": context}
