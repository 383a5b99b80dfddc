"""The knowledge base as the code reads it: drugs and their classes, condition value sets, observation kinds, the
rules' citations and the compiled :class:`Knowledge` that holds them, with its memoised text matchers.

These are the compiled forms of the reviewable TOML files; :mod:`hooks.knowledge` loads, validates and builds them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from hooks.schema import ProductSpec, RuleSettings, SourceSpec


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
    order_display: str  # the RxNorm name of order_rxnorm (a product's name, or the generic for the ingredient code)
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
    #: every accepted spelling of a drug code system (canonical URI, OID forms; hooks.terminology) -> {code: drug key}.
    #: One dict lookup for the system, one for the code: a code counts only under its own system.
    drug_codes: dict[str, dict[str, str]]
    products: dict[str, tuple[ProductSpec, ...]]  # drug key -> its RxNorm product codes (rxnorm_products.toml)
    local_products: frozenset[str]  # RxNorm product codes of local forms (eye drops, creams...): not systemic
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

    def match_drug_code(self, system: str, code: str) -> str | None:
        """The drug ``code`` names under ``system`` (any accepted spelling), or None (unknown system or code)."""
        codes = self.drug_codes.get(system)
        return codes.get(code) if codes is not None else None

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
