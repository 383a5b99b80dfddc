#!/usr/bin/env python3
"""One-shot loader: put the fixture patients (fhir_fixtures/*/*.request.json prefetch) into a FHIR server.

    python deploy/load_fixtures.py --fhir http://hapi:8080/fhir --fixtures fhir_fixtures [--wait 300]

For every distinct patient (context.patientId) it takes the first fixture case (seed/ first, then by path) that is not
marked ``"malformed": true`` in its ``.expected.json`` and PUTs that case's prefetch resources (the Patient and
the entries of the searchset Bundles; never the draft orders) in one transaction Bundle. PUT with the fixture's
ids makes the load idempotent: run it again and nothing is duplicated.

The fixtures reuse resource ids across patients (``ms-ada`` exists in many records). On a shared server the
first patient keeps the id and a later patient's clashing resource is stored as ``<id>-<8 hex of patientId>``,
so one patient's record never overwrites another's. Patient ids are never renamed.

Standard library only, so it runs in a bare ``python:3.11-slim`` container. Exit status: 0 when every chosen
patient was loaded, 1 when some failed, 2 on bad arguments or when the server never became ready.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

FHIR_JSON = "application/fhir+json"


def log(message: str) -> None:
    print(f"load_fixtures: {message}", flush=True)


# ----------------------------------------------------------------------------- reading the fixtures
def _urn_targets(value: Any, found: dict[str, str]) -> dict[str, str]:
    """``urn:uuid`` names of the resources in ``value`` -> the ``Type/id`` they are stored as: an entry's
    ``urn:uuid`` fullUrl, and ``urn:uuid:<id>`` for every resource (Synthea names each resource so)."""
    if not isinstance(value, dict):
        return found
    if value.get("resourceType") != "Bundle":
        if isinstance(value.get("resourceType"), str) and isinstance(value.get("id"), str):
            found.setdefault(f"urn:uuid:{value['id']}", f"{value['resourceType']}/{value['id']}")
        return found
    for entry in value.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("id"), str):
            continue
        url = entry.get("fullUrl")
        if isinstance(url, str) and url.startswith("urn:uuid:"):
            found[url] = f"{resource['resourceType']}/{resource['id']}"
        _urn_targets(resource, found)
    return found


_DROP = object()


def _relinked(value: Any, targets: dict[str, str]) -> Any:
    """A copy of ``value`` whose ``urn:uuid`` references (Synthea-style records) point at ``Type/id``; a reference
    to a resource the record does not hold (an Encounter of the source Bundle) is left out: it means nothing on the
    server."""
    if isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str) and reference.startswith("urn:uuid:"):
            if reference not in targets:
                return _DROP
            value = {**value, "reference": targets[reference]}
        return {k: v for k, v in ((k, _relinked(v, targets)) for k, v in value.items()) if v is not _DROP}
    if isinstance(value, list):
        return [v for v in (_relinked(v, targets) for v in value) if v is not _DROP]
    return value


def prefetch_resources(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources of a CDS Hooks request's prefetch, de-duplicated by (type, id), Patient first; references to
    another entry's ``urn:uuid`` fullUrl (Synthea-style records) are rewritten to that entry's ``Type/id``."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    targets: dict[str, str] = {}
    for value in (request.get("prefetch") or {}).values():
        _urn_targets(value, targets)

    def add(resource: Any) -> None:
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            return
        if resource["resourceType"] == "Bundle":
            for entry in resource.get("entry") or []:
                if isinstance(entry, dict):
                    add(entry.get("resource"))
            return
        if resource["resourceType"] == "OperationOutcome":
            return
        key = (resource["resourceType"], str(resource.get("id") or f"#{len(out)}"))
        if key not in seen:
            seen.add(key)
            out.append(_relinked(resource, targets) if targets else resource)

    for value in (request.get("prefetch") or {}).values():
        add(value)
    out.sort(key=lambda r: r["resourceType"] != "Patient")
    return out


def choose_cases(fixtures: Path) -> tuple[list[tuple[Path, dict[str, Any]]], list[str]]:
    """One well-formed case per patient id; returns (chosen, skipped descriptions)."""
    chosen: dict[str, tuple[Path, dict[str, Any]]] = {}
    skipped: list[str] = []
    # the shared seed patient first, so that it keeps the ids its documentation and tests use
    for path in sorted(fixtures.glob("*/*.request.json"), key=lambda p: (p.parent.name != "seed", str(p))):
        try:
            request = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            skipped.append(f"{path.name}: unreadable ({exc})")
            continue
        expected = path.with_name(path.name.replace(".request.json", ".expected.json"))
        try:
            malformed = bool(json.loads(expected.read_text(encoding="utf-8")).get("malformed"))
        except (OSError, ValueError):
            malformed = False
        patient_id = ((request.get("context") or {}).get("patientId")) or None
        if malformed:
            skipped.append(f"{path.parent.name}/{path.name}: deliberately malformed FHIR")
            continue
        if not patient_id:
            skipped.append(f"{path.parent.name}/{path.name}: no context.patientId")
            continue
        chosen.setdefault(patient_id, (path, request))
    return list(chosen.values()), skipped


def namespaced(resources: list[dict[str, Any]], patient_id: str, owners: dict[tuple[str, str], str]) -> list[dict]:
    """Copies of ``resources`` whose ids do not clash with another patient's already-claimed ids."""
    suffix = hashlib.sha1(patient_id.encode()).hexdigest()[:8]
    out = []
    for resource in resources:
        resource = json.loads(json.dumps(resource))  # deep copy
        rid = resource.get("id")
        if rid and resource["resourceType"] != "Patient":
            key = (resource["resourceType"], rid)
            owner = owners.setdefault(key, patient_id)
            if owner != patient_id:
                resource["id"] = f"{rid[: 64 - 9]}-{suffix}"
                owners[(resource["resourceType"], resource["id"])] = patient_id
        out.append(resource)
    return out


def transaction(base: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    entries = []
    for resource in resources:
        kind, rid = resource["resourceType"], resource.get("id")
        if rid:
            entries.append({"fullUrl": f"{base}/{kind}/{rid}", "resource": resource,
                            "request": {"method": "PUT", "url": f"{kind}/{rid}"}})
        else:
            entries.append({"resource": resource, "request": {"method": "POST", "url": kind}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


# ----------------------------------------------------------------------------- talking to the server
def http(method: str, url: str, body: dict[str, Any] | None = None, timeout: float = 60.0) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Accept": FHIR_JSON, **({"Content-Type": FHIR_JSON} if data else {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw[:500].decode("utf-8", "replace")


def wait_ready(base: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        try:
            status, body = http("GET", f"{base}/metadata", timeout=10)
            if status == 200 and isinstance(body, dict) and body.get("resourceType") == "CapabilityStatement":
                return True
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(2)


def load(base: str, fixtures: Path) -> tuple[list[str], list[str]]:
    """Load every chosen patient; returns (loaded patient ids, failure descriptions)."""
    cases, skipped = choose_cases(fixtures)
    for line in skipped:
        log(f"skipped {line}")
    owners: dict[tuple[str, str], str] = {}
    loaded, failed = [], []
    for path, request in cases:
        patient_id = request["context"]["patientId"]
        resources = namespaced(prefetch_resources(request), patient_id, owners)
        if not resources:
            failed.append(f"{patient_id}: {path.name} has no prefetch resources")
            continue
        try:
            status, body = http("POST", base, transaction(base, resources))
        except (OSError, urllib.error.URLError) as exc:
            failed.append(f"{patient_id}: {exc}")
            continue
        if status in (200, 201):
            loaded.append(patient_id)
            log(f"loaded {patient_id}: {len(resources)} resources from {path.parent.name}/{path.name}")
        else:
            failed.append(f"{patient_id}: HTTP {status}: {json.dumps(body)[:300] if body else ''}")
    return loaded, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fhir", required=True, help="FHIR base URL, e.g. http://hapi:8080/fhir")
    parser.add_argument("--fixtures", type=Path, default=Path(__file__).resolve().parent.parent / "fhir_fixtures")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for GET {fhir}/metadata")
    args = parser.parse_args(argv)
    base = args.fhir.rstrip("/")
    if not args.fixtures.is_dir():
        print(f"load_fixtures: {args.fixtures} is not a directory", file=sys.stderr)
        return 2
    log(f"waiting up to {args.wait:.0f}s for {base}/metadata")
    if not wait_ready(base, args.wait):
        print(f"load_fixtures: {base} did not become ready within {args.wait:.0f}s", file=sys.stderr)
        return 2
    started = time.monotonic()
    loaded, failed = load(base, args.fixtures)
    for line in failed:
        print(f"load_fixtures: FAILED {line}", file=sys.stderr)
    log(f"{len(loaded)} patients loaded, {len(failed)} failed, in {time.monotonic() - started:.1f}s")
    return 1 if failed or not loaded else 0


if __name__ == "__main__":
    raise SystemExit(main())
