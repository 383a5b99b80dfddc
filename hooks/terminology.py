"""Code systems the hook reads codes in, by every name records use for them (canonical URI, OID forms).

A code counts only under its system: a coding whose system is unknown (a local EHR code, no system at all) never
matches a drug or a condition by its code, whatever number it carries; its display still matches by name. The
aliases are looked up as written (one dict lookup on the hot path), so every accepted spelling is listed here.

OIDs and URIs as HL7 Terminology (THO) names them: NamingSystem v3-rxNorm, v3-ndc, v3-WC (WHO ATC), v3-snomed-CT,
icd10CM, icd10 (build.fhir.org/ig/HL7/UTG, read 2026-12-01).
"""

from __future__ import annotations

from typing import Final

RXNORM: Final = "rxnorm"
NDC: Final = "ndc"
ATC: Final = "atc"
SNOMED: Final = "snomed"
ICD10CM: Final = "icd10cm"
ICD10: Final = "icd10"  # WHO ICD-10

#: canonical URI, OID
_SYSTEMS: Final[dict[str, tuple[str, str]]] = {
    RXNORM: ("http://www.nlm.nih.gov/research/umls/rxnorm", "2.16.840.1.113883.6.88"),
    NDC: ("http://hl7.org/fhir/sid/ndc", "2.16.840.1.113883.6.69"),
    ATC: ("http://www.whocc.no/atc", "2.16.840.1.113883.6.73"),
    SNOMED: ("http://snomed.info/sct", "2.16.840.1.113883.6.96"),
    ICD10CM: ("http://hl7.org/fhir/sid/icd-10-cm", "2.16.840.1.113883.6.90"),
    ICD10: ("http://hl7.org/fhir/sid/icd-10", "2.16.840.1.113883.6.3"),
}
#: other spellings seen in records: THO's stub URI for WHO ICD-10
_EXTRA: Final[dict[str, str]] = {"http://terminology.hl7.org/CodeSystem/icd10": ICD10}


def _aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for name, (uri, oid) in _SYSTEMS.items():
        for spelling in (uri, uri + "/", f"urn:oid:{oid}", oid):
            out[spelling] = name
    out.update(_EXTRA)
    return out


#: every accepted spelling of a system -> its name here
SYSTEM_OF: Final[dict[str, str]] = _aliases()


def system_of(system: object) -> str | None:
    """The system's name (``rxnorm``, ``snomed``...) or None when it is not one the hook knows."""
    return SYSTEM_OF.get(system) if type(system) is str else None


def uri(name: str) -> str:
    """The canonical URI of a known system."""
    return _SYSTEMS[name][0]
