"""Offline evaluation: ``python -m service evaluate FILE [--order ORDER.json] [--json]``.

FILE is either

* a patient **Bundle** (``collection``, ``searchset``, ``transaction`` or ``batch``): its resources are split
  into the hook's data sets (Patient, MedicationStatement, MedicationRequest that is not a draft, Condition,
  AllergyIntolerance) and its ``draft`` MedicationRequest (or the one given with ``--order``) is evaluated as if
  the clinician had just selected it (``order-select``); or
* a full **CDS Hooks request** (JSON with ``hook`` and ``context``), evaluated from its prefetch exactly as the
  service would, except that nothing is fetched from a FHIR server.

The data goes through the service's own prefetch reader (same tolerance for messy entries) and then
``hooks.evaluate``. Output: a readable table of the therapy history the hook derived and of the cards, or with
``--json`` the CDS Hooks response body (validated with :class:`service.models.CDSResponse`), the same JSON the
endpoint returns for that request.

Exit status: 0 evaluated; 2 unusable input (missing file, not JSON, not a Bundle or request, no draft order,
required data missing), with a one-line message on stderr; 1 if the evaluation itself failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import textwrap
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

PROG = "python -m service evaluate"
HOOK_INSTANCE = "00000000-0000-4000-8000-0000000ff11e"  # fixed: offline runs are reproducible
USER_ID = "Practitioner/offline-evaluation"
BUNDLE_TYPES = ("collection", "searchset", "transaction", "batch")
_DATA_TYPES = {
    "MedicationStatement": "medicationStatements",
    "MedicationRequest": "medicationRequests",
    "Condition": "conditions",
    "AllergyIntolerance": "allergies",
}


class InputError(Exception):
    """The input cannot be evaluated; the message is shown on one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints usage + message)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="patient Bundle (JSON) or a CDS Hooks request (JSON)")
    parser.add_argument("--order", type=Path, help="a MedicationRequest (JSON) to evaluate as the selected draft")
    parser.add_argument("--select", metavar="ID", help="which draft MedicationRequest id to select (default: the first)")
    parser.add_argument("--hook", choices=("order-select", "order-sign"), default=None,
                        help="hook to simulate for a Bundle (default order-select; a request keeps its own hook)")
    parser.add_argument("--today", type=date.fromisoformat, default=None,
                        help="evaluation date, YYYY-MM-DD (default: today)")
    parser.add_argument("--json", action="store_true", help="print the CDS Hooks response JSON instead of tables")
    return parser


# ----------------------------------------------------------------------------- reading input
def read_json(path: Path, what: str) -> Any:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{what} {path} is a directory, not a JSON file") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} {path} is not valid JSON ({str(exc).splitlines()[0]})") from None


def _is_request(document: Any) -> bool:
    return isinstance(document, dict) and "hook" in document and "context" in document


def _ref_id(reference: Any, kind: str) -> str | None:
    if isinstance(reference, dict):
        reference = reference.get("reference")
    if isinstance(reference, str) and reference.startswith(f"{kind}/"):
        return reference.split("/", 1)[1] or None
    return None


def _bundle_resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InputError("Bundle.entry is not a list")
    return [e["resource"] for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)]


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }


def request_from_bundle(
    bundle: Any, order: dict[str, Any] | None = None, select: str | None = None, hook: str = "order-select"
) -> dict[str, Any]:
    """A CDS Hooks request equivalent to "this patient's draft order was just selected".

    Raises :class:`InputError` for anything that is not a patient Bundle with an order to evaluate.
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        kind = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        raise InputError(f"expected a FHIR Bundle or a CDS Hooks request, got {kind or 'JSON without resourceType'}")
    if bundle.get("type") not in BUNDLE_TYPES:
        raise InputError(f"Bundle.type must be one of {', '.join(BUNDLE_TYPES)} (got {bundle.get('type')!r})")
    resources = _bundle_resources(bundle)
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    data: dict[str, list[dict[str, Any]]] = {key: [] for key in _DATA_TYPES.values()}
    drafts: list[dict[str, Any]] = []
    for resource in resources:
        kind = resource.get("resourceType")
        if kind == "MedicationRequest" and resource.get("status") == "draft":
            drafts.append(resource)
        elif kind in _DATA_TYPES:
            data[_DATA_TYPES[kind]].append(resource)
    if order is not None:
        if not isinstance(order, dict) or order.get("resourceType") != "MedicationRequest":
            raise InputError("--order must be a FHIR MedicationRequest")
        order = dict(order)
        order.setdefault("id", "offline-order")
        order["status"] = "draft"
        drafts = [order]
    if not drafts:
        raise InputError("no draft MedicationRequest in the Bundle (status 'draft'); give one with --order")
    if select is not None:
        chosen = [d for d in drafts if d.get("id") == select]
        if not chosen:
            raise InputError(f"no draft MedicationRequest with id {select!r}")
        drafts = chosen + [d for d in drafts if d.get("id") != select]
    for index, draft in enumerate(drafts):
        if not isinstance(draft.get("id"), str) or not draft["id"]:
            drafts[index] = {**draft, "id": f"draft-{index + 1}"}
    patient = patients[0] if patients else None
    patient_id = (patient or {}).get("id") or _ref_id(drafts[0].get("subject"), "Patient")
    if len(patients) > 1:
        wanted = _ref_id(drafts[0].get("subject"), "Patient")
        patient = next((p for p in patients if p.get("id") == wanted), patients[0])
        patient_id = patient.get("id") or wanted
    if not patient_id:
        raise InputError("cannot tell which patient: no Patient resource with an id and no draft subject reference")
    context: dict[str, Any] = {
        "userId": USER_ID,
        "patientId": patient_id,
        "draftOrders": {"resourceType": "Bundle", "type": "collection",
                        "entry": [{"resource": d} for d in drafts]},
    }
    if hook == "order-select":
        context["selections"] = [f"MedicationRequest/{drafts[0]['id']}"]
    prefetch: dict[str, Any] = {"patient": patient}
    prefetch.update({key: _searchset(items) for key, items in data.items()})
    return {"hook": hook, "hookInstance": HOOK_INSTANCE, "context": context, "prefetch": prefetch}


def request_with_order(request: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    """A request whose draft order is replaced by ``order`` (selected)."""
    if not isinstance(order, dict) or order.get("resourceType") != "MedicationRequest":
        raise InputError("--order must be a FHIR MedicationRequest")
    order = {**order, "status": "draft"}
    order.setdefault("id", "offline-order")
    context = dict(request.get("context") or {})
    context["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}
    if request.get("hook") == "order-select":
        context["selections"] = [f"MedicationRequest/{order['id']}"]
    return {**request, "context": context}


# ----------------------------------------------------------------------------- evaluating
class Result:
    def __init__(self, request: Any, evaluation: Any, response: Any, relevant: bool, notes: tuple[str, ...]):
        self.request = request  # service.models.CDSRequest
        self.evaluation = evaluation  # hooks.Evaluation
        self.response = response  # service.models.CDSResponse
        self.relevant = relevant
        self.notes = notes  # data-reading notes (skipped entries...)


def evaluate_request(document: dict[str, Any], today: date | None = None) -> Result:
    """Evaluate a CDS Hooks request offline, the way the endpoint does (minus FHIR calls)."""
    import hooks
    from hooks.response import CDSResponse
    from service.discovery import SERVED_HOOKS
    from service.models import CDSRequest
    from service.prefetch import PrefetchResolver, required_data_missing

    try:
        request = CDSRequest.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "request"
        raise InputError(f"not a valid CDS Hooks request: {where}: {first.get('msg')}") from None
    if request.hook not in SERVED_HOOKS:
        raise InputError(f"hook {request.hook!r} is not served ({', '.join(SERVED_HOOKS)})")
    context = request.context
    drafts = [e.get("resource") for e in context.draftOrders.get("entry") or [] if isinstance(e, dict)]
    if not any(isinstance(r, dict) and r.get("resourceType") in ("MedicationRequest", "MedicationOrder")
               for r in drafts):
        raise InputError("the request's draftOrders hold no MedicationRequest")
    resolver = PrefetchResolver(reader=None, budget_s=1.0)  # type: ignore[arg-type]  # no server: never reads
    resolution = asyncio.run(resolver.resolve(request.prefetch, {"patientId": context.patientId}, None))
    missing = required_data_missing(resolution.data.unavailable)
    if missing:
        raise InputError(f"required data not in the request's prefetch: {', '.join(missing)} "
                         "(offline evaluation never calls a FHIR server)")
    relevant = hooks.is_relevant_order(request.hook, context.draftOrders, request.selections)
    evaluation = hooks.evaluate(request.hook_input(resolution.data, today or date.today()))
    response = CDSResponse(cards=evaluation.cards if relevant else [])
    return Result(request, evaluation, response, relevant, resolution.data.notes)


def load_request(path: Path, order_path: Path | None = None, select: str | None = None,
                 hook: str | None = None) -> dict[str, Any]:
    """Read FILE (Bundle or request) and optional --order into one CDS Hooks request document."""
    document = read_json(path, "file")
    order = read_json(order_path, "order file") if order_path is not None else None
    if _is_request(document):
        if order is not None:
            document = request_with_order(document, order)
        return document
    return request_from_bundle(document, order, select, hook or "order-select")


# ----------------------------------------------------------------------------- printing
def _d(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else ("?" if value in (None, "") else str(value))


def _stop_label(course: Any) -> str:
    reason = getattr(course, "stop_reason", None)
    if not reason:
        return "-" if getattr(course, "status", None) == "active" else "?"
    try:
        from hooks.history import OUTCOME_LABELS

        return OUTCOME_LABELS.get(reason, reason)
    except ImportError:
        return str(reason)


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
                return text
    return None


def render_text(result: Result, width: int | None = None) -> str:
    width = width or min(120, max(80, shutil.get_terminal_size((100, 24)).columns))
    context = result.request.context
    evaluation = result.evaluation
    drafts = [e.get("resource") or {} for e in context.draftOrders.get("entry") or []]
    selected = next((d for d in drafts if f"MedicationRequest/{d.get('id')}" in (context.selections or [])),
                    drafts[0] if drafts else {})
    order_text = (selected.get("medicationCodeableConcept") or {}).get("text") or selected.get("id") or "?"
    out = [
        f"Patient {context.patientId}  |  hook {result.request.hook}  |  order: {order_text}",
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
    notes = tuple(evaluation.notes) + tuple(result.notes)
    if notes:
        out += ["", "Notes"] + [f"  - {note}" for note in notes]
    return "\n".join(out) + "\n"


def render_json(result: Result) -> str:
    return result.response.model_dump_json(exclude_none=True, indent=2) + "\n"


# ----------------------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        document = load_request(args.file, args.order, args.select, args.hook)
        result = evaluate_request(document, args.today)
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the engine failed: say so on one line, exit 1
        print(f"{PROG}: evaluation failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(render_json(result) if args.json else render_text(result))
    return 0
