"""The guideline rules: one :class:`~hooks.rules.base.Recommendation` per recommendation of knowledge/rules.toml,
grouped by domain, applied in the precedence the data declares.

    safety      allergen, failed molecule and its biosimilar, one b/tsDMARD at a time, drugs tried before
    switching   TNFi first; after TNFi primary / secondary non-response, a class or a local adverse event; after IL-17i
    emm         inflammatory bowel disease, uveitis, psoriasis
    labels      heart failure / demyelination, nr-axSpA indications, malignancy
    jak         label sequencing after a TNF blocker, boxed-warning risk, no JAK after JAK
    pregnancy   pregnancy, planned pregnancy, breastfeeding, NSAIDs by gestation
    infection   active TB and serious infection (holds), latent TB, hepatitis B and C, screening, recent infection
    care        glucocorticoids, csDMARD add-on, NSAID trial, continue the NSAID, physical therapy, reassessment
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeGuard

from hooks.knowledge import Drug, Knowledge, KnowledgeError, knowledge
from hooks.rules import care, emm, infection, jak, labels, pregnancy, safety, switching  # noqa: F401 - registers
from hooks.rules.base import (
    GROUP_LABEL,
    GROUP_OF_FAMILY,
    REGISTRY,
    Context,
    Exclusion,
    Finding,
    Plan,
    Ranking,
    Recommendation,
    RulesOut,
)

__all__ = ["GROUP_LABEL", "GROUP_OF_FAMILY", "REGISTRY", "Context", "Exclusion", "Finding", "Plan", "Rulebook",
           "rulebook"]


class Rulebook:
    """Every recommendation of the knowledge base, highest precedence first."""

    def __init__(self, kb: Knowledge) -> None:
        missing = [rid for rid in kb.precedence if rid not in REGISTRY]
        unknown = sorted(set(REGISTRY) - set(kb.rules))
        if missing or unknown:
            raise KnowledgeError(f"rules.toml and hooks/rules/ disagree: no implementation for {missing}, "
                                 f"no rules.toml entry for {unknown}")
        self.kb = kb
        self.units: tuple[Recommendation, ...] = tuple(REGISTRY[rid](kb.rule(rid)) for rid in kb.precedence)
        # Per step, the units that take part in it (that override the base class's no-op), in precedence order:
        # most rules speak at one or two steps, and a plan asks every unit about every candidate drug.
        self.holding = _taking_part(self.units, "hold")
        self.excluding = _taking_part(self.units, "excludes")
        # Per drug, the excluding units that can concern it: a RulesOut unit names its drugs (``rules_out`` reads
        # the drug alone), so a plan does not ask the IL-17 rules about a TNF inhibitor (17 -> 10-12 per b/tsDMARD).
        self.excluding_drug = {key: tuple(u for u in self.excluding if not _named_out(u) or u.rules_out(drug))
                               for key, drug in kb.drugs.items()}
        self.ranking = _taking_part(self.units, "rank")
        self.pruning = _taking_part(self.units, "prune")
        self.conflicting = _taking_part(self.units, "conflict")
        self.cautioning = _taking_part(self.units, "cautions")
        self.advising = _taking_part(self.units, "advice")
        self.answering_no_option = _taking_part(self.units, "no_option")

    def holds(self, ctx: Context) -> list[Finding]:
        return [f for unit in self.holding if (f := unit.hold(ctx)) is not None]

    def exclusion(self, ctx: Context, drug: Drug) -> Exclusion | None:
        """Why ``drug`` is never offered to this patient: the first rule, in precedence order, that excludes it."""
        for unit in self.excluding_drug[drug.key]:
            reason = unit.excludes(ctx, drug)
            if reason:
                return Exclusion(unit.rule, reason)
        if not drug.on_label(ctx.diagnosis):
            return Exclusion(None, f"not FDA-labelled for {ctx.diagnosis}")
        return None

    def plan(self, ctx: Context, ordered: Drug | None) -> Plan:
        """The options to suggest instead of ``ordered``, ranked; never ``ordered`` itself or a biosimilar of it."""
        kb = self.kb
        ranking = Ranking(order=["tnf", "il17", "jak"])
        for unit in reversed(self.ranking):  # the highest precedence has the last word
            unit.rank(ctx, ranking)
        excluded: dict[str, Exclusion] = {}
        groups: dict[str, list[Drug]] = {g: [] for g in ranking.order}
        for group in ranking.order:
            first = ranking.first.get(group, [])
            for key in [*first, *(k for k in kb.suggestion_order.get(group, ()) if k not in first)]:
                drug = kb.drugs[key]
                if ordered is not None and drug.key == ordered.key:
                    excluded[key] = Exclusion(None, "the drug being ordered")
                    continue
                why = self.exclusion(ctx, drug)
                if why is not None:
                    excluded[key] = why
                else:
                    groups[group].append(drug)
        for unit in self.pruning:
            for key, reason in unit.prune(ctx, groups).items():
                excluded[key] = Exclusion(unit.rule, reason)
            for group in groups:
                groups[group] = [d for d in groups[group] if d.key not in excluded]
        held = self.holds(ctx)
        plan = Plan([], ranking.basis, ranking.because, excluded, held[0] if held else None, order=ranking.order)
        if plan.held_by is None:
            per_group, most = kb.settings.per_group, kb.settings.max_options
            for group in ranking.order:
                plan.options.extend(groups[group][: min(per_group, most - len(plan.options))])
        if not plan.options and plan.held_by is None:
            plan.no_option = next((f for unit in self.answering_no_option if (f := unit.no_option(ctx)) is not None), None)
        return plan

    def conflicts(self, ctx: Context, drug: Drug, plan: Plan) -> list[Finding]:
        """Every rule that ordering ``drug`` goes against, in precedence order."""
        return [f for unit in self.conflicting if (f := unit.conflict(ctx, drug, plan)) is not None]

    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        """What a card about ``ordered`` must say besides; ``starting`` = the drugs the patient would start."""
        return [f for unit in self.cautioning for f in unit.cautions(ctx, ordered, starting)]

    def advice(self, ctx: Context) -> list[Finding]:
        return [f for unit in self.advising for f in unit.advice(ctx)]


def _named_out(unit: Recommendation) -> TypeGuard[RulesOut[Any]]:
    """A unit that excludes exactly the drugs its ``rules_out`` names (RulesOut's own ``excludes``)."""
    return isinstance(unit, RulesOut) and type(unit).excludes is RulesOut.excludes


def _taking_part(units: tuple[Recommendation, ...], step: str) -> tuple[Recommendation, ...]:
    return tuple(unit for unit in units if getattr(type(unit), step) is not getattr(Recommendation, step))


@cache
def rulebook() -> Rulebook:
    return Rulebook(knowledge())
