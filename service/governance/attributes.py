"""The intervention's source attributes (ONC HTI-1, 45 CFR 170.315(b)(11)(iv)(A), evidence-based decision support
interventions), as a JSON document served at ``GET /cds-services/source-attributes`` and summarised in the
discovery entry's ``extension`` (``org.axspa-cds.source-attributes``).

It is generated from ``hooks/knowledge/rules.toml`` (validated by the engine's own schema, ``hooks.schema``) when
the service starts, so it says what the running knowledge says: every rule with its bibliographic citation (and the
DOIs of its sources), strength, the developer of each source and of its translation into this rule, funding,
release and revision dates, the patient data elements it reads, and whether it uses each of the demographic and
other data the regulation names; and for the intervention itself its developer, version, intended use, the data it
reads, known limitations and what is still unverified. ``knowledge_sha256`` names the exact file it came from.

The attribute list (13 items for evidence-based interventions: citation, developer, funding, release and revision
dates, and the use of race, ethnicity, language, sexual orientation, gender identity, sex, date of birth, social
determinants of health and health status assessments) was read in secondary material citing the regulation, not in
the eCFR text itself: ``regulation_text_verified`` says so.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Sequence
from functools import cache
from importlib import metadata
from typing import Any

from hooks.knowledge import KNOWLEDGE_DIR
from hooks.schema import RulesFile, RuleSpec, validate
from service.cds.discovery import DESCRIPTION, TITLE
from service.fhir import PREFETCH_KEYS

PATH = "/cds-services/source-attributes"
EXTENSION_KEY = "org.axspa-cds.source-attributes"
REGULATION = "45 CFR 170.315(b)(11)(iv)(A) (ONC HTI-1): source attributes of evidence-based decision support interventions"
DEVELOPER = {"name": "axspa-cds contributors", "url": "https://github.com/axspa-cds/axspa-cds"}
FUNDING = "not stated (an open-source project without declared funding)"
TRANSLATION = "axspa-cds contributors (translation of the sources into this rule; hooks/knowledge/rules.toml)"

#: The data the regulation asks about (its items 5 to 13) -> the rules.toml data elements that are such data.
#: Age is derived from the date of birth; pregnancy, lactation and smoking status are read as health status
#: assessments (the USCDI data class this mapping assumes: unverified).
REGULATED_DATA: dict[str, tuple[str, ...]] = {
    "race": (), "ethnicity": (), "language": (), "sexual_orientation": (), "gender_identity": (),
    "sex": ("sex",), "date_of_birth": ("age",), "social_determinants_of_health": (),
    "health_status_assessments": ("pregnancy status", "lactation", "smoking status"),
}

INTENDED_USE = (
    "Supports, at the moment a b/tsDMARD, csDMARD or systemic glucocorticoid is ordered (CDS Hooks order-select and "
    "order-sign), the choice of the next advanced therapy for adults with ankylosing spondylitis or non-radiographic "
    "axial spondyloarthritis: it reads the therapy history, applies the recommendations below and the labels' "
    "contraindications, and offers options with one marked preferred. It informs the decision; it does not make it "
    "(the clinician may override, with a reason)."
)
KNOWN_LIMITATIONS = (
    "Decision support, not a decision: the rules and the drug data must be reviewed by a rheumatologist and a "
    "pharmacist before go-live.",
    "It reads only the FHIR resources listed under data_read; what the record does not say is not assumed (a stop "
    "without a reason is 'unknown', never a failure).",
    "Drug and condition names are also read from free text, which can be misread; such readings are named in the card.",
    "Labels are the US prescribing information (DailyMed); label dosing is for adults. Other jurisdictions differ.",
    "Patient.gender (administrative gender) is read as sex.",
    "Recommendations from the ACR 2021 rheumatoid arthritis guideline are applied to axSpA by extrapolation and "
    "marked as such.",
    "Silent for orders outside its scope and for patients without a recorded axSpA diagnosis.",
)


def _rules_file() -> tuple[RulesFile, str]:
    raw = (KNOWLEDGE_DIR / "rules.toml").read_bytes()
    spec: RulesFile = validate(RulesFile, tomllib.loads(raw.decode()), "rules.toml")
    return spec, hashlib.sha256(raw).hexdigest()


def _version() -> str:
    try:
        return metadata.version("axspa-cds")
    except metadata.PackageNotFoundError:
        return "unknown (not installed as a package)"


def _uses(elements: Sequence[str]) -> dict[str, bool]:
    return {name: any(e in elements for e in mapped) for name, mapped in REGULATED_DATA.items()}


def _rule(spec: RulesFile, rule: RuleSpec) -> dict[str, Any]:
    sources = [spec.sources[key] for key in rule.sources]
    return {
        "title": rule.title,
        "bibliographic_citation": rule.citation,
        "dois": [s.doi for s in sources if s.doi],
        "sources": list(rule.sources),
        "strength": rule.strength,
        "developer": TRANSLATION,
        "source_developers": list(dict.fromkeys(s.developer for s in sources)),
        "funding": {"implementation": FUNDING, "sources": list(dict.fromkeys(s.funding for s in sources))},
        "released": rule.released.isoformat(),
        "revised": rule.revised.isoformat(),
        "data_elements": list(rule.data_elements),
        "uses": _uses(rule.data_elements),
        "recommendation": rule.text,
        "unverified": rule.unverified or any(s.unverified for s in sources),
    }


@cache
def source_attributes() -> dict[str, Any]:
    """The document (built once per process, from the rules.toml the engine loads)."""
    spec, digest = _rules_file()
    rules = {rid: _rule(spec, spec.rules[rid]) for rid in spec.precedence}  # highest precedence first
    elements = sorted({e for rule in spec.rules.values() for e in rule.data_elements})
    return {
        "regulation": REGULATION,
        "regulation_text_verified": False,
        "intervention": {
            "name": TITLE,
            "kind": "evidence-based decision support intervention (rules from published recommendations and labels;"
                    " not a predictive DSI: no model is trained on data)",
            "description": DESCRIPTION,
            "developer": DEVELOPER,
            "funding": FUNDING,
            "version": _version(),
            "released": min(r.released for r in spec.rules.values()).isoformat(),
            "revised": max(r.revised for r in spec.rules.values()).isoformat(),
            "intended_use": INTENDED_USE,
            "intended_users": ["rheumatologists", "pharmacists"],
            "output": "CDS Hooks 2.0 cards (indicator, summary, detail citing the rule and its strength) with "
                      "suggestions that draft the new MedicationRequest; source.topic names the rule",
            "data_read": [{"prefetch": key.key, "resource": key.resource_type, "query": key.template}
                          for key in PREFETCH_KEYS],
            "data_elements": elements,
            "uses": _uses(elements),
            "known_limitations": list(KNOWN_LIMITATIONS),
            "unverified": {
                "rules": sorted(rid for rid, rule in rules.items() if rule["unverified"]),
                "sources": sorted(key for key, source in spec.sources.items() if source.unverified),
                "note": "true where a rule or its source relies on something not confirmed in a primary source "
                        "(see the comments in rules.toml); the mapping of pregnancy, lactation and smoking status "
                        "to health status assessments is this document's reading",
            },
            "rule_topic_system": spec.topic_system,
            "knowledge_file": "hooks/knowledge/rules.toml",
            "knowledge_sha256": digest,
        },
        "sources": {key: source.model_dump(mode="json", exclude={"set_ids"}) for key, source in spec.sources.items()},
        "rules": rules,
    }


def discovery_extension(base_url: str) -> dict[str, Any]:
    """The discovery entry's ``extension``: where the document is, and what it holds in brief."""
    document = source_attributes()
    intervention = document["intervention"]
    return {EXTENSION_KEY: {
        "url": f"{base_url}{PATH}",
        "summary": f"ONC HTI-1 source attributes of {len(document['rules'])} rules from {len(document['sources'])} "
                   f"sources (citation, developer, funding, release and revision dates, patient data used); "
                   f"version {intervention['version']}, revised {intervention['revised']}; "
                   f"{len(intervention['unverified']['rules'])} rules with unverified items.",
        "rules": len(document["rules"]),
        "revised": intervention["revised"],
        "knowledge_sha256": intervention["knowledge_sha256"],
    }}
