"""Drug, condition, observation and rule knowledge, loaded once from the reviewable TOML files in hooks/knowledge/.

Each file is validated against its schema (hooks/schema.py) at load: an unknown key or a wrong type fails with the
file and the key named, never silently. The validated files are then compiled (code indexes, name and text
patterns, cross-file references checked) into the dataclasses of :mod:`hooks.knowledge_model`, re-exported here:
``from hooks.knowledge import Drug, Knowledge, knowledge`` is how the rest of the code reads the knowledge base.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import hooks.terminology as terminology
from hooks.knowledge_model import Drug, DrugClass, Knowledge, ObservationKind, Rule, ValueSet
from hooks.schema import (
    ConditionsFile,
    DrugsFile,
    KnowledgeError,
    ObservationsFile,
    ProductsFile,
    ProductSpec,
    RulesFile,
    validate,
)

KNOWLEDGE_DIR = Path(__file__).with_name("knowledge")
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"

__all__ = ["Drug", "DrugClass", "Knowledge", "KnowledgeError", "ObservationKind", "Rule", "ValueSet", "knowledge"]


def _load(name: str) -> dict[str, Any]:
    path = KNOWLEDGE_DIR / name
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KnowledgeError(f"{path.name}: {exc}") from None


def _alternation(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def normalise_icd(code: str) -> str:
    return code.replace(".", "").strip().upper()


def _build_drugs(
    spec: DrugsFile, products: ProductsFile
) -> tuple[dict[str, Drug], dict[str, dict[str, str]], dict[str, str], frozenset[str]]:
    """The drugs, their codes by system, their names, and the unconfirmed names.

    Codes: the RxNorm ingredient, the product codes of rxnorm_products.toml (current or not: old records carry retired
    codes) and of drugs.toml ``rxnorm_products``, the ATC code. A code claimed by two drugs refuses the load.
    """
    classes = {key: DrugClass(key, c.label, c.short, c.family, c.advanced) for key, c in spec.classes.items()}
    unknown = sorted(set(products.drugs) - set(spec.drugs))
    if unknown:
        raise KnowledgeError(f"rxnorm_products.toml: {unknown} are not drugs of drugs.toml")
    drugs: dict[str, Drug] = {}
    by_system: dict[str, dict[str, str]] = {terminology.RXNORM: {}, terminology.ATC: {}, terminology.NDC: {}}
    by_name: dict[str, str] = {}
    unverified_names: set[str] = set()

    def claim(system: str, code: str, key: str) -> None:
        owner = by_system[system].setdefault(code, key)
        if owner != key:
            raise KnowledgeError(f"{system} code {code} is claimed by both {owner} and {key}")

    for key, d in spec.drugs.items():
        listed = {p.rxcui: p for p in products.drugs[key].products} if key in products.drugs else {}
        drugs[key] = Drug(
            key=key,
            name=d.name,
            drug_class=classes[d.drug_class],
            brands=tuple(d.brands),
            biosimilars=tuple(f"{s.name} ({s.brand})" for s in d.biosimilars),
            rxnorm_ingredient=d.rxnorm_ingredient,
            fda_as=d.fda_as,
            fda_nraxspa=d.fda_nraxspa,
            dose_as=d.dose_as,
            dose_nraxspa=d.dose_nraxspa,
            order_text=d.order_text,
            order_rxnorm=d.order_rxnorm,
            order_display=_order_display(key, d.name, d.rxnorm_ingredient, d.order_rxnorm, d.order_text, d.brands,
                                         listed),
            cox2_selective=d.cox2_selective,
            warnings=tuple(d.warnings),
            unverified=tuple(d.unverified),
        )
        for code in [d.rxnorm_ingredient, *listed, *d.rxnorm_products]:
            if code:
                claim(terminology.RXNORM, code, key)
        if d.atc:
            claim(terminology.ATC, d.atc, key)
        names = [d.name, key, *d.brands, *d.other_names]
        names += [s.name for s in d.biosimilars] + [s.brand for s in d.biosimilars]
        for name in names:
            by_name[name.lower()] = key
        verified = {n.lower() for n in [d.name, key, *d.brands, *d.other_names]}
        verified |= {n.lower() for s in d.biosimilars if not s.unverified for n in (s.name, s.brand)}
        unverified_names |= {n.lower() for s in d.biosimilars if s.unverified for n in (s.name, s.brand)} - verified
    drug_codes = {spelling: by_system[system] for spelling, system in terminology.SYSTEM_OF.items()
                  if system in by_system}
    return drugs, drug_codes, by_name, frozenset(unverified_names)


def _order_display(key: str, name: str, ingredient: str, code: str, text: str, brands: list[str],
                   listed: dict[str, ProductSpec]) -> str:
    """The display of the suggested order's coding: the exact RxNorm name of its product code, or the generic name
    for the ingredient code. Refuses a product that is unconfirmed or retired, and a text that names a brand the code
    does not carry (a generic product shown as a brand)."""
    where = f"drugs.toml: drugs.{key}.order_rxnorm"
    if not code:
        return ""
    if code == ingredient:
        return name
    product = listed.get(code)
    if product is None:
        raise KnowledgeError(f"{where}: {code} is neither the ingredient nor a product of rxnorm_products.toml")
    if not product.suggestible:
        raise KnowledgeError(f"{where}: {code} is {'not current in RxNav' if product.verified else 'unverified'}; "
                             "a suggested order carries only a verified, current product code")
    named = [b for b in brands if re.search(rf"(?<!\w){re.escape(b)}(?!\w)", text, re.IGNORECASE)]
    if product.brand and product.brand not in named:
        raise KnowledgeError(f"{where}: {code} is a [{product.brand}] product; order_text must name {product.brand}")
    if not product.brand and named:
        raise KnowledgeError(f"{where}: {code} is a generic {product.tty}; order_text must not name {named[0]}")
    return product.name


CodeIndex = dict[str, tuple[tuple[str, bool], ...]]  # code or prefix -> ((value set, verified), ...)


def _freeze(index: dict[str, list[tuple[str, bool]]]) -> CodeIndex:
    return {k: tuple(v) for k, v in index.items()}


def _build_conditions(spec: ConditionsFile) -> tuple[dict[str, ValueSet], CodeIndex, CodeIndex]:
    value_sets: dict[str, ValueSet] = {}
    by_snomed: dict[str, list[tuple[str, bool]]] = {}
    by_icd: dict[str, list[tuple[str, bool]]] = {}
    for key, v in spec.root.items():
        value_sets[key] = ValueSet(key, v.label, frozenset(v.statuses), _alternation(v.text),
                                   _alternation(v.exclude_text), v.resolved_as)
        for verified, codes in ((True, v.snomed), (False, v.snomed_unverified)):
            for code in codes:
                by_snomed.setdefault(code, []).append((key, verified))
        for verified, prefixes in ((True, v.icd10), (False, v.icd10_unverified)):
            for prefix in prefixes:
                by_icd.setdefault(normalise_icd(prefix), []).append((key, verified))
    return value_sets, _freeze(by_snomed), _freeze(by_icd)


def _build_observations(spec: ObservationsFile) -> tuple[dict[str, ObservationKind], dict[str, str], dict[str, str]]:
    kinds: dict[str, ObservationKind] = {}
    by_loinc: dict[str, str] = {}
    never: dict[str, str] = {}
    for key, k in spec.kinds.items():
        codes = {c: True for c in k.loinc} | {c: False for c in k.loinc_unverified}
        values = {c: (v, True) for c, v in k.values.items()} | {c: (v, False) for c, v in k.values_unverified.items()}
        value_text = tuple((value, re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE))
                           for value, patterns in k.value_text.items() if patterns)
        kinds[key] = ObservationKind(key, k.label, codes, dict(k.never), _alternation(k.text),
                                     _alternation(k.exclude_text), values, value_text)
        for code in codes:
            if code in by_loinc:
                raise KnowledgeError(f"observations.toml: LOINC {code} is listed for {by_loinc[code]} and {key}")
            by_loinc[code] = key
        never.update(k.never)
    return kinds, by_loinc, never


def _build_rules(spec: RulesFile) -> dict[str, Rule]:
    return {
        rid: Rule(
            id=rid,
            title=r.title,
            citation=r.citation,
            cite=r.cite or r.citation,
            strength=r.strength,
            text=r.text,
            summary=dict(r.summary),
            excluded=dict(r.excluded),
            because=r.because,
            sources=tuple(spec.sources[k] for k in r.sources),
            data_elements=tuple(r.data_elements),
            released=r.released,
            revised=r.revised,
            unverified=r.unverified,
        )
        for rid, r in spec.rules.items()
    }


def _check_references(rules: RulesFile, drugs: dict[str, Drug]) -> None:
    for group, keys in rules.suggestion_order.items():
        for key in keys:
            if key not in drugs:
                raise KnowledgeError(f"rules.toml: suggestion_order.{group}: {key!r} is not a drug of drugs.toml")
    for source_key, source in rules.sources.items():
        for key in source.set_ids:
            if key not in drugs:
                raise KnowledgeError(f"rules.toml: sources.{source_key}.set_ids: {key!r} is not a drug of drugs.toml")


@cache
def knowledge() -> Knowledge:
    """The knowledge base, parsed, validated and compiled once per process."""
    products = validate(ProductsFile, _load("rxnorm_products.toml"), "rxnorm_products.toml")
    drugs, drug_codes, by_name, unverified_names = _build_drugs(
        validate(DrugsFile, _load("drugs.toml"), "drugs.toml"), products)
    value_sets, by_snomed, by_icd = _build_conditions(
        validate(ConditionsFile, _load("conditions.toml"), "conditions.toml"))
    observations = validate(ObservationsFile, _load("observations.toml"), "observations.toml")
    kinds, by_loinc, never = _build_observations(observations)
    rules = validate(RulesFile, _load("rules.toml"), "rules.toml")
    _check_references(rules, drugs)
    names = sorted(by_name, key=len, reverse=True)  # longest first: "adalimumab-atto" before "adalimumab"
    name_re = re.compile(r"(?<![\w])(" + "|".join(re.escape(n) for n in names) + r")(?![\w])", re.IGNORECASE)
    return Knowledge(
        drugs=drugs,
        drug_codes=drug_codes,
        products={key: tuple(entry.products) for key, entry in products.drugs.items()},
        local_products=frozenset(p.rxcui for entry in products.drugs.values() for p in entry.products if p.local),
        drug_by_name=by_name,
        drug_name_re=name_re,
        unverified_names=unverified_names,
        value_sets=value_sets,
        condition_by_snomed=by_snomed,
        condition_by_icd=by_icd,
        condition_text_any=re.compile("|".join(vs.text.pattern for vs in value_sets.values() if vs.text), re.I),
        observation_kinds=kinds,
        observation_by_loinc=by_loinc,
        observation_never=never,
        observation_statuses=frozenset(observations.statuses),
        interpretation=dict(observations.interpretation),
        rules=_build_rules(rules),
        precedence=tuple(rules.precedence),
        topic_system=rules.topic_system,
        settings=rules.settings,
        suggestion_order={g: tuple(keys) for g, keys in rules.suggestion_order.items()},
        override_system=rules.override.system,
        override_reasons=tuple((r.code, r.display) for r in rules.override.reasons),
    )
