"""Pregnancy, planned pregnancy and breastfeeding (ACR 2020 reproductive health; FDA 2020 NSAIDs; JAK labels).

Pregnancy (or a possible pregnancy, which the card asks to confirm) is a block: no IL-17 or JAK inhibitor,
methotrexate or leflunomide. A planned pregnancy and breastfeeding are advice, not blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from hooks.knowledge import Drug
from hooks.rules.base import Context, Finding, Plan, Ranking, Recommendation, RulesOut, register

TERATOGENS = ("methotrexate", "leflunomide")


def _pregnancy_said(ctx: Context) -> str:
    assert ctx.status is not None
    p = ctx.status.pregnancy
    weeks = f" Gestational age: {p.weeks} weeks ({p.weeks_evidence})." if p.weeks is not None else ""
    return f"The record shows the patient {p.described}.{weeks}"


def _ongoing(ctx: Context, wanted: str, *, family: bool = True) -> list[str]:
    return [c.drug_name for c in ctx.courses if c.status == "active" and (c.family if family else c.drug) == wanted]


@register("pregnancy_no_mtx_leflunomide")
class PregnancyNoMtxLeflunomide(RulesOut[str]):
    def standing(self, ctx: Context) -> str | None:
        return _pregnancy_said(ctx) if ctx.pregnant else None

    def rules_out(self, drug: Drug) -> bool:
        return drug.key in TERATOGENS

    def said(self, ctx: Context, drug: Drug, why: str) -> Finding:
        return self.finding(why, short=self.summary(), severity="critical", offers_switch=False)

    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        if not ctx.pregnant or ordered.key in TERATOGENS:
            return []
        return [self.finding(f"{name} is still active in the record: stop it now and counsel.", severity="warning",
                             short=self.summary("ongoing")) for key in TERATOGENS for name in _ongoing(ctx, key, family=False)]


@register("pregnancy_no_jak", family="jaki", ongoing="stop it.")
@register("pregnancy_no_il17", family="il17i", ongoing="stop it now that the patient is pregnant.")
class NotInPregnancy(RulesOut[str]):
    """A drug class stopped or avoided in pregnancy: a conflict when ordered, never suggested, said when ongoing."""

    ongoing: ClassVar[str]  # what the card says to do with a course of the class still active

    def standing(self, ctx: Context) -> str | None:
        return _pregnancy_said(ctx) if ctx.pregnant else None

    def said(self, ctx: Context, drug: Drug, why: str) -> Finding:
        return self.finding(why, short=self.summary())

    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        if not ctx.pregnant or ordered.family == self.family:
            return []
        return [self.finding(f"{name} is still active in the record: {self.ongoing}", severity="warning",
                             short=self.summary("ongoing")) for name in _ongoing(ctx, self.family)]


@register("pregnancy_certolizumab")
class PregnancyCertolizumab(Recommendation):
    def rank(self, ctx: Context, ranking: Ranking) -> None:
        if ctx.pregnant:
            self.shape(ranking, "Pregnancy is on record.", front="tnf", prefer=("tnf", "certolizumab"))


@register("pregnancy_tnfi_conditional")
class PregnancyTnfiConditional(Recommendation):
    def conflict(self, ctx: Context, drug: Drug, plan: Plan) -> Finding | None:
        if not ctx.pregnant or drug.family != "tnfi" or drug.key == "certolizumab":
            return None
        if "certolizumab" in plan.excluded and plan.excluded["certolizumab"].rule is not None:
            return None  # certolizumab is not open to this patient: the conditional TNF inhibitor is the option
        assert ctx.status is not None
        weeks = ctx.status.pregnancy.weeks
        late = weeks is not None and weeks >= ctx.kb.settings.third_trimester_weeks
        when = f" At {weeks} weeks (third trimester) it would usually be stopped rather than started." if late else ""
        return self.finding(_pregnancy_said(ctx) + when, short=self.summary(), severity="advice")


@register("pregnancy_nsaid_by_gestation")
class PregnancyNsaidByGestation(Recommendation):
    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        if not ctx.pregnant:
            return []
        assert ctx.status is not None
        s = ctx.kb.settings
        weeks = ctx.status.pregnancy.weeks
        nsaids = [c for c in ctx.courses if c.family == "nsaid" and c.status == "active"]
        names = ", ".join(c.drug_name for c in nsaids)
        cox2 = [c.drug_name for c in nsaids if ctx.kb.drugs[c.drug].cox2_selective]
        short = ""
        if weeks is None:
            said = "The gestational age is not recorded"
            severity = "advice" if nsaids else "info"
            said += f"; {names} is ongoing: confirm the gestational age (no NSAID from {s.nsaid_avoid_weeks} weeks)." \
                if nsaids else "."
            short = self.summary("unknown") if nsaids else ""
        elif weeks >= s.nsaid_stop_weeks:
            said, severity = f"At {weeks} weeks no NSAID should be used" + (f": stop {names}." if nsaids else "."), \
                "warning" if nsaids else "info"
            short = self.summary("late") if nsaids else ""
        elif weeks >= s.nsaid_avoid_weeks:
            said, severity = f"At {weeks} weeks NSAIDs are avoided" + (
                f": stop {names}, or if it is necessary use the lowest dose for the shortest time." if nsaids else "."), \
                "warning" if nsaids else "info"
            short = self.summary("late") if nsaids else ""
        else:
            said = f"At {weeks} weeks NSAIDs are compatible until {s.nsaid_avoid_weeks} weeks"
            said += f"; prefer a non-selective NSAID to {', '.join(cox2)}." if cox2 else "."
            severity = "advice" if cox2 else "info"
            short = self.summary("cox2") if cox2 else ""
        return [self.finding(said, short=short, severity=severity)]


class _JakAndTeratogenAdvice(Recommendation):
    """A state the record shows (``said``: a planned pregnancy, breastfeeding) in which no JAK inhibitor is offered,
    ordering one (or methotrexate, leflunomide) gets advice, and the TNF inhibitors come first."""

    said: ClassVar[str]  # the state, as the card names it
    prefer: ClassVar[tuple[str, str] | None] = None  # the group and drug moved to the front of it

    def state(self, ctx: Context) -> str:
        """What the record shows of the state ("" when it does not)."""
        raise NotImplementedError

    def conflict(self, ctx: Context, drug: Drug, plan: Plan) -> Finding | None:
        state = self.state(ctx)
        if not state or not (drug.family == "jaki" or drug.key in TERATOGENS):
            return None
        return self.finding(f"{self.said}: {state}.", short=self.summary(drug.key, drug.family), severity="advice")

    def excludes(self, ctx: Context, drug: Drug) -> str | None:
        return self.excluded(drug) if drug.family == "jaki" and self.state(ctx) else None

    def rank(self, ctx: Context, ranking: Ranking) -> None:
        state = self.state(ctx)
        if state:
            self.shape(ranking, f"{self.said}: {state}.", front="tnf", prefer=self.prefer)


@register("planned_pregnancy_advice")
class PlannedPregnancyAdvice(_JakAndTeratogenAdvice):
    said = "A pregnancy is planned"
    prefer = ("tnf", "certolizumab")

    def state(self, ctx: Context) -> str:
        return ctx.status.planning if ctx.status is not None and not ctx.pregnant else ""

    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        planning = self.state(ctx)
        if not planning:
            return []
        ongoing = [c.drug_name for c in ctx.courses if c.status == "active" and c.drug != ordered.key
                   and (c.family == "jaki" or c.drug in TERATOGENS)]
        return [self.finding(f"A pregnancy is planned and {name} is still active: stop it before trying to conceive.",
                             severity="advice", short=self.summary("ongoing")) for name in ongoing]


@register("lactation_advice")
class LactationAdvice(_JakAndTeratogenAdvice):
    said = "Breastfeeding is on record"

    def state(self, ctx: Context) -> str:
        return ctx.status.lactation if ctx.status is not None else ""
