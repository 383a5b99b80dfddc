"""Therapy history: medication records merged into courses, each with the reason it stopped.

Why a course stopped is read by hooks/stop_reasons.py from the data in knowledge/stop_reasons.toml (categories,
phrases, codes, precedence and the course-length thresholds; its header explains the reading). Here:
- What is read: the course's stop reasons (statusReason texts and codings) and its notes; never the order's
  reasonCode or reasonReference, which is the indication.
- Nothing stated: the patient's AllergyIntolerance for the drug (its reactions, then its type); still nothing, a
  b/tsDMARD stopped before the adequate trial (12 weeks) is an inadequate trial; otherwise the reason is unknown.
  A failure type is never guessed.
- A stop that is no failure (NOT_FAILURE) never makes a drug "failed", never counts for the JAK labels, and is shown
  as what it was; the evidence column shows the record text that decided.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from hooks.knowledge import Knowledge
from hooks.medications import MedRecord
from hooks.record import AllergyRecord
from hooks.stop_reason_data import stop_reason_data
from hooks.stop_reasons import Classifier, Coding, classifier

# Stop-reason categories: why a course ended. The classifier's phrases, codes and precedence are data
# (knowledge/stop_reasons.toml); these names are the interface the rules and cards read.
PRIMARY = "primary-nonresponse"  # no meaningful improvement after an adequate trial (efficacy failure)
SECONDARY = "secondary-nonresponse"  # response lost after an initial response (efficacy failure)
AE_LOCAL = "adverse-event-local"  # injection-site or infusion reaction
AE = "adverse-event"  # systemic adverse event or intolerance (not class-specific)
AE_CLASS = "adverse-event-class"  # TNF-class adverse event: demyelination, lupus-like syndrome, heart failure
ALLERGY = "allergy"  # hypersensitivity, anaphylaxis
INFECTION = "infection"  # serious infection, sepsis or TB while on the drug (an adverse event, not a failure)
PREGNANCY = "pregnancy"  # pregnancy or planned pregnancy
REMISSION = "remission"  # remission, planned taper or drug holiday in stable disease
ACCESS = "cost-access"  # cost, insurance, formulary, prior authorisation, supply
ADHERENCE = "adherence-choice"  # non-adherence, patient choice or preference
TEMPORARY = "temporary-hold"  # surgery, procedure, intercurrent illness, other planned interruption
CONVENIENCE = "convenience-switch"  # switched for route, device or dosing convenience, not for failure
INADEQUATE = "inadequate-trial"  # stopped before an adequate trial with no reason (or "ineffective" too early)
UNKNOWN = "unknown"  # no reason recorded, or none the classifier recognises

NONRESPONSE = frozenset({PRIMARY, SECONDARY})  # efficacy failures
ADVERSE = frozenset({AE_LOCAL, AE_CLASS, AE, ALLERGY})  # intolerance: blocks the molecule
#: "Inadequate response or intolerance" in the JAK inhibitor labels' sense (a serious infection counts as intolerance).
LABEL_FAILURE = NONRESPONSE | ADVERSE | {INFECTION}
#: Stops that are no failure at all: never "failed", never TNF-blocker failure for the JAK labels.
NOT_FAILURE = frozenset({PREGNANCY, REMISSION, ACCESS, ADHERENCE, TEMPORARY, CONVENIENCE, INADEQUATE})
CATEGORIES = NONRESPONSE | ADVERSE | NOT_FAILURE | {INFECTION, UNKNOWN}
_SETTINGS = stop_reason_data().history
OUTCOME_LABELS = {
    PRIMARY: "primary non-response",
    SECONDARY: "secondary non-response (lost response)",
    AE_LOCAL: "adverse event, local (not non-response)",
    AE_CLASS: "adverse event, TNF-class type",
    AE: "adverse event / intolerance (not non-response)",
    ALLERGY: "allergy / hypersensitivity",
    INFECTION: "infection on treatment (not non-response)",
    PREGNANCY: "stopped for pregnancy (not failure)",
    REMISSION: "stopped in remission / planned taper (not failure)",
    ACCESS: "stopped for cost or access (not failure)",
    ADHERENCE: "non-adherence or patient choice (not failure)",
    TEMPORARY: "temporary hold, e.g. surgery (not failure)",
    CONVENIENCE: "switched for convenience (not failure)",
    INADEQUATE: f"inadequate trial (< {_SETTINGS.adequate_trial_weeks} weeks): not a failure",
    UNKNOWN: "stopped, reason not recorded",
}
#: UNKNOWN when the record does give a reason, but not one that is a drug failure (e.g. renal failure not linked
#: to the drug): the evidence column shows it.
UNCLASSIFIED_LABEL = "stopped; the recorded reason is no recognised drug failure"
_ACTIVE = frozenset({"active", "intended", "on-hold"})
_ENDED = frozenset({"completed", "stopped", "cancelled"})


@dataclass(frozen=True, slots=True)
class Course:
    """One continuous course of one molecule (biosimilars included), merged from one or more records."""

    drug: str  # knowledge key
    drug_name: str
    drug_class: str  # class label, e.g. "TNF receptor fusion protein"
    family: str  # tnfi | il17i | jaki | nsaid | csdmard | glucocorticoid | other_bdmard
    start: date | None
    end: date | None
    status: str  # "active" | "stopped" | "unknown"
    stop_reason: str | None  # one of the constants above; None while active
    evidence: tuple[str, ...]  # the record text that decided the stop reason (while active: what the record says)
    sources: tuple[str, ...]  # "MedicationStatement/id", ...
    labels: tuple[str, ...]  # the medication as written in the record
    duration_days: int | None
    serious: bool = False  # the adverse event or infection it stopped for was serious (admission, sepsis, TB...)

    @property
    def outcome(self) -> str:
        if self.status == "active":
            return "ongoing"
        if self.stop_reason in (None, UNKNOWN) and self.evidence:
            return UNCLASSIFIED_LABEL
        label = OUTCOME_LABELS.get(self.stop_reason or UNKNOWN, self.stop_reason or "")
        return f"{label}; serious" if self.serious else label

    @property
    def failed(self) -> bool:
        """Stopped for non-response (primary or secondary)."""
        return self.stop_reason in NONRESPONSE

    @property
    def not_tolerated(self) -> bool:
        """Stopped for an adverse event or allergy: the molecule (and its biosimilars) is blocked."""
        return self.stop_reason in ADVERSE

    @property
    def counts_for_jak_label(self) -> bool:
        """A TNF blocker course that documents "inadequate response or intolerance" (JAK inhibitor labels)."""
        return self.status != "active" and self.stop_reason in LABEL_FAILURE

    @property
    def not_a_failure(self) -> bool:
        """Stopped for a reason that is no failure (pregnancy, remission, cost, adherence, hold, convenience)."""
        return self.stop_reason in NOT_FAILURE


@lru_cache(maxsize=4)
def _classifier(kb: Knowledge) -> Classifier:
    """The stop-reason classifier for this knowledge base's drug names; its categories must be exactly ours."""
    clf = classifier(tuple(sorted(kb.drug_by_name.items())), tuple(sorted((k, d.family) for k, d in kb.drugs.items())))
    if set(clf.data.categories) != CATEGORIES:
        raise ValueError(f"stop_reasons.toml categories {sorted(clf.data.categories)} != history {sorted(CATEGORIES)}")
    return clf


@dataclass(frozen=True, slots=True)
class StopReading:
    reason: str
    evidence: tuple[str, ...]
    serious: bool = False


def classify_stop(
    kb: Knowledge,
    drug_key: str,
    texts: tuple[str, ...],
    codes: tuple[Coding, ...],
    allergies: list[AllergyRecord],
    duration_days: int | None,
) -> StopReading:
    """Why a stopped course of ``drug_key`` ended; see the module docstring for the order of the evidence."""
    drug = kb.drugs[drug_key]
    clf = _classifier(kb)
    advanced = drug.drug_class.advanced
    read = clf.classify(texts, codes, drug=drug_key, family=drug.family, advanced=advanced, duration_days=duration_days)
    if read.category is not None:
        return StopReading(read.category, read.evidence, read.serious)
    for allergy in allergies:
        found = clf.classify(allergy.reactions, drug=drug_key, family=drug.family, advanced=advanced,
                             duration_days=None, only=ADVERSE)
        if found.category is not None:
            return StopReading(found.category, tuple(f"{allergy.kind}: {e}" for e in found.evidence[:1]), found.serious)
        return StopReading(ALLERGY if allergy.kind == "allergy" else AE, (f"{allergy.kind} recorded ({allergy.ref})",))
    trial_days = _SETTINGS.adequate_trial_weeks * 7
    if advanced and duration_days is not None and duration_days < trial_days:
        why = f"stopped after {duration_days // 7} weeks, no reason recorded"
        return StopReading(INADEQUATE, (*read.evidence, why))
    return StopReading(UNKNOWN, read.evidence)


def _clusters(records: list[MedRecord], gap_days: int, today: date) -> list[list[MedRecord]]:
    """Split one drug's records into courses: overlapping or near periods merge; undated join the latest."""
    dated = sorted(((r.start, r) for r in records if r.start is not None),
                   key=lambda sr: (sr[0], sr[1].end or date.max, sr[1].ref))
    undated = sorted((r for r in records if r.start is None), key=lambda r: r.ref)
    clusters: list[list[MedRecord]] = []
    horizon: date | None = None  # the latest date the current course is known to reach
    for start, r in dated:
        reach = r.end or (today if r.status in _ACTIVE else start)
        if horizon is not None and (start - horizon).days <= gap_days:
            clusters[-1].append(r)
            horizon = max(horizon, reach)
        else:
            clusters.append([r])
            horizon = reach
    if undated:
        if clusters:
            clusters[-1].extend(undated)
        else:
            clusters.append(undated)
    return clusters


def _course(
    kb: Knowledge, drug_key: str, recs: list[MedRecord], allergies: list[AllergyRecord], today: date, notes: list[str]
) -> Course:
    drug = kb.drugs[drug_key]
    starts = [r.start for r in recs if r.start]
    ends = [r.end for r in recs if r.end]
    start = min(starts) if starts else None
    last_end = max(ends) if ends else None
    live = [r for r in recs if r.status in _ACTIVE and not (r.end and r.end < today)]
    live_ids = {id(r) for r in live}
    ended = [r for r in recs if id(r) not in live_ids and (r.status in _ENDED or r.status in _ACTIVE)]
    if any(r.status in _ACTIVE and r.end and r.end < today for r in recs):
        notes.append(f"{drug.name}: marked active but its period ended; read as stopped.")
    status = "active" if live else "stopped" if ended else "unknown"
    if live and ended:
        # a "completed" order was fulfilled, not stopped: it ends where it was written
        ended_at = max((r.end if r.status != "completed" else None) or r.start or date.min for r in ended)
        if max(r.start or date.min for r in live) <= ended_at:
            status = "stopped"
            notes.append(f"{drug.name}: records disagree (active and stopped); read as stopped.")
    end = None if status == "active" else last_end
    if status == "stopped" and end is None and start is not None and max(starts) > start:
        end = max(starts)  # MedicationRequest-only history: the last order is the latest known date
    duration = None
    if start is not None:
        duration = ((end or today) - start).days if status == "active" or end else None
    texts = tuple(dict.fromkeys([t for r in recs for t in r.stop_texts] + [t for r in recs for t in r.notes]))
    codes = tuple(dict.fromkeys(c for r in recs for c in r.stop_codes))
    serious = False
    if status == "active":
        reason, evidence = None, texts
    else:
        read = classify_stop(kb, drug_key, texts, codes, allergies, duration)
        reason, evidence, serious = read.reason, read.evidence, read.serious
        if status == "unknown" and reason == UNKNOWN:
            reason = None
    return Course(
        drug=drug_key,
        drug_name=drug.name,
        drug_class=drug.drug_class.label,
        family=drug.family,
        start=start,
        end=end,
        status=status,
        stop_reason=reason,
        evidence=tuple(evidence),
        sources=tuple(sorted({r.ref for r in recs})),
        labels=tuple(sorted({r.label for r in recs if r.label})),
        duration_days=duration,
        serious=serious,
    )


def build_history(
    kb: Knowledge, records: list[MedRecord], allergies: list[AllergyRecord], today: date, notes: list[str]
) -> tuple[Course, ...]:
    """Courses sorted by start date (undated last), then drug, then source: independent of record order."""
    by_drug: dict[str, list[MedRecord]] = defaultdict(list)
    for r in records:
        by_drug[r.drug].append(r)
    allergies_by_drug: dict[str, list[AllergyRecord]] = defaultdict(list)
    for a in sorted(allergies, key=lambda a: a.ref):
        allergies_by_drug[a.drug].append(a)
    courses: list[Course] = []
    for drug_key in sorted(by_drug):
        for cluster in _clusters(by_drug[drug_key], _SETTINGS.merge_gap_days, today):
            courses.append(_course(kb, drug_key, cluster, allergies_by_drug[drug_key], today, notes))
    for drug_key in sorted(allergies_by_drug.keys() - by_drug.keys()):
        notes.append(f"{kb.drugs[drug_key].name}: allergy/intolerance recorded but no course of it in the record.")
    for c in courses:
        if c.start is None and c.status != "active":
            notes.append(f"{c.drug_name}: no start date, so the trial length could not be judged.")
    courses.sort(key=lambda c: (c.start is None, c.start or date.min, c.drug, c.sources))
    return tuple(courses)
