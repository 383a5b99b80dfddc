"""Why a drug stopped: the stop-reason classifier.

Everything clinical (categories, phrases, codes, precedence, thresholds, the examples table) is data in
``knowledge/stop_reasons.toml``, validated here by pydantic models that refuse unknown keys and check that every
name refers to something declared. The file's header explains the reading step by step; this module is those steps:

1. :func:`_words` turns a text into words and break marks (rewrites abbreviations, splits contractions);
   :meth:`Classifier._spellings` adds the phrase word one typing error away from an unknown word.
2. :meth:`Classifier._read` finds every phrase, cue and drug mention, numbers the clauses and segments and drops a
   phrase that lies inside a longer one.
3. :meth:`Classifier._statements` keeps the phrases that survive the scope rules (:meth:`Classifier._counts`:
   negation and hypothetical cues, another drug, an indication marker), with their link and serious markers.
4. :meth:`Classifier._resolve` gives each its category (drug family, link to the drug, course length).
5. :meth:`Classifier.classify` lets the first group in the precedence order decide; codings take part through the
   group their code maps to.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DATA_FILE = Path(__file__).with_name("knowledge") / "stop_reasons.toml"
DRUG = "{drug}"  # placeholder: this drug (its names, its class words, or a generic drug word)
NUMBER = "{n}"  # placeholder: a number
# Categories the reading itself needs (the course-length rules of ACR 2019 Table 1; no reason); the schema checks them.
PRIMARY_WORDING = "primary-nonresponse"  # the only category whose reading depends on the course length
TOO_EARLY = "inadequate-trial"
LOST_RESPONSE = "secondary-nonresponse"
NO_REASON = "unknown"
SOFT = frozenset({",", ":", "-", "(", ")"})  # end a segment (":" and "-" do not stop a post-negation cue)
HARD = frozenset({";", ".", "!", "?"})  # end a clause

# ----------------------------------------------------------------------------------------------- the schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HistorySettings(_Strict):
    adequate_trial_weeks: int = Field(gt=0)
    long_course_weeks: int = Field(gt=0)
    merge_gap_days: int = Field(ge=0)


class CategoryDef(_Strict):
    description: str
    can_be_serious: bool = False  # an adverse event or infection: Reading.serious may be set


class Precedence(_Strict):
    order: list[str]


class Group(_Strict):
    category: str
    phrases: list[str] = []
    families: list[str] = []
    outside_families: str | None = None
    linked_category: str | None = None
    timing: Literal["any", "trial", "course"] = "any"
    serious: bool = False
    states_a_reason: bool = True

    @model_validator(mode="after")
    def _timing_reads_efficacy(self) -> Group:
        if self.timing != "any" and self.category != PRIMARY_WORDING:
            raise ValueError("timing applies to primary-nonresponse groups only")
        return self


class Words(_Strict):
    drug_words: list[str]
    class_words: dict[str, list[str]]
    rewrite: dict[str, str]
    duration_units: dict[str, float]


class Scope(_Strict):
    window: int = Field(gt=0)
    post_window: int = Field(gt=0)
    switch_window: int = Field(gt=0)
    negation_before: list[str]
    hypothetical_before: list[str]
    negation_after: list[str]
    scope_end: list[str]
    contrast: list[str]
    switch_cues: list[str]
    subject_cues: list[str]
    indication_markers: list[str]
    link_phrases: list[str]
    prior_response: list[str]
    serious_markers: list[str]
    not_serious: list[str]


class Typos(_Strict):
    min_length: int = Field(ge=4)
    max_edits: Literal[1]
    not_typos: list[str]


class CodeEntry(_Strict):
    group: str
    display: str
    unverified: bool = False


class CodeSystemDef(_Strict):
    name: str
    uris: list[str] = Field(min_length=1)
    unverified_uris: list[str] = []
    case_sensitive: bool = True
    source: str
    codes: dict[str, CodeEntry]


class Example(_Strict):
    text: str = ""
    system: str | None = None
    code: str | None = None
    expect: str
    weeks: float | None = None
    drug: str = "adalimumab"
    serious: bool | None = None
    why: str = ""

    @model_validator(mode="after")
    def _one_reason(self) -> Example:
        if (self.code is None) != (self.system is None):
            raise ValueError("an example's code needs its system (system = '' for none)")
        return self


class Examples(_Strict):
    cases: list[Example]


class StopReasonData(_Strict):
    """The whole of stop_reasons.toml; a misspelt key or name fails here, at load."""

    history: HistorySettings
    categories: dict[str, CategoryDef]
    precedence: Precedence
    groups: dict[str, Group]
    words: Words
    scope: Scope
    typos: Typos
    code_systems: dict[str, CodeSystemDef]
    examples: Examples

    @model_validator(mode="after")
    def _names_resolve(self) -> StopReasonData:
        cats, groups = set(self.categories), set(self.groups)
        problems: list[str] = []
        for name, g in self.groups.items():
            for field_name in ("category", "linked_category", "outside_families"):
                value = getattr(g, field_name)
                if value is not None and value not in cats:
                    problems.append(f"groups.{name}.{field_name}: unknown category {value!r}")
            for family in g.families:
                if family not in self.words.class_words:
                    problems.append(f"groups.{name}.families: unknown family {family!r}")
        order = self.precedence.order
        if len(order) != len(set(order)) or set(order) != groups:
            problems.append(f"precedence.order must name every group exactly once (missing"
                            f" {sorted(groups - set(order))}, unknown {sorted(set(order) - groups)})")
        for sname, system in self.code_systems.items():
            for code, entry in system.codes.items():
                if entry.group not in groups:
                    problems.append(f"code_systems.{sname}.codes.{code}: unknown group {entry.group!r}")
        for name in (PRIMARY_WORDING, TOO_EARLY, LOST_RESPONSE, NO_REASON):
            if name not in cats:
                problems.append(f"categories: {name!r} is required (course-length rules, no reason)")
        local = self.code_systems.get("local")
        if local is None or not cats <= set(local.codes):
            problems.append("code_systems.local must have one code per category")
        for i, ex in enumerate(self.examples.cases):
            if ex.expect not in cats:
                problems.append(f"examples.cases[{i}]: unknown category {ex.expect!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


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


# ---------------------------------------------------------------------------------------------- words

_TOKEN = re.compile(r"\d+/\d+|[a-z]+(?:['/][a-z]+)*|\d+(?:\.\d+)?|[;.!?,:()]|(?<=\s)-(?=\s)")


def _words(text: str, rewrite: dict[str, tuple[str, ...]]) -> list[str]:
    """Lower-case words and break marks; abbreviations rewritten, contractions split ("didn't" -> "did not")."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    text = re.sub(r"[\u2013\u2014]", " - ", text)
    text = re.sub(r"(?<=[a-z0-9])-(?=[a-z0-9])", " ", text)  # a hyphen inside a word splits it
    out: list[str] = []
    for tok in _TOKEN.findall(text):
        if tok in rewrite:
            out.extend(rewrite[tok])
        elif "'" in tok:
            if tok.endswith("n't"):
                out.extend((tok[:-3], "not"))
            else:
                out.append(tok.split("'")[0] if tok.endswith("'s") else tok.replace("'", ""))
        elif "/" in tok:
            out.extend(w for part in tok.split("/") for w in rewrite.get(part, (part,)))
        else:
            out.append(tok)
    return out


def _one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by exactly one insertion, deletion, substitution or swap of neighbours."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]


# --------------------------------------------------------------------------------------- compiled phrases


@dataclass(frozen=True, slots=True)
class _Phrase:
    words: tuple[str, ...]
    kind: str  # "group" | a marker list | a cue list
    name: str  # the group, or the marker/cue list


@dataclass(slots=True)
class _Hit:
    phrase: _Phrase
    start: int
    end: int  # exclusive


@dataclass(slots=True)
class _Text:
    """One record text as read: words, where clauses and segments break, phrase hits, cues and drug mentions."""

    words: list[str]
    clause: list[int]
    segment: list[int]
    hits: list[_Hit] = field(default_factory=list)
    cues: list[_Hit] = field(default_factory=list)
    this_drug: list[tuple[int, int]] = field(default_factory=list)
    other_drug: list[tuple[int, int]] = field(default_factory=list)
    weeks: float | None = None  # the longest duration the text states


@dataclass(frozen=True, slots=True)
class _Said:
    """One phrase a text affirms, with what its context adds."""

    group: str
    linked: bool  # a link phrase ties it to the drug (for group disease)
    prior_response: bool  # the text says the drug had worked
    serious_marker: bool  # a serious marker stands in its clause
    weeks: float | None  # the longest duration the text states


_CUE_KINDS = ("negation_before", "hypothetical_before", "negation_after", "scope_end", "switch_cues", "subject_cues")
_MARKER_KINDS = ("indication_markers", "link_phrases", "prior_response", "serious_markers", "not_serious")


class Classifier:
    """stop_reasons.toml compiled once; :meth:`classify` reads one course's stop reason."""

    def __init__(self, data: StopReasonData, drug_names: dict[str, str], drug_family: dict[str, str]) -> None:
        self.data = data
        self.rank = {g: i for i, g in enumerate(data.precedence.order)}
        self._rewrite = {k: tuple(v.split()) for k, v in data.words.rewrite.items()}
        self._units = dict(data.words.duration_units)
        self._contrast = frozenset(data.scope.contrast)
        phrases = self._compile_phrases()
        self._index: dict[str, list[_Phrase]] = {}  # first word -> phrases
        for p in phrases:
            self._index.setdefault(p.words[0], []).append(p)
        self._mentions = self._compile_mentions(drug_names, drug_family)
        vocab = {word for p in phrases for word in p.words if word not in (DRUG, NUMBER)}
        mentioned = {word for ms in self._mentions.values() for m, _ in ms for word in m}
        rewritten = {word for v in self._rewrite.values() for word in v}
        self._known = frozenset(vocab | mentioned | rewritten | set(data.typos.not_typos))  # never "corrected"
        self._by_initial: dict[str, list[str]] = {}  # typo targets (a deleted letter allows one letter shorter)
        for word in vocab:
            if len(word) >= data.typos.min_length - 1 and word.isalpha():
                self._by_initial.setdefault(word[0], []).append(word)
        self._codes, self._case_insensitive = self._compile_codes()

    # ------------------------------------------------------------------------------------- compiling

    def _compile_phrases(self) -> list[_Phrase]:
        phrases = [self._phrase(p, "group", name) for name, g in self.data.groups.items() for p in g.phrases]
        for kind in _CUE_KINDS + _MARKER_KINDS:
            phrases += [self._phrase(p, kind, kind) for p in getattr(self.data.scope, kind)]
        return phrases + [self._phrase(p, "drug_word", "drug_word") for p in self.data.words.drug_words]

    def _compile_mentions(self, drug_names: dict[str, str], drug_family: dict[str, str]
                          ) -> dict[str, list[tuple[tuple[str, ...], tuple[str, str]]]]:
        """First word -> (words, (family, drug key)) for every drug name, and (family, "") for every class word."""
        named = [(n, (drug_family.get(k, ""), k)) for n, k in drug_names.items()]
        named += [(n, (family, "")) for family, names in self.data.words.class_words.items() for n in names]
        mentions: dict[str, list[tuple[tuple[str, ...], tuple[str, str]]]] = {}
        for name, tag in named:
            words = tuple(_words(name, self._rewrite))
            if words:
                mentions.setdefault(words[0], []).append((words, tag))
        return mentions

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

    def _phrase(self, text: str, kind: str, name: str) -> _Phrase:
        words: list[str] = []
        for part in text.split():
            words += [part] if part in (DRUG, NUMBER) else _words(part, self._rewrite)
        if not words or any(word in SOFT or word in HARD for word in words):
            raise ValueError(f"stop_reasons.toml: phrase {text!r} ({name}) has no words or contains a break")
        return _Phrase(tuple(words), kind, name)

    @staticmethod
    def _uri(uri: str) -> str:
        return uri.strip().rstrip("/").lower()

    # ------------------------------------------------------------------------------------- reading

    @lru_cache(maxsize=4096)  # noqa: B019 - one classifier per process; words repeat across records
    def _spellings(self, word: str) -> frozenset[str]:
        """The word itself, or (an unknown word of min_length+ letters) the phrase words one typing error away."""
        if word in self._known or len(word) < self.data.typos.min_length or not word.isalpha():
            return frozenset((word,))
        near = [v for v in self._by_initial.get(word[0], ()) if _one_edit(word, v)]
        return frozenset((word, *near))

    def _read(self, source: str, drug: str, family: str) -> _Text:
        """Words, clause and segment numbers, drug mentions, phrase hits (longest) and the cues that stay free."""
        words: list[str] = []
        clause: list[int] = []
        segment: list[int] = []
        c = s = 0
        for word in _words(source, self._rewrite):
            if word in HARD or word in self._contrast:
                c, s, word = c + 1, s + 1, ";"
            elif word in SOFT:
                s += 1
            words.append(word)
            clause.append(c)
            segment.append(s)
        t = _Text(words, clause, segment)
        spell = [frozenset((w,)) if w in SOFT or w == ";" else self._spellings(w) for w in words]
        for i, word in enumerate(words):
            for name, (family_of, key) in self._mentions.get(word, ()):
                if tuple(words[i:i + len(name)]) == name:
                    mine = key == drug if key else family_of == family
                    (t.this_drug if mine else t.other_drug).append((i, i + len(name)))
        # where {drug} can stand: this drug's names and class words, then the generic drug words
        drug_at: dict[int, set[int]] = {}
        for start, end in t.this_drug:
            drug_at.setdefault(start, set()).add(end)
        for i in range(len(words)):
            for p in self._candidates(i, spell):
                if p.kind == "drug_word":
                    for end in self._match(p.words, i, spell, drug_at):
                        drug_at.setdefault(i, set()).add(end)
        found = [_Hit(p, i, end) for i in range(len(words)) for p in self._candidates(i, spell)
                 if p.kind != "drug_word" for end in self._match(p.words, i, spell, drug_at)]
        t.hits = _longest([h for h in found if h.phrase.kind == "group" or h.phrase.kind in _MARKER_KINDS])
        cues = _longest([h for h in found if h.phrase.kind in _CUE_KINDS])
        # a cue inside a phrase belongs to it ("not effective", "no relief"): it negates nothing else
        t.cues = [q for q in cues if not any(h.start <= q.start and q.end <= h.end for h in t.hits)]
        t.weeks = self._weeks(words)
        return t

    def _candidates(self, i: int, spell: list[frozenset[str]]) -> Iterable[_Phrase]:
        """Phrases that may start at word ``i``: indexed by any spelling of it, or starting with {drug}."""
        for first in spell[i]:
            yield from self._index.get(first, ())
        yield from self._index.get(DRUG, ())

    def _match(self, pattern: tuple[str, ...], i: int, spell: list[frozenset[str]],
               drug_at: dict[int, set[int]]) -> Iterable[int]:
        """End positions where ``pattern`` matches the words from position ``i``."""
        if not pattern:
            yield i
            return
        if i >= len(spell):
            return
        head, rest = pattern[0], pattern[1:]
        if head == DRUG:
            for end in drug_at.get(i, ()):
                yield from self._match(rest, end, spell, drug_at)
        elif head == NUMBER:
            if next(iter(spell[i])).replace(".", "", 1).isdigit():
                yield from self._match(rest, i + 1, spell, drug_at)
        elif head in spell[i]:
            yield from self._match(rest, i + 1, spell, drug_at)

    def _weeks(self, words: list[str]) -> float | None:
        found = [float(words[i]) * self._units[words[i + 1]] for i in range(len(words) - 1)
                 if words[i + 1] in self._units and words[i].replace(".", "", 1).isdigit()]
        return max(found) if found else None

    # ------------------------------------------------------------------------------------- scope

    def _negated(self, t: _Text, h: _Hit) -> bool:
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

    def _about_other_drug(self, t: _Text, h: _Hit) -> bool:
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

    def _markers(self, t: _Text, kind: str, h: _Hit) -> list[_Hit]:
        """Affirmed markers of ``kind`` in the hit's clause."""
        return [m for m in t.hits if m.phrase.kind == kind and t.clause[m.start] == t.clause[h.start]
                and not self._negated(t, m)]

    def _counts(self, t: _Text, h: _Hit) -> bool:
        """Not negated, not about another drug, and no indication marker earlier in its clause."""
        if self._negated(t, h) or self._about_other_drug(t, h):
            return False
        return not any(t.segment[m.start] <= t.segment[h.start] for m in self._markers(t, "indication_markers", h))

    @lru_cache(maxsize=8192)  # noqa: B019 - one classifier per process; record texts repeat
    def _statements(self, source: str, drug: str, family: str) -> tuple[_Said, ...]:
        """What one text says, in order: each phrase hit that survives the scope rules, with its context."""
        t = self._read(source, drug, family)
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


def _longest(hits: list[_Hit]) -> list[_Hit]:
    """Drop a hit that lies strictly inside a longer hit ("reaction" inside "injection site reaction")."""
    return [h for h in hits if not any(o.start <= h.start and h.end <= o.end and o.end - o.start > h.end - h.start
                                       for o in hits)]


# ---------------------------------------------------------------------------------------------- loading


def load_data(path: Path = DATA_FILE) -> StopReasonData:
    """stop_reasons.toml parsed and validated (raises on an unknown key, category, group or family)."""
    with path.open("rb") as fh:
        return StopReasonData.model_validate(tomllib.load(fh))


@lru_cache(maxsize=1)
def stop_reason_data() -> StopReasonData:
    return load_data()


@lru_cache(maxsize=4)
def classifier(drug_names: tuple[tuple[str, str], ...], drug_family: tuple[tuple[str, str], ...]) -> Classifier:
    """The compiled classifier for a drug vocabulary (knowledge's names -> keys, keys -> families); built once."""
    return Classifier(stop_reason_data(), dict(drug_names), dict(drug_family))
