"""The one request pipeline: a validated CDS Hooks request -> prefetch resolution -> ``hooks.evaluate`` -> the
response. The hook endpoint and ``python -m service evaluate`` both run it; a silent-mode replay over a cohort or a
card ledger can too: its input is the request, the FHIR servers it may read (none offline) and today's date, its
output says what was read (the resolution), what the hook decided (the evaluation) and what goes over the wire
(the response), or that required data is missing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import hooks
from hooks.response import CDSResponse  # the hook builds typed cards: serialised as they are, never re-validated
from service.cds.card_ids import unique_ids
from service.cds.errors import BadRequest, RequiredDataMissing
from service.cds.request import SERVED_HOOKS, CDSRequest, HookName
from service.config import SERVICE_ID
from service.fhir import FhirServer, Resolution, required_data_missing, resolve_prefetch
from service.fhir.medications import medication_entries, unresolved


class FhirServers(Protocol):
    """Which FHIR server a request may be read from (the runtime: its allowlist, its shared reader), and how many
    referenced Medications one call may read from it."""

    @property
    def medication_reads(self) -> int: ...

    def fhir_server(self, base_url: str | None, token: str | None) -> FhirServer | None: ...


@dataclass(frozen=True, slots=True)
class Unrelated:
    """The order is outside the service's scope: no card, and no patient data was read."""

    hook: HookName
    response: CDSResponse = field(default_factory=lambda: CDSResponse(cards=[]))


@dataclass(frozen=True, slots=True)
class DataMissing:
    """Data the decision requires (conditions, medications) could not be obtained: the answer is 412."""

    hook: HookName
    resolution: Resolution
    missing: list[str]

    def error(self) -> RequiredDataMissing:
        return RequiredDataMissing(self.missing, self.resolution.data.notes)


@dataclass(frozen=True, slots=True)
class Evaluated:
    """What the hook decided and the response that says it (no card for an unrelated order)."""

    hook: HookName
    resolution: Resolution
    evaluation: hooks.Evaluation
    response: CDSResponse
    relevant: bool = True

    def body(self) -> bytes:
        return self.response.model_dump_json(exclude_none=True).encode()


Outcome = Unrelated | DataMissing | Evaluated
DEFAULT_SETTINGS = hooks.HookSettings()


async def run(
    request: CDSRequest,
    servers: FhirServers | None,
    today: date,
    *,
    evaluate_unrelated: bool = False,
    settings: hooks.HookSettings = DEFAULT_SETTINGS,
) -> Outcome:
    """Evaluate ``request``, reading what its prefetch lacks from its ``fhirServer`` if ``servers`` allows it
    (None: no FHIR server is ever read, as offline); ``settings`` are the hook's own (CDS_CONCORDANT_INFO_CARD).

    An unrelated order is answered at once (:class:`Unrelated`) unless ``evaluate_unrelated`` asks for the
    history anyway (the offline CLI shows it); its response still has no card.
    """
    hook = request.served_hook
    if hook is None:
        raise BadRequest(f"hook {request.hook!r} is not served by {SERVICE_ID} (served: {', '.join(SERVED_HOOKS)})")
    context = request.context
    drafts = selected_drafts(hook, context.draftOrders, request.selections)
    relevant = hooks.is_relevant_order(hook, context.draftOrders, request.selections)
    # A draft named only by a reference to a Medication nobody sent yet may be relevant: read before deciding.
    by_reference = not relevant and bool(unresolved(drafts, medication_entries(_entries(context.draftOrders)), None))
    if not relevant and not by_reference and not evaluate_unrelated:
        return Unrelated(hook)
    token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
    server = servers.fhir_server(request.fhirServer, token) if servers is not None else None
    reads = servers.medication_reads if servers is not None else 0
    resolution = await resolve_prefetch(request.prefetch, context.patientId, server, drafts, medication_reads=reads)
    missing = required_data_missing(resolution.data.unavailable)
    if missing:
        return DataMissing(hook, resolution, missing)
    evaluation = hooks.evaluate(
        hooks.HookInput(
            hook=hook,
            hook_instance=request.hookInstance,
            patient_id=context.patientId,
            user_id=context.userId,
            draft_orders=context.draftOrders,
            selections=request.selections,
            data=resolution.data,
            today=today,
            settings=settings,
        )
    )
    if by_reference:  # its Medication may have arrived with the prefetch or been read: judge the order again
        relevant = hooks.is_relevant_order(hook, context.draftOrders, request.selections, resolution.data.medications)
    response = CDSResponse(cards=unique_ids(evaluation.cards) if relevant else [])
    return Evaluated(hook, resolution, evaluation, response, relevant)


def _entries(bundle: dict[str, Any]) -> list[Any]:
    entries = bundle.get("entry")
    return entries if isinstance(entries, list) else []


def selected_drafts(hook: HookName, draft_orders: dict[str, Any], selections: tuple[str, ...]) -> list[dict[str, Any]]:
    """The draft orders the hook speaks about: the selected ones for order-select, every one for order-sign."""
    resources = [e["resource"] for e in _entries(draft_orders) if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    if hook != "order-select" or not selections:
        return resources
    wanted = {s.split("/", 1)[-1] for s in selections}  # by id, as the hook matches them
    return [r for r in resources if r.get("id") in wanted]
