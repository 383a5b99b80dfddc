"""The schema of the knowledge files (hooks/knowledge/*.toml), as pydantic models.

Unknown keys are refused everywhere, so a typo ("fda_nraxpsa", "stength") cannot silently change a label or a
rule; a bad file fails at load with an error naming the file and the key. The models carry no clinical logic.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, field_validator, model_validator

Family = Literal["tnfi", "il17i", "jaki", "other_bdmard", "nsaid", "csdmard", "glucocorticoid", "antituberculosis"]
ClinicalStatus = Literal["active", "recurrence", "relapse", "inactive", "remission", "resolved"]
#: The patient data elements a rule may read (closed list, as an ONC HTI-1 source-attribute document names them).
DataElement = Literal[
    "age", "sex", "pregnancy status", "lactation", "conditions", "medications", "allergies", "smoking status",
    "TB test", "hepatitis B tests", "CRP",
]
GESTATION_WEEKS = 42  # a threshold in weeks of pregnancy lies within a pregnancy (42 weeks: post-term)
AGE_YEARS = 120
_DRUG_FIELDS = {
    "name", "class", "rxnorm_ingredient", "rxnorm_products", "atc", "brands", "other_names", "biosimilars", "fda_as",
    "fda_nraxspa", "dose_as", "dose_nraxspa", "order_text", "order_rxnorm", "warnings",
}


class KnowledgeError(ValueError):
    """A knowledge file is missing, not TOML, or does not follow its schema."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _compiles(patterns: list[str]) -> list[str]:
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"pattern {p!r} is not a valid regular expression: {exc}") from None
    return patterns


# ------------------------------------------------------------------------------------------------ drugs.toml


class DrugClassSpec(_Strict):
    label: str = Field(min_length=1)
    short: str = Field(min_length=1)
    family: Family
    advanced: bool  # a b/tsDMARD


class BiosimilarSpec(_Strict):
    name: str = Field(min_length=1)
    brand: str = Field(min_length=1)
    unverified: bool = False


class DrugSpec(_Strict):
    name: str = Field(min_length=1)
    drug_class: str = Field(alias="class")
    rxnorm_ingredient: str = ""
    rxnorm_products: list[str] = []
    atc: str = ""
    brands: list[str] = []
    other_names: list[str] = []
    biosimilars: list[BiosimilarSpec] = []
    fda_as: bool = False
    fda_nraxspa: bool = False
    dose_as: str = ""
    dose_nraxspa: str = ""
    order_text: str = ""
    order_rxnorm: str = ""
    cox2_selective: bool = False
    warnings: list[str] = []
    unverified: list[str] = []

    @field_validator("unverified")
    @classmethod
    def _names_fields(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - _DRUG_FIELDS)
        if unknown:
            raise ValueError(f"names no field of a drug: {unknown}")
        return value

    @model_validator(mode="after")
    def _order_text_starts_with_the_generic(self) -> DrugSpec:
        if self.order_text and not self.order_text.startswith(self.name.split()[0] + " "):
            raise ValueError(f"order_text must start with the generic name {self.name.split()[0]!r}")
        return self


class DrugsFile(_Strict):
    classes: dict[str, DrugClassSpec]
    drugs: dict[str, DrugSpec]

    @model_validator(mode="after")
    def _classes_exist(self) -> DrugsFile:
        for key, drug in self.drugs.items():
            if drug.drug_class not in self.classes:
                raise ValueError(f"drugs.{key}.class: {drug.drug_class!r} is not a key of [classes]")
        return self


# ---------------------------------------------------------------------------------------- rxnorm_products.toml

TermType = Literal["SCD", "SBD", "GPCK", "BPCK"]
_BRANDED = frozenset({"SBD", "BPCK"})


class ProductSourceSpec(_Strict):
    """Where a list of product codes was read: a public file (repository, path, commit) or page, and its date."""

    repository: str = Field(min_length=1)
    path: str = Field(min_length=1)
    commit: str = ""
    commit_date: str = ""
    rxnorm_date: str = ""  # the date of the RxNorm content the source holds
    strength: Literal["rxnav", "vsac", "omop", "old"]
    note: str = ""

    @model_validator(mode="after")
    def _dated(self) -> ProductSourceSpec:
        if not (self.rxnorm_date or self.commit_date or self.commit):
            raise ValueError("a source needs its date (rxnorm_date or commit_date) or the commit that pins it")
        return self


class ProductSpec(_Strict):
    rxcui: str = Field(pattern=r"^[0-9]{1,10}$")
    tty: TermType
    name: str = Field(min_length=1)  # the RxNorm name: the display of a suggested order carrying this code
    sources: list[str] = Field(min_length=1)
    verified: bool
    in_rxnav_2026: bool = True  # False: no longer in RxNav (retired or remapped): matched, never suggested
    tty_inferred: bool = False
    local: bool = False  # an eye/ear/skin/rectal/nasal/inhaled/oral-paste/implant form
    multi_ingredient: bool = False

    @model_validator(mode="after")
    def _brand_matches_term_type(self) -> ProductSpec:
        branded = self.name.rstrip().endswith("]")
        if branded != (self.tty in _BRANDED):
            raise ValueError(f"{self.rxcui}: a {self.tty} name {'must' if self.tty in _BRANDED else 'must not'} end "
                             f"with its [Brand]: {self.name!r}")
        return self

    @property
    def brand(self) -> str:
        """The brand of an SBD/BPCK name ("[Humira]" -> "Humira"); "" for a generic product."""
        return self.name.rstrip()[:-1].rsplit("[", 1)[1] if self.tty in _BRANDED else ""

    @property
    def suggestible(self) -> bool:
        return self.verified and self.in_rxnav_2026


class DrugProductsSpec(_Strict):
    products: list[ProductSpec] = []
    missing: str = ""  # what the sources did not have


class ProductsFile(_Strict):
    sources: dict[str, ProductSourceSpec]
    drugs: dict[str, DrugProductsSpec]

    @model_validator(mode="after")
    def _sources_exist_and_codes_are_unique(self) -> ProductsFile:
        owner: dict[str, str] = {}
        for key, drug in self.drugs.items():
            for product in drug.products:
                unknown = sorted(set(product.sources) - set(self.sources))
                if unknown:
                    raise ValueError(f"drugs.{key}: product {product.rxcui} names unknown sources {unknown}")
                if product.rxcui in owner:
                    raise ValueError(f"drugs.{key}: product {product.rxcui} is listed under {owner[product.rxcui]} too")
                owner[product.rxcui] = key
        return self


# ------------------------------------------------------------------------------------------- conditions.toml


class ValueSetSpec(_Strict):
    label: str = Field(min_length=1)
    source: str = Field(min_length=1)  # where the codes come from
    snomed: list[str] = []
    snomed_unverified: list[str] = []
    icd10: list[str] = []
    icd10_unverified: list[str] = []
    text: list[str] = []
    exclude_text: list[str] = []
    statuses: list[ClinicalStatus] = Field(min_length=1)
    resolved_as: str | None = None  # the value set a Condition counts for once it is inactive or resolved

    @field_validator("text", "exclude_text")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        return _compiles(value)


class ConditionsFile(RootModel[dict[str, ValueSetSpec]]):
    @model_validator(mode="after")
    def _resolved_as_exists(self) -> ConditionsFile:
        for key, vs in self.root.items():
            if vs.resolved_as is not None and vs.resolved_as not in self.root:
                raise ValueError(f"{key}.resolved_as: {vs.resolved_as!r} is not a value set")
        return self


# ----------------------------------------------------------------------------------------- observations.toml


class ObservationKindSpec(_Strict):
    label: str = Field(min_length=1)
    source: str = Field(min_length=1)
    loinc: list[str] = []
    loinc_unverified: list[str] = []
    never: dict[str, str] = {}  # LOINC code -> why it is never this result (e.g. the IGRA mitogen control)
    text: list[str] = []  # matched on code.text / displays when no LOINC code matches
    exclude_text: list[str] = []
    values: dict[str, str] = {}  # SNOMED CT / HL7 answer code -> normalised value
    values_unverified: dict[str, str] = {}
    value_text: dict[str, list[str]] = {}  # normalised value -> patterns on the value's text (first match wins)

    @field_validator("text", "exclude_text")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        return _compiles(value)

    @field_validator("value_text")
    @classmethod
    def _value_patterns(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for patterns in value.values():
            _compiles(patterns)
        return value


class ObservationsFile(_Strict):
    statuses: list[str] = Field(min_length=1)  # Observation.status values that count
    interpretation: dict[str, str] = {}  # HL7 v3 ObservationInterpretation code -> normalised value
    kinds: dict[str, ObservationKindSpec]


# ------------------------------------------------------------------------------------------------ rules.toml


class SourceSpec(_Strict):
    """One publication or label set: what an ONC HTI-1 source-attribute document names."""

    label: str = Field(min_length=1)  # short name shown as a card's source
    citation: str = Field(min_length=1)  # authors, title, journal, year (or the agency's document)
    doi: str = ""
    url: str = Field(pattern=r"^https://")
    developer: str = Field(min_length=1)
    funding: str = Field(min_length=1)  # "not stated" when the source does not say
    published: str = Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")
    set_ids: dict[str, str] = {}  # FDA label sources: drug key -> DailyMed set id
    unverified: bool = False


class RuleSpec(_Strict):
    title: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    cite: str = ""  # short form for inline use ("ACR 2019 #39"); the citation when empty
    strength: str = Field(min_length=1)
    sources: list[str] = Field(min_length=1)
    text: str = Field(min_length=1)  # the clinician sentence
    # Short phrases keyed by situation, drug family or drug key ("any" = the default):
    summary: dict[str, str] = {}  # the card summary after the drug name ("Adalimumab: <summary>.")
    excluded: dict[str, str] = {}  # why a drug is left out of the suggestions under this rule
    because: str = ""  # why the preferred option comes first under this rule ({drug} = the drug in question)
    data_elements: list[DataElement] = Field(min_length=1)
    released: date
    revised: date
    unverified: bool = False

    @model_validator(mode="after")
    def _dates(self) -> RuleSpec:
        if self.revised < self.released:
            raise ValueError("revised is before released")
        return self


class RuleSettings(_Strict):
    """rules.toml [settings]: each bounded to what it can mean (weeks of a pregnancy, years of age), in order."""

    max_options: int = Field(4, ge=1)
    per_group: int = Field(2, ge=1)
    screening_lookback_days: int = Field(365, ge=1)
    recent_infection_days: int = Field(365, ge=1)
    pregnancy_evidence_days: int = Field(300, ge=1)
    nsaid_avoid_weeks: int = Field(20, ge=1, le=GESTATION_WEEKS)
    nsaid_stop_weeks: int = Field(30, ge=1, le=GESTATION_WEEKS)
    third_trimester_weeks: int = Field(28, ge=1, le=GESTATION_WEEKS)
    jak_age_with_cv_risk: int = Field(50, ge=1, le=AGE_YEARS)
    jak_age: int = Field(65, ge=1, le=AGE_YEARS)
    first_line_nsaids: int = Field(2, ge=0)  # 0: no NSAID trial is asked for

    @model_validator(mode="after")
    def _in_order(self) -> RuleSettings:
        if self.nsaid_stop_weeks < self.nsaid_avoid_weeks:
            raise ValueError("nsaid_stop_weeks is before nsaid_avoid_weeks")
        if self.jak_age < self.jak_age_with_cv_risk:
            raise ValueError("jak_age is below jak_age_with_cv_risk (the age with a cardiovascular risk factor)")
        return self


class OverrideReasonSpec(_Strict):
    code: str = Field(min_length=1)
    display: str = Field(min_length=1)


class OverrideSpec(_Strict):
    system: str = Field(pattern=r"^https://")
    reasons: list[OverrideReasonSpec] = Field(min_length=1)


class RulesFile(_Strict):
    topic_system: str = Field(pattern=r"^https://")
    precedence: list[str] = Field(min_length=1)
    settings: RuleSettings = RuleSettings()
    sources: dict[str, SourceSpec]
    rules: dict[str, RuleSpec]
    suggestion_order: dict[Literal["tnf", "il17", "jak"], list[str]]
    override: OverrideSpec

    @model_validator(mode="after")
    def _references(self) -> RulesFile:
        for rid, rule in self.rules.items():
            for key in rule.sources:
                if key not in self.sources:
                    raise ValueError(f"rules.{rid}.sources: {key!r} is not a key of [sources]")
        ids, order = set(self.rules), self.precedence
        if len(set(order)) != len(order):
            raise ValueError("precedence names a rule twice")
        if set(order) != ids:
            missing, extra = sorted(ids - set(order)), sorted(set(order) - ids)
            raise ValueError(f"precedence must list every rule once (missing {missing}, unknown {extra})")
        return self


def validate(model: type[BaseModel], raw: Any, file: str) -> Any:
    """``model`` validated from ``raw``; a schema error names the file and the key."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "root") or "(top level)"
            problems.append(f"{where}: {err.get('msg')}")
        raise KnowledgeError(f"{file}: " + "; ".join(problems)) from None
