"""The one request pipeline: a validated CDS Hooks request -> prefetch resolution -> ``hooks.evaluate`` -> the
response. The hook endpoint and ``python -m service evaluate`` both run it; a silent-mode replay over a cohort or a
card ledger can too: its input is the request, the FHIR servers it may read (none offline) and today's date, its
output says what was read (the resolution), what the hook decided (the evaluation) and what goes over the wire
(the response), or that required data is missing."""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, TypeVar

from anyio import CapacityLimiter, to_thread

import hooks
from hooks.response import Card, CDSResponse  # the hook builds typed cards: serialised as they are, never re-validated
from service.cds.card_ids import unique_ids
from service.cds.errors import BadRequest, RequiredDataMissing
from service.cds.request import SERVED_HOOKS, CDSRequest, HookName
from service.config import SERVICE_ID, Settings
from service.fhir import FhirServer, Resolution, required_data_missing, resolve_prefetch
from service.fhir.medications import medication_entries, unresolved

T = TypeVar("T")


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
    wire: bytes | None = None  # the response's bytes, when already serialised

    def body(self) -> bytes:
        return self.wire if self.wire is not None else self.response.model_dump_json(exclude_none=True).encode()


Outcome = Unrelated | DataMissing | Evaluated
DEFAULT_SETTINGS = hooks.HookSettings()


def hook_settings(settings: Settings) -> hooks.HookSettings:
    """The hook's settings as the service's ``CDS_*`` settings configure them (the service and its replay)."""
    return hooks.HookSettings(concordant_info_card=settings.concordant_info_card, max_orders=settings.max_orders)


async def run(
    request: CDSRequest,
    servers: FhirServers | None,
    today: date,
    *,
    evaluate_unrelated: bool = False,
    settings: hooks.HookSettings = DEFAULT_SETTINGS,
    max_response_bytes: int | None = None,
) -> Outcome:
    """Evaluate ``request``, reading what its prefetch lacks from its ``fhirServer`` if ``servers`` allows it
    (None: no FHIR server is ever read, as offline); ``settings`` are the hook's own (CDS_CONCORDANT_INFO_CARD,
    CDS_MAX_ORDERS). An answer larger than ``max_response_bytes`` is replaced by one card that says so.

    An unrelated order is answered at once (:class:`Unrelated`) unless ``evaluate_unrelated`` asks for the
    history anyway (the offline CLI shows it); its response still has no card.
    """
    hook = request.served_hook
    if hook is None:
        raise BadRequest(f"hook {request.hook!r} is not served by {SERVICE_ID} (served: {', '.join(SERVED_HOOKS)})")
    context = request.context
    drafts = selected_drafts(hook, context.draftOrders, request.selections)
    orders = await _off_loop(_entries(context.draftOrders), hooks.relevant_orders, hook, context.draftOrders,
                             request.selections)
    # A draft named only by a reference to a Medication nobody sent yet may be relevant: read before deciding.
    by_reference = not orders and bool(unresolved(drafts, medication_entries(_entry_list(context.draftOrders)),
                                                  None))
    if not orders and not by_reference and not evaluate_unrelated:
        return Unrelated(hook)
    token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
    server = servers.fhir_server(request.fhirServer, token) if servers is not None else None
    reads = servers.medication_reads if servers is not None else 0
    resolution = await resolve_prefetch(request.prefetch, context.patientId, server, drafts, medication_reads=reads)
    missing = required_data_missing(resolution.data.unavailable)
    if missing:
        return DataMissing(hook, resolution, missing)
    if resolution.data.medications:  # a draft may reference one of them: read the drafts again, with them at hand
        orders = await _off_loop(_entries(context.draftOrders), hooks.relevant_orders, hook, context.draftOrders,
                                 request.selections, resolution.data.medications)
    hook_input = hooks.HookInput(
        hook=hook,
        hook_instance=request.hookInstance,
        patient_id=context.patientId,
        user_id=context.userId,
        draft_orders=context.draftOrders,
        selections=request.selections,
        data=resolution.data,
        today=today,
        settings=settings,
        orders=orders,
    )
    relevant = bool(orders)
    evaluation, response, wire = await _off_loop(_size(hook_input), _evaluate, hook_input, relevant,
                                                 max_response_bytes)
    return Evaluated(hook, resolution, evaluation, response, relevant, wire)


#: Requests with at most this many resources and draft entries are evaluated on the event loop (measured: a few
#: ms; a thread hop would cost more than it saves); larger ones in a worker thread, at most EVALUATION_THREADS at
#: a time per process (the others wait their turn without blocking anything).
INLINE_MAX_ITEMS = 200
EVALUATION_THREADS = 4
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = weakref.WeakKeyDictionary()


def _evaluation_limiter() -> CapacityLimiter:
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = CapacityLimiter(EVALUATION_THREADS)
    return limiter


async def _off_loop(size: int, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` on the event loop when ``size`` is small, else in a worker thread (a large record or many
    drafts: /healthz and the other calls are answered meanwhile)."""
    if size <= INLINE_MAX_ITEMS:
        return work(*args)
    return await to_thread.run_sync(work, *args, limiter=_evaluation_limiter())


def _entries(bundle: dict[str, Any]) -> int:
    entries = bundle.get("entry")
    return len(entries) if isinstance(entries, list) else 0


def _size(hook_input: hooks.HookInput) -> int:
    data = hook_input.data
    return _entries(hook_input.draft_orders) + len(data.medication_statements) + len(data.medication_requests) + len(
        data.conditions) + len(data.allergies) + len(data.observations)


def _evaluate(
    hook_input: hooks.HookInput, relevant: bool, max_response_bytes: int | None
) -> tuple[hooks.Evaluation, CDSResponse, bytes]:
    """The evaluation, its response and the response's bytes; beyond ``max_response_bytes`` one small card
    replaces the cards (a giant answer would stall the EHR and the network for no reader)."""
    evaluation = hooks.evaluate(hook_input)
    # The cards are built valid (hooks/cards.py; re-validated by tests/test_response_contract.py): constructing the
    # response must not run their validators again, as CDSResponse(cards=...) would.
    response = CDSResponse.model_construct(cards=unique_ids(evaluation.cards) if relevant else [])
    wire = response.model_dump_json(exclude_none=True).encode()
    if max_response_bytes is not None and len(wire) > max_response_bytes:
        response = withheld(hook_input.hook_instance, len(response.cards), len(wire), max_response_bytes)
        wire = response.model_dump_json(exclude_none=True).encode()
    return evaluation, response, wire


def withheld(hook_instance: str, cards: int, size: int, limit: int) -> CDSResponse:
    """The answer that replaces an oversized one: one info card that says so."""
    card = Card.model_validate({
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"axspa-cds:{hook_instance}:response-withheld")),
        "summary": "Decision support withheld: the answer for this order set is too large to show",
        "detail": f"The service found {cards} cards for this call, {size:,} bytes, more than the {limit:,} bytes it "
                  "sends in one answer. Review the orders one at a time, or ask the administrator about "
                  "CDS_MAX_RESPONSE_BYTES.",
        "indicator": "info",
        "source": {"label": "axSpA therapy-switch service"},
    })
    return CDSResponse(cards=[card])


def _entry_list(bundle: dict[str, Any]) -> list[Any]:
    entries = bundle.get("entry")
    return entries if isinstance(entries, list) else []


def selected_drafts(hook: HookName, draft_orders: dict[str, Any], selections: tuple[str, ...]) -> list[dict[str, Any]]:
    """The draft orders the hook speaks about: the selected ones for order-select, every one for order-sign."""
    resources = [e["resource"] for e in _entry_list(draft_orders)
                 if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    if hook != "order-select" or not selections:
        return resources
    wanted = {s.split("/", 1)[-1] for s in selections}  # by id, as the hook matches them
    return [r for r in resources if r.get("id") in wanted]
