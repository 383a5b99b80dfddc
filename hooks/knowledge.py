"""Drug, condition and rule knowledge, loaded once from the reviewable TOML files in hooks/knowledge/."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

KNOWLEDGE_DIR = Path(__file__).with_name("knowledge")
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"


@dataclass(frozen=True, slots=True)
class DrugClass:
    key: str
    label: str
    short: str
    family: str  # tnfi | il17i | jaki | other_bdmard | nsaid | csdmard | glucocorticoid
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
    warnings: tuple[str, ...]
    unverified: tuple[str, ...]

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


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    citation: str
    strength: str
    text: str
    source_label: str
    source_url: str
    unverified: bool

    @property
    def cite(self) -> str:
        """'ACR 2019 #12 [#63]; conditional (low-quality evidence)'."""
        return f"{self.citation}; {self.strength}"


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: one instance, memo caches key on it
class Knowledge:
    drugs: dict[str, Drug]
    drug_by_code: dict[str, str]  # RxNorm / ATC code -> drug key
    drug_by_name: dict[str, str]  # lowercase generic/brand/biosimilar name -> drug key
    drug_name_re: re.Pattern[str]
    value_sets: dict[str, ValueSet]
    condition_by_snomed: dict[str, tuple[tuple[str, bool], ...]]  # code -> ((value set, verified), ...)
    condition_by_icd: dict[str, tuple[tuple[str, bool], ...]]  # normalised prefix -> ((value set, verified), ...)
    condition_text_any: re.Pattern[str]  # union of all value-set text patterns: a cheap pre-filter
    rules: dict[str, Rule]
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
    with (KNOWLEDGE_DIR / name).open("rb") as fh:
        return tomllib.load(fh)


def _alternation(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def normalise_icd(code: str) -> str:
    return code.replace(".", "").strip().upper()


def _build_drugs(raw: dict[str, Any]) -> tuple[dict[str, Drug], dict[str, str], dict[str, str]]:
    classes = {
        key: DrugClass(key, c["label"], c["short"], c["family"], bool(c["advanced"]))
        for key, c in raw["classes"].items()
    }
    drugs: dict[str, Drug] = {}
    by_code: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for key, d in raw["drugs"].items():
        sims = d.get("biosimilars", [])
        drugs[key] = Drug(
            key=key,
            name=d["name"],
            drug_class=classes[d["class"]],
            brands=tuple(d.get("brands", [])),
            biosimilars=tuple(f"{s['name']} ({s['brand']})" for s in sims),
            rxnorm_ingredient=d.get("rxnorm_ingredient", ""),
            fda_as=bool(d.get("fda_as")),
            fda_nraxspa=bool(d.get("fda_nraxspa")),
            dose_as=d.get("dose_as", ""),
            dose_nraxspa=d.get("dose_nraxspa", ""),
            order_text=d.get("order_text", ""),
            order_rxnorm=d.get("order_rxnorm", ""),
            warnings=tuple(d.get("warnings", [])),
            unverified=tuple(d.get("unverified", [])),
        )
        for code in [d.get("rxnorm_ingredient", ""), *d.get("rxnorm_products", []), d.get("atc", "")]:
            if code:
                by_code[code] = key
        names = [d["name"], key, *d.get("brands", []), *d.get("other_names", [])]
        names += [s["name"] for s in sims] + [s["brand"] for s in sims]
        for name in names:
            by_name[name.lower()] = key
    return drugs, by_code, by_name


def _build_conditions(raw: dict[str, Any]) -> tuple[dict[str, ValueSet], dict, dict]:
    value_sets: dict[str, ValueSet] = {}
    by_snomed: dict[str, list[tuple[str, bool]]] = {}
    by_icd: dict[str, list[tuple[str, bool]]] = {}
    for key, v in raw.items():
        value_sets[key] = ValueSet(
            key=key,
            label=v["label"],
            statuses=frozenset(v["statuses"]),
            text=_alternation(v.get("text", [])),
            exclude_text=_alternation(v.get("exclude_text", [])),
        )
        for verified, field in ((True, "snomed"), (False, "snomed_unverified")):
            for code in v.get(field, []):
                by_snomed.setdefault(code, []).append((key, verified))
        for verified, field in ((True, "icd10"), (False, "icd10_unverified")):
            for prefix in v.get(field, []):
                by_icd.setdefault(normalise_icd(prefix), []).append((key, verified))
    freeze = lambda m: {k: tuple(v) for k, v in m.items()}  # noqa: E731
    return value_sets, freeze(by_snomed), freeze(by_icd)


def _build_rules(raw: dict[str, Any]) -> dict[str, Rule]:
    sources = raw["sources"]
    return {
        rid: Rule(
            id=rid,
            title=r["title"],
            citation=r["citation"],
            strength=r["strength"],
            text=r["text"],
            source_label=sources[r["source"]]["label"],
            source_url=sources[r["source"]]["url"],
            unverified=bool(r.get("unverified", False)),
        )
        for rid, r in raw["rules"].items()
    }


@cache
def knowledge() -> Knowledge:
    """The knowledge base, parsed and compiled once per process."""
    drugs, by_code, by_name = _build_drugs(_load("drugs.toml"))
    value_sets, by_snomed, by_icd = _build_conditions(_load("conditions.toml"))
    rules_raw = _load("rules.toml")
    names = sorted(by_name, key=len, reverse=True)  # longest first: "adalimumab-atto" before "adalimumab"
    name_re = re.compile(r"(?<![\w])(" + "|".join(re.escape(n) for n in names) + r")(?![\w])", re.IGNORECASE)
    return Knowledge(
        drugs=drugs,
        drug_by_code=by_code,
        drug_by_name=by_name,
        drug_name_re=name_re,
        value_sets=value_sets,
        condition_by_snomed=by_snomed,
        condition_by_icd=by_icd,
        condition_text_any=re.compile("|".join(vs.text.pattern for vs in value_sets.values() if vs.text), re.I),
        rules=_build_rules(rules_raw),
        suggestion_order={g: tuple(keys) for g, keys in rules_raw["suggestion_order"].items()},
        override_system=rules_raw["override"]["system"],
        override_reasons=tuple((r["code"], r["display"]) for r in rules_raw["override"]["reasons"]),
    )
