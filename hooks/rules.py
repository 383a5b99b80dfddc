"""The guideline rules. Each rule is a function named for its id in knowledge/rules.toml, which holds its title,
citation, strength and clinician-facing sentence.

Conflict rules take the patient context and the ordered drug and return a :class:`Finding` (or None).
:func:`choose_options` applies the sequencing and comorbidity rules to rank the drugs to suggest instead; the
hard-safety exclusions (:func:`excluded_reason`) are applied to every suggestion without exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from hooks.history import ADVERSE, AE_CLASS, PRIMARY, SECONDARY, Course
from hooks.knowledge import Drug, Knowledge, Rule
from hooks.record import ConditionFinding

GROUP_OF_FAMILY = {"tnfi": "tnf", "il17i": "il17", "jaki": "jak"}
GROUP_LABEL = {"tnf": "TNF inhibitor", "il17": "IL-17 inhibitor", "jak": "JAK inhibitor"}
MAX_OPTIONS = 4
PER_GROUP = 2


@dataclass(frozen=True, slots=True)
class Context:
    """Everything the rules know about the patient."""

    diagnosis: str | None  # "AS" | "nr-axSpA"
    conditions: frozenset[str]  # value-set keys that count
    findings: tuple[ConditionFinding, ...]
    courses: tuple[Course, ...]
    intolerances: dict[str, str]  # drug key -> why (allergy record or adverse-event stop)
    age: int | None
    today: date

    def has(self, *value_sets: str) -> bool:
        return any(v in self.conditions for v in value_sets)

    def condition_label(self, value_set: str) -> str:
        return next((f.label for f in self.findings if f.value_set == value_set), value_set)

    def stopped(self, family: str, reasons: frozenset[str] | set[str]) -> list[Course]:
        return [c for c in self.courses if c.family == family and c.status != "active" and c.stop_reason in reasons]

    def tried(self) -> set[str]:
        return {c.drug for c in self.courses}


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule applied to this patient: the rule, a specific sentence and a short phrase for the summary."""

    rule: Rule
    message: str
    short: str = ""
    severity: str = "warning"  # "warning" | "advice" (a preference, not a conflict: the card stays info)


@dataclass
class Recommendation:
    options: list[Drug]  # preferred first
    basis: list[Finding]  # the rules that ordered them
    why_preferred: str
    excluded: dict[str, str] = field(default_factory=dict)  # drug key -> reason it is never suggested


def _year(c: Course) -> str:
    return f" ({c.end or c.start})" if (c.end or c.start) else ""


# ------------------------------------------------------------------------------------------ hard safety


def excluded_reason(kb: Knowledge, ctx: Context, drug: Drug) -> str | None:
    """Why ``drug`` must never be suggested for this patient (hard safety), or None."""
    if drug.key in ctx.intolerances:
        return f"allergy/intolerance: {ctx.intolerances[drug.key]}"
    failed = [c for c in ctx.courses if c.drug == drug.key and c.failed]
    if failed:
        return f"failed before ({failed[-1].outcome})"
    if drug.family == "il17i" and ctx.has("ibd"):
        return "IL-17 inhibitor with inflammatory bowel disease"
    if drug.family == "tnfi" and ctx.has("heart_failure", "demyelinating"):
        return "TNF inhibitor with heart failure or demyelinating disease"
    if drug.family == "tnfi" and ctx.stopped("tnfi", {AE_CLASS}):
        return "TNF-class adverse event on record"
    if drug.family == "jaki" and ctx.stopped("jaki", {PRIMARY, SECONDARY} | ADVERSE):
        return "a JAK inhibitor already failed or was not tolerated"
    return None


def _not_suggested(kb: Knowledge, ctx: Context, drug: Drug) -> str | None:
    """Hard safety plus the softer reasons a drug is left out of the options."""
    hard = excluded_reason(kb, ctx, drug)
    if hard:
        return hard
    if drug.key in ctx.tried():
        return "already tried"
    if not drug.on_label(ctx.diagnosis):
        return f"not FDA-labelled for {ctx.diagnosis}"
    if drug.key == "etanercept" and ctx.has("ibd", "uveitis"):
        return "etanercept does not treat IBD and is less effective for uveitis"
    if drug.family == "jaki" and not _tnfi_tried(ctx):
        return "JAK inhibitors are labelled only after a TNF inhibitor"
    if drug.family == "jaki" and ctx.has("pregnancy"):
        return "pregnancy (embryo-fetal toxicity)"
    return None


def _non_tnfi_tried(ctx: Context) -> bool:
    return any(c.family in ("il17i", "jaki") for c in ctx.courses)


def _open_options(kb: Knowledge, ctx: Context, family: str, classes: tuple[str, ...] = ()) -> bool:
    """Is some drug of ``family`` (optionally of these classes) open to this patient?"""
    return any(_not_suggested(kb, ctx, d) is None and (not classes or d.drug_class.key in classes)
               for d in kb.drugs_of_family(family))


def _tnfi_tried(ctx: Context) -> bool:
    return any(c.family == "tnfi" and (c.status == "active" or c.counts_for_jak_label) for c in ctx.courses)


# ------------------------------------------------------------------------------------- conflict rules


def never_allergen(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    why = ctx.intolerances.get(drug.key)
    if why is None:
        return None
    return Finding(kb.rule("never_allergen"), f"{drug.name}: {why}. {kb.rule('never_allergen').text}", "allergy/intolerance on record")


def never_failed_molecule(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    failed = [c for c in ctx.courses if c.drug == drug.key and c.failed]
    if not failed or drug.family == "jaki":  # a JAK inhibitor re-order is covered by no_jak_after_jak_failure
        return None
    c = failed[-1]
    rule_id = "no_biosimilar_of_failed_tnfi" if drug.family == "tnfi" else "never_failed_molecule"
    rule = kb.rule(rule_id)
    return Finding(rule, f"{drug.name} already failed: {c.outcome}{_year(c)}. {rule.text}", f"already failed ({c.outcome.split(' (')[0]})")


def no_jak_after_jak_failure(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    if drug.family != "jaki":
        return None
    prior = ctx.stopped("jaki", {PRIMARY, SECONDARY} | ADVERSE)
    if not prior:
        return None
    c = prior[-1]
    rule = kb.rule("no_jak_after_jak_failure")
    verb = "failed" if c.failed else "was not tolerated"
    return Finding(rule, f"{c.drug_name} (JAK inhibitor) {verb}: {c.outcome}{_year(c)}. {rule.text}", f"JAK inhibitor already {verb}")


def ibd_tnf_mab_no_il17(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    if not ctx.has("ibd") or not (drug.family == "il17i" or drug.key == "etanercept"):
        return None
    rule = kb.rule("ibd_tnf_mab_no_il17")
    what = "IL-17 inhibitor" if drug.family == "il17i" else "etanercept"
    return Finding(rule, f"{ctx.condition_label('ibd')} is on record. {rule.text}", f"{what} with IBD")


def hf_demyelinating_no_tnfi(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    if drug.family != "tnfi" or not ctx.has("heart_failure", "demyelinating"):
        return None
    rule = kb.rule("hf_demyelinating_no_tnfi")
    which = "heart_failure" if ctx.has("heart_failure") else "demyelinating"
    short = "heart failure" if which == "heart_failure" else "demyelinating disease"
    return Finding(rule, f"{ctx.condition_label(which)} is on record. {rule.text}", f"TNF inhibitor with {short}")


def tnfi_class_adverse_event(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    prior = ctx.stopped("tnfi", {AE_CLASS})
    if drug.family != "tnfi" or not prior:
        return None
    rule = kb.rule("tnfi_class_adverse_event")
    return Finding(rule, f"{prior[-1].drug_name} was stopped for a TNF-class adverse event. {rule.text}", "TNF-class adverse event on record")


def tnfi_primary_nonresponse_il17(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    prior = [c for c in ctx.stopped("tnfi", {PRIMARY}) if c.drug != drug.key]
    if drug.family != "tnfi" or not prior or ctx.has("ibd") or _non_tnfi_tried(ctx):
        return None  # with IBD, IL-17i are excluded and a TNF mAb is the right switch (ACR #41)
    rule = kb.rule("tnfi_primary_nonresponse_il17")
    return Finding(rule, f"{prior[-1].drug_name}: primary non-response{_year(prior[-1])}. {rule.text}", "second TNFi after primary non-response")


def tnfi_secondary_nonresponse_other_tnfi(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    prior = ctx.stopped("tnfi", {SECONDARY})
    if drug.family not in ("il17i", "jaki") or not prior or ctx.stopped("tnfi", {PRIMARY}) or _non_tnfi_tried(ctx):
        return None  # ACR #13 speaks of the first TNFi; once a non-TNF drug was tried it no longer applies
    if not _open_options(kb, ctx, "tnfi"):
        return None  # no TNF inhibitor is open to this patient: the non-TNF choice is the right one
    rule = kb.rule("tnfi_secondary_nonresponse_other_tnfi")
    return Finding(rule, f"{prior[-1].drug_name}: lost response{_year(prior[-1])}. {rule.text}",
                   "after lost response ACR #13 prefers a different TNFi", "advice")


def uveitis_tnf_mab(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    if not ctx.has("uveitis") or not (drug.key == "etanercept" or drug.family == "il17i"):
        return None
    rule = kb.rule("uveitis_tnf_mab")
    message = f"{ctx.condition_label('uveitis')} is on record. {rule.text}"
    if drug.key == "etanercept":
        return Finding(rule, message, "less effective with uveitis (ACR #39)")
    if not _open_options(kb, ctx, "tnfi", ("tnf_mab",)):
        return None
    return Finding(rule, message, "with uveitis a TNF mAb is preferred (ACR #39)", "advice")


def psoriasis_il17(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    if drug.family != "tnfi" or not ctx.has("psoriasis") or ctx.has("ibd", "uveitis"):
        return None
    if not _open_options(kb, ctx, "il17i"):
        return None
    rule = kb.rule("psoriasis_il17")
    return Finding(rule, f"{ctx.condition_label('psoriasis')} is on record. {rule.text}",
                   "with psoriasis an IL-17i may be preferred", "advice")


def nraxspa_on_label(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    if ctx.diagnosis != "nr-axSpA" or drug.fda_nraxspa or not drug.drug_class.advanced:
        return None
    rule = kb.rule("nraxspa_on_label")
    return Finding(rule, f"{drug.name} is not FDA-labelled for nr-axSpA. {rule.text}", "not FDA-labelled for nr-axSpA")


def jak_after_tnfi_label(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    if drug.family != "jaki" or _tnfi_tried(ctx):
        return None
    rule = kb.rule("jak_after_tnfi_label")
    return Finding(rule, f"No TNF inhibitor course is on record. {rule.text}", "JAK inhibitor before any TNF inhibitor")


def pregnancy_no_jak(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    if drug.family != "jaki" or not ctx.has("pregnancy"):
        return None
    return Finding(kb.rule("pregnancy_no_jak"), kb.rule("pregnancy_no_jak").text, "JAK inhibitor in pregnancy")


def jak_boxed_warning(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    factors = jak_risk_factors(ctx) if drug.family == "jaki" else []
    if not factors:
        return None
    rule = kb.rule("jak_boxed_warning")
    return Finding(rule, f"Risk factors in this record: {'; '.join(factors)}. {rule.text}",
                   f"JAK boxed warning, risk: {factors[0].split(' (')[0]}")


def non_recommended_biologic(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    if drug.family != "other_bdmard":
        return None
    rule = kb.rule("non_recommended_biologic")
    return Finding(rule, rule.text, "not recommended for axSpA")


def no_csdmard_axial(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    if drug.family != "csdmard":
        return None
    on_advanced = any(c.status == "active" and c.family in GROUP_OF_FAMILY for c in ctx.courses)
    if ctx.has("peripheral_arthritis") and not on_advanced:
        return None  # ACR 2019 #4: SSZ/MTX for prominent peripheral arthritis
    rule = kb.rule("no_csdmard_axial")
    return Finding(rule, rule.text, "csDMARD does not treat axial disease")


def no_systemic_glucocorticoids(kb: Knowledge, ctx: Context, drug: Drug) -> Finding | None:
    if drug.family != "glucocorticoid":
        return None
    rule = kb.rule("no_systemic_glucocorticoids")
    return Finding(rule, rule.text, "systemic glucocorticoid not recommended")


# Precedence order: the first conflict found names the card's summary.
CONFLICT_RULES: tuple[Callable[[Knowledge, Context, Drug], Finding | None], ...] = (
    never_allergen,
    no_jak_after_jak_failure,
    never_failed_molecule,
    ibd_tnf_mab_no_il17,
    hf_demyelinating_no_tnfi,
    tnfi_class_adverse_event,
    uveitis_tnf_mab,
    tnfi_primary_nonresponse_il17,
    tnfi_secondary_nonresponse_other_tnfi,
    psoriasis_il17,
    pregnancy_no_jak,
    nraxspa_on_label,
    jak_after_tnfi_label,
    jak_boxed_warning,
    non_recommended_biologic,
    no_csdmard_axial,
    no_systemic_glucocorticoids,
)


def conflicts(kb: Knowledge, ctx: Context, drug: Drug) -> list[Finding]:
    """Every conflict rule that fires for ordering ``drug``, in precedence order."""
    return [f for rule in CONFLICT_RULES if (f := rule(kb, ctx, drug)) is not None]


# --------------------------------------------------------------------------------- recommendation rules


def _front(order: list[str], group: str) -> list[str]:
    return [group] + [g for g in order if g != group]


def choose_options(kb: Knowledge, ctx: Context) -> Recommendation:
    """Rank the drugs to suggest: sequencing rules first, then comorbidity rules (which outrank them)."""
    rule = kb.rule
    order = ["tnf", "il17", "jak"]
    basis: list[Finding] = []
    why = ""
    tnfi_primary = ctx.stopped("tnfi", {PRIMARY})
    tnfi_secondary = ctx.stopped("tnfi", {SECONDARY})
    tnfi_class = ctx.stopped("tnfi", {AE_CLASS})
    tnfi_ae = ctx.stopped("tnfi", ADVERSE - {AE_CLASS})
    drop_tnf = False
    if tnfi_class:
        order = ["il17", "jak", "tnf"]
        basis.append(Finding(rule("tnfi_class_adverse_event"), f"{tnfi_class[-1].drug_name}: {tnfi_class[-1].outcome}."))
        why = "a TNF-class adverse event rules out TNF inhibitors"
    elif tnfi_primary:
        order = ["il17", "jak", "tnf"]
        drop_tnf = True
        basis.append(Finding(rule("tnfi_primary_nonresponse_il17"), f"{tnfi_primary[-1].drug_name}: primary non-response{_year(tnfi_primary[-1])}."))
        why = "primary non-response to a TNF inhibitor favours an IL-17 inhibitor (ACR 2019 #12)"
    elif tnfi_secondary:
        basis.append(Finding(rule("tnfi_secondary_nonresponse_other_tnfi"), f"{tnfi_secondary[-1].drug_name}: lost response{_year(tnfi_secondary[-1])}."))
        basis.append(Finding(rule("no_biosimilar_of_failed_tnfi"), f"Not {tnfi_secondary[-1].drug_name} or its biosimilars."))
        why = "secondary non-response favours a different TNF inhibitor (ACR 2019 #13)"
    elif tnfi_ae:
        c = tnfi_ae[-1]
        basis.append(Finding(rule("tnfi_adverse_event_not_nonresponse"), f"{c.drug_name}: {c.outcome}{_year(c)}."))
        why = (f"{c.drug_name} was stopped for an adverse event, not non-response, so TNF inhibition has not failed: "
               "a TNF monoclonal antibody follows ACR 2019 #9 (TNFi first); an IL-17 inhibitor is equally reasonable")
    else:
        basis.append(Finding(rule("tnfi_first"), "No TNF inhibitor non-response is documented."))
        why = "no TNF inhibitor non-response is documented, so ACR 2019 #9 (TNFi first) applies"
    il17_failed = ctx.stopped("il17i", {PRIMARY, SECONDARY})
    if il17_failed:
        order = ["tnf", "jak", "il17"]
        drop_tnf = False
        basis.append(Finding(rule("il17i_failure_switch"), f"{il17_failed[-1].drug_name}: {il17_failed[-1].outcome}."))
        why = "an IL-17 inhibitor failed, so a TNF inhibitor (or a JAK inhibitor) is next (ASAS-EULAR 2022 #12)"
    jak_failed = ctx.stopped("jaki", {PRIMARY, SECONDARY} | ADVERSE)
    if jak_failed:
        basis.append(Finding(rule("no_jak_after_jak_failure"), f"{jak_failed[-1].drug_name}: {jak_failed[-1].outcome}."))
    if ctx.has("psoriasis") and not ctx.has("ibd", "uveitis"):
        order = _front(order, "il17")
        basis.append(Finding(rule("psoriasis_il17"), f"{ctx.condition_label('psoriasis')} is on record."))
        why = "psoriasis is on record, where an IL-17 inhibitor may be preferred (ASAS-EULAR 2022 #10)"
    if ctx.has("uveitis"):
        order = _front(order, "tnf")
        drop_tnf = False
        basis.append(Finding(rule("uveitis_tnf_mab"), f"{ctx.condition_label('uveitis')} is on record."))
        why = "uveitis is on record: a TNF monoclonal antibody is preferred (ACR 2019 #39)"
    if ctx.has("ibd"):
        order = _front(order, "tnf")
        drop_tnf = False
        basis.append(Finding(rule("ibd_tnf_mab_no_il17"), f"{ctx.condition_label('ibd')} is on record."))
        why = "IBD is on record: a TNF monoclonal antibody, never an IL-17 inhibitor (ACR 2019 #41)"
    if ctx.has("heart_failure", "demyelinating"):
        basis.append(Finding(rule("hf_demyelinating_no_tnfi"), "Heart failure or demyelinating disease is on record."))
        why = "heart failure or demyelinating disease rules out TNF inhibitors (ACR 2019 narrative to #11)"
    if ctx.diagnosis == "nr-axSpA":
        basis.append(Finding(rule("nraxspa_on_label"), "Diagnosis: nr-axSpA."))

    excluded: dict[str, str] = {}
    groups: dict[str, list[Drug]] = {g: [] for g in order}
    for group in order:
        for key in kb.suggestion_order.get(group, ()):
            drug = kb.drugs[key]
            reason = _not_suggested(kb, ctx, drug)
            if reason:
                excluded[key] = reason
            else:
                groups[group].append(drug)
    if ctx.has("uveitis") and any(d.drug_class.key == "tnf_mab" for d in groups["tnf"]):
        for d in groups["il17"]:
            excluded[d.key] = "uveitis: TNF monoclonal antibody preferred (ACR 2019 #39)"
        groups["il17"] = []
    if drop_tnf and (groups["il17"] or groups["jak"]):
        for d in groups["tnf"]:
            excluded[d.key] = "second TNF inhibitor after primary non-response (ACR 2019 #12)"
        groups["tnf"] = []
    options: list[Drug] = []
    for group in order:
        options.extend(groups[group][: min(PER_GROUP, MAX_OPTIONS - len(options))])
    if options and GROUP_OF_FAMILY.get(options[0].family) != order[0]:
        why = f"{why}; no {GROUP_LABEL[order[0]]} is available to this patient, so {options[0].name} comes first"
    return Recommendation(options, basis, why, excluded)


# ------------------------------------------------------------------------------------------- cautions


def jak_risk_factors(ctx: Context) -> list[str]:
    """JAK boxed-warning risk factors present in the record."""
    factors: list[str] = []
    if ctx.age is not None and ctx.age >= 65:
        factors.append(f"age {ctx.age}")
    elif ctx.age is not None and ctx.age >= 50 and ctx.has("cardiovascular_risk"):
        factors.append(f"age {ctx.age} with a cardiovascular risk factor")
    for key, label in (("smoking", "smoking"), ("cardiovascular_risk", "cardiovascular risk"), ("vte", "VTE history"), ("malignancy", "malignancy")):
        if ctx.has(key):
            factors.append(f"{label} ({ctx.condition_label(key)})")
    return factors


def cautions(kb: Knowledge, ctx: Context, ordered: Drug, options: list[Drug]) -> list[Finding]:
    """Screening and label cautions for the ordered drug and the suggested options."""
    rule = kb.rule
    drugs = [ordered, *options]
    families = {d.family for d in drugs}
    out: list[Finding] = []
    if families & {"tnfi", "il17i", "jaki"}:
        extra = []
        if ctx.has("latent_tb"):
            extra.append(f"{ctx.condition_label('latent_tb')} on record: treat latent TB before starting")
        if ctx.has("hepatitis_b"):
            extra.append(f"{ctx.condition_label('hepatitis_b')} on record: hepatitis B reactivation risk (TNFi labels); involve hepatology")
        out.append(Finding(rule("tb_hbv_screening"), " ".join([rule("tb_hbv_screening").text, *[e + "." for e in extra]])))
    if "jaki" in families and not (ordered.family == "jaki" and jak_risk_factors(ctx)):  # else it is a conflict
        factors = jak_risk_factors(ctx)
        present = "; ".join(factors) if factors else f"none recorded (age {ctx.age if ctx.age is not None else 'unknown'})"
        out.append(Finding(rule("jak_boxed_warning"), f"{rule('jak_boxed_warning').text} Risk factors in this record: {present}."))
    if ctx.has("malignancy") and families & {"tnfi", "jaki"}:
        out.append(Finding(rule("malignancy_caution"), f"{ctx.condition_label('malignancy')}: {rule('malignancy_caution').text}"))
    active_advanced = [c for c in ctx.courses if c.status == "active" and c.family in GROUP_OF_FAMILY and c.drug != ordered.key]
    for c in active_advanced:
        out.append(Finding(rule("no_combined_advanced"), f"{c.drug_name} is still active in the record. {rule('no_combined_advanced').text}"))
    for c in ctx.courses:
        if c.drug == ordered.key and c.status != "active" and not c.failed and c.stop_reason not in ADVERSE:
            out.append(Finding(rule("previously_tried"), f"{c.drug_name} was tried before: {c.outcome}{_year(c)}. {rule('previously_tried').text}"))
    return out


def care(kb: Knowledge, ctx: Context) -> list[Finding]:
    """Standing advice: continue the NSAID, physical therapy, reassess at 12-16 weeks."""
    out: list[Finding] = []
    nsaids = [c for c in ctx.courses if c.family == "nsaid" and c.status == "active"]
    if nsaids:
        out.append(Finding(kb.rule("continue_nsaid"), f"Continue {nsaids[-1].drug_name} (ACR 2019 #1-2)."))
    out.append(Finding(kb.rule("physical_therapy"), kb.rule("physical_therapy").text))
    out.append(Finding(kb.rule("reassess_response"), kb.rule("reassess_response").text))
    return out
