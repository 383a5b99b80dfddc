"""The silent-mode replay as a Dask bag: the same per-patient function, for millions of patients on a cluster.

A replay is embarrassingly parallel once each patient's resources are together; a Bulk Data export is not grouped
that way (one file per resource type), so the one shuffle is a ``groupby`` on the patient::

    NDJSON lines     db.read_text(urls, blocksize)        partitions of lines (local paths, s3://, gs://, abfs://)
    -> parsed        parse_line                           (patient, resource), (medication key, Medication), or
                                                          what made the line unusable
    -> medications   .groupby(medication key)             a Medication names no patient: joined to every patient
                                                          whose record references it (a shuffle of references)
    -> by patient    .groupby(patient, npartitions=P)     the shuffle: one patient's resources in one partition
    -> results       .map(replay_group)                   replay.replay_patient, the function the local pool runs
    -> one Tally     .reduction(tally_of, merge_tallies)  replay.Tally.add per partition, Tally.merge across them

CDS Hooks request or Bundle files are a ``from_sequence`` of paths mapped with ``replay.replay_file``. Locally
``python -m service replay PATH --engine dask`` computes it with the processes scheduler; on a cluster, connect a
``distributed.Client`` first and call :func:`replay_on_dask` with ``scheduler=None`` (README, "Silent-mode replay").
Dask comes with the ``cluster`` extra (``pip install 'axspa-cds[cluster]'``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import PurePosixPath
from typing import Any

import orjson

from service.governance._cli import CliError
from service.governance.export import READ_TYPES, medication_key, patient_of, referenced_medications
from service.governance.replay import Inputs, Options, replay_file, replay_patient
from service.governance.tally import PatientResult, Tally

BLOCKSIZE = "64MiB"  # NDJSON read per partition before the shuffle


def _dask_bag() -> Any:
    try:
        import dask.bag
    except ImportError:
        raise CliError("--engine dask needs Dask: pip install 'axspa-cds[cluster]'") from None
    return dask.bag


def parse_line(item: tuple[str, str]) -> tuple[str, Any]:
    """``(line, path)`` -> ("patient", (patient id, resource)), ("medication", (key, Medication)), or
    ("bad" | "orphan", file name), ("skip", type), ("blank", "")."""
    line, path = item
    name = PurePosixPath(path).name
    if not line.strip():
        return "blank", ""
    try:
        resource = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "bad", name
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return "bad", name
    if resource["resourceType"] not in READ_TYPES:
        return "skip", resource["resourceType"]
    if resource["resourceType"] == "Medication":
        key = medication_key(resource)
        return ("medication", (key, resource)) if key else ("orphan", name)
    patient = patient_of(resource)
    if patient is None:
        return "orphan", name
    return "patient", (patient, resource)


def _is_patient(record: tuple[str, Any]) -> bool:
    return record[0] == "patient"


def _is_medication(record: tuple[str, Any]) -> bool:
    return record[0] == "medication"


def _is_not_patient(record: tuple[str, Any]) -> bool:
    return record[0] not in ("patient", "medication", "blank")


def _references(pair: tuple[str, dict[str, Any]]) -> list[tuple[str, str | None, dict[str, Any] | None]]:
    """(medication key, the patient who references it, None) for each Medication a patient's record references."""
    patient, resource = pair
    return [(key, patient, None) for key in referenced_medications(resource)]


def _medication(pair: tuple[str, dict[str, Any]]) -> tuple[str, str | None, dict[str, Any] | None]:
    key, resource = pair
    return key, None, resource


def _key(item: tuple[str, str | None, dict[str, Any] | None]) -> str:
    return item[0]


def _join(group: tuple[str, list[tuple[str, str | None, dict[str, Any] | None]]]) -> list[tuple[str, dict[str, Any]]]:
    """One Medication's references -> (patient, Medication) once per patient who references it."""
    _, items = group
    medication = next((resource for _, _, resource in items if resource is not None), None)
    patients = dict.fromkeys(patient for _, patient, _ in items if patient is not None)
    return [(patient, medication) for patient in patients] if medication is not None else []


def _value(record: tuple[str, Any]) -> Any:
    return record[1]


def _patient(pair: tuple[str, dict[str, Any]]) -> str:
    return pair[0]


def replay_group(group: tuple[str, list[tuple[str, dict[str, Any]]]], options: Options) -> PatientResult:
    patient_id, pairs = group
    return replay_patient(patient_id, [resource for _, resource in pairs], options)


def _replay_task(task: tuple[str, str], options: Options) -> PatientResult:
    return replay_file(task[0], task[1], options)


def tally_of(results: Iterable[PatientResult], slowest: int) -> Tally:
    tally = Tally(slowest_kept=slowest)
    for result in results:
        tally.add(result)
    return tally


def merge_tallies(tallies: Iterable[Tally], slowest: int) -> Tally:
    merged = Tally(slowest_kept=slowest)
    for tally in tallies:
        merged.merge(tally)
    return merged


def replay_bag(ndjson: Sequence[str], json_files: Sequence[tuple[str, str]], options: Options, *,
               partitions: int, slowest: int = 5, blocksize: str = BLOCKSIZE) -> tuple[Any, Any]:
    """The lazy replay: (a Dask Item of the Tally, a Dask Item of the unusable-line counts)."""
    db = _dask_bag()
    results = []
    unusable = db.from_sequence([], npartitions=1).frequencies()
    if ndjson:
        parsed = db.read_text(list(ndjson), blocksize=blocksize, include_path=True).map(parse_line)
        records = parsed.filter(_is_patient).map(_value)
        references = db.concat([records.map(_references).flatten(), parsed.filter(_is_medication).map(_value).map(_medication)])
        medications = references.groupby(_key, npartitions=partitions, shuffle="tasks").map(_join).flatten()
        groups = db.concat([records, medications]).groupby(_patient, npartitions=partitions, shuffle="tasks")
        results.append(groups.map(partial(replay_group, options=options)))
        unusable = parsed.filter(_is_not_patient).frequencies()
    if json_files:
        tasks = db.from_sequence(list(json_files), npartitions=min(partitions, len(json_files)))
        results.append(tasks.map(partial(_replay_task, options=options)))
    combined = db.concat(results) if results else db.from_sequence([], npartitions=1)
    tally = combined.reduction(partial(tally_of, slowest=slowest), partial(merge_tallies, slowest=slowest))
    return tally, unusable


def replay_on_dask(ndjson: Sequence[str], json_files: Sequence[tuple[str, str]], options: Options, *,
                   partitions: int, workers: int | None = None, slowest: int = 5,
                   scheduler: str | None = "processes") -> Tally:
    """Compute the replay with Dask: ``ndjson`` file paths or URLs (globs allowed), ``json_files`` (path, name)
    pairs. ``scheduler=None``: the active ``distributed.Client``, i.e. a cluster."""
    from dask.base import compute

    tally_item, unusable_item = replay_bag(ndjson, json_files, options, partitions=partitions, slowest=slowest)
    kwargs: dict[str, Any] = {"scheduler": scheduler} if scheduler else {}
    if scheduler == "processes" and workers:
        kwargs["num_workers"] = workers
    tally, unusable = compute(tally_item, unusable_item, **kwargs)  # type: ignore[no-untyped-call]  # untyped upstream
    for (kind, what), n in sorted(unusable):
        if kind == "skip":
            tally.skipped_resources[what] += n
        else:
            problem = "line(s) are not a FHIR resource in JSON" if kind == "bad" else "resource(s) name no patient"
            tally.add(PatientResult(what, error=f"{n} {problem}"))
    result: Tally = tally
    return result


def replay_inputs_on_dask(inputs: Inputs, options: Options, **kwargs: Any) -> Tally:
    """:func:`replay_on_dask` over the inputs ``python -m service replay`` found."""
    return replay_on_dask([str(path) for path, _ in inputs.ndjson_files],
                          [(str(path), name) for path, name in inputs.json_files], options, **kwargs)
