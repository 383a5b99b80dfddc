"""Tolerant reading of decoded FHIR JSON into small typed views.

Plain dict access only (no fhir.resources on the hot path). A resource with missing fields or wrong types is read
as far as it goes or skipped with a note; nothing here raises on bad data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from hooks.knowledge import Knowledge, normalise_icd
from hooks.stop_reasons import Coding

ICD10_MARK = "icd-10"
EXCLUDED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
UNCONFIRMED_VERIFICATION = frozenset({"unconfirmed", "provisional", "differential"})
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


@dataclass(frozen=True, slots=True)
class DraftOrder:
    ref: str  # "MedicationRequest/id"
    drug: str | None
    label: str
    local_route: bool  # route or text says local (intra-articular, topical, ophthalmic...)


# --------------------------------------------------------------------------------------------- primitives


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else []


def codings(cc: Any) -> Iterator[tuple[str, str, str]]:
    """(system, code, display) of each well-formed coding in a CodeableConcept."""
    if type(cc) is not dict:
        return
    coding = cc.get("coding")
    if type(coding) is not list:
        return
    for c in coding:
        if type(c) is dict:
            yield _str(c.get("system")), _str(c.get("code")).strip(), _str(c.get("display"))


def one_line(text: str) -> str:
    """Free text from the record as a single line: it is shown inside markdown lists and tables."""
    return " ".join(text.split())


def texts(cc: Any) -> list[str]:
    """Text and coding displays of a CodeableConcept (or a bare string), each on one line."""
    if type(cc) is str:
        return [one_line(cc)]
    if type(cc) is not dict:
        return []
    text = cc.get("text")
    out = [one_line(text)] if type(text) is str and text else []
    coding = cc.get("coding")
    if type(coding) is list:
        for c in coding:
            if type(c) is dict:
                display = c.get("display")
                if type(display) is str and display:
                    out.append(one_line(display))
    return out


def _code_hit(cc: Any, index: dict[str, str]) -> str | None:
    """The first coding whose code is a key of ``index`` (the hot path: no allocation)."""
    if type(cc) is not dict:
        return None
    coding = cc.get("coding")
    if type(coding) is list:
        for c in coding:
            if type(c) is dict:
                code = c.get("code")
                if type(code) is str and code in index:
                    return index[code]
    return None


def parse_date(value: Any) -> date | None:
    """FHIR date/dateTime (YYYY, YYYY-MM, YYYY-MM-DD[Thh:mm...]) -> date; partial dates take the first day."""
    if type(value) is not str or len(value) < 4:
        return None
    return _parse_date(value)


@lru_cache(maxsize=8192)
def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        pass
    try:
        year = int(value[0:4])
        month = int(value[5:7]) if len(value) >= 7 else 1
        day = int(value[8:10]) if len(value) >= 10 else 1
        return date(year, month, day)
    except ValueError:
        return None


def status_code(value: Any) -> str:
    """Code of a status that is a CodeableConcept (R4) or a plain string (STU3/DSTU2)."""
    if type(value) is str:
        return value.strip().lower()
    for _, code, _ in codings(value):
        if code:
            return code.lower()
    return ""


def resources(items: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Resources from a sequence that may hold resources, Bundle entries or whole Bundles."""
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("resourceType") == "Bundle":
            yield from resources(e for e in _list(item.get("entry")))
        elif "resource" in item and "resourceType" not in item:
            res = item.get("resource")
            if isinstance(res, dict):
                yield res
        else:
            yield item


def reference_of(res: dict[str, Any]) -> str:
    return one_line(f"{_str(res.get('resourceType')) or 'Resource'}/{_str(res.get('id')) or '?'}")


# ------------------------------------------------------------------------------------------------ drugs


def _medication_concepts(res: dict[str, Any]) -> list[Any]:
    """Every place a medication may be named: codeable concept, reference display, contained Medication, R5."""
    concepts: list[Any] = [res.get("medicationCodeableConcept")]
    ref = res.get("medicationReference")
    if ref is None and "medication" not in res:
        return concepts
    if isinstance(ref, dict):
        concepts.append(_str(ref.get("display")))
        target = _str(ref.get("reference"))
        if target.startswith("#"):
            for contained in _list(res.get("contained")):
                if isinstance(contained, dict) and contained.get("id") == target[1:]:
                    concepts.append(contained.get("code"))
    medication = res.get("medication")  # R5 CodeableReference, tolerated
    if isinstance(medication, dict):
        concepts.append(medication.get("concept", medication))
    return [c for c in concepts if c]


def identify_drug(kb: Knowledge, concepts: list[Any]) -> tuple[str | None, str]:
    """(drug key or None, label): by RxNorm/ATC code first, then by name in text and displays."""
    for cc in concepts:
        key = _code_hit(cc, kb.drug_by_code)
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
        return _str(ref.get("display")) if isinstance(ref, dict) else _str(value.get("display"))
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
    concepts = [cc for f in _STOP_FIELDS for cc in _list_or_str(res.get(f))]
    if isinstance(adherence, dict):
        concepts.extend(_list_or_str(adherence.get("reason")))
    for cc in concepts:
        stop_texts.extend(texts(cc))
        stop_codes.extend(Coding(system, code, one_line(display)) for system, code, display in codings(cc) if code)
    indications = [t for f in _INDICATION_FIELDS for cc in _list_or_str(res.get(f)) for t in texts(_concept_of(cc))]
    notes: list[str] = []
    for note in _list_or_str(res.get("note")):  # R4 Annotation list; DSTU2 a plain string
        text = note.get("text") if isinstance(note, dict) else note
        if isinstance(text, str) and text.strip():
            notes.append(one_line(text))
    return Reasons(tuple(stop_texts), tuple(stop_codes), tuple(notes), tuple(indications))


def _list_or_str(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [value]
    return _list(value)


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
    kb: Knowledge, items: Iterable[Any], notes: list[str]
) -> list[MedRecord]:
    """MedicationStatements / MedicationRequests naming a known drug; the rest are counted in ``notes``."""
    records: list[MedRecord] = []
    unknown: list[str] = []
    skipped = 0
    for res in resources(items):
        try:
            status = status_code(res.get("status"))
            if status in SKIPPED_MED_STATUSES:
                skipped += 1
                continue
            drug, label = identify_drug(kb, _medication_concepts(res))
            if drug is None:
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
    return records


# ------------------------------------------------------------------------------------------- conditions


def _match_condition(kb: Knowledge, code_cc: Any) -> dict[str, bool]:
    """Value sets matched by one Condition.code: {value set: matched by a verified code}."""
    found: dict[str, bool] = {}
    for system, code, _ in codings(code_cc):
        if not code:
            continue
        if ICD10_MARK in system.lower() or not system:
            norm = normalise_icd(code)
            for n in range(1, len(norm) + 1):
                for key, verified in kb.condition_by_icd.get(norm[:n], ()):
                    found[key] = found.get(key, False) or verified
        if not system or "snomed" in system.lower():
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
                        if code and (ICD10_MARK in system.lower() or not system))
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
            drug, label = identify_drug(kb, [res.get("code")] + _list(res.get("substance")))
            reactions: list[str] = []
            for reaction in _list(res.get("reaction")):
                if isinstance(reaction, dict):
                    for cc in _list(reaction.get("manifestation")):
                        reactions.extend(texts(cc))
                    reactions.append(one_line(_str(reaction.get("description"))))
                    if drug is None:
                        drug, label = identify_drug(kb, [reaction.get("substance")])
            if drug is None:
                continue
            kind = _str(res.get("type")).lower() or "unknown"
            records.append(AllergyRecord(reference_of(res), drug, kind, label, tuple(r for r in reactions if r)))
        except Exception:  # noqa: BLE001
            notes.append(f"Could not read {reference_of(res)}; it was skipped.")
    return records


# ----------------------------------------------------------------------------------------- draft orders


def _is_local_route(res: dict[str, Any]) -> bool:
    words: list[str] = []
    for dosage in _list(res.get("dosageInstruction")):
        if isinstance(dosage, dict):
            words.append(_str(dosage.get("text")))
            words.extend(texts(dosage.get("route")))
    for cc in _medication_concepts(res):
        words.extend(texts(cc))
    blob = " ".join(words).lower()
    return any(w in blob for w in LOCAL_ROUTE_WORDS)


def read_draft_orders(kb: Knowledge, bundle: Any) -> list[DraftOrder]:
    """Medication orders in draftOrders (R4 MedicationRequest; DSTU2 MedicationOrder tolerated)."""
    orders: list[DraftOrder] = []
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    for res in resources(_list(entries)):
        try:
            if res.get("resourceType") not in ("MedicationRequest", "MedicationOrder"):
                continue
            drug, label = identify_drug(kb, _medication_concepts(res))
            orders.append(DraftOrder(reference_of(res), drug, label, _is_local_route(res)))
        except Exception:  # noqa: BLE001
            continue
    return orders


def patient_age(patient: Any, today: date) -> int | None:
    born = parse_date(patient.get("birthDate")) if isinstance(patient, dict) else None
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
