"""stop_reasons.toml as validated data: the schema of the stop-reason classifier's file, and its loading.

Everything clinical the classifier reads (categories, phrases, codes, precedence, thresholds, the examples table) is
in ``knowledge/stop_reasons.toml``. The pydantic models here refuse an unknown key and check that every name refers to
something declared, so a misspelt category, group or family fails at load, never silently.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DATA_FILE = Path(__file__).with_name("knowledge") / "stop_reasons.toml"
# Categories the reading itself needs (the course-length rules of ACR 2019 Table 1; no reason); the schema checks them.
PRIMARY_WORDING = "primary-nonresponse"  # the only category whose reading depends on the course length
TOO_EARLY = "inadequate-trial"
LOST_RESPONSE = "secondary-nonresponse"
NO_REASON = "unknown"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HistorySettings(_Strict):
    adequate_trial_weeks: int = Field(gt=0)
    long_course_weeks: int = Field(gt=0)
    merge_gap_days: int = Field(ge=0)


class CategoryDef(_Strict):
    description: str
    can_be_serious: bool = False  # an adverse event or infection: Reading.serious may be set


class Precedence(_Strict):
    order: list[str]


class Group(_Strict):
    category: str
    phrases: list[str] = []
    families: list[str] = []
    outside_families: str | None = None
    linked_category: str | None = None
    timing: Literal["any", "trial", "course"] = "any"
    serious: bool = False
    states_a_reason: bool = True

    @model_validator(mode="after")
    def _timing_reads_efficacy(self) -> Group:
        if self.timing != "any" and self.category != PRIMARY_WORDING:
            raise ValueError("timing applies to primary-nonresponse groups only")
        return self


class Words(_Strict):
    drug_words: list[str]
    class_words: dict[str, list[str]]
    rewrite: dict[str, str]
    duration_units: dict[str, float]


class Scope(_Strict):
    window: int = Field(gt=0)
    post_window: int = Field(gt=0)
    switch_window: int = Field(gt=0)
    negation_before: list[str]
    hypothetical_before: list[str]
    negation_after: list[str]
    scope_end: list[str]
    contrast: list[str]
    switch_cues: list[str]
    subject_cues: list[str]
    indication_markers: list[str]
    link_phrases: list[str]
    prior_response: list[str]
    serious_markers: list[str]
    not_serious: list[str]


class Typos(_Strict):
    min_length: int = Field(ge=4)
    max_edits: Literal[1]
    not_typos: list[str]


class CodeEntry(_Strict):
    group: str
    display: str
    unverified: bool = False


class CodeSystemDef(_Strict):
    name: str
    uris: list[str] = Field(min_length=1)
    unverified_uris: list[str] = []
    case_sensitive: bool = True
    source: str
    codes: dict[str, CodeEntry]


class Example(_Strict):
    text: str = ""
    system: str | None = None
    code: str | None = None
    expect: str
    weeks: float | None = None
    drug: str = "adalimumab"
    serious: bool | None = None
    why: str = ""

    @model_validator(mode="after")
    def _one_reason(self) -> Example:
        if (self.code is None) != (self.system is None):
            raise ValueError("an example's code needs its system (system = '' for none)")
        return self


class Examples(_Strict):
    cases: list[Example]


class StopReasonData(_Strict):
    """The whole of stop_reasons.toml; a misspelt key or name fails here, at load."""

    history: HistorySettings
    categories: dict[str, CategoryDef]
    precedence: Precedence
    groups: dict[str, Group]
    words: Words
    scope: Scope
    typos: Typos
    code_systems: dict[str, CodeSystemDef]
    examples: Examples

    @model_validator(mode="after")
    def _names_resolve(self) -> StopReasonData:
        cats, groups = set(self.categories), set(self.groups)
        problems: list[str] = []
        for name, g in self.groups.items():
            for field_name in ("category", "linked_category", "outside_families"):
                value = getattr(g, field_name)
                if value is not None and value not in cats:
                    problems.append(f"groups.{name}.{field_name}: unknown category {value!r}")
            for family in g.families:
                if family not in self.words.class_words:
                    problems.append(f"groups.{name}.families: unknown family {family!r}")
        order = self.precedence.order
        if len(order) != len(set(order)) or set(order) != groups:
            problems.append(f"precedence.order must name every group exactly once (missing"
                            f" {sorted(groups - set(order))}, unknown {sorted(set(order) - groups)})")
        for sname, system in self.code_systems.items():
            for code, entry in system.codes.items():
                if entry.group not in groups:
                    problems.append(f"code_systems.{sname}.codes.{code}: unknown group {entry.group!r}")
        for name in (PRIMARY_WORDING, TOO_EARLY, LOST_RESPONSE, NO_REASON):
            if name not in cats:
                problems.append(f"categories: {name!r} is required (course-length rules, no reason)")
        local = self.code_systems.get("local")
        if local is None or not cats <= set(local.codes):
            problems.append("code_systems.local must have one code per category")
        for i, ex in enumerate(self.examples.cases):
            if ex.expect not in cats:
                problems.append(f"examples.cases[{i}]: unknown category {ex.expect!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load_data(path: Path = DATA_FILE) -> StopReasonData:
    """stop_reasons.toml parsed and validated (raises on an unknown key, category, group or family)."""
    with path.open("rb") as fh:
        return StopReasonData.model_validate(tomllib.load(fh))


@lru_cache(maxsize=1)
def stop_reason_data() -> StopReasonData:
    return load_data()
