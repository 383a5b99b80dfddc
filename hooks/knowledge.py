"""Drug, condition, observation and rule knowledge, loaded once from the reviewable TOML files in hooks/knowledge/.

Each file is validated against its schema (hooks/schema.py) at load: an unknown key or a wrong type fails with the
file and the key named, never silently.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from hooks.schema import (
    ConditionsFile,
    DrugsFile,
    KnowledgeError,
    ObservationsFile,
    RuleSettings,
    RulesFile,
    SourceSpec,
    validate,
)

KNOWLEDGE_DIR = Path(__file__).with_name("knowledge")
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"

__all__ = ["Drug", "DrugClass", "Knowledge", "KnowledgeError", "ObservationKind", "Rule", "ValueSet", "knowledge"]


@dataclass(frozen=True, slots=True)
class DrugClass:
    key: str
    label: str
    short: str
    family: str  # tnfi | il17i | jaki | other_bdmard | nsaid | csdmard | glucocorticoid | antituberculosis
    advanced: bool  # a b/tsDMARD


@dataclass(frozen=True, slots=True)
class Drug:
    key: str
    name: str
    drug_class: DrugClass
    brands: tuple[str, ...]
    biosimilars: tuple[str, ...]  # "etanercept-szzs (Erelzi)"
    rxnorm_ingredient: str
    fda_as: bool
    fda_nraxspa: bool
    dose_as: str
    dose_nraxspa: str
    order_text: str
    order_rxnorm: str
    cox2_selective: bool
    warnings: tuple[str, ...]  # drug-specific label warnings a rule does not already speak for
    unverified: tuple[str, ...]  # fields not confirmed in a source

    @property
    def family(self) -> str:
        return self.drug_class.family

    @property
    def display(self) -> str:
        """Generic name with the first brand, e.g. 'adalimumab (Humira)'."""
        return f"{self.name} ({self.brands[0]})" if self.brands else self.name

    def on_label(self, diagnosis: str | None) -> bool:
        return self.fda_nraxspa if diagnosis == "nr-axSpA" else self.fda_as

    def dose(self, diagnosis: str | None) -> str:
        return (self.dose_nraxspa if diagnosis == "nr-axSpA" else self.dose_as) or self.dose_as


@dataclass(frozen=True, slots=True)
class ValueSet:
    key: str
    label: str
    statuses: frozenset[str]
    text: re.Pattern[str] | None
    exclude_text: re.Pattern[str] | None
    resolved_as: str | None  # counts as this value set once inactive or resolved


@dataclass(frozen=True, slots=True)
class ObservationKind:
    key: str  # smoking | pregnancy | gestational_age | igra | tst | hbsag | anti_hbc | crp | ...
    label: str
    codes: dict[str, bool]  # LOINC -> verified
    never: dict[str, str]  # LOINC -> why it is never this result
    text: re.Pattern[str] | None
    exclude_text: re.Pattern[str] | None
    values: dict[str, tuple[str, bool]]  # answer code -> (normalised value, verified)
    value_text: tuple[tuple[str, re.Pattern[str]], ...]  # (normalised value, pattern), first match wins


@dataclass(frozen=True, slots=True)
class Rule:
    """One recommendation as written in rules.toml (its implementation is in hooks/rules/)."""

    id: str
    title: str
    citation: str
    cite: str  # short form for inline use
    strength: str
    text: str
    summary: dict[str, str]
    excluded: dict[str, str]
    because: str
    sources: tuple[SourceSpec, ...]
    data_elements: tuple[str, ...]
    released: date
    revised: date
    unverified: bool

    @property
    def source_label(self) -> str:
        return self.sources[0].label

    @property
    def source_url(self) -> str:
        return self.sources[0].url

    def phrase(self, field: str, *keys: str) -> str:
        """The ``summary`` or ``excluded`` phrase for the first of ``keys`` that has one, else "any", else the title."""
        table: dict[str, str] = getattr(self, field)
        return next((table[k] for k in (*keys, "any") if k in table), self.title)

    def set_id(self, drug_key: str) -> str:
        """The DailyMed set id of ``drug_key``'s label when this rule's source is a label set that names it."""
        return next((s.set_ids[drug_key] for s in self.sources if drug_key in s.set_ids), "")


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: one instance, memo caches key on it
class Knowledge:
    drugs: dict[str, Drug]
    drug_by_code: dict[str, str]  # RxNorm / ATC code -> drug key
    drug_by_name: dict[str, str]  # lowercase generic/brand/biosimilar name -> drug key
    drug_name_re: re.Pattern[str]
    unverified_names: frozenset[str]  # lowercase biosimilar names or brands not confirmed in a source
    value_sets: dict[str, ValueSet]
    condition_by_snomed: dict[str, tuple[tuple[str, bool], ...]]  # code -> ((value set, verified), ...)
    condition_by_icd: dict[str, tuple[tuple[str, bool], ...]]  # normalised prefix -> ((value set, verified), ...)
    condition_text_any: re.Pattern[str]  # union of all value-set text patterns: a cheap pre-filter
    observation_kinds: dict[str, ObservationKind]
    observation_by_loinc: dict[str, str]  # LOINC -> kind
    observation_never: dict[str, str]  # LOINC -> why it is never read as a result
    observation_statuses: frozenset[str]
    interpretation: dict[str, str]  # HL7 v3 ObservationInterpretation code -> normalised value
    rules: dict[str, Rule]
    precedence: tuple[str, ...]  # rule ids, highest precedence first
    topic_system: str  # code system of the rule ids carried in card.source.topic
    settings: RuleSettings
    suggestion_order: dict[str, tuple[str, ...]]  # group (tnf | il17 | jak) -> drug keys in suggestion order
    override_system: str
    override_reasons: tuple[tuple[str, str], ...]  # (code, display)

    def rule(self, rule_id: str) -> Rule:
        return self.rules[rule_id]

    def match_drug_code(self, code: str) -> str | None:
        return self.drug_by_code.get(code)

    def match_drug_text(self, text: str) -> tuple[str, str] | None:
        """First known drug named in ``text``: (drug key, the name as matched). Memoised: texts repeat."""
        return _match_drug_text(self, text)

    def match_condition_text(self, text: str) -> tuple[str, ...]:
        """Value sets whose text pattern names ``text`` (and whose exclusions do not). Memoised."""
        return _match_condition_text(self, text)

    def drugs_of_family(self, family: str) -> tuple[Drug, ...]:
        return tuple(d for d in self.drugs.values() if d.family == family)


@lru_cache(maxsize=32_768)
def _match_drug_text(kb: Knowledge, text: str) -> tuple[str, str] | None:
    m = kb.drug_name_re.search(text)
    if m is None:
        return None
    return kb.drug_by_name[m.group(1).lower()], m.group(1)


@lru_cache(maxsize=32_768)
def _match_condition_text(kb: Knowledge, text: str) -> tuple[str, ...]:
    if not kb.condition_text_any.search(text):
        return ()
    return tuple(
        vs.key
        for vs in kb.value_sets.values()
        if vs.text is not None and vs.text.search(text) and (vs.exclude_text is None or not vs.exclude_text.search(text))
    )


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


def _build_drugs(spec: DrugsFile) -> tuple[dict[str, Drug], dict[str, str], dict[str, str], frozenset[str]]:
    classes = {key: DrugClass(key, c.label, c.short, c.family, c.advanced) for key, c in spec.classes.items()}
    drugs: dict[str, Drug] = {}
    by_code: dict[str, str] = {}
    by_name: dict[str, str] = {}
    unverified_names: set[str] = set()
    for key, d in spec.drugs.items():
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
            cox2_selective=d.cox2_selective,
            warnings=tuple(d.warnings),
            unverified=tuple(d.unverified),
        )
        for code in [d.rxnorm_ingredient, *d.rxnorm_products, d.atc]:
            if code:
                by_code[code] = key
        names = [d.name, key, *d.brands, *d.other_names]
        names += [s.name for s in d.biosimilars] + [s.brand for s in d.biosimilars]
        for name in names:
            by_name[name.lower()] = key
        verified = {n.lower() for n in [d.name, key, *d.brands, *d.other_names]}
        verified |= {n.lower() for s in d.biosimilars if not s.unverified for n in (s.name, s.brand)}
        unverified_names |= {n.lower() for s in d.biosimilars if s.unverified for n in (s.name, s.brand)} - verified
    return drugs, by_code, by_name, frozenset(unverified_names)


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
    drugs, by_code, by_name, unverified_names = _build_drugs(validate(DrugsFile, _load("drugs.toml"), "drugs.toml"))
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
        drug_by_code=by_code,
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
