"""The hook's entry points: is_relevant_order (cheap, no patient data), evaluate, warm_up."""

from __future__ import annotations

import logging
from itertools import chain
from typing import Any

from hooks.cards import conflict_card, info_card, tb_card
from hooks.contract import Evaluation, HookInput
from hooks.history import build_history
from hooks.knowledge import Drug, Knowledge, knowledge
from hooks.record import (
    ConditionFinding, DraftOrder, patient_age, read_allergies, read_conditions, read_draft_orders, read_medications,
)
from hooks.rules import GROUP_OF_FAMILY, Context, Recommendation, care, cautions, choose_options, conflicts

log = logging.getLogger("axspa.hooks")

UNAVAILABLE_LABELS = {
    "patient": "the patient's demographics",
    "medicationStatements": "MedicationStatements",
    "medicationRequests": "MedicationRequests",
    "conditions": "Conditions",
    "allergies": "AllergyIntolerances",
}


def warm_up() -> None:
    """Load the knowledge files and compile the matchers now rather than on the first request."""
    kb = knowledge()
    kb.match_drug_text("warm-up")
    kb.condition_text_any.search("warm-up")


def _relevant_drug(kb: Knowledge, order: DraftOrder) -> Drug | None:
    """The order's drug when it is a b/tsDMARD, a csDMARD or a systemic glucocorticoid."""
    if order.drug is None:
        return None
    drug = kb.drugs[order.drug]
    if drug.drug_class.advanced or drug.family == "csdmard":
        return drug
    if drug.family == "glucocorticoid" and not order.local_route:
        return drug
    return None


def _targets(hook: str, orders: list[DraftOrder], selections: tuple[str, ...]) -> list[DraftOrder]:
    """order-select: the selected orders; order-sign (or no selections): every medication order."""
    if hook != "order-select" or not selections:
        return orders
    wanted = {s.rsplit("/", 1)[-1] for s in selections if isinstance(s, str)}
    return [o for o in orders if o.ref.rsplit("/", 1)[-1] in wanted]


def _relevant_orders(kb: Knowledge, hook: str, draft_orders: Any, selections: tuple[str, ...]) -> list[tuple[DraftOrder, Drug]]:
    out = []
    for order in _targets(hook, read_draft_orders(kb, draft_orders), tuple(selections or ())):
        drug = _relevant_drug(kb, order)
        if drug is not None:
            out.append((order, drug))
    return sorted(out, key=lambda od: od[0].ref)


def is_relevant_order(hook: str, draft_orders: dict, selections: tuple[str, ...]) -> bool:
    """Cheap pre-check (no patient data): does any selected/drafted order name a drug this hook speaks about?"""
    try:
        return bool(_relevant_orders(knowledge(), hook, draft_orders, selections))
    except Exception:  # noqa: BLE001 - a malformed bundle is simply not relevant, but a bug must be seen
        log.exception("draft orders could not be read; treated as not relevant")
        return False


def _diagnosis(findings: list[ConditionFinding], notes: list[str]) -> str | None:
    kinds = {f.value_set for f in findings}
    if "axspa_as" in kinds:
        if "axspa_nr" in kinds:
            notes.append("Both AS and nr-axSpA are recorded; read as AS.")
        return "AS"
    if "axspa_nr" in kinds:
        return "nr-axSpA"
    if "axspa_unspecified" in kinds:
        notes.append("Axial SpA is recorded without its radiographic status; options are limited to drugs "
                     "labelled for both AS and nr-axSpA.")
        return "nr-axSpA"
    return None


def _condition_notes(kb: Knowledge, findings: list[ConditionFinding], notes: list[str]) -> None:
    for f in sorted(findings, key=lambda f: (f.value_set, f.ref)):
        label = kb.value_sets[f.value_set].label
        if not f.by_verified_code:
            notes.append(f"{label}: recognised from text or an unverified code ('{f.label}', {f.ref}).")
        if f.unconfirmed:
            notes.append(f"{label}: recorded as unconfirmed/provisional ({f.ref}); counted.")


def evaluate(inp: HookInput) -> Evaluation:
    """Read the record, derive the therapy history, apply the rules and build the cards."""
    kb = knowledge()
    data = inp.data
    notes: list[str] = [f"Could not obtain {UNAVAILABLE_LABELS.get(k, k)}." for k in sorted(data.unavailable)]
    notes.extend(data.notes)
    targets = _relevant_orders(kb, inp.hook, inp.draft_orders, inp.selections)
    findings = read_conditions(kb, data.conditions, notes)
    diagnosis = _diagnosis(findings, notes)
    records = read_medications(kb, chain(data.medication_statements, data.medication_requests), notes)
    allergies = read_allergies(kb, data.allergies, notes)
    history = build_history(kb, records, allergies, inp.today, notes)
    if not targets or diagnosis is None:
        return Evaluation(cards=[], history=history, diagnosis=diagnosis, notes=tuple(dict.fromkeys(notes)))
    _condition_notes(kb, findings, notes)

    intolerances: dict[str, str] = {}
    for a in sorted(allergies, key=lambda a: a.ref):
        reaction = f": {a.reactions[0]}" if a.reactions else ""
        intolerances.setdefault(a.drug, f"{a.kind} recorded{reaction}")
    for c in history:
        if c.not_tolerated:
            intolerances.setdefault(c.drug, f"stopped for {c.outcome}")
    ctx = Context(
        diagnosis=diagnosis,
        conditions=frozenset(f.value_set for f in findings),
        findings=tuple(sorted(findings, key=lambda f: (f.value_set, f.ref))),
        courses=history,
        intolerances=intolerances,
        age=patient_age(data.patient, inp.today),
        today=inp.today,
    )
    if data.patient is None and "patient" not in data.unavailable:
        notes.append("No Patient resource: age-related JAK inhibitor risk could not be judged.")
    notes = list(dict.fromkeys(notes))

    cards: list[dict[str, Any]] = []
    advanced = [(o, d) for o, d in targets if d.family in GROUP_OF_FAMILY or d.family == "other_bdmard"]
    tb_hold = ctx.has("active_tb")  # no biologic is drafted while active TB is on record
    if tb_hold and advanced:
        cards.append(tb_card(kb, inp.hook_instance, ctx, advanced))
    rec = choose_options(kb, ctx)
    standing = care(kb, ctx)
    held = {order.ref for order, _ in advanced} if tb_hold else set()
    for order, drug in targets:
        found = conflicts(kb, ctx, drug)
        if found:
            rec_here: Recommendation | None = rec
            if drug.family == "glucocorticoid" and any(
                c.status == "active" and c.family in GROUP_OF_FAMILY for c in ctx.courses
            ):
                rec_here = None  # already on a b/tsDMARD: advise against the steroid, do not push a switch
            options = rec_here.options if rec_here else []
            cards.append(conflict_card(kb, inp.hook_instance, inp.patient_id, order, drug, found, rec_here, ctx,
                                       cautions(kb, ctx, drug, options), standing, notes, tb_hold))
        elif order.ref in held:
            continue  # the critical TB card already speaks for this order: no "no conflict" card beside it
        elif not any(c.drug == drug.key and c.status == "active" for c in ctx.courses):
            cards.append(info_card(kb, inp.hook_instance, order, drug, rec, ctx, cautions(kb, ctx, drug, []), standing, notes))
    return Evaluation(cards=cards, history=history, diagnosis=diagnosis, notes=tuple(notes))
