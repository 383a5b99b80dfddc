"""CDS Hooks 2.0 cards: summary, markdown detail, suggestions with draft R4 MedicationRequests, override reasons."""

from __future__ import annotations

import uuid
from typing import Any

from hooks.history import Course
from hooks.knowledge import RXNORM, SNOMED, Drug, Knowledge, Rule
from hooks.record import DraftOrder
from hooks.rules import Context, Finding, Recommendation

SUMMARY_MAX = 139
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
DIAGNOSIS_CODING = {
    "AS": {"system": SNOMED, "code": "9631008", "display": "Ankylosing spondylitis"},
    "nr-axSpA": {"system": ICD10CM, "code": "M45.A0", "display": "Non-radiographic axial spondyloarthritis of unspecified sites in spine"},
}


def stable_uuid(hook_instance: str, rule_id: str, option: str) -> str:
    """Deterministic id: the same request gives the same JSON."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"axspa-cds:{hook_instance}:{rule_id}:{option}"))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _clip(text: str, limit: int = SUMMARY_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cell(text: str, limit: int = 90) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return _clip(text, limit)


_INERT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]"})


def neutralise(markdown: str) -> str:
    """Make a detail safe to render: it quotes free text from the record, and EHRs (the sandbox among them)
    render raw HTML in markdown. The service itself writes no HTML and no links in a detail."""
    return markdown.translate(_INERT)


def _cite(rule: Rule) -> str:
    return f"*({rule.citation}; {rule.strength})*"


# -------------------------------------------------------------------------------------------- resources


def medication_request(drug: Drug, diagnosis: str | None, patient_id: str) -> dict[str, Any]:
    """Draft R4 MedicationRequest for ``drug`` with label dosing for the patient's diagnosis."""
    concept: dict[str, Any] = {"text": drug.order_text}
    if drug.order_rxnorm:
        concept["coding"] = [{"system": RXNORM, "code": drug.order_rxnorm, "display": drug.name}]
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


def _suggestions(
    hook_instance: str, rule_id: str, options: list[Drug], order: DraftOrder, replace: bool, ctx: Context, patient_id: str
) -> list[dict[str, Any]]:
    out = []
    for i, drug in enumerate(options):
        actions: list[dict[str, Any]] = [{
            "type": "create",
            "description": f"Draft order: {drug.order_text}, {drug.dose(ctx.diagnosis)}",
            "resource": medication_request(drug, ctx.diagnosis, patient_id),
        }]
        if replace:
            actions.append({"type": "delete", "description": f"Remove the draft order ({order.label or order.ref})", "resourceId": order.ref})
        out.append({
            "label": _clip(f"{'Replace with' if replace else 'Order'} {drug.display}, {drug.drug_class.short}", 120),
            "uuid": stable_uuid(hook_instance, rule_id, drug.key),
            "isRecommended": i == 0,
            "actions": actions,
        })
    return out


def _override_reasons(kb: Knowledge) -> list[dict[str, str]]:
    return [{"system": kb.override_system, "code": c, "display": d} for c, d in kb.override_reasons]


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
        rows.append(f"| {_cell(drug, 60)} | {c.drug_class} | {dates} | {c.outcome} | {_cell(evidence)} |")
    return "\n".join(rows)


def _section(title: str, lines: list[str]) -> str:
    return f"**{title}**\n" + "\n".join(f"- {line}" for line in lines) if lines else ""


def _recommendation_lines(
    kb: Knowledge, rec: Recommendation, tb_hold: bool, already_said: frozenset[str] = frozenset()
) -> list[str]:
    if not rec.options:
        return ["No b/tsDMARD is left that the safety rules allow for this record: review the diagnosis and "
                "comorbidities (ASAS-EULAR 2022 #11) and decide with the patient."]
    preferred = rec.options[0]
    others = ", ".join(f"{d.name} ({d.drug_class.short})" for d in rec.options[1:])
    lines = [f"Preferred: **{preferred.display}** ({preferred.drug_class.label}), because {rec.why_preferred}."
             + (f" Alternatives: {others}." if others else "")]
    if tb_hold:
        lines.append("Start only after active tuberculosis has been treated (no draft orders offered).")
    lines += [f"{_cap(f.message)} {f.rule.text} {_cite(f.rule)}" for f in rec.basis if f.rule.id not in already_said]
    if rec.excluded:
        never = "; ".join(f"{kb.drugs[k].name} ({why})" for k, why in sorted(rec.excluded.items()))
        lines.append(f"Not suggested: {never}.")
    return lines


def _uncertain_lines(notes: tuple[str, ...] | list[str]) -> list[str]:
    return list(dict.fromkeys(notes)) or ["Nothing noted."]


def detail(
    kb: Knowledge,
    heading: str,
    found: list[Finding],
    rec: Recommendation | None,
    ctx: Context,
    cautions: list[Finding],
    care: list[Finding],
    notes: tuple[str, ...] | list[str],
    tb_hold: bool,
) -> str:
    parts = [f"**{heading}**"]
    if found:
        parts.append("\n".join(f"- {_cap(f.message)} {_cite(f.rule)}" for f in found))
    if rec is not None:
        said = frozenset(f.rule.id for f in found)  # the conflict bullets above already cite these rules
        parts.append(_section("Recommendation", _recommendation_lines(kb, rec, tb_hold, said)))
    parts.append(f"**Therapy history as read from the record** (diagnosis: {ctx.diagnosis})\n\n{history_table(ctx.courses)}")
    parts.append(_section("Also", [f"{f.message} {_cite(f.rule)}" for f in care]))
    parts.append(_section("Cautions", [f"{_cap(f.message)} {_cite(f.rule)}" for f in cautions]))
    parts.append(_section("Uncertain in the record", _uncertain_lines(notes)))
    return neutralise("\n\n".join(p for p in parts if p))


# ----------------------------------------------------------------------------------------------- cards


def _source(rule: Rule, drug: Drug | None = None) -> dict[str, str]:
    if rule.source_url.startswith("https://dailymed") and drug is not None:
        return {"label": rule.source_label, "url": f"https://dailymed.nlm.nih.gov/dailymed/search.cfm?labeltype=all&query={drug.name.split()[0]}"}
    return {"label": rule.source_label, "url": rule.source_url}


def conflict_card(
    kb: Knowledge,
    hook_instance: str,
    patient_id: str,
    order: DraftOrder,
    drug: Drug,
    found: list[Finding],
    rec: Recommendation | None,
    ctx: Context,
    cautions: list[Finding],
    care: list[Finding],
    notes: tuple[str, ...] | list[str],
    tb_hold: bool,
) -> dict[str, Any]:
    """Warning card: the order conflicts with a rule; suggests replacing it with the ranked options.

    ``rec`` None: advise against the order without proposing a switch (e.g. a steroid while on a biologic).
    """
    main = found[0]
    head = f"{_cap(drug.name)}: {main.short}."
    if rec is None:
        summary = f"{head} Reassess the current biologic instead; see details"
    elif rec.options:
        first = rec.options[0]
        summary = f"{head} Consider {first.name} ({first.drug_class.short})"
    else:
        summary = f"{head} No safe alternative found; see details"
    card: dict[str, Any] = {
        "uuid": stable_uuid(hook_instance, "card", order.ref),
        "summary": _clip(summary),
        "indicator": "warning" if any(f.severity == "warning" for f in found) else "info",
        "detail": detail(kb, f"{_cap(drug.name)} ({drug.drug_class.label}): " + (
            "do not order as drafted." if any(f.severity == "warning" for f in found) else "another option may be preferred."), found, rec, ctx, cautions, care, notes, tb_hold),
        "source": _source(main.rule, drug),
        "overrideReasons": _override_reasons(kb),
    }
    options = [] if tb_hold or rec is None else rec.options
    if options:
        card["suggestions"] = _suggestions(hook_instance, main.rule.id, options, order, True, ctx, patient_id)
        card["selectionBehavior"] = "at-most-one"
    return card


def info_card(
    kb: Knowledge,
    hook_instance: str,
    order: DraftOrder,
    drug: Drug,
    rec: Recommendation,
    ctx: Context,
    cautions: list[Finding],
    care: list[Finding],
    notes: tuple[str, ...] | list[str],
) -> dict[str, Any]:
    """Short info card for a concordant order: no conflict, the screening reminders and the history."""
    basis = rec.basis[0].rule if rec.basis else kb.rule("tnfi_first")
    summary = f"{_cap(drug.name)}: no conflict with the therapy history. Screen for TB and hepatitis B before starting"
    return {
        "uuid": stable_uuid(hook_instance, "card", order.ref),
        "summary": _clip(summary),
        "indicator": "info",
        "detail": detail(kb, f"{_cap(drug.name)} ({drug.drug_class.label}) is consistent with the record.", [], None, ctx, cautions, care, notes, False),
        "source": _source(basis, drug),
    }


def tb_card(kb: Knowledge, hook_instance: str, ctx: Context, orders: list[tuple[DraftOrder, Drug]]) -> dict[str, Any]:
    """Critical card: active TB on record and a biologic or JAK inhibitor is being ordered."""
    rule = kb.rule("active_tb_hold")
    names = ", ".join(d.name for _, d in orders)
    suggestions = [{
        "label": _clip(f"Remove the {d.name} draft order", 120),
        "uuid": stable_uuid(hook_instance, rule.id, o.ref),
        "actions": [{"type": "delete", "description": f"Remove the draft order ({o.label or o.ref})", "resourceId": o.ref}],
    } for o, d in orders]
    label = ctx.condition_label("active_tb")
    return {
        "uuid": stable_uuid(hook_instance, "card", rule.id),
        "summary": _clip(f"Active tuberculosis on record: hold {names} until TB is treated"),
        "indicator": "critical",
        "detail": neutralise(f"**{rule.title}**\n\n- {label} is recorded as active. {rule.text} {_cite(rule)}\n"
                             "- Involve infectious disease; restart the axSpA plan after TB treatment."),
        "source": _source(rule, orders[0][1]),
        "suggestions": suggestions,
        "selectionBehavior": "at-most-one",
        "overrideReasons": _override_reasons(kb),
    }
