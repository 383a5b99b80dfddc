"""What every recommendation is made of: the patient :class:`Context`, the :class:`Finding` a rule produces, the
:class:`Recommendation` base class, the kinds of rule built on it (:class:`RulesOut`: drugs ruled out while something
in the record stands; :class:`NoFamilyAfterStop`) and the registry that binds each class to its id (or ids) in
knowledge/rules.toml.

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

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar, Generic, TypeVar, cast

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
        return not self.conditions.isdisjoint(value_sets)

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

    def shape_after(self, ranking: Ranking, courses: Sequence[Course], said: str, *, order: Sequence[str] = ()) -> None:
        """:meth:`shape` because of the latest of ``courses``, when there is one; ``said`` is the basis line, with
        ``{drug}``, ``{outcome}`` and ``{year}`` of that course (:func:`year`)."""
        if courses:
            c = courses[-1]
            self.shape(ranking, said.format(drug=c.drug_name, outcome=c.outcome, year=year(c)), order=order,
                       drug=c.drug_name)


W = TypeVar("W")


class RulesOut(Recommendation, Generic[W]):
    """A recommendation that rules drugs out while something in the record stands.

    :meth:`standing` finds it (a course, a condition, a state; None while nothing stands), :meth:`rules_out` says which
    drugs it concerns (by default those of ``family``): ordering one of them is the conflict :meth:`said` words, and
    none of them is offered (the rule's ``excluded`` phrase).
    """

    family: ClassVar[str] = ""

    def standing(self, ctx: Context) -> W | None:
        raise NotImplementedError

    def said(self, ctx: Context, drug: Drug, why: W) -> Finding:
        raise NotImplementedError

    def rules_out(self, drug: Drug) -> bool:
        return drug.family == self.family

    def conflict(self, ctx: Context, drug: Drug, plan: Plan) -> Finding | None:
        why = self.standing(ctx) if self.rules_out(drug) else None
        return None if why is None else self.said(ctx, drug, why)

    def excludes(self, ctx: Context, drug: Drug) -> str | None:
        return self.excluded(drug) if self.rules_out(drug) and self.standing(ctx) is not None else None


class NoFamilyAfterStop(RulesOut[Course]):
    """No drug of ``family`` once a course of that family stopped for one of ``reasons``: what stands is the latest
    such course."""

    reasons: ClassVar[frozenset[str]]

    def standing(self, ctx: Context) -> Course | None:
        prior = ctx.stopped(self.family, self.reasons)
        return prior[-1] if prior else None


REGISTRY: dict[str, type[Recommendation]] = {}
R = TypeVar("R", bound=Recommendation)


def register(rule_id: str, **params: object) -> Callable[[type[R]], type[R]]:
    """Bind a :class:`Recommendation` subclass to its id in knowledge/rules.toml.

    With ``params`` the class is one implementation of several rules that differ only in what they read or say (the
    value set a hold stands on, the drug family pregnancy rules out): the id is bound to a subclass that sets those
    class attributes, each of which the class must declare. Stacked, the decorator binds each of its ids.
    """

    def bind(cls: type[R]) -> type[R]:
        if rule_id in REGISTRY:
            raise ValueError(f"rule {rule_id!r} is implemented twice ({REGISTRY[rule_id].__name__}, {cls.__name__})")
        declared = {name for klass in cls.__mro__ for name in inspect.get_annotations(klass)}
        undeclared = sorted(set(params) - declared)
        if undeclared:
            raise TypeError(f"rule {rule_id!r}: {cls.__name__} declares no {undeclared}")
        impl = cast(type[R], type(f"{cls.__name__}[{rule_id}]", (cls,), {"__module__": cls.__module__, **params})) \
            if params else cls
        impl.id = rule_id
        REGISTRY[rule_id] = impl
        return cls

    return bind


def year(c: Course) -> str:
    """' (2024-03-01)': when a course ended (or started), for a message."""
    return f" ({c.end or c.start})" if (c.end or c.start) else ""


def names(drugs: Sequence[Drug]) -> list[str]:
    return [d.key for d in drugs]
