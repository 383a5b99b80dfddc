"""The patient's record read tolerantly into small typed views: Conditions (by value set) and AllergyIntolerances.

Plain dict access only (no fhir.resources on the hot path). A resource with missing fields or wrong types is read as
far as it goes or skipped with a note; nothing here raises on bad data. Medications are read by
:mod:`hooks.medications` (its readers are re-exported here: this module is where the hook reads a record from), the
FHIR values by :mod:`hooks.fhir_values`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import hooks.terminology as terminology
from hooks.fhir_values import as_list, as_str, codings, one_line, parse_date, reference_of, resources, status_code, texts
from hooks.knowledge import Knowledge, normalise_icd
from hooks.medications import (
    NO_MEDICATIONS,
    DraftOrder,
    MedicationIndex,
    MedRecord,
    identify_drug,
    read_draft_orders,
    read_medications,
)

__all__ = [
    "NO_MEDICATIONS", "AllergyRecord", "ConditionFinding", "DraftOrder", "MedRecord", "MedicationIndex",
    "identify_drug", "patient_age", "read_allergies", "read_conditions", "read_draft_orders", "read_medications",
]

_ICD10 = frozenset({terminology.ICD10CM, terminology.ICD10})  # ICD-10-CM and WHO ICD-10 share the axSpA prefixes
EXCLUDED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
UNCONFIRMED_VERIFICATION = frozenset({"unconfirmed", "provisional", "differential"})


@dataclass(frozen=True, slots=True)
class ConditionFinding:
    value_set: str
    ref: str
    label: str
    by_verified_code: bool  # False when only an unverified code or a text pattern matched
    unconfirmed: bool  # verificationStatus unconfirmed / provisional / differential
    status: str = ""  # clinicalStatus code ("" when absent)
    onset: date | None = None
    abated: date | None = None
    recorded: date | None = None
    icd10: tuple[str, ...] = ()  # the ICD-10-CM codes of the Condition, normalised (e.g. "Z3A24")

    @property
    def last_date(self) -> date | None:
        """When the condition was last known to be present: abatement, else onset or recorded date."""
        return self.abated or self.recorded or self.onset


@dataclass(frozen=True, slots=True)
class AllergyRecord:
    ref: str
    drug: str
    kind: str  # "allergy" | "intolerance" | "unknown"
    label: str
    reactions: tuple[str, ...]


# ------------------------------------------------------------------------------------------- conditions


def _match_condition(kb: Knowledge, code_cc: Any) -> dict[str, bool]:
    """Value sets matched by one Condition.code: {value set: matched by a verified code}."""
    found: dict[str, bool] = {}
    for system, code, _ in codings(code_cc):
        if not code:
            continue
        name = terminology.system_of(system)  # a code counts only under its own system (URI or OID form)
        if name in _ICD10:
            norm = normalise_icd(code)
            for n in range(1, len(norm) + 1):
                for key, verified in kb.condition_by_icd.get(norm[:n], ()):
                    found[key] = found.get(key, False) or verified
        elif name == terminology.SNOMED:
            for key, verified in kb.condition_by_snomed.get(code, ()):
                found[key] = found.get(key, False) or verified
    for text in () if found else texts(code_cc):
        for key in kb.match_condition_text(text):
            found.setdefault(key, False)
    return found


_PAST_STATUSES = frozenset({"inactive", "remission", "resolved"})


def _onset(res: dict[str, Any]) -> date | None:
    period = res.get("onsetPeriod")
    return parse_date(res.get("onsetDateTime")) or (parse_date(period.get("start")) if isinstance(period, dict) else None)


def _abatement(res: dict[str, Any]) -> date | None:
    period = res.get("abatementPeriod")
    return parse_date(res.get("abatementDateTime")) or (parse_date(period.get("end")) if isinstance(period, dict) else None)


def read_conditions(kb: Knowledge, items: Iterable[Any], notes: list[str]) -> list[ConditionFinding]:
    """Condition findings that count (clinical and verification status respected per value set).

    A Condition whose status is past (inactive, remission, resolved) and not one its value set counts for is read
    as the value set's ``resolved_as`` (active TB -> past TB, sepsis -> recent serious infection), if it names one.
    """
    findings: list[ConditionFinding] = []
    for res in resources(items):
        try:
            verification = status_code(res.get("verificationStatus"))
            if verification in EXCLUDED_VERIFICATION:
                continue
            clinical = status_code(res.get("clinicalStatus"))
            code_cc = res.get("code")
            label = next(iter(texts(code_cc)), "") or reference_of(res)
            icd = tuple(normalise_icd(code) for system, code, _ in codings(code_cc)
                        if code and terminology.system_of(system) in _ICD10)
            dates = (_onset(res), _abatement(res), parse_date(res.get("recordedDate")))
            for key, verified in _match_condition(kb, code_cc).items():
                vs = kb.value_sets[key]
                if clinical and clinical not in vs.statuses:
                    if not (clinical in _PAST_STATUSES and vs.resolved_as):
                        continue
                    key = vs.resolved_as
                findings.append(ConditionFinding(
                    key, reference_of(res), label, verified, verification in UNCONFIRMED_VERIFICATION,
                    clinical, *dates, icd,
                ))
        except Exception:  # noqa: BLE001
            notes.append(f"Could not read {reference_of(res)}; it was skipped.")
    return findings


# -------------------------------------------------------------------------------------------- allergies


def read_allergies(kb: Knowledge, items: Iterable[Any], notes: list[str]) -> list[AllergyRecord]:
    """Drug allergies and intolerances to known drugs (refuted, entered-in-error and resolved ones ignored)."""
    records: list[AllergyRecord] = []
    for res in resources(items):
        try:
            if status_code(res.get("verificationStatus")) in EXCLUDED_VERIFICATION:
                continue
            if status_code(res.get("clinicalStatus")) in ("resolved", "inactive"):
                continue
            drug, label = identify_drug(kb, [res.get("code")] + as_list(res.get("substance")))
            reactions: list[str] = []
            for reaction in as_list(res.get("reaction")):
                if isinstance(reaction, dict):
                    for cc in as_list(reaction.get("manifestation")):
                        reactions.extend(texts(cc))
                    reactions.append(one_line(as_str(reaction.get("description"))))
                    if drug is None:
                        drug, label = identify_drug(kb, [reaction.get("substance")])
            if drug is None:
                continue
            kind = as_str(res.get("type")).lower() or "unknown"
            records.append(AllergyRecord(reference_of(res), drug, kind, label, tuple(r for r in reactions if r)))
        except Exception:  # noqa: BLE001
            notes.append(f"Could not read {reference_of(res)}; it was skipped.")
    return records


def patient_age(patient: Any, today: date) -> int | None:
    born = parse_date(patient.get("birthDate")) if isinstance(patient, dict) else None
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
