"""Reading a Bulk Data NDJSON export into patients (one resource per line, one file per resource type).

Resources are grouped by patient: a Patient's id, the others' ``subject`` or ``patient`` reference. A Medication
names no patient: it joins every patient whose MedicationRequest or MedicationStatement references it
(``Medication/<id>``, an absolute URL ending so, or the ``urn:uuid`` a Synthea export uses), as the medication
searches' ``_include`` would bring it. Types the hook does not read are skipped and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from service.fhir.keys import SEARCH_KEY_FOR_TYPE

#: What the hook reads of an export (DSTU2 drafts too; Medications join the patients who reference them).
READ_TYPES = frozenset({"Patient", "MedicationOrder", "Medication", *SEARCH_KEY_FOR_TYPE})
_REFERRING = ("MedicationRequest", "MedicationStatement", "MedicationOrder")


def patient_of(resource: dict[str, Any]) -> str | None:
    """The patient a resource belongs to: a Patient's id, else its ``subject`` or ``patient`` reference."""
    if resource.get("resourceType") == "Patient":
        rid = resource.get("id")
        return rid if isinstance(rid, str) and rid else None
    for name in ("subject", "patient"):
        ref = resource.get(name)
        reference = ref.get("reference") if isinstance(ref, dict) else None
        if isinstance(reference, str) and "Patient/" in reference:
            patient = reference.rsplit("Patient/", 1)[1].split("/", 1)[0]
            if patient:
                return patient
    return None


def medication_key(resource: dict[str, Any]) -> str | None:
    """The key a Medication is referenced by in an export: its id."""
    rid = resource.get("id")
    return rid if resource.get("resourceType") == "Medication" and isinstance(rid, str) and rid else None


def referenced_medications(resource: dict[str, Any]) -> list[str]:
    """The Medication keys a medication record references (none for ``#contained`` or a coded medication)."""
    if resource.get("resourceType") not in _REFERRING:
        return []
    ref = resource.get("medicationReference")
    reference = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(reference, str) or reference.startswith("#"):
        return []
    if reference.startswith("urn:uuid:"):
        return [reference.removeprefix("urn:uuid:")]
    if "Medication/" in reference:
        key = reference.rsplit("Medication/", 1)[1].split("/", 1)[0]
        return [key] if key else []
    return []


def with_medications(resources: list[dict[str, Any]], medications: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """A patient's resources plus the Medications they reference (each once)."""
    wanted = dict.fromkeys(key for resource in resources for key in referenced_medications(resource))
    return resources + [medications[key] for key in wanted if key in medications]


@dataclass
class Export:
    """An NDJSON export read into patients: their resources, the files' problems, what was skipped."""

    patients: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    medications: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file, what is wrong with it)
    skipped: Counter[str] = field(default_factory=Counter)  # resource types the hook does not read

    def patient_resources(self) -> Iterable[tuple[str, list[dict[str, Any]]]]:
        """Each patient's resources with the Medications they reference."""
        for patient, resources in self.patients.items():
            yield patient, with_medications(resources, self.medications)


def read_export(files: Iterable[tuple[Path, str]]) -> Export:
    """Read every file (path, name shown in errors); a bad line is counted, never fatal."""
    export = Export()
    for path, source in files:
        bad: list[int] = []
        orphans = 0
        try:
            with path.open("rb") as handle:
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    try:
                        resource = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        resource = None
                    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                        bad.append(number)
                        continue
                    kind = resource["resourceType"]
                    if kind not in READ_TYPES:
                        export.skipped[kind] += 1
                        continue
                    if kind == "Medication":
                        key = medication_key(resource)
                        if key is None:
                            orphans += 1
                        else:
                            export.medications[key] = resource
                        continue
                    patient = patient_of(resource)
                    if patient is None:
                        orphans += 1
                        continue
                    export.patients.setdefault(patient, []).append(resource)
        except OSError as exc:
            export.errors.append((source, f"cannot read: {exc.strerror or exc}"))
            continue
        if bad:
            export.errors.append((source, f"{len(bad)} line(s) are not a FHIR resource in JSON (first: line {bad[0]})"))
        if orphans:
            export.errors.append((source, f"{orphans} resource(s) name no patient"))
    return export
