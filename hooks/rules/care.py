"""Add-ons and standing care: no systemic glucocorticoid, no csDMARD for axial disease, an NSAID trial before a first
b/tsDMARD, continue the NSAID, physical therapy, reassess; re-evaluate when no option is left."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from hooks.history import Course
from hooks.knowledge import Drug
from hooks.rules.base import GROUP_OF_FAMILY, Context, Finding, Plan, Recommendation, register


class _AddOn(Recommendation):
    """A drug of ``family`` the guidelines advise against for axial disease: ordering one is the conflict
    :meth:`against` words, told the b/tsDMARD courses still active (the drug would be added to them)."""

    family: ClassVar[str]

    def against(self, ctx: Context, drug: Drug, on: list[Course]) -> Finding | None:
        raise NotImplementedError

    def conflict(self, ctx: Context, drug: Drug, plan: Plan) -> Finding | None:
        return self.against(ctx, drug, ctx.active(*GROUP_OF_FAMILY)) if drug.family == self.family else None


@register("no_systemic_glucocorticoids")
class NoSystemicGlucocorticoids(_AddOn):
    family = "glucocorticoid"

    def against(self, ctx: Context, drug: Drug, on: list[Course]) -> Finding | None:
        if on:  # already on a b/tsDMARD: advise against the steroid, do not push a switch
            return self.finding(f"{on[-1].drug_name} is ongoing.", short=self.summary("on_biologic"),
                                offers_switch=False)
        return self.finding(f"{drug.name} is a systemic glucocorticoid.", short=self.summary())


@register("no_csdmard_axial")
class NoCsdmardAxial(_AddOn):
    family = "csdmard"

    def against(self, ctx: Context, drug: Drug, on: list[Course]) -> Finding | None:
        if ctx.has("peripheral_arthritis") and not on:
            return None  # ACR 2019 #4: sulfasalazine or methotrexate for prominent peripheral arthritis
        said = f"{drug.name} added to {on[-1].drug_name}." if on else f"{drug.name} for axial disease."
        return self.finding(said, short=self.summary())


@register("first_bdmard_nsaid_trial")
class FirstBdmardNsaidTrial(Recommendation):
    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        if not any(d.drug_class.advanced for d in starting) \
                or any(c.family in (*GROUP_OF_FAMILY, "other_bdmard") for c in ctx.courses):
            return []
        nsaids = sorted({c.drug_name for c in ctx.courses if c.family == "nsaid"})
        if len(nsaids) >= ctx.kb.settings.first_line_nsaids:
            return []
        shown = f"only {nsaids[0]}" if nsaids else "no NSAID"
        return [self.finding(f"This is a first b/tsDMARD and the record shows {shown}.", short=self.summary(),
                             severity="advice")]


@register("reevaluate_diagnosis")
class ReevaluateDiagnosis(Recommendation):
    def no_option(self, ctx: Context) -> Finding | None:
        return self.finding("", severity="info")


@register("continue_nsaid")
class ContinueNsaid(Recommendation):
    def advice(self, ctx: Context) -> list[Finding]:
        nsaids = ctx.active("nsaid")
        if not nsaids or ctx.pregnant:  # in pregnancy pregnancy_nsaid_by_gestation speaks instead
            return []
        return [self.finding(f"Continue {nsaids[-1].drug_name}.", severity="info")]


@register("physical_therapy")
class PhysicalTherapy(Recommendation):
    def advice(self, ctx: Context) -> list[Finding]:
        return [self.finding("", severity="info")]


@register("reassess_response")
class ReassessResponse(Recommendation):
    def advice(self, ctx: Context) -> list[Finding]:
        return [self.finding("", severity="info")]
