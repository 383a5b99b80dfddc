"""Infections before a biologic or JAK inhibitor: active TB and active serious infections (holds), latent TB, hepatitis
B and C, a recent serious infection, and the TB / hepatitis B screening reminders (silenced by a recent result)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from hooks.history import INFECTION
from hooks.knowledge import Drug
from hooks.observations import ObservationResult
from hooks.record import ConditionFinding
from hooks.rules.base import GROUP_OF_FAMILY, Context, Finding, Recommendation, register


def _advanced(starting: Sequence[Drug]) -> bool:
    """Is a biologic or JAK inhibitor about to be started (ordered, or suggested instead)?"""
    return any(d.drug_class.advanced for d in starting)


def _when(f: ConditionFinding) -> str:
    return f" ({f.ref}, {f.last_date})" if f.last_date else f" ({f.ref})"


def _unavailable(ctx: Context) -> str:
    return " Observations could not be obtained, so test results may be missing." if "observations" in ctx.unavailable else ""


@register("active_tb_hold", value_set="active_tb", said="active tuberculosis")
@register("active_infection_hold", value_set="serious_infection", said="an active serious infection")
class ActiveConditionHold(Recommendation):
    """Nothing may be started while a condition of ``value_set`` is active: the critical hold card."""

    value_set: ClassVar[str]
    said: ClassVar[str]  # the condition, as the card's summary and recommendation name it

    def hold(self, ctx: Context) -> Finding | None:
        found = ctx.of(self.value_set)
        if not found:
            return None
        return self.finding(f"{found[0].label} is recorded as active{_when(found[0])}.", short=self.said,
                            severity="critical")


def _tb_treated(ctx: Context, latent: list[ConditionFinding]) -> str:
    """Evidence that latent TB was treated: an antituberculosis course, a treated or resolved latent TB record."""
    courses = [c for c in ctx.courses if c.family == "antituberculosis"]
    if courses:
        c = courses[-1]
        return f"{c.drug_name} {c.start or '?'} - {c.end or ('ongoing' if c.status == 'active' else '?')}"
    treated = ctx.of("latent_tb_treated") + [f for f in latent if "latent_tb_treated" in ctx.kb.match_condition_text(f.label)]
    return f"{treated[0].label} ({treated[0].ref})" if treated else ""


def _positive_tb_test(ctx: Context) -> ObservationResult | None:
    test = ctx.latest("igra", "tst")
    return test if test is not None and test.value == "positive" else None


@register("latent_tb_untreated")
class LatentTbUntreated(Recommendation):
    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        if not _advanced(starting) or ctx.has("active_tb"):
            return []
        latent = ctx.of("latent_tb")
        positive = _positive_tb_test(ctx)
        if latent:
            said = f"{latent[0].label}{_when(latent[0])} is on record"
        elif positive is not None:
            said = f"{ctx.kb.observation_kinds[positive.kind].label} {positive.described} ({positive.ref})"
        else:
            past = ctx.of("tb_history")
            if not past:
                return []
            return [self.finding(f"{past[0].label}{_when(past[0])}: confirm that an adequate course of TB treatment "
                                 "was completed; if it cannot be confirmed, anti-TB therapy is considered before "
                                 "starting.", short=self.summary("past"), severity="advice", says_rule=False)]
        treated = _tb_treated(ctx, latent)
        if treated:
            return [self.finding(f"{said}; treatment on record: {treated}. Monitor for active TB during therapy.",
                                 severity="info", says_rule=False)]
        return [self.finding(f"{said}, with no treatment recorded.", short=self.summary(), severity="warning")]


@register("tb_screening")
class TbScreening(Recommendation):
    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        if not _advanced(starting) or ctx.has("active_tb", "latent_tb", "tb_history") or _positive_tb_test(ctx):
            return []
        test = ctx.latest("igra", "tst")
        lookback = ctx.kb.settings.screening_lookback_days
        label = ctx.kb.observation_kinds[test.kind].label if test else ""
        if test is not None and ctx.recent(test.when, lookback):
            if test.value == "negative":
                return [self.finding(f"{label} {test.described} (within 12 months): no TB screening reminder "
                                     "(the labels say test before starting).", severity="info", says_rule=False)]
            return [self.finding(f"{label} {test.described} ({test.ref}): repeat or evaluate before starting.",
                                 short=self.summary(), severity="advice")]
        older = f" The latest, {label} {test.described}, is older than 12 months." if test else ""
        return [self.finding(f"No IGRA or tuberculin skin test result from the last 12 months is on record.{older}"
                             f"{_unavailable(ctx)}", short=self.summary(), severity="advice")]


def _hbsag_positive(ctx: Context) -> ObservationResult | None:
    test = ctx.latest("hbsag")
    return test if test is not None and test.value == "positive" else None


def _anti_hbc_positive(ctx: Context) -> ObservationResult | None:
    test = ctx.latest("anti_hbc")
    return test if test is not None and test.value == "positive" else None


@register("hbv_chronic")
class HbvChronic(Recommendation):
    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        if not _advanced(starting):
            return []
        found, test = ctx.of("hbv_chronic"), _hbsag_positive(ctx)
        if found:
            said = f"{found[0].label}{_when(found[0])}"
        elif test is not None:
            said = f"HBsAg {test.described} ({test.ref})"
        else:
            return []
        return [self.finding(f"{said} is on record.", short=self.summary(), severity="warning")]


@register("hbv_past_infection")
class HbvPastInfection(Recommendation):
    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        if not _advanced(starting) or ctx.has("hbv_chronic") or _hbsag_positive(ctx):
            return []
        found, test = ctx.of("hbv_past"), _anti_hbc_positive(ctx)
        if not found and test is None:
            return []
        said = f"anti-HBc {test.described} ({test.ref})" if test else f"{found[0].label}{_when(found[0])}"
        hbsag = ctx.latest("hbsag")
        if hbsag is None:
            said += "; no HBsAg result on record: test it"
        else:
            said += f"; HBsAg {hbsag.described}"
        return [self.finding(f"{said}.", short=self.summary(), severity="advice")]


@register("hbv_screening")
class HbvScreening(Recommendation):
    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        if not _advanced(starting) or ctx.has("hbv_chronic", "hbv_past") or _hbsag_positive(ctx) \
                or _anti_hbc_positive(ctx):
            return []
        lookback = ctx.kb.settings.screening_lookback_days
        recent = {kind: test for kind in ("hbsag", "anti_hbc")
                  if (test := ctx.latest(kind)) is not None and ctx.recent(test.when, lookback)}
        names = {"hbsag": "HBsAg", "anti_hbc": "anti-HBc"}
        done = [f"{names[k]} {t.described}" for k, t in recent.items()]
        if len(recent) == 2 and all(t.value == "negative" for t in recent.values()):
            return [self.finding(f"{' and '.join(done)} (within 12 months): no hepatitis B screening reminder.",
                                 severity="info", says_rule=False)]
        missing = [names[k] for k in names if k not in recent or recent[k].value != "negative"]
        have = f" ({'; '.join(done)})" if done else ""
        return [self.finding(f"No negative {' or '.join(missing)} result from the last 12 months is on record{have}."
                             f"{_unavailable(ctx)}", short=self.summary(), severity="advice")]


@register("hepatitis_c_caution")
class HepatitisCCaution(Recommendation):
    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        found = ctx.of("hepatitis_c")
        if not found or not _advanced(starting):
            return []
        return [self.finding(f"{found[0].label}{_when(found[0])} is on record.", short=self.summary(),
                             severity="advice")]


@register("recent_serious_infection")
class RecentSeriousInfection(Recommendation):
    def cautions(self, ctx: Context, ordered: Drug, starting: Sequence[Drug]) -> list[Finding]:
        if not _advanced(starting) or ctx.has("serious_infection"):
            return []  # an active serious infection is a hold, said on its own card
        days = ctx.kb.settings.recent_infection_days
        said, undated = [], []
        for f in ctx.of("recent_serious_infection"):
            if ctx.recent(f.last_date, days):
                said.append(f"{f.label} ({f.ref}, resolved or last recorded {f.last_date})")
            elif f.last_date is None:
                undated.append(f"{f.label} ({f.ref}, date not recorded)")
        minor = []
        for c in ctx.courses:
            if c.stop_reason != INFECTION or c.family not in GROUP_OF_FAMILY:
                continue
            kind = "a serious infection" if c.serious else "an infection (not recorded as serious)"
            line = f"{c.drug_name} was stopped for {kind}{(' on ' + str(c.end)) if c.end else ''}: " \
                   f"not a failure of {c.drug_name}."
            if not c.serious:
                minor.append(line)
            elif ctx.recent(c.end, days):
                said.append(line)
            elif c.end is None:
                undated.append(line)
        if said:
            return [self.finding(" ".join(s if s.endswith(".") else s + "." for s in said + undated),
                                 short=self.summary(), severity="warning")]
        if undated:
            return [self.finding(" ".join(s if s.endswith(".") else s + "." for s in undated),
                                 short=self.summary("undated"), severity="advice")]
        if minor:
            return [self.finding(" ".join(minor), severity="info", says_rule=False)]
        return []
