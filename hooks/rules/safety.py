"""Record-based safety: not the allergen, not a molecule that failed (nor its biosimilar), one b/tsDMARD at a time,
not a biologic that does not work in axSpA, and what a drug tried before was stopped for."""

from __future__ import annotations

from collections.abc import Sequence

from hooks.history import INFECTION, Course
from hooks.knowledge import Drug
from hooks.rules.base import GROUP_OF_FAMILY, Context, Finding, Plan, Ranking, Recommendation, register, year


def _failed(ctx: Context, drug: Drug) -> list[Course]:
    return [c for c in ctx.courses if c.drug == drug.key and c.failed]


def _outcome(c: Course) -> str:
    return c.outcome.split(" (")[0]


@register("never_allergen")
class NeverAllergen(Recommendation):
    def conflict(self, ctx: Context, drug: Drug, plan: Plan) -> Finding | None:
        why = ctx.intolerances.get(drug.key)
        if why is None:
            return None
        return self.finding(f"{drug.name}: {why}.", short=self.summary())

    def excludes(self, ctx: Context, drug: Drug) -> str | None:
        why = ctx.intolerances.get(drug.key)
        return f"{self.excluded(drug)}: {why}" if why else None


@register("never_failed_molecule")
class NeverFailedMolecule(Recommendation):
    """A failed molecule other than a TNF inhibitor (no_biosimilar_of_failed_tnfi) or a JAK inhibitor
    (no_jak_after_jak_failure), which have their own rules."""

    def conflict(self, ctx: Context, drug: Drug, plan: Plan) -> Finding | None:
        failed = _failed(ctx, drug)
        if not failed or drug.family in ("tnfi", "jaki"):
            return None
        c = failed[-1]
        return self.finding(f"{drug.name} already failed: {c.outcome}{year(c)}.",
                            short=f"{self.summary()} ({_outcome(c)})")

    def excludes(self, ctx: Context, drug: Drug) -> str | None:
        failed = _failed(ctx, drug)
        return f"{self.excluded(drug)} ({failed[-1].outcome})" if failed else None


@register("no_biosimilar_of_failed_tnfi")
class NoBiosimilarOfFailedTnfi(Recommendation):
    def conflict(self, ctx: Context, drug: Drug, plan: Plan) -> Finding | None:
        failed = _failed(ctx, drug)
        if not failed or drug.family != "tnfi":
            return None
        c = failed[-1]
        return self.finding(f"{drug.name} already failed: {c.outcome}{year(c)}.",
                            short=f"{self.summary()} ({_outcome(c)})")

    def excludes(self, ctx: Context, drug: Drug) -> str | None:
        failed = _failed(ctx, drug) if drug.family == "tnfi" else []
        return f"{self.excluded(drug)}: {failed[-1].outcome}" if failed else None

    def rank(self, ctx: Context, ranking: Ranking) -> None:
        for c in [c for c in ctx.courses if c.family == "tnfi" and c.failed][-1:]:
            ranking.basis.append(self.finding(f"Not {c.drug_name} or its biosimilars.", severity="info"))


@register("non_recommended_biologic")
class NonRecommendedBiologic(Recommendation):
    def conflict(self, ctx: Context, drug: Drug, plan: Plan) -> Finding | None:
        if drug.family != "other_bdmard":
            return None
        return self.finding(f"{drug.name} is not an axSpA treatment.", short=self.summary())


@register("no_combined_advanced")
class NoCombinedAdvanced(Recommendation):
    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        if ordered.family not in GROUP_OF_FAMILY and ordered.family != "other_bdmard":
            return []
        return [self.finding(f"{c.drug_name} is still active in the record.", severity="advice", short=self.summary())
                for c in ctx.active(*GROUP_OF_FAMILY) if c.drug != ordered.key]


@register("previously_tried")
class PreviouslyTried(Recommendation):
    """A drug stopped for a reason that is no failure: said when it is ordered again, and not offered again."""

    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        return [self.finding(f"{c.drug_name} was tried before: {c.outcome}{year(c)}.", severity="info")
                for c in ctx.courses
                if c.drug == ordered.key and c.status != "active" and not c.failed and not c.not_tolerated
                and c.stop_reason != INFECTION]  # a stop for infection: recent_serious_infection speaks for it

    def excludes(self, ctx: Context, drug: Drug) -> str | None:
        return self.excluded(drug) if drug.key in ctx.tried() else None
