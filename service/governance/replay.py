"""The silent-mode replay engine: each patient of a cohort through the service's own pipeline, with no FHIR server,
in a pool of processes, counted into a :class:`~service.governance.tally.Tally`.

Inputs are CDS Hooks requests, patient Bundles or an NDJSON bulk-FHIR export (:func:`find_inputs`); each patient is
evaluated by ``service.cds.pipeline.run`` exactly as the endpoint would (:func:`replay_document`,
:func:`replay_patient`), and :func:`run` maps them over ``workers`` processes. Nothing is written anywhere. The
command line is ``service.governance.replay_cli`` (``python -m service replay``); the Dask engine is
``service.governance.cluster``, which builds on this module.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

import hooks
from service.cds import CdsError, CDSRequest, DataMissing, HookName, pipeline
from service.cds.deps import describe_validation_error
from service.dev.bundles import is_request, read_json, request_from_bundle, request_with_order
from service.dev.errors import InputError
from service.governance._cli import CliError
from service.governance.cards import rule_of
from service.governance.export import Export, read_export
from service.governance.tally import PatientResult, Tally
from service.ops import pseudonym

T = TypeVar("T")
R = TypeVar("R")


# --------------------------------------------------------------------------------------- one patient


@dataclass(frozen=True, slots=True)
class Options:
    """How every patient is replayed: the order to simulate (None: each input's own draft), the hook, the date."""

    order: dict[str, Any] | None = None
    hook: HookName | None = None  # for Bundles and NDJSON (default order-select); a request keeps its own
    today: date = field(default_factory=date.today)
    hook_settings: hooks.HookSettings = field(default_factory=hooks.HookSettings)  # as the service is configured


_loop: asyncio.AbstractEventLoop | None = None
#: A patient replayed once per process before the first input, so that no real patient's time includes the
#: first-call costs (model schemas, matchers): the "slowest patients" are slow for what their record holds.
_WARM_UP = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in (
    {"resourceType": "Patient", "id": "warm-up", "gender": "female", "birthDate": "1980-01-01"},
    {"resourceType": "Condition", "id": "warm-up-as", "subject": {"reference": "Patient/warm-up"},
     "clinicalStatus": {"coding": [{"code": "active"}]}, "code": {"text": "Ankylosing spondylitis"}},
    {"resourceType": "MedicationStatement", "id": "warm-up-ms", "status": "completed",
     "subject": {"reference": "Patient/warm-up"}, "medicationCodeableConcept": {"text": "etanercept"},
     "effectivePeriod": {"start": "2020-01-01", "end": "2020-06-01"}},
    {"resourceType": "MedicationRequest", "id": "warm-up-order", "status": "draft", "intent": "order",
     "subject": {"reference": "Patient/warm-up"}, "medicationCodeableConcept": {"text": "adalimumab 40 mg"}},
)]}


def _event_loop() -> asyncio.AbstractEventLoop:
    """One event loop per process (a pipeline run with no FHIR server never waits: the loop only drives it). Its
    creation warms the process up (see ``_WARM_UP``), in a local pool worker as on a Dask worker."""
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
        hooks.warm_up()
        replay_document(_WARM_UP, "warm-up", Options())
    return _loop


def _for_patient(document: dict[str, Any], patient_id: str | None, simulated: bool) -> dict[str, Any]:
    """The request with ``patient_id`` (when known) as its patient and as the subject of a simulated order."""
    context = document.get("context")
    if not isinstance(context, dict):
        return document  # refused by the request model, with the reason
    if patient_id:
        context["patientId"] = patient_id
    drafts = context.get("draftOrders")
    if simulated and isinstance(drafts, dict) and isinstance(context.get("patientId"), str):
        for entry in drafts.get("entry") or ():
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                entry["resource"] = {**entry["resource"], "subject": {"reference": f"Patient/{context['patientId']}"}}
    return document


def to_request(document: Any, options: Options, patient_id: str | None = None) -> dict[str, Any]:
    """A CDS Hooks request for ``document`` (a request or a patient Bundle), with the simulated order if any."""
    if is_request(document):
        request = request_with_order(document, options.order) if options.order is not None else document
        return _for_patient(request, None, options.order is not None)
    request = request_from_bundle(document, options.order, None, options.hook or "order-select")
    return _for_patient(request, patient_id, options.order is not None)


def replay_document(document: Any, source: str, options: Options, patient_id: str | None = None) -> PatientResult:
    """Replay one request or patient Bundle through the service's pipeline (no FHIR server, nothing written)."""
    try:
        request = CDSRequest.model_validate(to_request(document, options, patient_id))
    except InputError as exc:
        return PatientResult(source, error=str(exc))
    except ValidationError as exc:
        return PatientResult(source, error="not a valid CDS Hooks request: " + describe_validation_error(exc, 1)[0])
    patient = pseudonym(request.context.patientId)
    loop = _event_loop()
    started = time.perf_counter()
    try:
        outcome = loop.run_until_complete(pipeline.run(request, None, options.today, settings=options.hook_settings))
    except CdsError as exc:
        return PatientResult(source, patient, error=exc.messages[0])
    except Exception as exc:  # noqa: BLE001 - counted and named; never the message (it may quote the record)
        return PatientResult(source, patient, error=f"evaluation failed ({type(exc).__name__})")
    seconds = time.perf_counter() - started
    if isinstance(outcome, DataMissing):
        return PatientResult(source, patient, seconds=seconds,
                             error=f"required data missing: {', '.join(outcome.missing)}")
    cards = tuple((rule_of(card), card.indicator) for card in outcome.response.cards)
    return PatientResult(source, patient, cards, seconds)


def replay_file(path: str, source: str, options: Options) -> PatientResult:
    try:
        document = read_json(Path(path), "file")
    except InputError as exc:
        return PatientResult(source, error=str(exc))
    return replay_document(document, source, options)


def replay_patient(patient_id: str, resources: list[dict[str, Any]], options: Options) -> PatientResult:
    """Replay one patient of an NDJSON export: its resources as a collection Bundle."""
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    return replay_document(bundle, "ndjson", options, patient_id)


# --------------------------------------------------------------------------------------- inputs and the pool


@dataclass(frozen=True, slots=True)
class Inputs:
    json_files: tuple[tuple[Path, str], ...]  # (path, name relative to PATH)
    ndjson_files: tuple[tuple[Path, str], ...]


def find_inputs(root: Path, pattern: str = "*.json") -> Inputs:
    if not root.exists():
        raise CliError(f"{root} does not exist")
    if root.is_file():
        pair = ((root, root.name),)
        return Inputs((), pair) if root.suffix == ".ndjson" else Inputs(pair, ())
    json_files = tuple((p, str(p.relative_to(root))) for p in sorted(root.rglob(pattern)) if p.is_file())
    ndjson_files = tuple((p, str(p.relative_to(root))) for p in sorted(root.rglob("*.ndjson")) if p.is_file())
    if not json_files and not ndjson_files:
        raise CliError(f"nothing to replay in {root}: no {pattern} and no *.ndjson file")
    return Inputs(json_files, ndjson_files)


def _file_task(task: tuple[str, str, Options]) -> PatientResult:
    return replay_file(*task)


def _patient_task(task: tuple[str, list[dict[str, Any]], Options]) -> PatientResult:
    return replay_patient(*task)


def _mapped(function: Callable[[T], R], tasks: list[T], workers: int) -> Iterator[R]:
    """``map`` in a pool of ``workers`` processes (spawned: safe whatever threads the caller runs), in order."""
    if workers <= 1 or len(tasks) <= 1:
        yield from map(function, tasks)
        return
    chunk = max(1, min(64, len(tasks) // (workers * 8)))
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        yield from pool.map(function, tasks, chunksize=chunk)


class Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self.done = total, enabled and total > 0, 0
        self.started = self.drawn = time.monotonic()

    def advance(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.enabled and (now - self.drawn >= 0.1 or self.done == self.total):
            self.drawn = now
            rate = self.done / max(now - self.started, 1e-9)
            width = 30
            filled = width * self.done // self.total
            eta = (self.total - self.done) / rate if rate else 0.0
            sys.stderr.write(f"\rreplay [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                             f"{rate:,.0f}/s eta {eta:,.0f}s ")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def run(inputs: Inputs, options: Options, *, workers: int = 1, slowest: int = 5, progress: bool = False,
        each: Callable[[PatientResult], None] | None = None) -> Tally:
    """Replay every input in a local pool; ``each`` sees every result (tests compare them with the endpoint)."""
    tally = Tally(slowest_kept=slowest)
    export = read_export(inputs.ndjson_files) if inputs.ndjson_files else Export()
    tally.skipped_resources.update(export.skipped)
    for source, error in export.errors:
        tally.add(PatientResult(source, error=error))
    file_tasks = [(str(path), name, options) for path, name in inputs.json_files]
    patient_tasks = [(pid, resources, options) for pid, resources in export.patient_resources()]
    bar = Progress(len(file_tasks) + len(patient_tasks), progress)
    try:
        for result in _chain(_mapped(_file_task, file_tasks, workers), _mapped(_patient_task, patient_tasks, workers)):
            tally.add(result)
            if each is not None:
                each(result)
            bar.advance()
    finally:
        bar.close()
    return tally


def _chain(*iterators: Iterator[PatientResult]) -> Iterator[PatientResult]:
    for iterator in iterators:
        yield from iterator
