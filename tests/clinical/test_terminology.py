"""Codes count only under their own system (RxNorm, NDC, ATC, SNOMED CT, ICD-10-CM, WHO ICD-10, by canonical URI or
OID); product codes (SCD, SBD, GPCK, BPCK) name their drug; suggested orders carry a product code with its exact
RxNorm name. Names in displays and text still match whatever the system."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from axspa_builders import AS, condition, draft, fired, hook_input, statement

from hooks import terminology
from hooks.cards import medication_request
from hooks.engine import evaluate
from hooks.knowledge import KNOWLEDGE_DIR, _order_display, knowledge
from hooks.schema import KnowledgeError, ProductsFile, ProductSpec, validate

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ORACLE_SYNONYM = "https://fhir.cerner.com/ec2458f2-1e24-41c8-b71b-0e701af7583d/synonym"  # a proprietary code system


def _draft_coded(*codings: dict[str, Any], text: str | None = None) -> dict[str, Any]:
    order = draft("tofacitinib")
    order["medicationCodeableConcept"] = {"coding": list(codings), **({"text": text} if text else {})}
    return order


def _drug_of(*codings: dict[str, Any], text: str | None = None) -> str | None:
    from hooks.record import identify_drug

    return identify_drug(knowledge(), [{"coding": list(codings), **({"text": text} if text else {})}])[0]


# --------------------------------------------------------------------------------------- systems and their OIDs


@pytest.mark.parametrize(("name", "uri", "oid"), [
    (terminology.RXNORM, "http://www.nlm.nih.gov/research/umls/rxnorm", "2.16.840.1.113883.6.88"),
    (terminology.NDC, "http://hl7.org/fhir/sid/ndc", "2.16.840.1.113883.6.69"),
    (terminology.ATC, "http://www.whocc.no/atc", "2.16.840.1.113883.6.73"),
    (terminology.SNOMED, "http://snomed.info/sct", "2.16.840.1.113883.6.96"),
    (terminology.ICD10CM, "http://hl7.org/fhir/sid/icd-10-cm", "2.16.840.1.113883.6.90"),
    (terminology.ICD10, "http://hl7.org/fhir/sid/icd-10", "2.16.840.1.113883.6.3"),
])
def test_each_system_is_known_by_its_uri_and_its_oid(name, uri, oid):
    for spelling in (uri, f"urn:oid:{oid}", oid):
        assert terminology.system_of(spelling) == name, spelling
    assert terminology.uri(name) == uri


@pytest.mark.parametrize("system", [None, "", "http://example.org/local-drugs", ORACLE_SYNONYM,
                                    "urn:oid:1.2.840.114350.1.13.0.1.7.2.698288", "rxnorm", "HTTP://SNOMED.INFO/SCT/x"])
def test_an_unknown_system_is_no_system(system):
    assert terminology.system_of(system) is None


@pytest.mark.parametrize("system", [RXNORM, "urn:oid:2.16.840.1.113883.6.88", "2.16.840.1.113883.6.88", RXNORM + "/"])
def test_rxnorm_codes_match_under_every_spelling_of_rxnorm(system):
    assert _drug_of({"system": system, "code": "1357536"}) == "tofacitinib"


def test_atc_codes_match_only_under_atc():
    assert _drug_of({"system": "http://www.whocc.no/atc", "code": "L04AF01"}) == "tofacitinib"
    assert _drug_of({"system": "urn:oid:2.16.840.1.113883.6.73", "code": "L04AF01"}) == "tofacitinib"
    assert _drug_of({"system": RXNORM, "code": "L04AF01"}) is None


def test_a_code_without_its_system_never_names_a_drug_but_its_display_does():
    assert _drug_of({"code": "1357536"}) is None
    assert _drug_of({"system": "http://example.org/local", "code": "1357536"}) is None
    assert _drug_of({"code": "1357536", "display": "Xeljanz 5 mg"}) == "tofacitinib"
    assert _drug_of({"system": "http://example.org/local", "code": "x"}, text="tofacitinib 5 mg tablet") == "tofacitinib"


def test_a_local_code_listed_first_that_equals_an_unrelated_rxcui_never_turns_tofacitinib_into_celecoxib():
    local_first = _draft_coded({"system": ORACLE_SYNONYM, "code": "140587", "display": "Xeljanz 5 mg tab"},
                               {"system": RXNORM, "code": "1357536", "display": "tofacitinib"})
    assert "140587" == knowledge().drugs["celecoxib"].rxnorm_ingredient  # the collision is real
    cards = evaluate(hook_input(local_first)).cards
    assert cards and all(c.summary.startswith("Tofacitinib") for c in cards)
    celecoxib_by_rxnorm = _draft_coded({"system": RXNORM, "code": "140587"})
    assert evaluate(hook_input(celecoxib_by_rxnorm)).cards == [], "celecoxib itself is silent: the misreading hid it"


# --------------------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(("system", "code"), [
    ("urn:oid:2.16.840.1.113883.6.90", "M45.9"),  # ICD-10-CM under its OID
    ("2.16.840.1.113883.6.90", "M45.9"),
    ("http://hl7.org/fhir/sid/icd-10", "M45.8"),  # WHO ICD-10 (M45.0-M45.9 by site)
    ("urn:oid:2.16.840.1.113883.6.3", "M45.9"),
    ("urn:oid:2.16.840.1.113883.6.96", "9631008"),  # SNOMED CT under its OID
], ids=["icd10cm-oid", "icd10cm-bare-oid", "who-icd10", "who-icd10-oid", "snomed-oid"])
def test_ankylosing_spondylitis_is_recognised_under_every_system_spelling(system, code):
    ankylosing = {"resourceType": "Condition", "id": "c-1", "subject": {"reference": "Patient/p1"},
                  "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                 "code": "active"}]},
                  "code": {"coding": [{"system": system, "code": code}]}}
    evaluation = evaluate(hook_input("upadacitinib", conditions=[ankylosing]))
    assert evaluation.diagnosis == "AS" and evaluation.cards


@pytest.mark.parametrize("system", [None, "http://example.org/icd-10-local", "http://snomed.info/sct-local",
                                    "urn:oid:2.16.840.1.113883.6.4"],  # ICD-10-PCS: procedures
                         ids=["no-system", "local-icd-10-lookalike", "snomed-lookalike", "icd10-pcs"])
def test_a_diagnosis_code_under_another_system_is_not_axspa(system):
    coding = {"code": "M45.9"} if system is None else {"system": system, "code": "M45.9"}
    ankylosing = {"resourceType": "Condition", "id": "c-1", "subject": {"reference": "Patient/p1"},
                  "code": {"coding": [coding]}}
    assert evaluate(hook_input("upadacitinib", conditions=[ankylosing])).diagnosis is None


def test_the_text_of_a_locally_coded_condition_still_names_it():
    local = condition(text="Ankylosing spondylitis", id="c-local")
    local["code"]["coding"] = [{"system": "http://example.org/problems", "code": "AS-01"}]
    assert evaluate(hook_input("upadacitinib", conditions=[local])).diagnosis == "AS"


# --------------------------------------------------------------------------------------- product codes


def test_every_product_code_of_the_table_names_its_drug_and_carries_its_sources():
    kb = knowledge()
    products = tomllib.loads((KNOWLEDGE_DIR / "rxnorm_products.toml").read_text())
    assert len(kb.products) >= 25 and sum(len(p) for p in kb.products.values()) > 800
    for key, listed in kb.products.items():
        for product in listed:
            assert kb.match_drug_code(RXNORM, product.rxcui) == key, (key, product.rxcui)
            assert product.sources and all(s in products["sources"] for s in product.sources)
    for source in products["sources"].values():
        assert source.get("rxnorm_date") or source.get("commit_date") or source.get("commit")


@pytest.mark.parametrize(("code", "drug"), [
    ("1872980", "adalimumab"),  # SBD: 0.4 ML adalimumab 100 MG/ML Auto-Injector [Humira]
    ("1872984", "adalimumab"),  # BPCK: {6 (... [Humira]) } Pack [Humira]
    ("1872983", "adalimumab"),  # GPCK
    ("763564", "adalimumab"),  # an SCD RxNav 2026 no longer lists: old records still carry it
    ("2627719", "adalimumab"),  # a biosimilar's SCD (adalimumab-atto) is the molecule
    ("1653225", "etanercept"), ("1357547", "tofacitinib"), ("1599792", "secukinumab"),
])
def test_a_record_coded_only_by_a_product_code_is_recognised(code, drug):
    assert _drug_of({"system": RXNORM, "code": code}) == drug


def test_a_draft_coded_only_by_the_humira_pen_sbd_gets_its_card():
    pen = _draft_coded({"system": RXNORM, "code": "1872980"})
    etanercept_failed = statement("etanercept", start="2023-01-01", end="2023-08-01",
                                  reason="no improvement after 6 months")
    cards = evaluate(hook_input(pen, statements=[etanercept_failed])).cards
    assert cards and cards[0].summary.startswith("Adalimumab"), [c.summary for c in cards]


def test_a_local_form_product_code_is_not_a_systemic_glucocorticoid():
    kb = knowledge()
    eye_drops = next(p for p in kb.products["prednisolone"] if p.local)
    tablets = next(p for p in kb.products["prednisolone"] if not p.local and "Oral Tablet" in p.name)
    assert evaluate(hook_input(_draft_coded({"system": RXNORM, "code": eye_drops.rxcui}))).cards == []
    assert fired(evaluate(hook_input(_draft_coded({"system": RXNORM, "code": tablets.rxcui}))).cards) == {
        "no_systemic_glucocorticoids"}


def test_suggested_orders_carry_a_current_verified_product_code_with_its_exact_rxnorm_name():
    kb = knowledge()
    seen = 0
    for drug in kb.drugs.values():
        if not drug.order_rxnorm:
            continue
        [coding] = medication_request(drug, "AS", "p1")["medicationCodeableConcept"]["coding"]
        assert coding["code"] == drug.order_rxnorm and coding["system"] == RXNORM
        product = {p.rxcui: p for p in kb.products.get(drug.key, ())}.get(coding["code"])
        if product is None:  # the ingredient code, with the ingredient's name
            assert coding["code"] == drug.rxnorm_ingredient and coding["display"] == drug.name
            continue
        seen += 1
        assert product.verified and product.in_rxnav_2026 and coding["display"] == product.name
        named_brands = [b for b in drug.brands if b.lower() in drug.order_text.lower()]
        assert (product.brand in named_brands) if product.brand else not named_brands, drug.key
    assert seen >= 8
    adalimumab = medication_request(kb.drugs["adalimumab"], "AS", "p1")["medicationCodeableConcept"]
    assert adalimumab["coding"] == [{"system": RXNORM, "code": "1872980",
                                     "display": "0.4 ML adalimumab 100 MG/ML Auto-Injector [Humira]"}]


def _product(**fields: Any) -> ProductSpec:
    values: dict[str, Any] = {"rxcui": "1", "tty": "SBD", "name": "x 1 MG Oral Tablet [Brand]", "sources": ["s"],
                              "verified": True}
    values.update(fields)
    return ProductSpec.model_validate(values)


@pytest.mark.parametrize(("product", "text", "message"), [
    (_product(in_rxnav_2026=False), "x (Brand) tablet", "not current"),
    (_product(verified=False), "x (Brand) tablet", "unverified"),
    (_product(tty="SCD", name="x 1 MG Oral Tablet"), "x (Brand) tablet", "must not name Brand"),
    (_product(), "x 1 mg tablet", "must name Brand"),
], ids=["retired", "unverified", "generic-shown-as-brand", "brand-not-named"])
def test_a_suggested_order_code_that_is_retired_unverified_or_misnamed_refuses_the_load(product, text, message):
    with pytest.raises(KnowledgeError, match=message):
        _order_display("x", "x", "9", "1", text, ["Brand"], {"1": product})
    with pytest.raises(KnowledgeError, match="neither the ingredient"):
        _order_display("x", "x", "9", "2", text, ["Brand"], {"1": product})


@pytest.mark.parametrize(("document", "message"), [
    ({"sources": {}, "drugs": {"x": {"products": [], "typo": 1}}}, "typo"),
    ({"sources": {}, "drugs": {"x": {"products": [{"rxcui": "1", "tty": "SBD", "name": "a [B]", "sources": ["nope"],
                                                  "verified": True}]}}}, "unknown sources"),
    ({"sources": {"s": {"repository": "r", "path": "p", "strength": "rxnav"}}, "drugs": {}}, "date"),
    ({"sources": {}, "drugs": {"x": {"products": [{"rxcui": "1", "tty": "SCD", "name": "a [B]", "sources": ["s"],
                                                  "verified": True}]}}}, "must not end"),
], ids=["unknown-key", "unknown-source", "undated-source", "generic-name-with-brand"])
def test_the_product_file_schema_refuses_what_a_reviewer_would(document, message):
    with pytest.raises(KnowledgeError, match=message):
        validate(ProductsFile, document, "rxnorm_products.toml")


def test_the_ordinary_as_condition_still_matches():  # the fixture builders' own coding stays recognised
    assert evaluate(hook_input("upadacitinib", conditions=[AS])).diagnosis == "AS"
