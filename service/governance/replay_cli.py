"""``python -m service replay PATH [--order ORDER.json] [--hook H] [--workers N] [--json] [--plot FILE.svg]``.

Silent mode: how often would the service fire, on which rule, for a cohort of historical records, before it is
turned on. PATH is a file or a folder (searched recursively) of

* CDS Hooks requests (as an EHR posts them; ``--order`` replaces their draft order) or patient Bundles (their
  ``draft`` MedicationRequest, or ``--order``, is the order simulated), ``*.json`` (``--pattern`` to narrow); and/or
* an NDJSON bulk-FHIR export (``*.ndjson``: one resource per line, any number of files per resource type, as the
  Bulk Data ``$export`` writes them). Resources are grouped by patient (a Patient's id, the others' ``subject`` or
  ``patient`` reference); types the hook does not read are skipped and counted. A patient's ``draft``
  MedicationRequest is the order simulated, else ``--order`` (ordered for every patient).

Each patient goes through the service's own pipeline (``service.cds.pipeline.run``: the same prefetch reader and
``hooks.evaluate``, with the hook settings of the ``CDS_*`` environment as the service reads them) with no FHIR
server, in a pool of ``--workers`` processes (default: every core). Nothing is written anywhere: no ledger row, no
log line about a patient. The output counts patients, patients with cards, cards by rule (``source.topic``) and by
indicator, the unusable inputs (named by file and line; a patient only by pseudonym) and the slowest patients (by
pseudonym, never the patient id); ``--json`` prints it as JSON, ``--plot`` draws the alert burden per rule. A
progress bar is drawn on stderr when stderr is a terminal (``--progress`` / ``--no-progress`` to force), so
``--json > out.json`` in a terminal still shows it and a pipe or a CI log does not.

``--engine dask`` runs the same per-patient function as a Dask bag (``service.governance.cluster``): the way to
replay millions of patients on a cluster (README, "Governance").

Exit status: 0 replayed (unusable inputs are counted, never fatal); 2 the command could not run (no such PATH,
nothing to replay, a bad ``--order``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

from service.cds import pipeline
from service.config import StartupRefused, load_settings
from service.dev.bundles import read_json
from service.dev.errors import InputError
from service.governance._cli import CliError, Parser, emit, iso_date, plot_path
from service.governance.replay import Options, find_inputs, run
from service.governance.tally import MAX_ERRORS, Tally

PROG = "python -m service replay"


# --------------------------------------------------------------------------------------- output


def render_text(tally: Tally, header: str) -> str:
    data = tally.as_json()
    patients = data["patients"]
    with_cards = data["patients_with_cards"]
    share = f" ({100 * with_cards / patients:.0f}%)" if patients else ""
    lines = [header, "",
             f"patients evaluated     {patients}",
             f"patients with cards    {with_cards}{share}",
             f"cards                  {sum(tally.cards_by_rule.values())}",
             f"unusable inputs        {tally.error_count}", ""]
    if data["cards_by_rule"]:
        width = max(len("cards by rule"), *map(len, data["cards_by_rule"]))
        lines.append(f"{'cards by rule':<{width}}  {'cards':>6}  {'per 100 patients':>16}  indicators")
        for rule, n in data["cards_by_rule"].items():
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(tally.by_rule_indicator[rule].items()))
            lines.append(f"{rule:<{width}}  {n:>6}  {100 * n / patients if patients else 0:>16.1f}  {kinds}")
        lines.append("")
        lines.append("cards by indicator     " + ", ".join(f"{k} {v}" for k, v in data["cards_by_indicator"].items()))
    if data["skipped_resources"]:
        lines.append("skipped (not read)     " + ", ".join(f"{k} {v}" for k, v in data["skipped_resources"].items()))
    if data["slowest"]:
        lines.append("slowest patients       " + ", ".join(
            f"{s['patient']} {s['ms']:.1f} ms ({s['cards']} card{'s' if s['cards'] != 1 else ''})"
            for s in data["slowest"]))
    if data["errors"]:
        lines += ["", f"unusable inputs ({tally.error_count}" + (", first 100 listed)" if tally.error_count > MAX_ERRORS
                                                                  else ")")]
        lines += [f"  {e['input']}{' (patient ' + e['patient'] + ')' if 'patient' in e else ''}: {e['error']}"
                  for e in data["errors"]]
    return "\n".join(lines) + "\n"


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description=(__doc__ or "").split("\n\n")[1])
    parser.add_argument("path", type=Path, help="a request, Bundle or NDJSON file, or a folder of them")
    parser.add_argument("--order", type=Path, help="a MedicationRequest (JSON) ordered for every patient")
    parser.add_argument("--hook", choices=("order-select", "order-sign"), default=None,
                        help="hook simulated for Bundles and NDJSON (default order-select; a request keeps its own)")
    parser.add_argument("--today", type=iso_date, default=None, help="evaluation date, YYYY-MM-DD (default: today)")
    parser.add_argument("--pattern", default="*.json", help="JSON files to read in a folder (default *.json)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes (default: the core count; 1: in this process)")
    parser.add_argument("--slowest", type=int, default=5, help="how many of the slowest patients to list")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.add_argument("--plot", type=plot_path, metavar="FILE", help="also draw the alert burden per rule")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="draw a progress bar on stderr (default: when stderr is a terminal)")
    parser.add_argument("--engine", choices=("local", "dask"), default="local",
                        help="local process pool (default) or a Dask bag (the 'cluster' extra)")
    parser.add_argument("--partitions", type=int, default=None, help="Dask partitions (default: 4 per worker)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    try:
        if args.workers < 1 or args.slowest < 0:
            raise CliError("--workers must be at least 1 and --slowest not negative")
        order = None
        if args.order is not None:
            try:
                order = read_json(args.order, "order file")
            except InputError as exc:
                raise CliError(str(exc)) from None
            if not isinstance(order, dict) or order.get("resourceType") != "MedicationRequest":
                raise CliError("--order must be a FHIR MedicationRequest")
        try:
            configured = pipeline.hook_settings(load_settings())
        except StartupRefused as exc:
            raise CliError(str(exc)) from None
        options = Options(order, args.hook, args.today or date.today(), configured)
        inputs = find_inputs(args.path, args.pattern)
        progress = sys.stderr.isatty() if args.progress is None else args.progress
        if args.engine == "dask":
            from service.governance.cluster import replay_inputs_on_dask

            partitions = args.partitions or 4 * args.workers
            tally = replay_inputs_on_dask(inputs, options, partitions=partitions, workers=args.workers,
                                          slowest=args.slowest)
        else:
            tally = run(inputs, options, workers=args.workers, slowest=args.slowest, progress=progress)
        if args.plot is not None:
            from service.governance.plots import plot_burden

            plot_burden(tally.by_rule_indicator, tally.patients, args.plot)
    except CliError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    hook = args.hook or "each request's hook; order-select for Bundles"
    header = (f"Silent-mode replay of {args.path} ({hook}; today {options.today}; {args.workers} worker"
              f"{'s' if args.workers != 1 else ''}; {time.monotonic() - started:.1f} s)")
    return emit(args.json, tally.as_json(), lambda: render_text(tally, header))
