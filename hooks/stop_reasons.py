"""Why a drug stopped: the stop-reason classifier.

Everything clinical (categories, phrases, codes, precedence, thresholds, the examples table) is data in
``knowledge/stop_reasons.toml``, validated by :mod:`hooks.stop_reason_data`. The file's header explains the reading
step by step; the steps are:

1. :func:`hooks.stop_reason_text.split_words` turns a text into words and break marks (rewrites abbreviations, splits
   contractions); a word one typing error away from a phrase word counts as that word.
2. :meth:`hooks.stop_reason_text.PhraseReader.read` finds every phrase, cue and drug mention, numbers the clauses and
   segments and drops a phrase that lies inside a longer one.
3. :meth:`Classifier._statements` keeps the phrases that survive the scope rules (:meth:`Classifier._counts`:
   negation and hypothetical cues, another drug, an indication marker), with their link and serious markers.
4. :meth:`Classifier._resolve` gives each its category (drug family, link to the drug, course length).
5. :meth:`Classifier.classify` lets the first group in the precedence order decide; codings take part through the
   group their code maps to.

Steps 3 to 5 are this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from hooks.stop_reason_data import LOST_RESPONSE, NO_REASON, TOO_EARLY, CodeEntry, StopReasonData, stop_reason_data
from hooks.stop_reason_text import Hit, PhraseReader, Text

# -------------------------------------------------------------------------------------------- the results


@dataclass(frozen=True, slots=True)
class Coding:
    """One coding of a stop reason, kept with its system (a code counts only under its own system)."""

    system: str
    code: str
    display: str = ""


@dataclass(frozen=True, slots=True)
class Reading:
    """What the record says about why a course stopped."""

    category: str | None  # None: the record states no usable reason
    evidence: tuple[str, ...] = ()  # the record text (or coding) that decided, and how the course length was read
    serious: bool = False
    group: str | None = None  # the group that decided (for review and tests)


@dataclass(frozen=True, slots=True)
class _Said:
    """One phrase a text affirms, with what its context adds."""

    group: str
    linked: bool  # a link phrase ties it to the drug (for group disease)
    prior_response: bool  # the text says the drug had worked
    serious_marker: bool  # a serious marker stands in its clause
    weeks: float | None  # the longest duration the text states


class Classifier:
    """stop_reasons.toml compiled once; :meth:`classify` reads one course's stop reason."""

    def __init__(self, data: StopReasonData, drug_names: dict[str, str], drug_family: dict[str, str]) -> None:
        self.data = data
        self.rank = {g: i for i, g in enumerate(data.precedence.order)}
        self._reader = PhraseReader(data, drug_names, drug_family)
        self._codes, self._case_insensitive = self._compile_codes()

    # ------------------------------------------------------------------------------------- codings

    def _compile_codes(self) -> tuple[dict[tuple[str, str], tuple[str, CodeEntry]], frozenset[str]]:
        """(system URI, code) -> (system name, entry), for every verified code under every URI of its system."""
        codes: dict[tuple[str, str], tuple[str, CodeEntry]] = {}
        for system in self.data.code_systems.values():
            for code, entry in system.codes.items():
                if entry.unverified:
                    continue  # kept for review, never read: the display text is read instead
                for uri in system.uris:
                    codes[(self._uri(uri), code if system.case_sensitive else code.lower())] = (system.name, entry)
        insensitive = frozenset(self._uri(u) for s in self.data.code_systems.values() if not s.case_sensitive
                                for u in s.uris)
        return codes, insensitive

    @staticmethod
    def _uri(uri: str) -> str:
        return uri.strip().rstrip("/").lower()

    # ------------------------------------------------------------------------------------- scope

    def _negated(self, t: Text, h: Hit) -> bool:
        """A negation or hypothetical cue starts before the hit in its segment, fewer than `window` words before
        it and with no scope-end word between; or a post-negation cue follows within `post_window` words."""
        scope = self.data.scope
        for q in t.cues:
            kind = q.phrase.kind
            if kind in ("negation_before", "hypothetical_before"):
                if not (q.start < h.start and q.end <= h.end and t.segment[q.start] == t.segment[h.start]):
                    continue
                if h.start - q.end >= scope.window:
                    continue
                if not any(e.phrase.kind == "scope_end" and q.end <= e.start and e.end <= h.start for e in t.cues):
                    return True
            elif kind == "negation_after" and h.end <= q.start < h.end + scope.post_window:
                between = t.words[h.end:q.start]  # ":" and "-" may stand between ("side effects: none")
                if t.clause[q.start] == t.clause[h.start] and not any(w in (",", "(", ")") for w in between):
                    return True
        return False

    def _about_other_drug(self, t: Text, h: Hit) -> bool:
        """The hit's segment names another drug, not as a switch target (a switch cue just before or after the
        name: "switched to Cosentyx", "Cosentyx started"), and does not name this drug. A name followed at once by
        a subject cue ("Enbrel caused a rash") is the subject of the event, whatever cue stands before it."""
        seg = t.segment[h.start]
        if any(t.segment[s] == seg for s, _ in t.this_drug):
            return False
        reach = self.data.scope.switch_window
        for start, end in t.other_drug:
            if t.segment[start] != seg:
                continue
            subject = any(q.phrase.kind == "subject_cues" and q.start == end for q in t.cues)
            switched = not subject and any(
                q.phrase.kind == "switch_cues" and t.segment[q.start] == seg
                and (q.end <= start < q.end + reach or end <= q.start < end + reach) for q in t.cues)
            if not switched:
                return True
        return False

    def _markers(self, t: Text, kind: str, h: Hit) -> list[Hit]:
        """Affirmed markers of ``kind`` in the hit's clause."""
        return [m for m in t.hits if m.phrase.kind == kind and t.clause[m.start] == t.clause[h.start]
                and not self._negated(t, m)]

    def _counts(self, t: Text, h: Hit) -> bool:
        """Not negated, not about another drug, and no indication marker earlier in its clause."""
        if self._negated(t, h) or self._about_other_drug(t, h):
            return False
        return not any(t.segment[m.start] <= t.segment[h.start] for m in self._markers(t, "indication_markers", h))

    @lru_cache(maxsize=8192)  # noqa: B019 - one classifier per process; record texts repeat
    def _statements(self, source: str, drug: str, family: str) -> tuple[_Said, ...]:
        """What one text says, in order: each phrase hit that survives the scope rules, with its context."""
        t = self._reader.read(source, drug, family)
        prior = any(m.phrase.kind == "prior_response" and not self._negated(t, m) for m in t.hits)
        out: list[_Said] = []
        for h in t.hits:
            if h.phrase.kind != "group" or not self._counts(t, h):
                continue
            linked = bool(self.data.groups[h.phrase.name].linked_category and self._markers(t, "link_phrases", h))
            out.append(_Said(h.phrase.name, linked, prior, bool(self._markers(t, "serious_markers", h)), t.weeks))
        return tuple(out)

    # ------------------------------------------------------------------------------------- resolution

    def _resolve(self, group_name: str, family: str, advanced: bool, weeks: float | None,
                 linked: bool, prior_response: bool) -> tuple[str, str] | None:
        """(category, how the course length was read) for a surviving hit of ``group_name``; None: dropped."""
        g = self.data.groups[group_name]
        settings = self.data.history
        if g.families and family not in g.families:
            if g.outside_families is None:
                return None
            return g.outside_families, ""
        if linked and g.linked_category:
            return g.linked_category, ""
        if g.timing == "any":
            return g.category, ""
        if g.timing == "course" and prior_response:
            return LOST_RESPONSE, "an earlier response is recorded: read as lost response"
        if not advanced:
            return g.category, ""  # the trial lengths are those of b/tsDMARD response assessment
        if weeks is None:
            return g.category, "trial length unknown"
        if weeks < settings.adequate_trial_weeks:
            return TOO_EARLY, (f"reported ineffective after {weeks:.0f} weeks"
                                        f" (< {settings.adequate_trial_weeks}: inadequate trial)")
        if g.timing == "course" and weeks > settings.long_course_weeks:
            return LOST_RESPONSE, (f"reported ineffective after {weeks:.0f} weeks"
                                             f" (> {settings.long_course_weeks}: read as lost response)")
        return g.category, ""

    def classify(
        self,
        texts: Sequence[str],
        codings: Sequence[Coding] = (),
        *,
        drug: str,
        family: str,
        advanced: bool,
        duration_days: int | None,
        only: frozenset[str] | None = None,
    ) -> Reading:
        """Read why one course stopped from its stop-reason texts (statusReason, notes) and codings.

        ``only`` restricts the categories (the AllergyIntolerance reactions are read for adverse events only).
        """
        record_weeks = duration_days / 7 if duration_days is not None else None
        candidates: list[tuple[int, int, Reading]] = []  # (precedence rank, order in the record, reading)
        unstated: list[str] = []  # what the record said that states no usable reason

        def consider(group_name: str, label: str, weeks: float | None, linked: bool, prior: bool, marked: bool) -> None:
            resolved = self._resolve(group_name, family, advanced, weeks, linked, prior)
            if resolved is None or (only is not None and resolved[0] not in only):
                return
            category, how = resolved
            group = self.data.groups[group_name]
            if category == NO_REASON and not group.states_a_reason:
                unstated.append(label)
                return
            serious = self.data.categories[category].can_be_serious and (group.serious or marked)
            reading = Reading(category, (label, how) if how else (label,), serious, group_name)
            candidates.append((self.rank[group_name], len(candidates), reading))

        for source in dict.fromkeys(t for t in texts if t and t.strip()):
            for said in self._statements(source, drug, family):
                stated = [x for x in (record_weeks, said.weeks) if x is not None]
                consider(said.group, source, max(stated) if stated else None, said.linked, said.prior_response,
                         said.serious_marker)
        for coding in codings:
            hit = self._code(coding)
            if hit is not None:
                system_name, entry = hit
                label = f"{coding.display or entry.display} ({system_name} {coding.code})"
                consider(entry.group, label, record_weeks, False, False, False)
        if not candidates:
            return Reading(None, tuple(dict.fromkeys(unstated)))
        decided = [c for c in candidates if c[2].category != NO_REASON] or candidates
        return min(decided, key=lambda c: (c[0], c[1]))[2]

    def _code(self, coding: Coding) -> tuple[str, CodeEntry] | None:
        uri = self._uri(coding.system)
        code = coding.code.strip()
        if not uri or not code:
            return None
        return self._codes.get((uri, code.lower() if uri in self._case_insensitive else code))


@lru_cache(maxsize=4)
def classifier(drug_names: tuple[tuple[str, str], ...], drug_family: tuple[tuple[str, str], ...]) -> Classifier:
    """The compiled classifier for a drug vocabulary (knowledge's names -> keys, keys -> families); built once."""
    return Classifier(stop_reason_data(), dict(drug_names), dict(drug_family))
