"""Offline evaluation: ``python -m service evaluate FILE [--order ORDER.json] [--json]``.

FILE is either

* a patient **Bundle** (``collection``, ``searchset``, ``transaction`` or ``batch``): its resources are split
  into the hook's data sets (Patient, MedicationStatement, MedicationRequest that is not a draft, Condition,
  AllergyIntolerance, Observation) and its ``draft`` MedicationRequest (or the one given with ``--order``) is
  evaluated as if the clinician had just selected it (``order-select``); or
* a full **CDS Hooks request** (JSON with ``hook`` and ``context``), evaluated from its prefetch exactly as the
  service would, except that nothing is fetched from a FHIR server.

The request goes through the service's own pipeline (``service.cds.pipeline``: the same prefetch reader, the same
tolerance for messy entries, ``hooks.evaluate``, the same response model). Output: a readable table of the therapy
history the hook derived and of the cards, or with ``--json`` the CDS Hooks response body, the same JSON the
endpoint returns for that request.

Exit status: 0 evaluated; 2 unusable input (missing file, not JSON, not a Bundle or request, no draft order,
required data missing), with a one-line message on stderr; 1 if the evaluation itself failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from service.cds import CdsError, CDSRequest, DataMissing, Evaluated, pipeline
from service.dev.bundles import is_request, read_json, request_from_bundle, request_with_order
from service.dev.errors import InputError
from service.dev.render import render_json, render_text

PROG = "python -m service evaluate"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints usage + message)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("file", type=Path, help="patient Bundle (JSON) or a CDS Hooks request (JSON)")
    parser.add_argument("--order", type=Path, help="a MedicationRequest (JSON) to evaluate as the selected draft")
    parser.add_argument("--select", metavar="ID", help="which draft MedicationRequest id to select (default: the first)")
    parser.add_argument("--hook", choices=("order-select", "order-sign"), default=None,
                        help="hook to simulate for a Bundle (default order-select; a request keeps its own hook)")
    parser.add_argument("--today", type=date.fromisoformat, default=None,
                        help="evaluation date, YYYY-MM-DD (default: today)")
    parser.add_argument("--json", action="store_true", help="print the CDS Hooks response JSON instead of tables")
    return parser


def evaluate_request(document: dict[str, Any], today: date | None = None) -> tuple[CDSRequest, Evaluated]:
    """Evaluate a CDS Hooks request offline through the endpoint's pipeline, with no FHIR server."""
    try:
        request = CDSRequest.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "request"
        raise InputError(f"not a valid CDS Hooks request: {where}: {first.get('msg')}") from None
    drafts = [e.get("resource") for e in request.context.draftOrders.get("entry") or [] if isinstance(e, dict)]
    if not any(isinstance(r, dict) and r.get("resourceType") in ("MedicationRequest", "MedicationOrder")
               for r in drafts):
        raise InputError("the request's draftOrders hold no MedicationRequest")
    try:
        result = asyncio.run(pipeline.run(request, None, today or date.today(), evaluate_unrelated=True))
    except CdsError as exc:
        raise InputError(exc.messages[0]) from None
    if isinstance(result, DataMissing):
        raise InputError(f"required data not in the request's prefetch: {', '.join(result.missing)} "
                         "(offline evaluation never calls a FHIR server)")
    if not isinstance(result, Evaluated):  # evaluate_unrelated: an unrelated order is evaluated too
        raise InputError("the order was not evaluated")
    return request, result


def load_request(path: Path, order_path: Path | None = None, select: str | None = None,
                 hook: str | None = None) -> dict[str, Any]:
    """Read FILE (Bundle or request) and optional --order into one CDS Hooks request document."""
    document = read_json(path, "file")
    order = read_json(order_path, "order file") if order_path is not None else None
    if is_request(document):
        if order is not None:
            document = request_with_order(document, order)
        result: dict[str, Any] = document
        return result
    return request_from_bundle(document, order, select, hook or "order-select")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        document = load_request(args.file, args.order, args.select, args.hook)
        request, result = evaluate_request(document, args.today)
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the engine failed: say so on one line, exit 1
        print(f"{PROG}: evaluation failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(render_json(result) if args.json else render_text(request, result))
    return 0
