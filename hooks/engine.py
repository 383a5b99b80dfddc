"""The hook's entry points: relevant_orders and is_relevant_order (cheap, no patient data), evaluate, warm_up."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from itertools import chain
from typing import Any

from hooks.cards import CardInput, caution_card, conflict_card, hold_card, unchecked_card
from hooks.contract import Evaluation, HookInput, MedicationEntry
from hooks.history import build_history
from hooks.knowledge import Drug, Knowledge, knowledge
from hooks.observations import read_observations
from hooks.record import (
    NO_MEDICATIONS,
    ConditionFinding,
    DraftOrder,
    MedicationIndex,
    patient_age,
    read_allergies,
    read_conditions,
    read_draft_orders,
    read_medications,
)
from hooks.response import Card
from hooks.rules import Context, rulebook
from hooks.status import read_status

log = logging.getLogger("axspa.hooks")

UNAVAILABLE_LABELS = {
    "patient": "the patient's demographics",
    "medicationStatements": "MedicationStatements",
    "medicationRequests": "MedicationRequests",
    "conditions": "Conditions",
    "allergies": "AllergyIntolerances",
    "observations": "Observations (smoking and pregnancy status, TB and hepatitis B tests, CRP)",
}


def warm_up() -> None:
    """Load the knowledge files, bind the rules and compile the matchers now rather than on the first request."""
    kb = knowledge()
    rulebook()
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
    # by id (everything after the type: ids may hold slashes), so a DSTU2 MedicationOrder selection still matches
    wanted = {s.split("/", 1)[-1] for s in selections if isinstance(s, str)}
    return [o for o in orders if o.ref.split("/", 1)[-1] in wanted]


def _unique_drafts(draft_orders: Any) -> Any:
    """``draftOrders`` with each draft once: entries naming the same resource (type and id) are one draft, however
    often they are repeated (10,000 copies are read and evaluated once)."""
    entries = draft_orders.get("entry") if isinstance(draft_orders, dict) else None
    if not isinstance(entries, list) or len(entries) < 2:
        return draft_orders
    seen: set[tuple[str | None, str]] = set()
    unique = []
    for entry in entries:
        res = entry.get("resource") if isinstance(entry, dict) else None
        rid = res.get("id") if isinstance(res, dict) else None
        if isinstance(res, dict) and isinstance(rid, str):
            kind = res.get("resourceType")
            key = (kind if isinstance(kind, str) else None, rid)
            if key in seen:
                continue
            seen.add(key)
        unique.append(entry)
    return {**draft_orders, "entry": unique} if len(unique) < len(entries) else draft_orders


def _relevant_orders(kb: Knowledge, hook: str, draft_orders: Any, selections: tuple[str, ...],
                     meds: MedicationIndex = NO_MEDICATIONS) -> list[tuple[DraftOrder, Drug]]:
    out = []
    for order in _targets(hook, read_draft_orders(kb, _unique_drafts(draft_orders), meds), tuple(selections or ())):
        drug = _relevant_drug(kb, order)
        if drug is not None:
            out.append((order, drug))
    return sorted(out, key=lambda od: od[0].ref)


def relevant_orders(hook: str, draft_orders: dict[str, Any], selections: tuple[str, ...],
                    medications: Iterable[MedicationEntry] = ()) -> tuple[tuple[DraftOrder, Drug], ...]:
    """Cheap pre-check (no patient data): the selected/drafted orders that name a drug this hook speaks about, with
    their drug, by reference. ``medications``: Medication resources a draft ordered by reference may point at (else
    only those in draftOrders). Pass the result to :class:`HookInput` (``orders``): the drafts are read once."""
    try:
        return tuple(_relevant_orders(knowledge(), hook, draft_orders, selections, MedicationIndex(medications)))
    except Exception:
        log.exception("draft orders could not be read; treated as not relevant")
        return ()


def is_relevant_order(hook: str, draft_orders: dict[str, Any], selections: tuple[str, ...],
                      medications: Iterable[MedicationEntry] = ()) -> bool:
    """Does any selected/drafted order name a drug this hook speaks about (:func:`relevant_orders`)?"""
    return bool(relevant_orders(hook, draft_orders, selections, medications))


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


def _order_notes(kb: Knowledge, order: DraftOrder, drug: Drug) -> list[str]:
    label = order.label.lower()
    return [f"The order '{order.label}' was read as {drug.name} by the name '{name}', not confirmed in a source."
            for name in sorted(kb.unverified_names) if name in label and kb.drug_by_name.get(name) == drug.key]


def evaluate(inp: HookInput) -> Evaluation:
    """Read the record, derive the therapy history, apply the rules and build the cards."""
    kb = knowledge()
    book = rulebook()
    data = inp.data
    notes: list[str] = [f"Could not obtain {UNAVAILABLE_LABELS.get(k, k)}." for k in sorted(data.unavailable)]
    notes.extend(data.notes)
    meds = MedicationIndex(data.medications)
    targets = (list(inp.orders) if inp.orders is not None
               else _relevant_orders(kb, inp.hook, inp.draft_orders, inp.selections, meds))
    findings = read_conditions(kb, data.conditions, notes)
    diagnosis = _diagnosis(findings, notes)
    records = read_medications(kb, chain(data.medication_statements, data.medication_requests), notes, meds)
    allergies = read_allergies(kb, data.allergies, notes)
    history = build_history(kb, records, allergies, inp.today, notes)
    if not targets or diagnosis is None:
        return Evaluation(cards=[], history=history, diagnosis=diagnosis, notes=tuple(dict.fromkeys(notes)))
    _condition_notes(kb, findings, notes)
    observations = read_observations(kb, data.observations, notes)
    sex = data.patient.get("gender") if isinstance(data.patient, dict) else None
    sex = sex if isinstance(sex, str) else None

    intolerances: dict[str, str] = {}
    for a in sorted(allergies, key=lambda a: a.ref):
        reaction = f": {a.reactions[0]}" if a.reactions else ""
        intolerances.setdefault(a.drug, f"{a.kind} recorded{reaction}")
    for c in history:
        if c.not_tolerated:
            intolerances.setdefault(c.drug, f"stopped for {c.outcome}")
    ctx = Context(
        kb=kb,
        diagnosis=diagnosis,
        conditions=frozenset(f.value_set for f in findings),
        findings=tuple(sorted(findings, key=lambda f: (f.value_set, f.ref))),
        courses=history,
        intolerances=intolerances,
        age=patient_age(data.patient, inp.today),
        sex=sex,
        today=inp.today,
        observations=tuple(observations),
        status=read_status(kb, findings, observations, history, sex, inp.today, notes),
        unavailable=data.unavailable,
    )
    if data.patient is None and "patient" not in data.unavailable:
        notes.append("No Patient resource: age-related JAK inhibitor risk could not be judged.")
    notes = list(dict.fromkeys(notes))

    cards: list[Card] = []
    targets, unchecked = targets[: inp.settings.max_orders], targets[inp.settings.max_orders:]
    holds = book.holds(ctx)
    advanced = [(o, d) for o, d in targets if d.drug_class.advanced]
    if holds and advanced:
        cards.append(hold_card(kb, inp.hook_instance, holds[0], advanced))
    held = {order.ref for order, _ in advanced} if holds else set()
    care = tuple(book.advice(ctx))
    judged: dict[str, tuple[Any, list[Any], list[Any]]] = {}  # per drug: orders of one drug are judged once
    for order, drug in targets:
        if drug.key not in judged:
            plan = book.plan(ctx, drug)
            found = book.conflicts(ctx, drug, plan)
            stands = not found or all(f.loudness < 2 for f in found)  # only advice against it: the order may stand
            starting = ([drug] if stands else []) + (plan.options if found else [])
            judged[drug.key] = (plan, found, book.cautions(ctx, drug, starting))
        plan, found, cautions = judged[drug.key]
        ci = CardInput(kb, inp.hook_instance, inp.patient_id, order, drug, ctx, tuple(found), plan, tuple(cautions),
                       care, tuple(notes + _order_notes(kb, order, drug)))
        if found:
            cards.append(conflict_card(ci))
        elif order.ref in held:
            continue  # the critical hold card already speaks for this order
        elif any(c.drug == drug.key and c.status == "active" for c in ctx.courses):
            continue  # a refill of an ongoing drug with nothing against it
        elif (card := caution_card(ci, always=inp.settings.concordant_info_card)) is not None:
            cards.append(card)
    if unchecked:
        cards.append(unchecked_card(inp.hook_instance, unchecked, inp.settings.max_orders))
    return Evaluation(cards=cards, history=history, diagnosis=diagnosis, notes=tuple(notes))
