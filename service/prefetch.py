"""Prefetch resolution: the CDS Hooks 2.0 decision table, then tolerant extraction of resources.

| prefetch[key]              | action                                                             |
|----------------------------|--------------------------------------------------------------------|
| absent                     | fetch from ``fhirServer`` with the EHR's token; else unavailable   |
| ``null``                   | known empty; never refetched                                        |
| Bundle (0..n entries)      | use it; a ``next`` link is followed within the budget               |
| OperationOutcome / garbage | refetch if a server is available, else unavailable                 |

The hook never learns where data came from: it receives a :class:`hooks.PatientData`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin

from hooks import PatientData
from service.fhir import Deadline, FhirError, FhirReader, FhirTarget, next_link

log = logging.getLogger("axspa.prefetch")

# key -> (template, resource type it yields, is it a search)
TEMPLATES: dict[str, tuple[str, str, bool]] = {
    "patient": ("Patient/{{context.patientId}}", "Patient", False),
    "medicationStatements": ("MedicationStatement?patient={{context.patientId}}", "MedicationStatement", True),
    "medicationRequests": ("MedicationRequest?patient={{context.patientId}}", "MedicationRequest", True),
    "conditions": ("Condition?patient={{context.patientId}}", "Condition", True),
    "allergies": ("AllergyIntolerance?patient={{context.patientId}}", "AllergyIntolerance", True),
}
_FIELD = {
    "patient": "patient",
    "medicationStatements": "medication_statements",
    "medicationRequests": "medication_requests",
    "conditions": "conditions",
    "allergies": "allergies",
}


def required_data_missing(unavailable: frozenset[str]) -> list[str]:
    """The decision needs conditions and at least one medication source."""
    missing = []
    if "conditions" in unavailable:
        missing.append("conditions")
    if {"medicationStatements", "medicationRequests"} <= unavailable:
        missing.append("medications (MedicationStatement or MedicationRequest)")
    return missing


@dataclass
class _Slot:
    key: str
    resources: list[dict[str, Any]] = field(default_factory=list)
    available: bool = True
    fetched: bool = False  # the FHIR server was asked for this key
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Resolution:
    """The patient's data for the hook, and for the operator which keys needed the FHIR server."""

    data: PatientData
    fetched: tuple[str, ...]
    failed: tuple[str, ...]


def render(template: str, context: dict[str, Any]) -> str:
    """Substitute the 2.0 tokens we use (only ``{{context.patientId}}``), percent-encoded."""
    return template.replace("{{context.patientId}}", quote(str(context["patientId"]), safe=""))


class PrefetchResolver:
    def __init__(self, reader: FhirReader, budget_s: float) -> None:
        self._reader = reader
        self._budget_s = budget_s

    async def resolve(
        self, prefetch: dict[str, Any] | None, context: dict[str, Any], target: FhirTarget | None
    ) -> Resolution:
        deadline = Deadline(self._budget_s)
        prefetch = prefetch or {}
        slots = [_Slot(key) for key in TEMPLATES]
        await asyncio.gather(*(self._fill(slot, prefetch, context, target, deadline) for slot in slots))
        by_key = {slot.key: slot for slot in slots}
        patient = by_key["patient"].resources[0] if by_key["patient"].resources else None
        values: dict[str, Any] = {
            _FIELD[key]: tuple(slot.resources) for key, slot in by_key.items() if key != "patient"
        }
        data = PatientData(
            patient=patient,
            unavailable=frozenset(slot.key for slot in slots if not slot.available),
            notes=tuple(note for slot in slots for note in slot.notes),
            **values,
        )
        return Resolution(
            data,
            fetched=tuple(slot.key for slot in slots if slot.fetched),
            failed=tuple(slot.key for slot in slots if slot.fetched and not slot.available),
        )

    async def _fill(
        self,
        slot: _Slot,
        prefetch: dict[str, Any],
        context: dict[str, Any],
        target: FhirTarget | None,
        deadline: Deadline,
    ) -> None:
        template, resource_type, is_search = TEMPLATES[slot.key]
        if slot.key in prefetch:
            value = prefetch[slot.key]
            if value is None:
                return  # known empty
            if isinstance(value, dict) and value.get("resourceType") == "Bundle":
                slot.resources.extend(_entries(value, resource_type, slot))
                following = next_link(value)
                if following:
                    slot.fetched = True
                    await self._follow(slot, following, resource_type, target, deadline)
                return
            if isinstance(value, dict) and value.get("resourceType") == resource_type and not is_search:
                slot.resources.append(value)
                return
            why = "an OperationOutcome" if _is_outcome(value) else "not a usable FHIR Bundle"
            slot.notes.append(f"The EHR's prefetch of {slot.key} was {why}.")
        if target is None:
            slot.available = False
            slot.notes.append(f"{slot.key}: not provided and no FHIR server to read it from.")
            return
        url = urljoin(target.base_url.rstrip("/") + "/", render(template, context))
        slot.fetched = True
        try:
            if is_search:
                for page in await self._reader.search(target, url, deadline):
                    slot.resources.extend(_entries(page, resource_type, slot))
            else:
                resource = await self._reader.get_json(target, url, deadline)
                if resource is not None and resource.get("resourceType") == resource_type:
                    slot.resources.append(resource)
        except FhirError as exc:
            slot.available = False
            slot.resources.clear()
            slot.notes.append(f"{slot.key}: {exc.reason}.")
            log.info("fhir fetch failed", extra={"key": slot.key, "reason": exc.reason})

    async def _follow(
        self, slot: _Slot, url: str, resource_type: str, target: FhirTarget | None, deadline: Deadline
    ) -> None:
        """A paginated prefetch: read the remaining pages, or keep the first page and say so."""
        if target is None:
            slot.notes.append(f"{slot.key}: only the first page was provided (no FHIR server to read more).")
            return
        try:
            for page in await self._reader.search(target, urljoin(target.base_url + "/", url), deadline):
                slot.resources.extend(_entries(page, resource_type, slot))
        except FhirError as exc:
            slot.notes.append(f"{slot.key}: only part of the paginated prefetch could be read ({exc.reason}).")


def _is_outcome(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


def _entries(bundle: dict[str, Any], resource_type: str, slot: _Slot) -> list[dict[str, Any]]:
    """The Bundle's resources of ``resource_type``; malformed entries are skipped and noted."""
    entries = bundle.get("entry")
    if entries is None:
        return []
    if not isinstance(entries, list):
        slot.notes.append(f"{slot.key}: Bundle.entry was not a list and was ignored.")
        return []
    kept, skipped = [], 0
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            skipped += 1
            continue
        kind = resource.get("resourceType")
        if kind == resource_type:
            kept.append(resource)
        elif kind == "OperationOutcome":
            slot.notes.append(f"{slot.key}: the server reported a problem inside the search results.")
        elif not isinstance(kind, str):
            skipped += 1
        # other resource types (e.g. _include'd Medication) are not ours to read here
    if skipped:
        slot.notes.append(f"{slot.key}: skipped {skipped} malformed entr{'y' if skipped == 1 else 'ies'}.")
    return kept
