"""What a replay counts: one input's result, and the mergeable tally of a whole replay (the local pool and a Dask
reduction build it the same way)."""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MAX_ERRORS = 100  # errors listed (all are counted)


@dataclass(frozen=True, slots=True)
class PatientResult:
    """What one input gave: the cards as (rule, indicator), the time the pipeline took, or why it could not run."""

    source: str  # the input file (relative to PATH) or "ndjson"
    patient: str | None = None  # pseudonym
    cards: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    error: str | None = None


@dataclass
class Tally:
    """The replay's counts, mergeable (the local pool and a Dask reduction build it the same way)."""

    slowest_kept: int = 5
    patients: int = 0
    patients_with_cards: int = 0
    cards_by_rule: Counter[str] = field(default_factory=Counter)
    cards_by_indicator: Counter[str] = field(default_factory=Counter)
    by_rule_indicator: dict[str, Counter[str]] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    error_count: int = 0
    skipped_resources: Counter[str] = field(default_factory=Counter)
    slowest: list[tuple[float, str, int]] = field(default_factory=list)  # min-heap of (seconds, pseudonym, cards)

    def add(self, result: PatientResult) -> Tally:
        if result.error is not None:
            self.error_count += 1
            if len(self.errors) < MAX_ERRORS:
                entry = {"input": result.source, "error": result.error}
                if result.patient:
                    entry["patient"] = result.patient
                self.errors.append(entry)
            return self
        self.patients += 1
        if result.cards:
            self.patients_with_cards += 1
        for rule, indicator in result.cards:
            self.cards_by_rule[rule] += 1
            self.cards_by_indicator[indicator] += 1
            self.by_rule_indicator.setdefault(rule, Counter())[indicator] += 1
        if result.patient is not None:
            self._keep_slow((result.seconds, result.patient, len(result.cards)))
        return self

    def _keep_slow(self, entry: tuple[float, str, int]) -> None:
        if len(self.slowest) < self.slowest_kept:
            heapq.heappush(self.slowest, entry)
        elif entry > self.slowest[0]:
            heapq.heapreplace(self.slowest, entry)

    def merge(self, other: Tally) -> Tally:
        self.patients += other.patients
        self.patients_with_cards += other.patients_with_cards
        self.cards_by_rule.update(other.cards_by_rule)
        self.cards_by_indicator.update(other.cards_by_indicator)
        for rule, counts in other.by_rule_indicator.items():
            self.by_rule_indicator.setdefault(rule, Counter()).update(counts)
        self.errors.extend(other.errors[: max(0, MAX_ERRORS - len(self.errors))])
        self.error_count += other.error_count
        self.skipped_resources.update(other.skipped_resources)
        for entry in other.slowest:
            self._keep_slow(entry)
        return self

    def as_json(self) -> dict[str, Any]:
        return {
            "patients": self.patients,
            "patients_with_cards": self.patients_with_cards,
            "cards_by_rule": dict(sorted(self.cards_by_rule.items(), key=lambda kv: (-kv[1], kv[0]))),
            "cards_by_indicator": dict(sorted(self.cards_by_indicator.items(), key=lambda kv: (-kv[1], kv[0]))),
            "errors": self.errors,
            "error_count": self.error_count,
            "skipped_resources": dict(sorted(self.skipped_resources.items())),
            "slowest": [{"patient": p, "ms": round(s * 1000, 2), "cards": n}
                        for s, p, n in sorted(self.slowest, reverse=True)],
        }
