"""MedicationStatements, MedicationRequests and draft orders read into :class:`MedRecord` and :class:`DraftOrder`.

The drug is identified by a code under its own system, else by name, directly or through the Medication a record
references (``#contained``, a Medication sent with the request, or one read from the FHIR server). Why a medication
stopped (statusReason and the older fields, notes) is kept apart from why it was given (reasonCode), which is never a
stop reason. A malformed record is skipped with a note; the others are kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import hooks.terminology as terminology
from hooks.contract import MedicationEntry, medication_key
from hooks.fhir_values import (
    as_list,
    as_list_or_str,
    as_str,
    codings,
    one_line,
    parse_date,
    reference_of,
    resources,
    status_code,
    texts,
)
from hooks.knowledge import Knowledge
from hooks.stop_reasons import Coding

SKIPPED_MED_STATUSES = frozenset({"entered-in-error", "not-taken", "draft", "intended"})
LOCAL_ROUTE_WORDS = (
    "intra-articular", "intraarticular", "intra articular", "topical", "ophthalmic", "eye drop", "inhal",
    "intralesional", "nasal", "rectal", "cutaneous", "otic", "joint injection", "epidural", "enema", "cream",
    "ointment", "intravitreal",
)


@dataclass(frozen=True, slots=True)
class MedRecord:
    """One MedicationStatement / MedicationRequest reduced to what the history needs."""

    ref: str
    drug: str  # knowledge drug key
    label: str  # the medication text or display as recorded
    status: str
    start: date | None
    end: date | None
    stop_texts: tuple[str, ...]  # why it stopped: statusReason texts, displays (DSTU2 reasonEnded, STU3 reasonNotTaken)
    stop_codes: tuple[Coding, ...]  # the statusReason codings, each with its system
    notes: tuple[str, ...]  # note texts: the classifier reads them only where they state why *this* drug stopped
    indications: tuple[str, ...]  # reasonCode / reasonReference: why it was given, never why it stopped


@dataclass(frozen=True, slots=True)
class DraftOrder:
    ref: str  # "MedicationRequest/id"
    drug: str | None
    label: str
    local_route: bool  # route or text says local (intra-articular, topical, ophthalmic...)


# ------------------------------------------------------------------------------------------------ drugs


class MedicationIndex:
    """The Medication resources a ``medicationReference`` may point at, by every key it may use (``fullUrl``,
    ``Medication/<id>``, an absolute URL, a ``urn:uuid``: :func:`hooks.contract.medication_key`)."""

    __slots__ = ("_by_key",)

    def __init__(self, entries: Iterable[MedicationEntry] = ()) -> None:
        self._by_key: dict[str, dict[str, Any]] = {}
        for entry in entries:
            for key in entry.keys():
                self._by_key.setdefault(key, entry.resource)

    def find(self, reference: str) -> dict[str, Any] | None:
        key = medication_key(reference)
        return self._by_key.get(key) if key is not None else None

    def with_bundle(self, bundle: Any) -> MedicationIndex:
        """This index plus the Medication entries of ``bundle`` (draftOrders may carry the drafts' Medications)."""
        entries = bundle.get("entry") if isinstance(bundle, dict) else None
        found = [MedicationEntry(e["resource"], e.get("fullUrl") if isinstance(e.get("fullUrl"), str) else None)
                 for e in as_list(entries) if isinstance(e, dict) and isinstance(e.get("resource"), dict)
                 and e["resource"].get("resourceType") == "Medication"]
        if not found:
            return self
        merged = MedicationIndex(found)
        for key, resource in self._by_key.items():
            merged._by_key.setdefault(key, resource)
        return merged


NO_MEDICATIONS = MedicationIndex()


def _code_hit(cc: Any, index: dict[str, dict[str, str]]) -> str | None:
    """The drug of the first coding whose code its own system knows (the hot path: two dict lookups, no allocation).

    ``index`` maps every accepted spelling of a code system to its codes (``Knowledge.drug_codes``): a coding of an
    unknown system, or without one, never matches by code, whatever number it carries (a local EHR code that equals an
    unrelated RxCUI); its display still matches by name.
    """
    if type(cc) is not dict:
        return None
    coding = cc.get("coding")
    if type(coding) is list:
        for c in coding:
            if type(c) is dict:
                system = c.get("system")
                codes = index.get(system) if type(system) is str else None
                if codes is not None:
                    code = c.get("code")
                    if type(code) is str:
                        key = codes.get(code)
                        if key is not None:
                            return key
    return None


def _medication_concepts(res: dict[str, Any], meds: MedicationIndex = NO_MEDICATIONS) -> tuple[list[Any], str | None]:
    """Every place a medication may be named (codeable concept, reference display, the referenced Medication:
    ``#contained`` or one of ``meds``; R5 CodeableReference), and the reference that could not be resolved, if any."""
    concepts: list[Any] = [res.get("medicationCodeableConcept")]
    ref = res.get("medicationReference")
    medication = res.get("medication")  # R5 CodeableReference, tolerated
    if ref is None and medication is None:
        return concepts, None
    unresolved = None
    if isinstance(medication, dict):
        if "reference" in medication and "concept" not in medication:
            ref = ref or medication["reference"]
        else:
            concepts.append(medication.get("concept", medication))
    if isinstance(ref, dict):
        concepts.append(as_str(ref.get("display")))
        target = as_str(ref.get("reference")).strip()
        if target.startswith("#"):
            for contained in as_list(res.get("contained")):
                if isinstance(contained, dict) and contained.get("id") == target[1:]:
                    concepts.append(contained.get("code"))
                    break
            else:
                unresolved = target
        elif target:
            found = meds.find(target)
            if found is not None:
                concepts.append(found.get("code"))
            else:
                unresolved = target
    return [c for c in concepts if c], unresolved


def identify_drug(kb: Knowledge, concepts: list[Any]) -> tuple[str | None, str]:
    """(drug key or None, label): by a code under its own system first (RxNorm ingredient or product, ATC), then by
    name in text and displays."""
    for cc in concepts:
        key = _code_hit(cc, kb.drug_codes)
        if key:
            return key, (texts(cc) or [key])[0]
    label = ""
    for cc in concepts:
        found = texts(cc)
        label = label or (found[0] if found else "")
        for text in found:
            hit = kb.match_drug_text(text)
            if hit:
                return hit[0], text
    return None, label


# ------------------------------------------------------------------------------------------ medications


# Where each FHIR version records why a medication stopped, and why it was given. The indication is kept apart: an
# order's reasonCode ("AS with inadequate response to NSAIDs") is never the stop reason of the drug.
_STOP_FIELDS = ("statusReason", "reasonEnded", "reasonNotTaken")  # R4/R5; DSTU2 MedicationOrder; DSTU2/STU3 statement
_INDICATION_FIELDS = ("reasonCode", "reasonReference", "reasonCodeableConcept", "reasonForUseCodeableConcept",
                      "reasonForUseReference", "reason")


@dataclass(frozen=True, slots=True)
class Reasons:
    stop_texts: tuple[str, ...] = ()
    stop_codes: tuple[Coding, ...] = ()
    notes: tuple[str, ...] = ()
    indications: tuple[str, ...] = ()


_NO_REASONS = Reasons()


def _concept_of(value: Any) -> Any:
    """A CodeableConcept, a R5 CodeableReference's concept, or a Reference's display."""
    if isinstance(value, dict) and "concept" in value:
        return value["concept"]
    if isinstance(value, dict) and "reference" in value and "coding" not in value:
        ref = value["reference"]
        return as_str(ref.get("display")) if isinstance(ref, dict) else as_str(value.get("display"))
    return value


def _reasons(res: dict[str, Any]) -> Reasons:
    """Stop reasons (texts and codings with their systems), notes and indications of one medication record.

    statusReason is a list on MedicationStatement and one CodeableConcept on MedicationRequest (both tolerated, as
    are a bare string and the DSTU2/STU3 fields); a R5 ``adherence.reason`` counts as a stop reason too.
    """
    adherence = res.get("adherence")
    if not any(f in res for f in (*_STOP_FIELDS, *_INDICATION_FIELDS, "note")) and not isinstance(adherence, dict):
        return _NO_REASONS
    stop_texts: list[str] = []
    stop_codes: list[Coding] = []
    concepts = [cc for f in _STOP_FIELDS for cc in as_list_or_str(res.get(f))]
    if isinstance(adherence, dict):
        concepts.extend(as_list_or_str(adherence.get("reason")))
    for cc in concepts:
        stop_texts.extend(texts(cc))
        stop_codes.extend(Coding(system, code, one_line(display)) for system, code, display in codings(cc) if code)
    indications = [t for f in _INDICATION_FIELDS for cc in as_list_or_str(res.get(f)) for t in texts(_concept_of(cc))]
    notes: list[str] = []
    for note in as_list_or_str(res.get("note")):  # R4 Annotation list; DSTU2 a plain string
        text = note.get("text") if isinstance(note, dict) else note
        if isinstance(text, str) and text.strip():
            notes.append(one_line(text))
    return Reasons(tuple(stop_texts), tuple(stop_codes), tuple(notes), tuple(indications))


def _period(res: dict[str, Any]) -> tuple[date | None, date | None]:
    if res.get("resourceType") == "MedicationStatement":
        period = res.get("effectivePeriod")
        if isinstance(period, dict):
            return parse_date(period.get("start")), parse_date(period.get("end"))
        return parse_date(res.get("effectiveDateTime")), None
    dispense = res.get("dispenseRequest")
    validity = dispense.get("validityPeriod") if isinstance(dispense, dict) else None
    start = parse_date(res.get("authoredOn") or res.get("dateWritten"))
    end = None
    if isinstance(validity, dict):
        start = start or parse_date(validity.get("start"))
        end = parse_date(validity.get("end"))
    return start, end


def read_medications(
    kb: Knowledge, items: Iterable[Any], notes: list[str], meds: MedicationIndex = NO_MEDICATIONS
) -> list[MedRecord]:
    """MedicationStatements / MedicationRequests naming a known drug (directly, or through the Medication they
    reference: ``#contained`` or one of ``meds``); the rest are counted in ``notes``, and a record whose drug is
    unknown because its Medication could not be found is said apart (the history may be incomplete)."""
    records: list[MedRecord] = []
    unknown: list[str] = []
    unresolved: list[str] = []
    skipped = 0
    for res in resources(items):
        try:
            status = status_code(res.get("status"))
            if status in SKIPPED_MED_STATUSES:
                skipped += 1
                continue
            concepts, missing = _medication_concepts(res, meds)
            drug, label = identify_drug(kb, concepts)
            if drug is None:
                if missing is not None:
                    unresolved.append(f"{reference_of(res)} -> {one_line(missing)[:120]}")
                else:
                    unknown.append(label or reference_of(res))
                continue
            start, end = _period(res)
            why = _reasons(res)
            records.append(MedRecord(reference_of(res), drug, label, status or "unknown", start, end,
                                     why.stop_texts, why.stop_codes, why.notes, why.indications))
        except Exception:  # noqa: BLE001 - one malformed resource must not cost the others
            notes.append(f"Could not read {reference_of(res)}; it was skipped.")
    if skipped:
        notes.append(f"{skipped} medication record(s) entered in error, not taken, or only planned were ignored.")
    if unknown:
        sample = ", ".join(sorted(set(unknown))[:3])
        notes.append(f"{len(unknown)} medication record(s) not recognised as axSpA-relevant drugs (e.g. {sample}).")
    if unresolved:
        sample = ", ".join(sorted(unresolved)[:3])
        notes.append(f"{len(unresolved)} medication record(s) name a Medication that was not sent and could not be "
                     f"read, so their drug is unknown and the therapy history may be incomplete (e.g. {sample}).")
    return records
# ----------------------------------------------------------------------------------------- draft orders


def _is_local_route(kb: Knowledge, res: dict[str, Any], concepts: list[Any]) -> bool:
    """The route or the text says local (intra-articular, topical, ophthalmic...), or the product code is a local
    form (an eye drop, a cream: rxnorm_products.toml ``local``)."""
    words: list[str] = []
    for dosage in as_list(res.get("dosageInstruction")):
        if isinstance(dosage, dict):
            words.append(as_str(dosage.get("text")))
            words.extend(texts(dosage.get("route")))
    for cc in concepts:
        words.extend(texts(cc))
        if any(code in kb.local_products and terminology.system_of(system) == terminology.RXNORM
               for system, code, _ in codings(cc)):
            return True
    blob = " ".join(words).lower()
    return any(w in blob for w in LOCAL_ROUTE_WORDS)


def read_draft_orders(kb: Knowledge, bundle: Any, meds: MedicationIndex = NO_MEDICATIONS) -> list[DraftOrder]:
    """Medication orders in draftOrders (R4 MedicationRequest; DSTU2 MedicationOrder tolerated), their drug read
    directly or through the Medication they reference (``#contained``, a Medication entry of draftOrders, or one of
    ``meds``): a draft ordered by reference only is recognised once its Medication is at hand."""
    orders: list[DraftOrder] = []
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    meds = meds.with_bundle(bundle)
    for res in resources(as_list(entries)):
        try:
            if res.get("resourceType") not in ("MedicationRequest", "MedicationOrder"):
                continue
            concepts, _ = _medication_concepts(res, meds)
            drug, label = identify_drug(kb, concepts)
            orders.append(DraftOrder(reference_of(res), drug, label, _is_local_route(kb, res, concepts)))
        except Exception:  # noqa: BLE001
            continue
    return orders

