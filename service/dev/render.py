"""The offline CLI's readable output: the therapy history the hook derived and the cards, as plain-text tables."""

from __future__ import annotations

import shutil
import textwrap
from datetime import date
from typing import Any

from service.cds import Evaluated
from service.cds.request import CDSRequest


def _d(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else ("?" if value in (None, "") else str(value))


def _stop_label(course: Any) -> str:
    if not getattr(course, "stop_reason", None):
        return "-" if getattr(course, "status", None) == "active" else "?"
    return str(course.outcome)  # the hook's label for the stop reason


def _table(headers: list[str], rows: list[list[str]], width: int) -> str:
    """A plain-text table; the last column wraps to fit ``width``."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    fixed = sum(widths[:-1]) + 2 * (len(headers) - 1)
    widths[-1] = max(20, min(widths[-1], width - fixed))
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for row in rows:
        last = textwrap.wrap(row[-1], widths[-1]) or [""]
        lines.append("  ".join(c.ljust(w) for c, w in zip(row[:-1] + [last[0]], widths)).rstrip())
        lines.extend((" " * (fixed + 2) + more).rstrip() for more in last[1:])
    return "\n".join(lines)


def suggested_drug(suggestion: dict[str, Any]) -> str | None:
    """The drug a suggestion orders (text of the created MedicationRequest), if it creates one."""
    for action in suggestion.get("actions") or []:
        resource = action.get("resource") or {}
        if action.get("type") == "create" and resource.get("resourceType") == "MedicationRequest":
            concept = resource.get("medicationCodeableConcept") or {}
            text = concept.get("text") or next((c.get("display") for c in concept.get("coding") or []), None)
            if text:
                return str(text)
    return None


def render_text(request: CDSRequest, result: Evaluated, width: int | None = None) -> str:
    """The history table and the cards, for a terminal."""
    width = width or min(120, max(80, shutil.get_terminal_size((100, 24)).columns))
    context = request.context
    evaluation = result.evaluation
    drafts = [e.get("resource") or {} for e in context.draftOrders.get("entry") or []]
    selected = next((d for d in drafts if f"MedicationRequest/{d.get('id')}" in (context.selections or [])),
                    drafts[0] if drafts else {})
    order_text = (selected.get("medicationCodeableConcept") or {}).get("text") or selected.get("id") or "?"
    out = [
        f"Patient {context.patientId}  |  hook {request.hook}  |  order: {order_text}",
        f"Diagnosis: {evaluation.diagnosis or 'no axSpA diagnosis recognised'}",
        "",
        "Therapy history",
    ]
    rows = [
        [str(getattr(c, "drug_name", "?")), str(getattr(c, "drug_class", "?")), _d(getattr(c, "start", None)),
         _d(getattr(c, "end", None)) if getattr(c, "status", None) != "active" else "ongoing",
         _stop_label(c), "; ".join(getattr(c, "evidence", ()) or ()) or "-"]
        for c in evaluation.history
    ]
    out.append(_table(["Drug", "Class", "Start", "End", "Stop reason", "Evidence"], rows, width)
               if rows else "  (no courses of relevant medications found)")
    out += ["", f"Cards ({len(result.response.cards)})"]
    if not result.relevant:
        out.append("  (the order is outside this service's scope: the service returns no cards)")
    elif not result.response.cards:
        out.append("  (none: nothing actionable)")
    for number, card in enumerate(result.response.cards, 1):
        out.append(f"  [{number}] {card.indicator.upper():8} {card.summary}")
        out.append(f"      source: {card.source.label}")
        for suggestion in card.suggestions or []:
            data = suggestion.model_dump(mode="json", exclude_none=True)
            drug = suggested_drug(data)
            mark = "*" if suggestion.isRecommended else "-"
            tail = f"  -> orders {drug}" if drug else ""
            rec = "  (recommended)" if suggestion.isRecommended else ""
            out.append(f"      {mark} {suggestion.label}{rec}{tail}")
        for link in card.links or []:
            out.append(f"      link: {link.label} <{link.url}>")
    notes = tuple(dict.fromkeys((*evaluation.notes, *result.resolution.data.notes)))  # the hook repeats the reader's
    if notes:
        out += ["", "Notes"] + [f"  - {note}" for note in notes]
    return "\n".join(out) + "\n"


def render_json(result: Evaluated) -> str:
    """The CDS Hooks response body, as the endpoint returns it (indented)."""
    return result.response.model_dump_json(exclude_none=True, indent=2) + "\n"
