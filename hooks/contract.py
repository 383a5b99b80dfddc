"""The boundary between the protocol layer (service/) and the clinical logic (hooks/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from hooks.response import Card

# Names of the data sets the hook reads; the service's prefetch keys use the same names.
DATA_KEYS = ("patient", "medicationStatements", "medicationRequests", "conditions", "allergies", "observations")

_URN_UUID = "urn:uuid:"


def medication_key(reference: str) -> str | None:
    """Where a ``medicationReference`` points, as a key both sides index Medications by, or None when it does not
    point at a Medication outside the resource (``#contained``, another type, nothing).

    ``urn:uuid:<uuid>`` (a Bundle's fullUrl) stays itself, lowercased; ``Medication/<id>``, an absolute URL ending
    in ``.../Medication/<id>`` and either with ``/_history/<n>`` become ``Medication/<id>``.
    """
    reference = reference.strip()
    if reference.lower().startswith(_URN_UUID):
        return reference.lower() if len(reference) > len(_URN_UUID) else None
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) >= 2 and parts[-2] == "Medication" and parts[-1]:
        return f"Medication/{parts[-1]}"
    return None


@dataclass(frozen=True, slots=True)
class MedicationEntry:
    """A Medication resource the record's ``medicationReference``s may point at, with the ``fullUrl`` it came with
    (a prefetch or patient Bundle entry; None when read by id). Keys: :func:`medication_key` of both."""

    resource: dict[str, Any]
    full_url: str | None = None

    def keys(self) -> tuple[str, ...]:
        found = [medication_key(self.full_url)] if self.full_url else []
        rid = self.resource.get("id")
        if isinstance(rid, str) and rid:
            found.append(f"Medication/{rid}")
        return tuple(dict.fromkeys(k for k in found if k))


@dataclass(frozen=True, slots=True)
class PatientData:
    """Raw FHIR R4 resources (decoded JSON dicts) for one patient, wherever they came from.

    ``unavailable`` names the DATA_KEYS that could not be obtained (the hook says so in its cards);
    ``notes`` are data-quality remarks from the reader (e.g. "skipped 1 malformed Condition entry").
    ``medications`` are the Medication resources that arrived beside the others (``_include``, a patient Bundle)
    or that the service read because a record referenced them; a reference none of them answers is unresolved.
    """

    patient: dict[str, Any] | None = None
    medication_statements: tuple[dict[str, Any], ...] = ()
    medication_requests: tuple[dict[str, Any], ...] = ()
    conditions: tuple[dict[str, Any], ...] = ()
    allergies: tuple[dict[str, Any], ...] = ()
    observations: tuple[dict[str, Any], ...] = ()  # smoking and pregnancy status, TB and hepatitis B tests, CRP
    medications: tuple[MedicationEntry, ...] = ()
    unavailable: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HookSettings:
    """How the hook speaks, as the operator configures it (the service maps environment settings onto this)."""

    #: A concordant order with nothing actionable gets no card (alert fatigue); True restores an informational card.
    concordant_info_card: bool = False
    #: Most relevant draft orders evaluated per call; beyond, one card names the orders that were not checked.
    max_orders: int = 20


@dataclass(frozen=True, slots=True)
class HookInput:
    hook: Literal["order-select", "order-sign"]
    hook_instance: str
    patient_id: str
    user_id: str
    draft_orders: dict[str, Any]  # FHIR Bundle as sent by the EHR (R4; DSTU2/STU3 tolerated)
    selections: tuple[str, ...] = ()  # "MedicationRequest/id"; empty for order-sign
    data: PatientData = field(default_factory=PatientData)
    today: date = field(default_factory=date.today)
    settings: HookSettings = field(default_factory=HookSettings)
    #: The relevant orders as :func:`hooks.relevant_orders` read them from ``draft_orders``, ``selections`` and
    #: ``data.medications``, when the caller has them already; None: ``evaluate`` reads the drafts itself.
    orders: tuple[Any, ...] | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What the hook decided: CDS Hooks 2.0 cards (possibly none), the history it read and what was uncertain."""

    cards: list[Card]
    history: tuple[Any, ...] = ()  # the therapy courses the hook derived (hooks.history.Course)
    diagnosis: str | None = None  # "AS", "nr-axSpA" or None
    notes: tuple[str, ...] = ()  # what in the record was uncertain
