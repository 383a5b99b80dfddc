"""Label contraindications and indications: TNF inhibitors with heart failure or demyelinating disease, the nr-axSpA
indications, malignancy."""

from __future__ import annotations

from collections.abc import Sequence

from hooks.knowledge import Drug
from hooks.rules.base import Context, Finding, Plan, Ranking, Recommendation, register


@register("hf_demyelinating_no_tnfi")
class HfDemyelinatingNoTnfi(Recommendation):
    def _which(self, ctx: Context) -> str | None:
        return "heart_failure" if ctx.has("heart_failure") else "demyelinating" if ctx.has("demyelinating") else None

    def conflict(self, ctx: Context, drug: Drug, plan: Plan) -> Finding | None:
        which = self._which(ctx)
        if drug.family != "tnfi" or which is None:
            return None
        return self.finding(f"{ctx.condition_label(which)} is on record.", short=self.summary(which))

    def excludes(self, ctx: Context, drug: Drug) -> str | None:
        return self.excluded(drug) if drug.family == "tnfi" and self._which(ctx) else None

    def rank(self, ctx: Context, ranking: Ranking) -> None:
        which = self._which(ctx)
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
