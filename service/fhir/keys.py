"""The prefetch keys, defined once: template, resource type, PatientData field, label, and what requires them.

CDS Hooks 2.0 templates have no date token, so the ``observations`` search filters by LOINC code and sorts by
date (newest first); the hook applies its own 12-month window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Required data sets: the decision is refused (412) when every key serving one of them is unavailable.
CONDITIONS = "conditions"
MEDICATIONS = "medications (MedicationStatement or MedicationRequest)"
REQUIREMENTS = (CONDITIONS, MEDICATIONS)

_OBSERVATION_CODES = ",".join(
    f"http://loinc.org|{code}"
    for code in (
        "72166-2",  # tobacco smoking status
        "82810-3",  # pregnancy status
        "71773-6",  # Mycobacterium tuberculosis IFN-gamma release assay (IGRA)
        "5196-1",  # hepatitis B surface antigen
        "16933-4",  # hepatitis B core antibody
        "1988-5",  # C reactive protein
    )
)


@dataclass(frozen=True, slots=True)
class PrefetchKey:
    """One prefetch key: its 2.0 template, what it yields, where the hook reads it, and whether it is required."""

    key: str
    template: str
    resource_type: str
    field: str  # the hooks.PatientData field it fills
    label: str  # what a clinician is told is missing
    requirement: str | None = None  # the required data set it serves (one of REQUIREMENTS); None: optional

    @property
    def is_search(self) -> bool:
        return "?" in self.template


PREFETCH_KEYS: tuple[PrefetchKey, ...] = (
    PrefetchKey("patient", "Patient/{{context.patientId}}", "Patient", "patient", "the patient's demographics"),
    PrefetchKey("medicationStatements", "MedicationStatement?patient={{context.patientId}}", "MedicationStatement",
                "medication_statements", "MedicationStatements", MEDICATIONS),
    PrefetchKey("medicationRequests", "MedicationRequest?patient={{context.patientId}}", "MedicationRequest",
                "medication_requests", "MedicationRequests", MEDICATIONS),
    PrefetchKey("conditions", "Condition?patient={{context.patientId}}", "Condition", "conditions", "Conditions",
                CONDITIONS),
    PrefetchKey("allergies", "AllergyIntolerance?patient={{context.patientId}}", "AllergyIntolerance", "allergies",
                "AllergyIntolerances"),
    PrefetchKey("observations", f"Observation?patient={{{{context.patientId}}}}&code={_OBSERVATION_CODES}&_sort=-date",
                "Observation", "observations",
                "Observations (smoking and pregnancy status, TB and hepatitis B tests, CRP)"),
)
BY_KEY = {key.key: key for key in PREFETCH_KEYS}
#: The search key that yields each resource type (a Bundle's resources are sorted into the hook's data sets by it).
SEARCH_KEY_FOR_TYPE = {key.resource_type: key for key in PREFETCH_KEYS if key.is_search}


def templates() -> dict[str, str]:
    """The discovery document's ``prefetch`` member."""
    return {key.key: key.template for key in PREFETCH_KEYS}


def required_data_missing(unavailable: frozenset[str]) -> list[str]:
    """The required data sets none of whose keys could be obtained (empty: the decision can be made)."""
    return [
        requirement
        for requirement in REQUIREMENTS
        if all(key.key in unavailable for key in PREFETCH_KEYS if key.requirement == requirement)
    ]


def patient_data_fields(resources: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """``hooks.PatientData`` keyword arguments from the resources read per key (the patient: the first, or None)."""
    fields: dict[str, Any] = {}
    for key in PREFETCH_KEYS:
        found = resources.get(key.key, [])
        fields[key.field] = tuple(found) if key.is_search else (found[0] if found else None)
    return fields
