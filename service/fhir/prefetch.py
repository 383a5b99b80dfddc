"""Prefetch resolution: the CDS Hooks 2.0 decision table, then tolerant extraction of resources.

| prefetch[key]              | action                                                             |
|----------------------------|--------------------------------------------------------------------|
| absent                     | fetch from ``fhirServer`` with the EHR's token; else unavailable   |
| ``null``                   | known empty; never refetched                                        |
| Bundle (0..n entries)      | use it; a ``next`` link is followed within the budget               |
| OperationOutcome / garbage | refetch if a server is available, else unavailable                 |

Medication resources in any Bundle (``_include``d, or plain entries) are kept with their ``fullUrl``; the ones the
records and the drafts reference but nobody sent are then read from the server within the same budget
(``service.fhir.medications``). The hook never learns where data came from: it receives a
:class:`hooks.PatientData`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hooks import PatientData
from hooks.contract import MedicationEntry
from service.fhir.client import Deadline, FhirServer, next_link
from service.fhir.errors import FhirError
from service.fhir.keys import PREFETCH_KEYS, PrefetchKey, patient_data_fields
from service.fhir.medications import medication_entries, read_medications, unresolved

#: The pseudo-key under which reading referenced Medications is counted (``Resolution.fetched`` / ``failed``).
MEDICATIONS_READ = "medications"
DEFAULT_MEDICATION_READS = 100

log = logging.getLogger("axspa.prefetch")


@dataclass
class _Slot:
    key: PrefetchKey
    resources: list[dict[str, Any]] = field(default_factory=list)
    medications: list[MedicationEntry] = field(default_factory=list)  # Medication entries of the slot's Bundles
    available: bool = True
    fetched: bool = False  # the FHIR server was asked for this key
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.key.key


@dataclass(frozen=True, slots=True)
class Resolution:
    """The patient's data for the hook, and for the operator which keys needed the FHIR server."""

    data: PatientData
    fetched: tuple[str, ...]
    failed: tuple[str, ...]
    seconds: float = 0.0  # time spent on the FHIR server (0 when nothing was fetched)


def render(template: str, patient_id: str) -> str:
    """Substitute the 2.0 token we use (only ``{{context.patientId}}``), percent-encoded."""
    return template.replace("{{context.patientId}}", quote(patient_id, safe=""))


async def resolve_prefetch(
    prefetch: dict[str, Any] | None,
    patient_id: str,
    server: FhirServer | None,
    drafts: Iterable[dict[str, Any]] = (),
    *,
    medication_reads: int = DEFAULT_MEDICATION_READS,
) -> Resolution:
    """Every prefetch key resolved by the decision table (all missing keys read in parallel, one budget), then the
    Medications that the records or ``drafts`` reference and nobody sent (at most ``medication_reads``)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = Deadline(server.budget_s if server is not None else 0.0)
    given = prefetch or {}
    slots = [_Slot(key) for key in PREFETCH_KEYS]
    pending = [read for slot in slots if (read := _fill(slot, given, patient_id, server, deadline)) is not None]
    if pending:  # a complete prefetch (the usual case) reads nothing: no task to schedule
        await asyncio.gather(*pending)
    fields = patient_data_fields({slot.name: slot.resources for slot in slots})
    notes = [note for slot in slots for note in slot.notes]
    medications = _unique(m for slot in slots for m in slot.medications)
    fetched = [slot.name for slot in slots if slot.fetched]
    failed = [slot.name for slot in slots if slot.fetched and not slot.available]
    records = [*fields["medication_statements"], *fields["medication_requests"], *drafts]
    missing = unresolved(records, medications, server)
    if missing.readable and server is not None and medication_reads > 0:
        fetched.append(MEDICATIONS_READ)
        reads = await read_medications(server, list(missing.readable), deadline, medication_reads)
        medications.extend(reads.entries)
        notes.extend(reads.notes)
        if reads.failed:
            failed.append(MEDICATIONS_READ)
    data = PatientData(
        unavailable=frozenset(slot.name for slot in slots if not slot.available),
        notes=tuple(notes),
        medications=tuple(medications),
        **fields,
    )
    return Resolution(
        data,
        fetched=tuple(fetched),
        failed=tuple(failed),
        seconds=loop.time() - started if fetched else 0.0,
    )


def _fill(
    slot: _Slot, prefetch: dict[str, Any], patient_id: str, server: FhirServer | None, deadline: Deadline
) -> Coroutine[Any, Any, None] | None:
    """Fill the slot from the prefetch; what remains to read from the server (a missing or unusable key, the next
    pages of a paginated one) is returned, to be awaited with the other keys' reads, or None."""
    key = slot.key
    if key.key in prefetch:
        value = prefetch[key.key]
        if value is None:
            return None  # known empty
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            slot.resources.extend(_entries(value, slot))
            following = next_link(value)
            if following:
                slot.fetched = True
                return _follow(slot, following, server, deadline)
            return None
        if isinstance(value, dict) and value.get("resourceType") == key.resource_type and not key.is_search:
            slot.resources.append(value)
            return None
        why = "an OperationOutcome" if _is_outcome(value) else "not a usable FHIR Bundle"
        slot.notes.append(f"The EHR's prefetch of {key.key} was {why}.")
    if server is None:
        slot.available = False  # the hook says which data it could not obtain; there is no more to say here
        return None
    slot.fetched = True
    return _fetch(slot, server.target.url(render(key.template, patient_id)), server, deadline)


async def _fetch(slot: _Slot, url: str, server: FhirServer, deadline: Deadline) -> None:
    """Read the slot's key from the FHIR server (every page of a search); a failure leaves it unavailable."""
    key = slot.key
    try:
        if key.is_search:
            for page in await server.reader.search(server.target, url, deadline):
                slot.resources.extend(_entries(page, slot))
        else:
            resource = await server.reader.get_json(server.target, url, deadline)
            if resource is not None and resource.get("resourceType") == key.resource_type:
                slot.resources.append(resource)
    except FhirError as exc:
        slot.available = False
        slot.resources.clear()
        slot.medications.clear()
        slot.notes.append(f"{key.key}: {exc.reason}.")
        log.info("fhir fetch failed", extra={"key": key.key, "reason": exc.reason})


async def _follow(slot: _Slot, url: str, server: FhirServer | None, deadline: Deadline) -> None:
    """A paginated prefetch: read the remaining pages, or keep the first page and say so."""
    if server is None:
        slot.notes.append(f"{slot.name}: only the first page was provided (no FHIR server to read more).")
        return
    try:
        for page in await server.reader.search(server.target, server.target.url(url), deadline):
            slot.resources.extend(_entries(page, slot))
    except FhirError as exc:
        slot.notes.append(f"{slot.name}: only part of the paginated prefetch could be read ({exc.reason}).")


def _unique(entries: Iterable[MedicationEntry]) -> list[MedicationEntry]:
    """One entry per Medication (the same one often arrives with both medication searches' ``_include``)."""
    kept: dict[tuple[str | None, Any], MedicationEntry] = {}
    for entry in entries:
        kept.setdefault((entry.full_url, entry.resource.get("id")), entry)
    return list(kept.values())


def _is_outcome(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


def _entries(bundle: dict[str, Any], slot: _Slot) -> list[dict[str, Any]]:
    """The Bundle's resources of the slot's type; malformed entries are skipped and noted."""
    entries = bundle.get("entry")
    if entries is None:
        return []
    if not isinstance(entries, list):
        slot.notes.append(f"{slot.name}: Bundle.entry was not a list and was ignored.")
        return []
    kept, skipped = [], 0
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            skipped += 1
            continue
        kind = resource.get("resourceType")
        if kind == slot.key.resource_type:
            kept.append(resource)
        elif kind == "Medication":  # _include'd (search.mode include) or sent beside: what references point at
            slot.medications.extend(medication_entries((entry,)))
        elif kind == "OperationOutcome":
            slot.notes.append(f"{slot.name}: the server reported a problem inside the search results.")
        elif not isinstance(kind, str):
            skipped += 1
        # other resource types are not ours to read here
    if skipped:
        slot.notes.append(f"{slot.name}: skipped {skipped} malformed entr{'y' if skipped == 1 else 'ies'}.")
    return kept
