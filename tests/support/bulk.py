"""A Bulk Data style NDJSON export made from CDS Hooks requests: one file per resource type, every resource of the
request's patient (prefetch and draft orders) under a patient id of its own, so that requests sharing a patient id
stay distinct patients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _retarget(resource: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """``resource`` with its references to ``Patient/old`` (and a Patient's own id) pointing at ``new``."""
    text = json.dumps(resource).replace(f'"Patient/{old}"', f'"Patient/{new}"')
    copy = json.loads(text)
    if copy.get("resourceType") == "Patient":
        copy["id"] = new
    return copy


def request_resources(request: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource of a request: the prefetch's Patient and search results, and the draft orders."""
    found: list[dict[str, Any]] = []
    for value in (request.get("prefetch") or {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            found += [e["resource"] for e in value.get("entry") or [] if isinstance(e.get("resource"), dict)]
        elif isinstance(value, dict) and value.get("resourceType"):
            found.append(value)
    found += [e["resource"] for e in request["context"]["draftOrders"].get("entry") or []]
    return found


def write_export(requests: dict[str, dict[str, Any]], folder: Path) -> dict[str, str]:
    """Write the requests' resources as ``<Type>.ndjson`` files; returns {request name: its patient id}."""
    folder.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, list[str]] = {}
    patients: dict[str, str] = {}
    for number, (name, request) in enumerate(sorted(requests.items())):
        old = request["context"]["patientId"]
        new = f"bulk-{number:04d}"
        patients[name] = new
        for resource in request_resources(request):
            moved = _retarget(resource, old, new)
            by_type.setdefault(moved["resourceType"], []).append(json.dumps(moved))
    for kind, lines in by_type.items():
        (folder / f"{kind}.ndjson").write_text("\n".join(lines) + "\n")
    return patients
