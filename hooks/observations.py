"""Tolerant reading of Observations into typed results: smoking and pregnancy status, pregnancy intent, gestational
age, TB tests (IGRA, TST), hepatitis B tests (HBsAg, anti-HBc) and CRP.

What counts is data (knowledge/observations.toml): the LOINC codes of each kind, the codes that look related but
never are the result (the IGRA mitogen control), the answer codes and the value wording. Only final, amended and
corrected Observations count; an entered-in-error one is ignored. Nothing here raises on bad data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from hooks.fhir_values import codings, one_line, parse_date, reference_of, resources, status_code, texts
from hooks.knowledge import Knowledge, ObservationKind

QUALITATIVE = frozenset({"igra", "tst", "hbsag", "anti_hbc"})
_QUALITATIVE_INTERPRETATION = {"positive": "positive", "negative": "negative", "indeterminate": "indeterminate",
                               "high": "positive", "abnormal": "positive", "normal": "negative", "low": "negative"}
_WEEK_UNITS = {"wk", "week", "weeks", "/wk", "w"}
_DAY_UNITS = {"d", "day", "days"}


@dataclass(frozen=True, slots=True)
class ObservationResult:
    """One Observation read as a result of a known kind."""

    kind: str  # a key of observations.toml [kinds]
    ref: str
    when: date | None
    value: str  # normalised: positive | negative | indeterminate | current | former | never | pregnant | ... | unknown
    text: str  # the value as recorded, on one line ("Negative", "12 mg/L")
    quantity: float | None = None
    unit: str = ""
    by_verified_code: bool = True  # False when recognised by text or an unverified code

    @property
    def described(self) -> str:
        """'negative on 2026-05-02' / 'positive (date not recorded)'."""
        value = self.value if self.value != "unknown" else (self.text or "no interpretation")
        return f"{value} on {self.when}" if self.when else f"{value} (date not recorded)"

    @property
    def weeks(self) -> float | None:
        """A gestational age in weeks (from a Quantity in weeks or days)."""
        if self.quantity is None:
            return None
        unit = self.unit.lower().strip("{}")
        if unit in _DAY_UNITS:
            return self.quantity / 7
        return self.quantity if unit in _WEEK_UNITS or not unit else None


def _when(res: dict[str, Any]) -> date | None:
    period = res.get("effectivePeriod")
    if isinstance(period, dict):
        found = parse_date(period.get("end")) or parse_date(period.get("start"))
        if found:
            return found
    return parse_date(res.get("effectiveDateTime")) or parse_date(res.get("effectiveInstant")) \
        or parse_date(res.get("issued"))


def _kind_of(kb: Knowledge, code_cc: Any, seen_never: set[str], notes: list[str]) -> tuple[str | None, bool]:
    for _, code, _ in codings(code_cc):
        if code in kb.observation_never:
            if code not in seen_never:
                seen_never.add(code)
                notes.append(f"Observation LOINC {code} is {kb.observation_never[code]}; it is not read as a result.")
            return None, False
        key = kb.observation_by_loinc.get(code)
        if key is not None:
            return key, kb.observation_kinds[key].codes[code]
    for text in texts(code_cc):
        for key, kind in kb.observation_kinds.items():
            if kind.text is not None and kind.text.search(text) and not (kind.exclude_text and kind.exclude_text.search(text)):
                return key, False
    return None, False


def _from_text(kind: ObservationKind, text: str) -> str | None:
    for value, pattern in kind.value_text:
        if pattern.search(text):
            return value
    return None


def _value(kb: Knowledge, kind: ObservationKind, res: dict[str, Any]) -> tuple[str, str, float | None, str, bool]:
    """(normalised value, value text, quantity, unit, read through verified codes only)."""
    verified = True
    cc = res.get("valueCodeableConcept")
    if isinstance(cc, dict):
        shown = next(iter(texts(cc)), "")
        for _, code, _ in codings(cc):
            if code in kind.values:
                value, code_verified = kind.values[code]
                return value, shown or code, None, "", code_verified
        for text in texts(cc):
            found = _from_text(kind, text)
            if found:
                return found, shown, None, "", False
        return "unknown", shown, None, "", False
    if isinstance(res.get("valueString"), str):
        shown = one_line(res["valueString"])
        return _from_text(kind, shown) or "unknown", shown, None, "", False
    if isinstance(res.get("valueBoolean"), bool):
        shown = "positive" if res["valueBoolean"] else "negative"
        return _from_text(kind, shown) or "unknown", shown, None, "", False
    quantity, unit, shown = None, "", ""
    q = res.get("valueQuantity")
    if isinstance(q, dict) and isinstance(q.get("value"), (int, float)) and not isinstance(q.get("value"), bool):
        quantity = float(q["value"])
        unit = one_line(str(q.get("unit") or q.get("code") or ""))
        shown = f"{q['value']:g} {unit}".strip()
    interpreted = None
    for cc in res.get("interpretation") or []:
        for _, code, _ in codings(cc):
            if code in kb.interpretation:
                interpreted = kb.interpretation[code]
                break
        if interpreted:
            break
    if interpreted and kind.key in QUALITATIVE:
        return _QUALITATIVE_INTERPRETATION[interpreted], shown or interpreted, quantity, unit, verified
    numeric = quantity is not None and kind.key not in QUALITATIVE
    return (interpreted or ("" if numeric else "unknown")), shown, quantity, unit, verified


def read_observations(kb: Knowledge, items: Iterable[Any], notes: list[str]) -> list[ObservationResult]:
    """The Observations of a known kind that count; the rest are skipped (counted in ``notes``)."""
    found: list[ObservationResult] = []
    not_final = 0
    seen_never: set[str] = set()
    for res in resources(items):
        try:
            if res.get("resourceType") != "Observation":
                continue
            status = status_code(res.get("status"))
            if status == "entered-in-error":
                continue
            kind_key, code_verified = _kind_of(kb, res.get("code"), seen_never, notes)
            if kind_key is None:
                continue
            if status not in kb.observation_statuses:
                not_final += 1
                continue
            kind = kb.observation_kinds[kind_key]
            value, text, quantity, unit, value_verified = _value(kb, kind, res)
            found.append(ObservationResult(kind_key, reference_of(res), _when(res), value, text, quantity, unit,
                                           code_verified and value_verified))
        except Exception:  # noqa: BLE001 - one malformed resource must not cost the others
            notes.append(f"Could not read {reference_of(res)}; it was skipped.")
    if not_final:
        notes.append(f"{not_final} Observation(s) not final (preliminary, registered, cancelled...) were ignored.")
    return found


def latest(results: Iterable[ObservationResult], *kinds: str) -> ObservationResult | None:
    """The most recent result of these kinds (undated results count as oldest; ties go to the later reference)."""
    candidates = [r for r in results if r.kind in kinds]
    if not candidates:
        return None
    return max(candidates, key=lambda r: (r.when is not None, r.when or date.min, r.ref))
