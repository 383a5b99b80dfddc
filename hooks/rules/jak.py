"""JAK inhibitors: the label's TNF-blocker sequencing, the boxed-warning risk read from the record, and no second JAK
inhibitor after one failed."""

from __future__ import annotations

from collections.abc import Sequence

from hooks.history import ADVERSE, NONRESPONSE, Course
from hooks.knowledge import Drug
from hooks.rules.base import Context, Finding, NoFamilyAfterStop, Ranking, RulesOut, register, year


@register("no_jak_after_jak_failure")
class NoJakAfterJakFailure(NoFamilyAfterStop):
    family = "jaki"
    reasons = NONRESPONSE | ADVERSE

    def said(self, ctx: Context, drug: Drug, why: Course) -> Finding:
        verb = "failed" if why.failed else "was not tolerated"
        return self.finding(f"{why.drug_name} (JAK inhibitor) {verb}: {why.outcome}{year(why)}.",
                            short=self.summary("failed" if why.failed else "not_tolerated"))

    def rank(self, ctx: Context, ranking: Ranking) -> None:
        prior = self.standing(ctx)
        if prior is not None:
            ranking.basis.append(self.finding(f"{prior.drug_name}: {prior.outcome}.", severity="info"))


def jak_risk_factors(ctx: Context) -> list[str]:
    """The JAK inhibitor boxed-warning (FDA) and Article 20 (EMA) risk factors present in the record."""
    s = ctx.kb.settings
    factors: list[str] = []
    cv = ctx.has("cardiovascular_risk")
    if ctx.age is not None and ctx.age >= s.jak_age:
        factors.append(f"age {ctx.age}")
    elif ctx.age is not None and ctx.age >= s.jak_age_with_cv_risk and cv:
        factors.append(f"age {ctx.age} with a cardiovascular risk factor ({ctx.condition_label('cardiovascular_risk')})")
        cv = False
    smoking = ctx.status.smoking if ctx.status else None
    if smoking is not None and smoking.smoker:
        factors.append(f"{smoking.status} smoker ({smoking.evidence})")
    if cv:
        factors.append(f"cardiovascular risk ({ctx.condition_label('cardiovascular_risk')})")
    for key, label in (("vte", "VTE history"), ("malignancy", "malignancy")):
        if ctx.has(key):
            factors.append(f"{label} ({ctx.condition_label(key)})")
    return factors


@register("jak_boxed_warning")
class JakBoxedWarning(RulesOut[list[str]]):
    family = "jaki"

    def standing(self, ctx: Context) -> list[str] | None:
        return jak_risk_factors(ctx) or None

    def said(self, ctx: Context, drug: Drug, why: list[str]) -> Finding:
        return self.finding(f"Risk factors in this record: {'; '.join(why)}.",
                            short=f"{self.summary()}: {why[0].split(' (')[0]}")

    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        if "jaki" not in {d.family for d in starting} or jak_risk_factors(ctx):
            return []  # with risk factors a JAK order is a conflict and no JAK inhibitor is offered
        smoking = ctx.status.smoking if ctx.status else None
        age = ctx.age if ctx.age is not None else "unknown"
        said = f"age {age}; smoking status {smoking.status if smoking else 'not recorded'}"
        if smoking is not None and smoking.evidence:
            said += f" ({smoking.evidence})"
        return [self.finding(f"Risk factors in this record: none recorded ({said}).", severity="info")]


def _tnfi_label_evidence(ctx: Context) -> tuple[bool, str]:
    """(the label's TNF-blocker failure is documented, what the record shows)."""
    tnfi = [c for c in ctx.courses if c.family == "tnfi"]
    qualifying = [c for c in tnfi if c.counts_for_jak_label]
    if qualifying:
        c = qualifying[-1]
        return True, f"{c.drug_name}: {c.outcome}{year(c)}."
    if not tnfi:
        said = "No TNF inhibitor course is on record."
    else:
        ongoing = "ongoing, no inadequate response or intolerance documented"
        said = "; ".join(f"{c.drug_name}: {c.outcome if c.status != 'active' else ongoing}" for c in tnfi) + "."
    others = [c for c in ctx.courses if c.family == "il17i" and c.failed]
    if others:
        said += f" {others[-1].drug_name} ({others[-1].outcome}) is not a TNF blocker."
    return False, said


@register("jak_after_tnfi_label")
class JakAfterTnfiLabel(RulesOut[str]):
    family = "jaki"

    def standing(self, ctx: Context) -> str | None:
        """What the record shows when it does not document the label's TNF-blocker failure."""
        met, said = _tnfi_label_evidence(ctx)
        return None if met else said

    def said(self, ctx: Context, drug: Drug, why: str) -> Finding:
        any_tnfi = any(c.family == "tnfi" for c in ctx.courses)
        return self.finding(why, short=self.summary("not_met" if any_tnfi else "none"))
