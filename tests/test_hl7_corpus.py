"""Real data nobody here wrote: the 5,305 official HL7 FHIR R4 examples (npm hl7.fhir.r4.examples@4.0.1),
each sent inside the seed request's prefetch. Every one must give 200, 400 or 412 -- never a 5xx, never a hang.

Placement of example number i (deterministic, all placements exercised across the corpus):
  * its resourceType is one a prefetch key yields (MedicationStatement, MedicationRequest, Condition,
    AllergyIntolerance, Observation) -> appended to that key's Bundle; a Patient -> the ``patient`` value;
  * any other resource -> appended as a non-matching entry to one of the five Bundles (rotating);
  * and, in a second request, the example is the raw value of one prefetch key (rotating over the six keys);
  * MedicationRequest examples are also sent as the draft order (selected).
No ``fhirServer`` is sent, so nothing is refetched: an unusable required key gives 412.

Get the corpus with `bash scripts/fetch-hl7-examples.sh` (scripts/setup-tests.sh calls it).
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cds import HOOK_URL, REPO, assert_cds_clean, seed_request, settings

from service.app import create_app
from service.fhir import PREFETCH_KEYS

CORPUS = Path(os.environ.get("HL7_EXAMPLES_DIR", REPO / ".cache" / "hl7-r4-examples")) / "package"
EXPECTED_COUNT = 5305
ALLOWED = {200, 400, 412}
MAX_BODY_BYTES = 5_000_000  # Settings.max_body_bytes: larger bodies are refused with 413 before parsing
KEY_FOR_TYPE = {key.resource_type: key.key for key in PREFETCH_KEYS if key.is_search}
BUNDLE_KEYS = tuple(KEY_FOR_TYPE.values())
ALL_KEYS = tuple(key.key for key in PREFETCH_KEYS)
PER_REQUEST_LIMIT_S = 2.0
WHOLE_RUN_LIMIT_S = 300.0
_REF_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")

pytestmark = pytest.mark.slow


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        from conftest import missing_infra

        missing_infra(f"HL7 R4 examples not found in {CORPUS} (bash scripts/fetch-hl7-examples.sh)")
    return sorted(p for p in CORPUS.glob("*.json") if p.name not in ("package.json", ".index.json", "ig-r4.json"))


def _copy(value: dict[str, Any]) -> dict[str, Any]:
    return orjson.loads(orjson.dumps(value))  # ~10x faster than copy.deepcopy


def requests_for(index: int, example: Any, base: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The requests that carry ``example`` (see the module docstring)."""
    out = []
    rtype = example.get("resourceType") if isinstance(example, dict) else None

    entry_request = _copy(base)
    prefetch = entry_request["prefetch"]
    if rtype == "Patient":
        prefetch["patient"] = example
        out.append(("as patient", entry_request))
    else:
        key = KEY_FOR_TYPE.get(rtype) or BUNDLE_KEYS[index % len(BUNDLE_KEYS)]
        bundle = prefetch[key]
        bundle.setdefault("entry", []).append({"fullUrl": f"urn:uuid:hl7-{index}", "resource": example})
        out.append((f"entry of {key}", entry_request))

    raw_request = _copy(base)
    key = ALL_KEYS[index % len(ALL_KEYS)]
    raw_request["prefetch"][key] = example
    out.append((f"raw value of {key}", raw_request))

    if rtype == "MedicationRequest":
        draft_request = _copy(base)
        example_id = example.get("id") if isinstance(example.get("id"), str) else ""
        draft_request["context"]["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                                   "entry": [{"resource": example}]}
        if _REF_ID.match(example_id):
            draft_request["context"]["selections"] = [f"MedicationRequest/{example_id}"]
        out.append(("draft order", draft_request))
    return out


def test_every_hl7_r4_example_is_answered_200_400_or_412(tmp_path):
    files = corpus_files()
    assert len(files) == EXPECTED_COUNT, f"expected {EXPECTED_COUNT} examples, found {len(files)} in {CORPUS}"
    base = seed_request()
    base.pop("fhirServer", None)
    base.pop("fhirAuthorization", None)
    failures: list[str] = []
    slow: list[str] = []
    counts: dict[int, int] = {}
    progress = {"current": "", "done": 0}

    async def run() -> None:
        # the app in this thread's event loop through httpx.ASGITransport: no thread hop per request
        app = create_app(settings(tmp_path))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://cds.test") as api:
                for index, path in enumerate(files):
                    example = orjson.loads(path.read_bytes())
                    for how, request in requests_for(index, example, base):
                        progress["current"] = f"{path.name} ({how})"
                        body = orjson.dumps(request)
                        started = time.perf_counter()
                        response = await api.post(HOOK_URL, content=body, headers={"Content-Type": "application/json"})
                        elapsed = time.perf_counter() - started
                        counts[response.status_code] = counts.get(response.status_code, 0) + 1
                        if len(body) > MAX_BODY_BYTES:
                            if response.status_code != 413:  # the documented body limit, checked before parsing
                                failures.append(f"{path.name} ({how}): {len(body)} bytes gave {response.status_code}")
                        elif response.status_code not in ALLOWED:
                            failures.append(f"{path.name} ({how}): HTTP {response.status_code} {response.text[:200]}")
                        elif response.status_code == 200:
                            try:
                                assert_cds_clean(orjson.loads(response.content))
                            except AssertionError as exc:
                                failures.append(f"{path.name} ({how}): 200 but not CDS-clean: {exc}")
                        if elapsed > PER_REQUEST_LIMIT_S:
                            slow.append(f"{path.name} ({how}): {elapsed:.2f} s")
                    progress["done"] = index + 1

    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    started = time.perf_counter()
    worker.start()
    worker.join(WHOLE_RUN_LIMIT_S)
    assert not worker.is_alive(), (
        f"corpus run still going after {WHOLE_RUN_LIMIT_S:.0f} s ({progress['done']} examples done); "
        f"stuck on {progress['current']}"
    )
    duration = time.perf_counter() - started
    if errors:
        raise errors[0]
    print(f"\nHL7 corpus: {len(files)} examples, {sum(counts.values())} requests in {duration:.1f} s; "
          f"statuses {dict(sorted(counts.items()))}")
    assert not failures, f"{len(failures)} failures, e.g.:\n" + "\n".join(failures[:25])
    assert not slow, f"{len(slow)} requests over {PER_REQUEST_LIMIT_S} s:\n" + "\n".join(slow[:25])
    assert counts.get(200, 0) > EXPECTED_COUNT, "most examples placed as entries should still give 200"
