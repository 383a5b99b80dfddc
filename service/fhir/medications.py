"""Medication resources the record references but did not bring: which they are, and reading them from the EHR's
FHIR server in batches (``Medication?_id=a,b,c``) within the hook call's time budget.

A ``medicationReference`` may point at a ``#contained`` Medication (the hook reads it in place), at a Medication
that arrived beside the records (an ``_include``, a patient Bundle: matched by ``fullUrl``, ``Medication/<id>``, an
absolute URL or a ``urn:uuid``), or at one nobody sent. Only the last kind is read, and only when it can be: a
relative ``Medication/<id>`` or an absolute URL under the allowlisted ``fhirServer``, an id that is a FHIR id, at
most ``CDS_FHIR_MAX_MEDICATION_READS`` of them. A ``urn:uuid`` nobody sent, or a Medication on another server, is
never fetched: the hook reports it as unresolved.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hooks.contract import MedicationEntry, medication_key
from service.fhir.client import Deadline, FhirServer
from service.fhir.errors import FhirError

log = logging.getLogger("axspa.prefetch")

#: Ids per ``Medication?_id=`` search: short URLs (well under 2 KB with 64-character ids), few round trips.
BATCH_SIZE = 20
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")  # what may go into the search URL


def references(resource: dict[str, Any]) -> Iterator[str]:
    """The Medication references of one medication record or draft (R4/STU3/DSTU2 ``medicationReference``, R5
    ``medication.reference``), as written."""
    for ref in (resource.get("medicationReference"), _r5_reference(resource.get("medication"))):
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str) and ref["reference"].strip():
            yield ref["reference"].strip()


def _r5_reference(medication: Any) -> Any:
    return medication.get("reference") if isinstance(medication, dict) else None


def medication_entries(entries: Iterable[Any]) -> Iterator[MedicationEntry]:
    """The Medication resources among Bundle entries (whatever their ``search.mode``), with their ``fullUrl``."""
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        if isinstance(resource, dict) and resource.get("resourceType") == "Medication":
            full_url = entry.get("fullUrl")
            yield MedicationEntry(resource, full_url if isinstance(full_url, str) and full_url else None)


@dataclass
class Unresolved:
    """References no Medication at hand answers, by key: the ones that can be read, and the ones that cannot."""

    readable: dict[str, str] = field(default_factory=dict)  # id -> the reference as written
    unreadable: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.readable or self.unreadable)


def unresolved(
    records: Iterable[dict[str, Any]], known: Iterable[MedicationEntry], server: FhirServer | None
) -> Unresolved:
    """The external Medication references of ``records`` that none of ``known`` answers."""
    keys = {key for entry in known for key in entry.keys()}
    found = Unresolved()
    seen: set[str] = set()
    for record in records:
        if "medicationReference" not in record and "medication" not in record:
            continue  # coded inline: the common case, kept cheap (a 1,000-statement history is the hot path)
        for reference in references(record):
            key = medication_key(reference)
            if key is None or key in keys or key in seen:
                continue  # contained, not a Medication, already at hand or already listed
            seen.add(key)
            medication_id = key.removeprefix("Medication/")
            relative = not reference.lower().startswith(("http://", "https://"))
            if (
                server is not None
                and key.startswith("Medication/")
                and _FHIR_ID.match(medication_id)
                and (relative or server.target.owns(reference))
            ):
                found.readable[medication_id] = reference
            else:
                found.unreadable.append(reference)
    return found


@dataclass(frozen=True, slots=True)
class MedicationReads:
    """What reading the missing Medications gave: the resources, the remarks for the clinician, whether it failed."""

    entries: tuple[MedicationEntry, ...] = ()
    notes: tuple[str, ...] = ()
    failed: bool = False


async def read_medications(
    server: FhirServer, ids: list[str], deadline: Deadline, limit: int
) -> MedicationReads:
    """Read up to ``limit`` Medications by id, ``BATCH_SIZE`` per search, the searches in parallel."""
    wanted, skipped = ids[:limit], len(ids) - min(len(ids), limit)
    notes: list[str] = []
    if skipped:
        notes.append(f"{skipped} referenced Medication record(s) were not read (more than {limit} per call).")
    batches = [wanted[i:i + BATCH_SIZE] for i in range(0, len(wanted), BATCH_SIZE)]
    results = await asyncio.gather(*(_read_batch(server, batch, deadline) for batch in batches),
                                   return_exceptions=True)
    entries: list[MedicationEntry] = []
    failures: list[str] = []
    for result in results:
        if isinstance(result, FhirError):
            failures.append(result.reason)
        elif isinstance(result, BaseException):
            raise result
        else:
            entries.extend(result)
    if failures:
        notes.append(f"Referenced Medication records could not be read from the FHIR server ({failures[0]}).")
        log.info("medication read failed", extra={"reason": failures[0], "batches": len(failures)})
    return MedicationReads(tuple(entries), tuple(notes), failed=bool(failures))


async def _read_batch(server: FhirServer, ids: list[str], deadline: Deadline) -> list[MedicationEntry]:
    query = "Medication?_id=" + ",".join(quote(medication_id, safe="") for medication_id in ids)
    pages = await server.reader.search(server.target, server.target.url(query), deadline)
    return [entry for page in pages for entry in medication_entries(page.get("entry") or ())]
