"""Label contraindications and indications: TNF inhibitors with heart failure or demyelinating disease, the nr-axSpA
indications, malignancy."""

from __future__ import annotations

from collections.abc import Sequence

from hooks.knowledge import Drug
from hooks.rules.base import Context, Finding, Plan, Ranking, Recommendation, RulesOut, register


@register("hf_demyelinating_no_tnfi")
class HfDemyelinatingNoTnfi(RulesOut[str]):
    family = "tnfi"

    def standing(self, ctx: Context) -> str | None:
        """The value set on record: heart failure, else demyelinating disease."""
        return "heart_failure" if ctx.has("heart_failure") else "demyelinating" if ctx.has("demyelinating") else None

    def said(self, ctx: Context, drug: Drug, why: str) -> Finding:
        return self.finding(f"{ctx.condition_label(why)} is on record.", short=self.summary(why))

    def rank(self, ctx: Context, ranking: Ranking) -> None:
        which = self.standing(ctx)
        if which:
            self.shape(ranking, f"{ctx.condition_label(which)} is on record.", back="tnf")


@register("nraxspa_on_label")
class NraxspaOnLabel(Recommendation):
    def conflict(self, ctx: Context, drug: Drug, plan: Plan) -> Finding | None:
        if ctx.diagnosis != "nr-axSpA" or drug.fda_nraxspa or not drug.drug_class.advanced:
            return None
        return self.finding(f"{drug.name} is not FDA-labelled for nr-axSpA.", short=self.summary())

    def excludes(self, ctx: Context, drug: Drug) -> str | None:
        return self.excluded(drug) if ctx.diagnosis == "nr-axSpA" and not drug.fda_nraxspa else None

    def rank(self, ctx: Context, ranking: Ranking) -> None:
        if ctx.diagnosis == "nr-axSpA":
            ranking.basis.append(self.finding("Diagnosis: nr-axSpA.", severity="info"))

    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        if ctx.diagnosis != "nr-axSpA" or not any(d.drug_class.advanced for d in starting):
            return []
        crp = ctx.latest("crp")
        shown = f"latest CRP {crp.text or crp.value} on {crp.when or 'an unrecorded date'}" if crp else "no CRP on record"
        return [self.finding(f"The nr-axSpA indications require objective signs of inflammation (raised CRP or MRI "
                             f"sacroiliitis): {shown}.", severity="info", says_rule=False)]


@register("malignancy_caution")
class MalignancyCaution(Recommendation):
    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        families = {d.family for d in starting}
        if not ctx.has("malignancy") or not families & {"tnfi", "jaki"}:
            return []
        return [self.finding(f"{ctx.condition_label('malignancy')} is on record.", short=self.summary(),
                             severity="advice")]
