"""A Bulk Data style NDJSON export made from CDS Hooks requests: one file per resource type, every resource of the
request's patient (prefetch and draft orders) under a patient id of its own, so that requests sharing a patient id
stay distinct patients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _retarget(resource: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """``resource`` with its references to ``Patient/old`` (and a Patient's own id) pointing at ``new``; a Synthea-style
    ``urn:uuid:old`` too (an export holds the server's references, never a source Bundle's urn:uuid)."""
    text = json.dumps(resource).replace(f'Patient/{old}"', f'Patient/{new}"')  # relative and absolute references
    text = text.replace(f'"urn:uuid:{old}"', f'"Patient/{new}"')
    copy = json.loads(text)
    if copy.get("resourceType") == "Patient":
        copy["id"] = new
    return copy


def request_entries(request: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """Every resource of a request with its fullUrl: the prefetch's Patient and search results, the draft orders."""
    found: list[tuple[str | None, dict[str, Any]]] = []
    for value in (request.get("prefetch") or {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            found += [(e.get("fullUrl"), e["resource"]) for e in value.get("entry") or []
                      if isinstance(e.get("resource"), dict)]
        elif isinstance(value, dict) and value.get("resourceType"):
            found.append((None, value))
    found += [(e.get("fullUrl"), e["resource"]) for e in request["context"]["draftOrders"].get("entry") or []]
    return found


def request_resources(request: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource of a request: the prefetch's Patient and search results, and the draft orders."""
    return [resource for _, resource in request_entries(request)]


def patient_resources(request: dict[str, Any], new: str) -> list[dict[str, Any]]:
    """The request's resources as a server exports them for patient ``new``: its references retargeted, and each
    Medication (which names no patient) given an id of this patient's, every reference to it (``Medication/<id>``
    or the source Bundle's ``urn:uuid``) rewritten to ``Medication/<new id>``, and each Medication once."""
    old = request["context"]["patientId"]
    entries = request_entries(request)
    renamed: dict[str, str] = {}  # reference as written -> Medication/<new id>
    medications: dict[str, dict[str, Any]] = {}
    for full_url, resource in entries:
        if resource.get("resourceType") == "Medication" and isinstance(resource.get("id"), str):
            new_id = f"{new}-{resource['id']}"
            renamed[f"Medication/{resource['id']}"] = f"Medication/{new_id}"
            if full_url:
                renamed[full_url] = f"Medication/{new_id}"
            medications.setdefault(new_id, {**resource, "id": new_id})
    out = list(medications.values())
    for _, resource in entries:
        if resource.get("resourceType") == "Medication":
            continue
        text = json.dumps(_retarget(resource, old, new))
        for written, reference in renamed.items():
            text = text.replace(f'"{written}"', f'"{reference}"')
        out.append(json.loads(text))
    return out


def write_export(requests: dict[str, dict[str, Any]], folder: Path) -> dict[str, str]:
    """Write the requests' resources as ``<Type>.ndjson`` files; returns {request name: its patient id}."""
    folder.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, list[str]] = {}
    patients: dict[str, str] = {}
    for number, (name, request) in enumerate(sorted(requests.items())):
        new = f"bulk-{number:04d}"
        patients[name] = new
        for moved in patient_resources(request, new):
            by_type.setdefault(moved["resourceType"], []).append(json.dumps(moved))
    for kind, lines in by_type.items():
        (folder / f"{kind}.ndjson").write_text("\n".join(lines) + "\n")
    return patients
