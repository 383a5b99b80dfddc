"""What every recommendation is made of: the patient :class:`Context`, the :class:`Finding` a rule produces, the
:class:`Recommendation` base class and the registry that binds each class to its id in knowledge/rules.toml.

A recommendation owns, for its own clinical situation:

- ``hold(ctx)``: nothing may be started while it stands (active TB, active serious infection): a critical card;
- ``conflict(ctx, drug, plan)``: ordering ``drug`` goes against it (a warning, or advice when it is a preference);
- ``excludes(ctx, drug)``: why ``drug`` is never offered to this patient under it (the reason shown in the card);
- ``rank(ctx, ranking)`` and ``prune(ctx, groups)``: how it orders the options, and which it drops once the
  alternatives are known;
- ``cautions(ctx, ordered, starting)`` and ``advice(ctx)``: what the card must say besides (screening, label
  warnings, standing care); ``starting`` are the drugs the card would have the patient start: the ordered drug
  when it stands, and the options suggested instead.

Every clinician-facing citation comes from the rule's data (:class:`hooks.knowledge.Rule`); Python only says what
the record showed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar, TypeVar

from hooks.history import Course
from hooks.knowledge import Drug, Knowledge, Rule
from hooks.observations import ObservationResult, latest
from hooks.record import ConditionFinding
from hooks.status import PatientStatus

GROUP_OF_FAMILY = {"tnfi": "tnf", "il17i": "il17", "jaki": "jak"}
GROUP_LABEL = {"tnf": "TNF inhibitor", "il17": "IL-17 inhibitor", "jak": "JAK inhibitor"}
SEVERITY_RANK = {"info": 0, "advice": 1, "warning": 2, "critical": 3}


@dataclass(frozen=True, slots=True)
class Context:
    """Everything the rules know about the patient."""

    kb: Knowledge
    diagnosis: str | None  # "AS" | "nr-axSpA"
    conditions: frozenset[str]  # value-set keys that count
    findings: tuple[ConditionFinding, ...]
    courses: tuple[Course, ...]
    intolerances: dict[str, str]  # drug key -> why (allergy record or adverse-event stop)
    age: int | None
    sex: str | None
    today: date
    observations: tuple[ObservationResult, ...] = ()
    status: PatientStatus | None = None
    unavailable: frozenset[str] = frozenset()  # data keys that could not be obtained

    def has(self, *value_sets: str) -> bool:
        return any(v in self.conditions for v in value_sets)

    def of(self, value_set: str) -> list[ConditionFinding]:
        return [f for f in self.findings if f.value_set == value_set]

    def condition_label(self, value_set: str) -> str:
        return next((f.label for f in self.findings if f.value_set == value_set), value_set)

    def stopped(self, family: str, reasons: frozenset[str] | set[str]) -> list[Course]:
        return [c for c in self.courses if c.family == family and c.status != "active" and c.stop_reason in reasons]

    def active(self, *families: str) -> list[Course]:
        return [c for c in self.courses if c.status == "active" and c.family in families]

    def tried(self) -> set[str]:
        return {c.drug for c in self.courses}

    def latest(self, *kinds: str) -> ObservationResult | None:
        return latest(self.observations, *kinds)

    def recent(self, when: date | None, days: int) -> bool:
        return when is not None and 0 <= (self.today - when).days <= days

    @property
    def pregnant(self) -> bool:
        """Pregnant, or possibly pregnant: the pregnancy safety rules apply."""
        return self.status is not None and self.status.pregnancy.counts


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule applied to this patient: the rule, what the record showed, and how loud it is."""

    rule: Rule
    message: str  # what the record shows, in one or two sentences (the rule's own sentence is added by the card)
    short: str = ""  # phrase for the card summary
    severity: str = "warning"  # "critical" | "warning" | "advice" (a preference, or something to do) | "info"
    offers_switch: bool = True  # a conflict whose card should offer the ranked options
    says_rule: bool = True  # the card adds the rule's sentence (False when the message says why it does not apply)

    @property
    def loudness(self) -> int:
        return SEVERITY_RANK[self.severity]


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Why a drug is not among the suggestions: the rule (None for the ordered drug itself) and the reason."""

    rule: Rule | None
    reason: str

    @property
    def text(self) -> str:
        return f"{self.reason}; {self.rule.cite}" if self.rule else self.reason


@dataclass
class Ranking:
    """The order of the option groups as the rules shape it (the last rule applied has the last word)."""

    order: list[str]
    first: dict[str, list[str]] = field(default_factory=dict)  # group -> drug keys moved to the front of it
    basis: list[Finding] = field(default_factory=list)
    because: Finding | None = None  # why the preferred group comes first

    def front(self, group: str) -> None:
        self.order = [group] + [g for g in self.order if g != group]

    def back(self, group: str) -> None:
        self.order = [g for g in self.order if g != group] + [group]

    def prefer(self, group: str, drug_key: str) -> None:
        self.first[group] = [drug_key] + [k for k in self.first.get(group, []) if k != drug_key]


@dataclass
class Plan:
    """What to suggest instead of one ordered drug."""

    options: list[Drug]  # preferred first
    basis: list[Finding]  # the rules that shaped the order
    because: Finding | None  # why the first option is preferred
    excluded: dict[str, Exclusion] = field(default_factory=dict)  # drug key -> why it is not suggested
    held_by: Finding | None = None  # a hold: nothing is suggested while it stands
    no_option: Finding | None = None  # said when nothing is left
    order: list[str] = field(default_factory=list)  # the group order the rules chose

    def open(self, kb: Knowledge, family: str, classes: tuple[str, ...] = ()) -> bool:
        """Is some drug of ``family`` (optionally of these classes) allowed for this patient? The ordered drug counts
        as allowed (it is left out of its own replacements, not ruled out)."""
        for group in kb.suggestion_order.values():
            for key in group:
                drug = kb.drugs[key]
                if drug.family != family or (classes and drug.drug_class.key not in classes):
                    continue
                why = self.excluded.get(key)
                if why is None or why.rule is None:
                    return True
        return False


class Recommendation:
    """One recommendation of knowledge/rules.toml. Subclasses override the hooks that apply to them."""

    id: ClassVar[str]

    def __init__(self, rule: Rule) -> None:
        self.rule = rule

    # -- what the rule does; every hook is optional ------------------------------------------------------------

    def hold(self, ctx: Context) -> Finding | None:
        return None

    def conflict(self, ctx: Context, drug: Drug, plan: Plan) -> Finding | None:
        return None

    def excludes(self, ctx: Context, drug: Drug) -> str | None:
        return None

    def rank(self, ctx: Context, ranking: Ranking) -> None:
        return None

    def prune(self, ctx: Context, groups: dict[str, list[Drug]]) -> dict[str, str]:
        return {}

    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        return []

    def advice(self, ctx: Context) -> list[Finding]:
        return []

    def no_option(self, ctx: Context) -> Finding | None:
        return None

    # -- helpers ------------------------------------------------------------------------------------------------

    def finding(self, message: str, *, short: str = "", severity: str = "warning", offers_switch: bool = True,
                says_rule: bool = True) -> Finding:
        return Finding(self.rule, message, short, severity, offers_switch, says_rule)

    def summary(self, *keys: str) -> str:
        return self.rule.phrase("summary", *keys)

    def excluded(self, drug: Drug) -> str:
        return self.rule.phrase("excluded", drug.key, drug.family)

    def because(self, message: str, **fields: str) -> Finding:
        return Finding(self.rule, message, self.rule.because.format(**fields), "info")

    def shape(self, ranking: Ranking, message: str, *, order: Sequence[str] = (), front: str = "", back: str = "",
              prefer: tuple[str, str] | None = None, drug: str = "") -> None:
        """Apply this rule to the ranking: the group order it wants, the basis line (``message`` and the rule's
        sentence) and why the preferred option comes first."""
        if order:
            ranking.order = list(order)
        if front:
            ranking.front(front)
        if back:
            ranking.back(back)
        if prefer:
            ranking.prefer(*prefer)
        ranking.basis.append(self.finding(message, severity="info"))
        if self.rule.because:
            ranking.because = self.because(message, drug=drug)


REGISTRY: dict[str, type[Recommendation]] = {}
R = TypeVar("R", bound=Recommendation)


def register(rule_id: str) -> Callable[[type[R]], type[R]]:
    """Bind a :class:`Recommendation` subclass to its id in knowledge/rules.toml."""

    def bind(cls: type[R]) -> type[R]:
        if rule_id in REGISTRY:
            raise ValueError(f"rule {rule_id!r} is implemented twice ({REGISTRY[rule_id].__name__}, {cls.__name__})")
        cls.id = rule_id
        REGISTRY[rule_id] = cls
        return cls

    return bind


def year(c: Course) -> str:
    """' (2024-03-01)': when a course ended (or started), for a message."""
    return f" ({c.end or c.start})" if (c.end or c.start) else ""


def names(drugs: Sequence[Drug]) -> list[str]:
    return [d.key for d in drugs]
