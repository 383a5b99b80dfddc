"""What the record says about the patient's current state, read once for every rule: pregnancy (with gestational
age), breastfeeding, a planned pregnancy and smoking.

Each state keeps the evidence it rests on, so a card can say what the record showed. Where the record disagrees with
itself the safe reading is kept and the disagreement is noted (e.g. a pregnancy Condition still active after a
"not pregnant" status is read as "possible pregnancy", never as "not pregnant").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from hooks.history import PREGNANCY, Course
from hooks.knowledge import Knowledge
from hooks.observations import ObservationResult, latest
from hooks.record import ConditionFinding

_ACTIVE = frozenset({"", "active", "recurrence", "relapse"})


@dataclass(frozen=True, slots=True)
class Pregnancy:
    status: str  # "pregnant" | "possible" (a signal to confirm) | "not-pregnant" (recorded) | "none" (nothing recorded)
    evidence: tuple[str, ...] = ()
    weeks: int | None = None  # gestational age today, when the record gives one
    weeks_evidence: str = ""

    @property
    def counts(self) -> bool:
        """Pregnant or possibly pregnant: the pregnancy safety rules apply."""
        return self.status in ("pregnant", "possible")

    @property
    def described(self) -> str:
        what = "pregnant" if self.status == "pregnant" else "possibly pregnant (confirm)"
        return f"{what}: {'; '.join(self.evidence)}"


@dataclass(frozen=True, slots=True)
class Smoking:
    status: str  # "current" | "former" | "never" | "unknown" | "not recorded"
    evidence: str = ""

    @property
    def smoker(self) -> bool:
        """Current or past smoker (the JAK inhibitor boxed warning's wording)."""
        return self.status in ("current", "former")


@dataclass(frozen=True, slots=True)
class PatientStatus:
    pregnancy: Pregnancy
    lactation: str  # evidence of breastfeeding, "" when none
    planning: str  # evidence of a planned pregnancy, "" when none
    smoking: Smoking


def _on(when: date | None) -> str:
    return f"on {when}" if when else "(date not recorded)"


def _of(findings: Sequence[ConditionFinding], value_set: str) -> list[ConditionFinding]:
    return [f for f in findings if f.value_set == value_set]


def _condition_evidence(f: ConditionFinding) -> str:
    since = f", since {f.onset}" if f.onset else ""
    return f"{f.label} ({f.ref}{since})"


def _z3a_weeks(code: str) -> tuple[int, str] | None:
    """Gestational weeks from ICD-10-CM Z3A.xx: 01 = under 8 weeks (read as 7), 08-42 exact, 49 = over 42."""
    digits = code[3:]
    if not code.startswith("Z3A") or not digits.isdigit():
        return None
    n = int(digits)
    if n == 1:
        return 7, "under 8 weeks"
    if 8 <= n <= 42:
        return n, f"{n} weeks"
    if n == 49:
        return 43, "over 42 weeks"
    return None


def _gestation(kb: Knowledge, conditions: list[ConditionFinding], observations: Sequence[ObservationResult],
               today: date, notes: list[str]) -> tuple[int | None, str]:
    candidates: list[tuple[date | None, float, str]] = []
    for f in conditions:
        for code in f.icd10:
            found = _z3a_weeks(code)
            if found:
                when = f.recorded or f.onset
                shown = f"ICD-10-CM {code[:3]}.{code[3:]} ({found[1]}) recorded {when or 'without a date'}"
                candidates.append((when, found[0], shown))
    for o in observations:
        if o.kind == "gestational_age" and o.weeks is not None:
            candidates.append((o.when, o.weeks, f"gestational age {o.text} recorded {o.when or 'without a date'} ({o.ref})"))
    if not candidates:
        return None, ""
    when, weeks, evidence = max(candidates, key=lambda c: (c[0] is not None, c[0] or date.min))
    now = weeks + ((today - when).days / 7 if when else 0)
    if now > 45:
        notes.append(f"The gestational age on record ({evidence}) would now be {int(now)} weeks: the pregnancy record "
                     "may be out of date.")
    return int(now), evidence


def _pregnancy(kb: Knowledge, findings: Sequence[ConditionFinding], observations: Sequence[ObservationResult],
               courses: Sequence[Course], today: date, notes: list[str]) -> Pregnancy:
    horizon = kb.settings.pregnancy_evidence_days
    status, evidence = "none", []
    recorded = latest([o for o in observations if o.kind == "pregnancy" and o.value != "unknown"], "pregnancy")
    not_pregnant_on: date | None = None
    said = ""
    if recorded is not None:
        when = f"on {recorded.when}" if recorded.when else "(date not recorded)"
        said = f"pregnancy status '{recorded.text or recorded.value}' {when} ({recorded.ref})"
    if recorded is not None and recorded.value == "pregnant":
        if recorded.when and (today - recorded.when).days > horizon:
            notes.append(f"A pregnancy status 'pregnant' of {recorded.when} ({recorded.ref}) is over {horizon} days old "
                         "and is not read as current.")
        else:
            status = "pregnant"
            evidence.append(said)
    elif recorded is not None and recorded.value == "not-pregnant":
        not_pregnant_on = recorded.when or date.min
    conditions = _of(findings, "pregnancy")
    if conditions:
        evidence += [_condition_evidence(f) for f in conditions]
        newest = max((f.recorded or f.onset or date.min) for f in conditions)
        if not_pregnant_on is not None and not_pregnant_on >= newest:
            status = "possible"
            evidence.append(f"but the later {said} says not pregnant")
            notes.append(f"A pregnancy Condition is active but the later {said} says not pregnant: read as a possible "
                         "pregnancy; update the record.")
        elif newest != date.min and (today - newest).days > horizon and status != "pregnant":
            status = "possible"
            notes.append(f"Pregnancy has been recorded as active since {newest}, over {horizon} days ago: confirm it is "
                         "current.")
        else:
            status = "pregnant"
    for c in courses:
        if c.stop_reason != PREGNANCY:
            continue
        stopped = c.end or c.start
        if stopped is not None and (today - stopped).days > horizon:
            continue
        if not_pregnant_on is not None and stopped is not None and not_pregnant_on >= stopped:
            continue
        evidence.append(f"{c.drug_name} stopped for pregnancy {'on ' + str(c.end) if c.end else '(date not recorded)'}")
        if status == "none":
            status = "possible"
    if status == "none" and not_pregnant_on is not None:
        return Pregnancy("not-pregnant", (said,))
    if status == "none":
        return Pregnancy("none")
    weeks, weeks_evidence = _gestation(kb, conditions, observations, today, notes)
    return Pregnancy(status, tuple(dict.fromkeys(evidence)), weeks, weeks_evidence)


def _planning(kb: Knowledge, findings: Sequence[ConditionFinding], observations: Sequence[ObservationResult],
              sex: str | None, today: date) -> str:
    if sex == "male":
        return ""  # ACR 2020 advice for men planning to father a child differs (TNFi and methotrexate continue)
    evidence = [_condition_evidence(f) for f in _of(findings, "planned_pregnancy") if f.status in _ACTIVE]
    intent = latest([o for o in observations if o.kind == "pregnancy_intent" and o.value != "unknown"],
                    "pregnancy_intent")
    if intent is not None and intent.value == "planning" and (
            intent.when is None or (today - intent.when).days <= kb.settings.screening_lookback_days):
        evidence.append(f"pregnancy intention '{intent.text}' {_on(intent.when)} ({intent.ref})")
    return "; ".join(evidence)


def _smoking(findings: Sequence[ConditionFinding], observations: Sequence[ObservationResult],
             notes: list[str]) -> Smoking:
    recorded = latest([o for o in observations if o.kind == "smoking" and o.value != "unknown"], "smoking") \
        or latest(observations, "smoking")
    conditions = _of(findings, "smoking")
    if recorded is not None and recorded.value in ("current", "former"):
        return Smoking(recorded.value, f"smoking status '{recorded.text}' {_on(recorded.when)}")
    if conditions:
        current = any(f.status in _ACTIVE for f in conditions)
        if recorded is not None and recorded.value == "never":
            notes.append(f"The smoking status says never smoked ({recorded.ref}) but a smoking Condition is recorded "
                         f"({conditions[0].ref}): read as a smoker.")
        return Smoking("current" if current else "former", _condition_evidence(conditions[0]))
    if recorded is not None:
        return Smoking(recorded.value, f"smoking status '{recorded.text}' {_on(recorded.when)}")
    return Smoking("not recorded")


def read_status(kb: Knowledge, findings: Sequence[ConditionFinding], observations: Sequence[ObservationResult],
                courses: Sequence[Course], sex: str | None, today: date, notes: list[str]) -> PatientStatus:
    lactation = "; ".join(_condition_evidence(f) for f in _of(findings, "lactation"))
    return PatientStatus(
        pregnancy=_pregnancy(kb, findings, observations, courses, today, notes),
        lactation=lactation,
        planning=_planning(kb, findings, observations, sex, today),
        smoking=_smoking(findings, observations, notes),
    )
