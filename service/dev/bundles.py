"""CDS Hooks requests built from a patient Bundle or an edited request (the offline CLI and the preview page).

A patient Bundle's resources are sorted into the prefetch keys by resource type (``service.fhir.keys``); its draft
MedicationRequest (or a given order) becomes the selected draft order; its Medication resources come with the
medication search, as its ``_include`` would bring them (with their ``fullUrl``, which ``urn:uuid`` references
name). A Bundle holding more than one patient's clinical resources is refused unless one is chosen; then only
that patient's resources are used (by their subject/patient reference: ``Patient/<id>``, an absolute URL, or a
Patient entry's ``urn:uuid`` fullUrl).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.dev.errors import InputError
from service.fhir.keys import SEARCH_KEY_FOR_TYPE

HOOK_INSTANCE = "00000000-0000-4000-8000-0000000ff11e"  # fixed: offline runs are reproducible
USER_ID = "Practitioner/offline-evaluation"
BUNDLE_TYPES = ("collection", "searchset", "transaction", "batch")
_DRAFT_TYPES = ("MedicationRequest", "MedicationOrder")  # R4/STU3; DSTU2 (the sandbox's DSTU2 drafts)


def read_json(path: Path, what: str) -> Any:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{what} {path} is a directory, not a JSON file") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} {path} is not valid JSON ({str(exc).splitlines()[0]})") from None


def is_request(document: Any) -> bool:
    return isinstance(document, dict) and "hook" in document and "context" in document


def _ref_id(reference: Any, kind: str) -> str | None:
    if isinstance(reference, dict):
        reference = reference.get("reference")
    if isinstance(reference, str) and reference.startswith(f"{kind}/"):
        return reference.split("/", 1)[1] or None
    return None


Entry = tuple[str | None, dict[str, Any]]  # (fullUrl, resource)


def _bundle_entries(bundle: dict[str, Any]) -> list[Entry]:
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InputError("Bundle.entry is not a list")
    out: list[Entry] = []
    for e in entries:
        if isinstance(e, dict) and isinstance(e.get("resource"), dict):
            full_url = e.get("fullUrl")
            out.append((full_url if isinstance(full_url, str) and full_url else None, e["resource"]))
    return out


def _searchset(entries: list[Entry], included: list[Entry] | None = None) -> dict[str, Any]:
    def entry(full_url: str | None, resource: dict[str, Any], mode: str) -> dict[str, Any]:
        out: dict[str, Any] = {"fullUrl": full_url} if full_url else {}
        return {**out, "resource": resource, "search": {"mode": mode}}

    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "entry": [entry(u, r, "match") for u, r in entries] + [entry(u, r, "include") for u, r in included or ()],
    }


# ---------------------------------------------------------------------------------------------- whose resources

#: Where a clinical resource names its patient: R4 ``subject``; AllergyIntolerance and DSTU2 ``patient``.
_SUBJECT_FIELDS = ("subject", "patient")


def _patient_key(reference: str) -> str:
    """``Patient/<id>`` for a relative or absolute Patient reference (``_history`` dropped); a ``urn:uuid`` as is."""
    reference = reference.strip()
    if reference.lower().startswith("urn:"):
        return reference.lower()
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    return f"Patient/{parts[-1]}" if len(parts) >= 2 and parts[-2] == "Patient" else reference


def _subject(resource: dict[str, Any]) -> str | None:
    for name in _SUBJECT_FIELDS:
        ref = resource.get(name)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str) and ref["reference"].strip():
            return _patient_key(ref["reference"])
    return None


class _Patients:
    """The Bundle's patients: each Patient entry, and each patient a clinical resource names without one.

    A patient is known by every key a reference may use for it (``Patient/<id>``, its ``fullUrl``) and by its bare id.
    """

    def __init__(self, patients: list[Entry]) -> None:
        self.resources: dict[str, dict[str, Any] | None] = {}  # identity -> Patient resource
        self._identity: dict[str, str] = {}  # key -> identity
        for full_url, resource in patients:
            rid = resource.get("id") if isinstance(resource.get("id"), str) and resource.get("id") else None
            keys = [f"Patient/{rid}"] if rid else []
            keys += [_patient_key(full_url)] if full_url else []
            if not keys:
                continue
            identity = next((self._identity[k] for k in keys if k in self._identity), keys[0])
            self.resources.setdefault(identity, resource)
            self._identity.update(dict.fromkeys(keys, identity))

    def of(self, key: str) -> str:
        """The identity of the patient ``key`` names (a patient without a Patient entry becomes one)."""
        identity = self._identity.setdefault(key, key)
        self.resources.setdefault(identity, None)
        return identity

    def find(self, wanted: str) -> str | None:
        """The identity ``--patient`` names: a Patient id, ``Patient/<id>`` or a fullUrl."""
        for key in (_patient_key(wanted), f"Patient/{wanted}", wanted.lower()):
            if key in self._identity:
                return self._identity[key]
        return None

    @staticmethod
    def patient_id(identity: str, resource: dict[str, Any] | None) -> str:
        if resource and isinstance(resource.get("id"), str) and resource["id"]:
            return str(resource["id"])
        return identity.rsplit("/", 1)[-1].removeprefix("urn:uuid:").removeprefix("urn:oid:")


def _one_patient(entries: list[Entry], patient: str | None) -> tuple[list[Entry], str | None, dict[str, Any] | None]:
    """The entries of one patient (Medications, which belong to nobody, stay), its identity and Patient resource.

    A Bundle whose clinical resources name more than one patient is refused unless ``patient`` picks one; then the
    other patients' resources, and those that name no patient, are left out.
    """
    patients = _Patients([(u, r) for u, r in entries if r.get("resourceType") == "Patient"])
    owner: list[str | None] = []
    for _, resource in entries:
        kind = resource.get("resourceType")
        subject = _subject(resource) if kind not in ("Patient", "Medication") else None
        owner.append(patients.of(subject) if subject else None)
    named = list(dict.fromkeys(o for o in owner if o is not None))
    if patient is None:
        if len(named) > 1:
            shown = ", ".join(patients.patient_id(i, patients.resources.get(i)) for i in named[:5])
            raise InputError(f"the Bundle's clinical resources belong to {len(named)} patients ({shown}"
                             f"{', ...' if len(named) > 5 else ''}); choose one with --patient ID")
        chosen = named[0] if named else next(iter(patients.resources), None)
        return entries, chosen, patients.resources.get(chosen) if chosen else None
    chosen = patients.find(patient)
    if chosen is None:
        raise InputError(f"no patient {patient!r} in the Bundle (give a Patient id, Patient/id or a fullUrl)")
    kept = [(u, r) for (u, r), o in zip(entries, owner, strict=True) if o == chosen or r.get("resourceType") == "Medication"]
    return kept, chosen, patients.resources.get(chosen)


def request_from_bundle(
    bundle: Any, order: dict[str, Any] | None = None, select: str | None = None, hook: str = "order-select",
    patient: str | None = None,
) -> dict[str, Any]:
    """A CDS Hooks request equivalent to "this patient's draft order was just selected".

    Raises :class:`InputError` for anything that is not a patient Bundle with an order to evaluate, and for a
    Bundle holding several patients' records unless ``patient`` says whose to use.
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        kind = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        raise InputError(f"expected a FHIR Bundle or a CDS Hooks request, got {kind or 'JSON without resourceType'}")
    if bundle.get("type") not in BUNDLE_TYPES:
        raise InputError(f"Bundle.type must be one of {', '.join(BUNDLE_TYPES)} (got {bundle.get('type')!r})")
    entries, identity, patient_resource = _one_patient(_bundle_entries(bundle), patient)
    data: dict[str, list[Entry]] = {key.key: [] for key in SEARCH_KEY_FOR_TYPE.values()}
    medications: list[Entry] = []
    drafts: list[dict[str, Any]] = []
    for full_url, resource in entries:
        kind = resource.get("resourceType")
        if kind in _DRAFT_TYPES and resource.get("status") == "draft":
            drafts.append(resource)
        elif kind == "Medication":
            medications.append((full_url, resource))
        elif isinstance(kind, str) and kind in SEARCH_KEY_FOR_TYPE:
            data[SEARCH_KEY_FOR_TYPE[kind].key].append((full_url, resource))
    if order is not None:
        if not isinstance(order, dict) or order.get("resourceType") != "MedicationRequest":
            raise InputError("--order must be a FHIR MedicationRequest")
        order = dict(order)
        order.setdefault("id", "offline-order")
        order["status"] = "draft"
        drafts = [order]
    if not drafts:
        raise InputError("no draft MedicationRequest in the Bundle (status 'draft'); give one with --order")
    if select is not None:
        chosen = [d for d in drafts if d.get("id") == select]
        if not chosen:
            raise InputError(f"no draft MedicationRequest with id {select!r}")
        drafts = chosen + [d for d in drafts if d.get("id") != select]
    for index, draft in enumerate(drafts):
        if not isinstance(draft.get("id"), str) or not draft["id"]:
            drafts[index] = {**draft, "id": f"draft-{index + 1}"}
    patient_id = (
        _Patients.patient_id(identity, patient_resource) if identity else _ref_id(drafts[0].get("subject"), "Patient")
    )
    if not patient_id:
        raise InputError("cannot tell which patient: no Patient resource with an id and no draft subject reference")
    context: dict[str, Any] = {
        "userId": USER_ID,
        "patientId": patient_id,
        "draftOrders": {"resourceType": "Bundle", "type": "collection",
                        "entry": [{"resource": d} for d in drafts]},
    }
    if hook == "order-select":
        context["selections"] = [f"{drafts[0].get('resourceType')}/{drafts[0]['id']}"]
    prefetch: dict[str, Any] = {"patient": patient_resource}
    for key, items in data.items():  # the Medications come as the medication searches' _include would bring them
        prefetch[key] = _searchset(items, medications if key == "medicationRequests" else [])
    return {"hook": hook, "hookInstance": HOOK_INSTANCE, "context": context, "prefetch": prefetch}


def request_with_order(request: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    """A request whose draft order is replaced by ``order`` (selected)."""
    if not isinstance(order, dict) or order.get("resourceType") != "MedicationRequest":
        raise InputError("--order must be a FHIR MedicationRequest")
    order = {**order, "status": "draft"}
    order.setdefault("id", "offline-order")
    context = dict(request.get("context") or {})
    context["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}
    if request.get("hook") == "order-select":
        context["selections"] = [f"MedicationRequest/{order['id']}"]
    return {**request, "context": context}
