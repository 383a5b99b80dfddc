"""``python -m service report [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--json] [--plot FILE.svg|png]``.

Per rule, over the cards first shown in the period (both dates inclusive, UTC; open-ended when omitted): cards
shown, accepted (and which suggestion: the drug it ordered), overridden (by reason code; free-text comments are
counted, never printed) and ignored (shown, no feedback). It reads the card ledger and the feedback of the store
named by ``CDS_DATABASE_URL``, like the service, and joins them by card uuid.

One outcome per card: its latest feedback by ``outcomeTimestamp`` (a clinician who overrides, then accepts, counts
as accepted), so shown = accepted + overridden + ignored. Feedback received in the period for a card the ledger
does not hold (written before the ledger existed, lost with a dropped row, or past retention) is counted apart as
``unmatched_feedback``.

Exit status: 0 reported; 2 the command could not run (bad option, no such SQLite file, store unreachable).
"""

from __future__ import annotations

import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import psycopg

from service.config import StartupRefused, load_settings
from service.governance._cli import CliError, Parser, emit, iso_date, plot_path
from service.storage import Store, open_store
from service.storage.ledger import LedgerCard

PROG = "python -m service report"
NO_REASON = "none"  # an override with a comment but no reason code
UNKNOWN_SUGGESTION = "unknown-suggestion"  # an accepted suggestion uuid the card did not carry


@dataclass
class RuleCounts:
    shown: int = 0
    accepted: int = 0
    overridden: int = 0
    ignored: int = 0
    override_reasons: Counter[str] = field(default_factory=Counter)
    comments: int = 0
    accepted_drugs: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "shown": self.shown, "accepted": self.accepted, "overridden": self.overridden, "ignored": self.ignored,
            "override_reasons": dict(sorted(self.override_reasons.items())), "comments": self.comments,
            "accepted_drugs": dict(sorted(self.accepted_drugs.items())),
        }


@dataclass
class Report:
    since: date | None
    until: date | None
    rules: dict[str, RuleCounts]
    unmatched_feedback: int

    def as_json(self) -> dict[str, Any]:
        return {
            "rules": {rule: self.rules[rule].as_json() for rule in sorted(self.rules)},
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "unmatched_feedback": self.unmatched_feedback,
        }


def period_bounds(since: date | None, until: date | None) -> tuple[float | None, float | None]:
    """Epoch seconds of ``[since 00:00 UTC, the day after until 00:00 UTC)``."""
    start = datetime.combine(since, time(), UTC).timestamp() if since else None
    end = datetime.combine(until + timedelta(days=1), time(), UTC).timestamp() if until else None
    return start, end


def _when(item: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(item.get("outcomeTimestamp")).replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def latest_feedback(card: LedgerCard) -> dict[str, Any] | None:
    """The card's feedback that decides its outcome: the latest by outcomeTimestamp (stored items are validated)."""
    return max(card.feedback, key=_when, default=None)


def count(cards: Iterable[LedgerCard]) -> dict[str, RuleCounts]:
    rules: dict[str, RuleCounts] = {}
    for card in cards:
        counts = rules.setdefault(card.rule_id, RuleCounts())
        counts.shown += 1
        feedback = latest_feedback(card)
        if feedback is None:
            counts.ignored += 1
        elif feedback.get("outcome") == "accepted":
            counts.accepted += 1
            drugs = dict(card.suggestions)
            for accepted in feedback.get("acceptedSuggestions") or ():
                chosen = accepted.get("id") if isinstance(accepted, dict) else None
                drug = drugs[chosen] if chosen in drugs else UNKNOWN_SUGGESTION
                counts.accepted_drugs[drug or "unnamed drug"] += 1
        else:
            counts.overridden += 1
            override = feedback.get("overrideReason") or {}
            reason = override.get("reason") or {}
            counts.override_reasons[str(reason.get("code") or NO_REASON)] += 1
            if str(override.get("userComment") or "").strip():
                counts.comments += 1
    return rules


def build_report(store: Store, since: date | None, until: date | None) -> Report:
    start, end = period_bounds(since, until)
    return Report(since, until, count(store.ledger_cards(start, end)), store.unmatched_feedback(start, end))


# --------------------------------------------------------------------------------------------- output


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def render_text(report: Report) -> str:
    period = f"{report.since or 'start'} .. {report.until or 'now'}"
    lines = [f"Card ledger report, {period} (UTC, by the day a card was first shown)", ""]
    names = sorted(report.rules, key=lambda r: (-report.rules[r].shown, r))
    width = max([len("rule"), len("total"), *map(len, names)])
    head = f"{'rule':<{width}}  {'shown':>6}  {'accepted':>8}  {'overridden':>10}  {'ignored':>7}  {'accept':>6}  " \
           f"{'override':>8}"
    lines += [head, "-" * len(head)]
    total = RuleCounts()
    for name in names:
        c = report.rules[name]
        total.shown, total.accepted = total.shown + c.shown, total.accepted + c.accepted
        total.overridden, total.ignored = total.overridden + c.overridden, total.ignored + c.ignored
        lines.append(f"{name:<{width}}  {c.shown:>6}  {c.accepted:>8}  {c.overridden:>10}  {c.ignored:>7}  "
                     f"{_rate(c.accepted, c.shown):>6}  {_rate(c.overridden, c.shown):>8}")
    if not names:
        lines.append("(no card was shown in this period)")
    lines += ["-" * len(head),
              f"{'total':<{width}}  {total.shown:>6}  {total.accepted:>8}  {total.overridden:>10}  {total.ignored:>7}  "
              f"{_rate(total.accepted, total.shown):>6}  {_rate(total.overridden, total.shown):>8}", ""]
    for name in names:
        c = report.rules[name]
        if c.accepted_drugs:
            drugs = ", ".join(f"{drug} {n}" for drug, n in sorted(c.accepted_drugs.items(), key=lambda x: (-x[1], x[0])))
            lines.append(f"{name}: accepted {drugs}")
        if c.override_reasons:
            reasons = ", ".join(f"{code} {n}" for code, n in sorted(c.override_reasons.items(), key=lambda x: (-x[1], x[0])))
            lines.append(f"{name}: overridden for {reasons}; {c.comments} with a comment (not shown)")
    lines.append(f"Feedback received in the period for cards not in the ledger: {report.unmatched_feedback}")
    return "\n".join(lines) + "\n"


def open_configured_store() -> Store:
    """The store of ``CDS_DATABASE_URL``; a SQLite file must already exist (a report never creates one)."""
    try:
        url = load_settings().database_url
    except StartupRefused as exc:
        raise CliError(str(exc)) from None
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise CliError(f"CDS_DATABASE_URL names {url.removeprefix('sqlite:///')}, which does not exist")
    try:
        return open_store(url)
    except Exception as exc:  # noqa: BLE001 - unreachable or refused: one line, never the URL (it may hold a password)
        raise CliError(f"cannot open the store of CDS_DATABASE_URL ({type(exc).__name__})") from None


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description=(__doc__ or "").split("\n\n")[1])
    parser.add_argument("--since", type=iso_date, help="first day, YYYY-MM-DD (UTC, inclusive; default: the start)")
    parser.add_argument("--until", type=iso_date, help="last day, YYYY-MM-DD (UTC, inclusive; default: today)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--plot", type=plot_path, metavar="FILE", help="also draw the rates per rule (.svg or .png)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.since and args.until and args.until < args.since:
            raise CliError("--until is before --since")
        store = open_configured_store()
        try:
            report = build_report(store, args.since, args.until)
        except (sqlite3.Error, psycopg.Error) as exc:
            raise CliError(f"reading the store failed ({type(exc).__name__})") from None
        finally:
            store.close()
        if args.plot is not None:
            from service.governance.plots import plot_outcomes

            rules = {name: counts.as_json() for name, counts in report.rules.items()}
            plot_outcomes(rules, f"{report.since or 'start'} to {report.until or 'now'}", args.plot)
    except CliError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    return emit(args.json, report.as_json(), lambda: render_text(report))
