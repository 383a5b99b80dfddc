"""Switching after a first TNF inhibitor (ACR 2019 #9, #12, #13), after an IL-17 inhibitor (ASAS-EULAR 2022 #12) and
after an adverse event (no guideline recommendation)."""

from __future__ import annotations

from hooks.history import ADVERSE, AE_CLASS, NONRESPONSE, PRIMARY, SECONDARY, Course
from hooks.knowledge import Drug
from hooks.rules.base import Context, Finding, NoFamilyAfterStop, Plan, Ranking, Recommendation, register, year


def _non_tnfi_tried(ctx: Context) -> bool:
    return any(c.family in ("il17i", "jaki") for c in ctx.courses)


def _class_ae(ctx: Context) -> list[Course]:
    return ctx.stopped("tnfi", {AE_CLASS})


def _primary(ctx: Context) -> list[Course]:
    """TNF inhibitor primary non-response before any non-TNF b/tsDMARD: ACR 2019 #12 speaks of the first TNFi."""
    if _class_ae(ctx) or _non_tnfi_tried(ctx):
        return []
    return ctx.stopped("tnfi", {PRIMARY})


def _secondary(ctx: Context) -> list[Course]:
    if _class_ae(ctx) or _non_tnfi_tried(ctx) or ctx.stopped("tnfi", {PRIMARY}):
        return []
    return ctx.stopped("tnfi", {SECONDARY})


def _adverse(ctx: Context) -> list[Course]:
    if ctx.stopped("tnfi", NONRESPONSE | {AE_CLASS}):
        return []
    return ctx.stopped("tnfi", ADVERSE - {AE_CLASS})


@register("tnfi_class_adverse_event")
class TnfiClassAdverseEvent(NoFamilyAfterStop):
    family = "tnfi"
    reasons = frozenset({AE_CLASS})

    def said(self, ctx: Context, drug: Drug, why: Course) -> Finding:
        return self.finding(f"{why.drug_name} was stopped for a TNF-class adverse event{year(why)}.", short=self.summary())

    def rank(self, ctx: Context, ranking: Ranking) -> None:
        self.shape_after(ranking, _class_ae(ctx), "{drug}: {outcome}.", order=("il17", "jak", "tnf"))


@register("tnfi_primary_nonresponse_il17")
class TnfiPrimaryNonresponseIl17(Recommendation):
    def conflict(self, ctx: Context, drug: Drug, plan: Plan) -> Finding | None:
        prior = [c for c in _primary(ctx) if c.drug != drug.key]
        if drug.family != "tnfi" or not prior or ctx.has("ibd", "uveitis"):
            return None  # with IBD or uveitis a TNF mAb is the right switch (ACR #41, #39)
        return self.finding(f"{prior[-1].drug_name}: primary non-response{year(prior[-1])}.", short=self.summary())

    def rank(self, ctx: Context, ranking: Ranking) -> None:
        self.shape_after(ranking, _primary(ctx), "{drug}: primary non-response{year}.", order=("il17", "jak", "tnf"))

    def prune(self, ctx: Context, groups: dict[str, list[Drug]]) -> dict[str, str]:
        if not _primary(ctx) or ctx.has("ibd", "uveitis") or not (groups["il17"] or groups["jak"]):
            return {}
        return {d.key: self.excluded(d) for d in groups["tnf"]}


@register("tnfi_secondary_nonresponse_other_tnfi")
class TnfiSecondaryNonresponseOtherTnfi(Recommendation):
    def conflict(self, ctx: Context, drug: Drug, plan: Plan) -> Finding | None:
        prior = _secondary(ctx)
        if drug.family not in ("il17i", "jaki") or not prior or not plan.open(ctx.kb, "tnfi"):
            return None  # no TNF inhibitor open to this patient: the non-TNF choice is the right one
        return self.finding(f"{prior[-1].drug_name}: lost response{year(prior[-1])}.", short=self.summary(),
                            severity="advice")

    def rank(self, ctx: Context, ranking: Ranking) -> None:
        self.shape_after(ranking, _secondary(ctx), "{drug}: lost response{year}.")


@register("il17i_failure_switch")
class Il17iFailureSwitch(Recommendation):
    def rank(self, ctx: Context, ranking: Ranking) -> None:
        self.shape_after(ranking, ctx.stopped("il17i", NONRESPONSE), "{drug}: {outcome}.", order=("tnf", "jak", "il17"))


@register("tnfi_adverse_event_not_nonresponse")
class TnfiAdverseEventNotNonresponse(Recommendation):
    def rank(self, ctx: Context, ranking: Ranking) -> None:
        self.shape_after(ranking, _adverse(ctx), "{drug}: {outcome}{year}.")


@register("tnfi_first")
class TnfiFirst(Recommendation):
    def rank(self, ctx: Context, ranking: Ranking) -> None:
        if ctx.stopped("tnfi", NONRESPONSE | ADVERSE):
            return
        self.shape(ranking, "No TNF inhibitor non-response is documented.", order=("tnf", "il17", "jak"))
