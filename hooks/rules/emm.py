"""Extra-musculoskeletal manifestations: inflammatory bowel disease, uveitis, psoriasis (ACR 2019 #39, #41;
ASAS-EULAR 2022 #10)."""

from __future__ import annotations

from hooks.knowledge import Drug
from hooks.rules.base import Context, Finding, Plan, Ranking, Recommendation, RulesOut, register


@register("ibd_tnf_mab_no_il17")
class IbdTnfMabNoIl17(RulesOut[str]):
    def standing(self, ctx: Context) -> str | None:
        return ctx.condition_label("ibd") if ctx.has("ibd") else None

    def rules_out(self, drug: Drug) -> bool:
        return drug.family == "il17i" or drug.key == "etanercept"

    def said(self, ctx: Context, drug: Drug, why: str) -> Finding:
        return self.finding(f"{why} is on record.", short=self.summary(drug.key, drug.family))

    def rank(self, ctx: Context, ranking: Ranking) -> None:
        if ctx.has("ibd"):
            self.shape(ranking, f"{ctx.condition_label('ibd')} is on record.", front="tnf")


@register("uveitis_tnf_mab")
class UveitisTnfMab(Recommendation):
    def conflict(self, ctx: Context, drug: Drug, plan: Plan) -> Finding | None:
        if not ctx.has("uveitis") or not (drug.key == "etanercept" or drug.family == "il17i"):
            return None
        message = f"{ctx.condition_label('uveitis')} is on record."
        if drug.key == "etanercept":
            return self.finding(message, short=self.summary("etanercept"))
        if not plan.open(ctx.kb, "tnfi", ("tnf_mab",)):
            return None
        return self.finding(message, short=self.summary("il17i"), severity="advice")

    def excludes(self, ctx: Context, drug: Drug) -> str | None:
        return self.excluded(drug) if ctx.has("uveitis") and drug.key == "etanercept" else None

    def rank(self, ctx: Context, ranking: Ranking) -> None:
        if ctx.has("uveitis"):
            self.shape(ranking, f"{ctx.condition_label('uveitis')} is on record.", front="tnf")

    def prune(self, ctx: Context, groups: dict[str, list[Drug]]) -> dict[str, str]:
        if not ctx.has("uveitis") or not any(d.drug_class.key == "tnf_mab" for d in groups["tnf"]):
            return {}
        return {d.key: self.excluded(d) for d in groups["il17"]}


@register("psoriasis_il17")
class PsoriasisIl17(Recommendation):
    def _applies(self, ctx: Context) -> bool:
        return ctx.has("psoriasis") and not ctx.has("ibd", "uveitis")

    def conflict(self, ctx: Context, drug: Drug, plan: Plan) -> Finding | None:
        if drug.family != "tnfi" or not self._applies(ctx) or not plan.open(ctx.kb, "il17i"):
            return None
        return self.finding(f"{ctx.condition_label('psoriasis')} is on record.", short=self.summary(),
                            severity="advice")

    def rank(self, ctx: Context, ranking: Ranking) -> None:
        if self._applies(ctx):
            self.shape(ranking, f"{ctx.condition_label('psoriasis')} is on record.", front="il17")
