"""CDS Hooks 2.0 cards, built as typed models (hooks.response): summary, markdown detail, suggestions with draft R4
MedicationRequests, override reasons, and the rule that produced the card in ``source.topic``."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from hooks.history import Course
from hooks.inert import MESSAGE_MAX, NOTE_MAX, NOTES_SHOWN, inert
from hooks.knowledge import RXNORM, SNOMED, Drug, Knowledge, Rule
from hooks.record import DraftOrder
from hooks.response import Action, Card, Coding, OverrideReason, Source, Suggestion
from hooks.rules import GROUP_LABEL, GROUP_OF_FAMILY, Context, Finding, Plan

SUMMARY_MAX = 139
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
DIAGNOSIS_CODING = {
    "AS": {"system": SNOMED, "code": "9631008", "display": "Ankylosing spondylitis"},
    "nr-axSpA": {"system": ICD10CM, "code": "M45.A0",
                 "display": "Non-radiographic axial spondyloarthritis of unspecified sites in spine"},
}
INDICATOR = {"critical": "critical", "warning": "warning", "advice": "info", "info": "info"}


@dataclass(frozen=True, slots=True)
class CardInput:
    """Everything a card about one draft order is built from."""

    kb: Knowledge
    hook_instance: str
    patient_id: str
    order: DraftOrder
    drug: Drug
    ctx: Context
    findings: tuple[Finding, ...]  # the conflicts, in precedence order
    plan: Plan | None  # None: advise against the order without proposing a switch
    cautions: tuple[Finding, ...]
    care: tuple[Finding, ...]
    notes: tuple[str, ...]


_UUID5_PREFIX = hashlib.sha1(uuid.NAMESPACE_URL.bytes + b"axspa-cds:", usedforsecurity=False)
_UUID5_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}  # RFC 4122 variant bits (10xx)


def stable_uuid(hook_instance: str, rule_id: str, option: str) -> str:
    """Deterministic id: the same request gives the same JSON. It is exactly
    ``str(uuid.uuid5(uuid.NAMESPACE_URL, f"axspa-cds:{hook_instance}:{rule_id}:{option}"))`` (a test holds it to
    that), computed from the SHA-1 digest with the namespace already hashed and without a ``UUID`` object: a
    quarter of the cost, for each of the ids of a response (five for the seed)."""
    digest = _UUID5_PREFIX.copy()
    digest.update(f"{hook_instance}:{rule_id}:{option}".encode())
    x = digest.hexdigest()
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_UUID5_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _clip(text: str, limit: int = SUMMARY_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cite(rule: Rule) -> str:
    return f"*({inert(rule.citation)}; {inert(rule.strength)})*"


def _line(f: Finding) -> str:
    """What the record showed (clipped), the rule's sentence, its citation and strength."""
    said = inert(_cap(f.message), MESSAGE_MAX) if f.message else ""
    rule = inert(f.rule.text) if f.says_rule else ""
    return " ".join(part for part in (said, rule, _cite(f.rule)) if part)


def _main(findings: Sequence[Finding]) -> Finding:
    """The loudest finding; among equals, the one of highest precedence (they come in precedence order)."""
    return max(findings, key=lambda f: f.loudness)  # max keeps the first of equals


# -------------------------------------------------------------------------------------------- resources


def medication_request(drug: Drug, diagnosis: str | None, patient_id: str) -> dict[str, Any]:
    """Draft R4 MedicationRequest for ``drug`` with label dosing for the patient's diagnosis."""
    concept: dict[str, Any] = {"text": drug.order_text}
    if drug.order_rxnorm:
        concept["coding"] = [{"system": RXNORM, "code": drug.order_rxnorm, "display": drug.order_display}]
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": {"reference": f"Patient/{patient_id}"},
        "dosageInstruction": [{"text": drug.dose(diagnosis)}],
    }
    coding = DIAGNOSIS_CODING.get(diagnosis or "")
    if coding:
        resource["reasonCode"] = [{"coding": [coding], "text": coding["display"]}]
    return resource


def _delete(order: DraftOrder, drug: Drug) -> Action:
    """Delete the draft, described by the drug it was read as: the draft's own text never reaches the action."""
    return Action.model_construct(type="delete", description=f"Remove the draft order for {drug.name}",
                                  resourceId=order.ref)


def _suggestions(ci: CardInput, rule_id: str, options: Sequence[Drug], replace: bool) -> list[Suggestion]:
    out = []
    delete = [_delete(ci.order, ci.drug)] if replace and options else []  # one frozen action, shared by the options
    for i, drug in enumerate(options):
        description = f"Draft order: {drug.order_text}, {drug.dose(ci.ctx.diagnosis)}"
        actions = [Action.model_construct(type="create", description=description,
                                          resource=medication_request(drug, ci.ctx.diagnosis, ci.patient_id)),
                   *delete]
        out.append(Suggestion.model_construct(
            label=_clip(f"{'Replace with' if replace else 'Order'} {drug.display}, {drug.drug_class.short}", 120),
            uuid=stable_uuid(ci.hook_instance, rule_id, drug.key),
            isRecommended=i == 0,
            actions=actions,
        ))
    return out


def _override_reasons(kb: Knowledge) -> list[OverrideReason]:
    return list(_knowledge_override_reasons(kb))


@cache
def _knowledge_override_reasons(kb: Knowledge) -> tuple[OverrideReason, ...]:
    """The override reasons of rules.toml, built once: every card that accepts overrides offers the same ones."""
    return tuple(OverrideReason.model_construct(system=kb.override_system, code=c, display=d)
                 for c, d in kb.override_reasons)


def _source(kb: Knowledge, rule: Rule, drug: Drug | None) -> Source:
    """The rule's first source (a drug's own DailyMed label when the source is the labels) and the rule as topic."""
    return _source_of(kb, rule.id, drug.key if drug is not None else None)


@cache
def _source_of(kb: Knowledge, rule_id: str, drug_key: str | None) -> Source:
    """:func:`_source`, built once per rule and drug: it is knowledge only, and the frozen models can be shared."""
    rule, drug = kb.rule(rule_id), kb.drugs[drug_key] if drug_key is not None else None
    url = rule.source_url
    set_id = rule.set_id(drug.key) if drug is not None else ""
    if set_id:
        url = f"https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid={set_id}"
    elif url.startswith("https://dailymed") and drug is not None:
        url = f"https://dailymed.nlm.nih.gov/dailymed/search.cfm?labeltype=all&query={drug.name.split()[0]}"
    topic = Coding.model_construct(system=kb.topic_system, code=rule.id, display=rule.title)
    return Source.model_construct(label=rule.source_label, url=url, topic=topic)


# ---------------------------------------------------------------------------------------------- detail


def history_table(courses: tuple[Course, ...]) -> str:
    if not courses:
        return "_No axSpA-relevant medication found in the record._"
    rows = ["| Drug | Class | Dates | Outcome | Evidence read |", "|---|---|---|---|---|"]
    for c in courses:
        dates = f"{c.start or '?'} – {c.end or ('now' if c.status == 'active' else '?')}"
        if c.duration_days is not None:
            dates += f" ({c.duration_days // 7} wk)"
        drug = c.drug_name + (f" ({', '.join(c.labels)})" if c.labels else "")
        evidence = "; ".join(c.evidence) or "—"
        rows.append(f"| {inert(drug, 60)} | {inert(str(c.drug_class))} | {inert(dates)} | {inert(str(c.outcome))} "
                    f"| {inert(evidence, 90)} |")
    return "\n".join(rows)


def _section(title: str, lines: Sequence[str]) -> str:
    return f"**{title}**\n" + "\n".join(f"- {line}" for line in lines) if lines else ""


def _recommendation_lines(ci: CardInput, plan: Plan, already_said: frozenset[str]) -> list[str]:
    kb = ci.kb
    if plan.held_by is not None:
        held = plan.held_by
        said = inert(f"No b/tsDMARD is suggested while {held.short} is on record: {held.message}", MESSAGE_MAX)
        return [f"{said} {inert(held.rule.text)} {_cite(held.rule)}"]
    if not plan.options:
        lines = [_line(plan.no_option)] if plan.no_option else []
    else:
        preferred = plan.options[0]
        others = ", ".join(f"{d.name} ({d.drug_class.short})" for d in plan.options[1:])
        because = plan.because
        why = f", because {because.short} ({because.rule.cite})" if because and because.short else ""
        if plan.order and GROUP_OF_FAMILY.get(preferred.family) != plan.order[0]:
            why += f"; no {GROUP_LABEL[plan.order[0]]} is available to this patient, so {preferred.name} comes first"
        lines = [f"Preferred: **{inert(preferred.display)}** {inert(f'({preferred.drug_class.label}){why}.')}"
                 + (f" Alternatives: {inert(others)}." if others else "")]
    lines += [_line(f) for f in plan.basis if f.rule.id not in already_said]
    shown = {k: ex for k, ex in plan.excluded.items() if ex.rule is not None or ex.reason != "the drug being ordered"}
    if shown:
        by_reason: dict[str, list[str]] = {}
        for key, ex in sorted(shown.items()):
            by_reason.setdefault(ex.text, []).append(inert(kb.drugs[key].name))
        never = "; ".join(f"{', '.join(drugs)} ({inert(reason, MESSAGE_MAX)})" for reason, drugs in by_reason.items())
        lines.append(f"Not suggested: {never}.")
    return lines


def _label_lines(ci: CardInput) -> list[str]:
    """Drug-specific label warnings of the ordered drug and of the preferred option."""
    stands = all(f.loudness < 2 for f in ci.findings)
    drugs = ([ci.drug] if stands else []) + (ci.plan.options[:1] if ci.plan else [])
    return [inert(f"{_cap(d.name)} label: {'; '.join(d.warnings)}.") for d in dict.fromkeys(drugs) if d.warnings]


_FIELD_WORDS = {
    "rxnorm_ingredient": "RxNorm ingredient code", "rxnorm_products": "RxNorm product codes", "atc": "ATC code",
    "order_rxnorm": "RxNorm code of the suggested order", "order_text": "product of the suggested order",
    "brands": "brand names", "fda_as": "FDA AS indication", "fda_nraxspa": "FDA nr-axSpA indication",
    "dose_as": "AS dosing", "dose_nraxspa": "nr-axSpA dosing", "biosimilars": "biosimilar names",
}


def uncertain_lines(ci: CardInput, found: Sequence[Finding]) -> list[str]:
    """What the card rests on that is uncertain: the record's gaps, unconfirmed drug data and rule wording."""
    lines = list(ci.notes)
    drugs = [ci.drug] + (list(ci.plan.options) if ci.plan else [])
    for d in dict.fromkeys(drugs):
        if d.unverified:
            fields = ", ".join(_FIELD_WORDS.get(f, f) for f in d.unverified)
            lines.append(f"{_cap(d.name)}: {fields} not confirmed in a source.")
    for rule in {f.rule.id: f.rule for f in found}.values():
        if rule.unverified:
            lines.append(f"“{rule.title}” relies on wording not confirmed in a primary source ({rule.cite}).")
    return list(dict.fromkeys(lines)) or ["Nothing noted."]


def _notes(lines: Sequence[str]) -> list[str]:
    """The notes as inert lines, each clipped, at most NOTES_SHOWN of them."""
    shown = [inert(line, NOTE_MAX) for line in lines[:NOTES_SHOWN]]
    if len(lines) > NOTES_SHOWN:
        shown.append(f"{len(lines) - NOTES_SHOWN} more notes not shown.")
    return shown


def _detail(ci: CardInput, heading: str, found: Sequence[Finding], cautions: Sequence[Finding]) -> str:
    parts = [f"**{inert(heading)}**"]
    if found:
        parts.append("\n".join(f"- {_line(f)}" for f in found))
    if ci.plan is not None and found:
        said = frozenset(f.rule.id for f in found)  # the conflict bullets above already cite these rules
        parts.append(_section("Recommendation", _recommendation_lines(ci, ci.plan, said)))
    if cautions and not found:
        parts.append(_section("Before starting", [_line(f) for f in cautions]))
    parts.append(f"**Therapy history as read from the record** (diagnosis: {inert(str(ci.ctx.diagnosis))})\n\n"
                 f"{history_table(ci.ctx.courses)}")
    parts.append(_section("Also", [_line(f) for f in ci.care]))
    if found:
        parts.append(_section("Cautions", [_line(f) for f in cautions] + _label_lines(ci)))
    else:
        parts.append(_section("Label", _label_lines(ci)))
    parts.append(_section("Uncertain in the record", _notes(uncertain_lines(ci, [*found, *cautions]))))
    return "\n\n".join(p for p in parts if p)


# ----------------------------------------------------------------------------------------------- cards


def conflict_card(ci: CardInput) -> Card:
    """The order conflicts with a rule: warn (or advise) and suggest replacing it with the ranked options."""
    main = _main(ci.findings)
    loudest = max(f.loudness for f in (*ci.findings, *ci.cautions))
    indicator = {3: "critical", 2: "warning"}.get(loudest, "info")
    head = f"{_cap(ci.drug.name)}: {main.short}."
    plan = ci.plan if main.offers_switch else None
    if plan is None:
        summary = head
    elif plan.held_by is not None:
        summary = f"{head} No b/tsDMARD while {plan.held_by.short} is on record"
    elif plan.options:
        summary = f"{head} Consider {plan.options[0].name} ({plan.options[0].drug_class.short})"
    else:
        summary = f"{head} No safe alternative found; see details"
    blocking = any(f.loudness >= 2 for f in ci.findings)
    heading = f"{_cap(ci.drug.name)} ({ci.drug.drug_class.label}): " + (
        "do not order as drafted." if blocking else "another option may be preferred.")
    card_input = ci if plan is ci.plan else replace(ci, plan=None)
    options = plan.options if plan is not None and plan.held_by is None else []
    return Card.model_construct(
        uuid=stable_uuid(ci.hook_instance, "card", ci.order.ref),
        summary=_clip(summary),
        indicator=indicator,  # type: ignore[arg-type]
        detail=_detail(card_input, heading, ci.findings, ci.cautions),
        source=_source(ci.kb, main.rule, ci.drug),
        suggestions=_suggestions(ci, main.rule.id, options, True) or None,
        selectionBehavior="at-most-one" if options else None,
        overrideReasons=_override_reasons(ci.kb),
    )


def caution_card(ci: CardInput, *, always: bool = False) -> Card | None:
    """A concordant order: a card only when something is actionable (or when ``always``, an informational one)."""
    actionable = [f for f in ci.cautions if f.loudness >= 1]
    if not actionable and not always:
        return None
    heading = f"{_cap(ci.drug.name)} ({ci.drug.drug_class.label}): " + (
        "the therapy history allows it; the record needs action first." if any(f.loudness >= 2 for f in actionable)
        else "no conflict with the therapy history.")
    card_input = replace(ci, plan=None)
    if actionable:
        main = _main(actionable)
        ordered = sorted(actionable, key=lambda f: -f.loudness)  # stable: precedence among equals
        said = list(dict.fromkeys(f.short or f.rule.title for f in ordered))
        summary = f"{_cap(ci.drug.name)}: {'; '.join(said)}"
        if len(summary) > SUMMARY_MAX:
            summary = f"{_cap(ci.drug.name)}: {said[0]}; see details"
        indicator = INDICATOR[main.severity]
        rule = main.rule
    else:
        summary = f"{_cap(ci.drug.name)}: no conflict with the therapy history"
        indicator = "info"
        rule = ci.plan.because.rule if ci.plan and ci.plan.because else ci.kb.rule("tnfi_first")
    return Card.model_construct(
        uuid=stable_uuid(ci.hook_instance, "card", ci.order.ref),
        summary=_clip(summary),
        indicator=indicator,  # type: ignore[arg-type]
        detail=_detail(card_input, heading, [], [*actionable, *(f for f in ci.cautions if f.loudness < 1)]),
        source=_source(ci.kb, rule, ci.drug),
        overrideReasons=_override_reasons(ci.kb) if indicator != "info" else None,
    )


def hold_card(kb: Knowledge, hook_instance: str, hold: Finding, orders: Sequence[tuple[DraftOrder, Drug]]) -> Card:
    """Critical card: nothing may be started while the hold stands (active TB, active serious infection)."""
    rule = hold.rule
    names = ", ".join(d.name for _, d in orders)
    suggestions = [Suggestion.model_construct(
        label=_clip(f"Remove the {d.name} draft order", 120),
        uuid=stable_uuid(hook_instance, rule.id, o.ref),
        actions=[_delete(o, d)],
    ) for o, d in orders]
    return Card.model_construct(
        uuid=stable_uuid(hook_instance, "card", rule.id),
        summary=_clip(_cap(rule.phrase("summary").format(drugs=names))),
        indicator="critical",
        detail=f"**{inert(rule.title)}**\n\n- {_line(hold)}",
        source=_source(kb, rule, orders[0][1]),
        suggestions=suggestions,
        selectionBehavior="at-most-one",
        overrideReasons=_override_reasons(kb),
    )


def unchecked_card(hook_instance: str, unchecked: Sequence[tuple[DraftOrder, Drug]], limit: int) -> Card:
    """More relevant draft orders than one call evaluates (``HookSettings.max_orders``): say which were not checked."""
    names = list(dict.fromkeys(drug.name for _, drug in unchecked))
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} other drugs" if len(names) > 10 else "")
    count = f"{len(unchecked)} more relevant draft order{'s' if len(unchecked) != 1 else ''}"
    return Card.model_construct(
        uuid=stable_uuid(hook_instance, "card", "orders-not-checked"),
        summary=_clip(f"{count} not checked: at most {limit} per call"),
        indicator="warning",
        detail=f"**{inert(count)} were not checked against the therapy history.**\n\n"
               f"- Not checked: {inert(shown)}.\n"
               f"- The service checks at most {limit} relevant orders per call: select fewer at a time to check them.",
        source=Source.model_construct(label="axSpA therapy-switch CDS service"),
    )
