"""Steps 1 and 2 of the stop-reason reading: one record text into words, break marks and phrase hits.

:func:`split_words` turns a text into lower-case words and break marks (abbreviations rewritten, contractions split).
:class:`PhraseReader` compiles the phrases, cues, markers and drug names of stop_reasons.toml once; for one text it
finds every phrase, cue and drug mention (a word one typing error away from a phrase word counts as that word),
numbers the clauses and segments and drops a phrase that lies inside a longer one. What the hits mean (scope,
category, precedence) is :mod:`hooks.stop_reasons`' job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from hooks.stop_reason_data import StopReasonData

DRUG = "{drug}"  # placeholder: this drug (its names, its class words, or a generic drug word)
NUMBER = "{n}"  # placeholder: a number
SOFT = frozenset({",", ":", "-", "(", ")"})  # end a segment (":" and "-" do not stop a post-negation cue)
HARD = frozenset({";", ".", "!", "?"})  # end a clause
CUE_KINDS = ("negation_before", "hypothetical_before", "negation_after", "scope_end", "switch_cues", "subject_cues")
MARKER_KINDS = ("indication_markers", "link_phrases", "prior_response", "serious_markers", "not_serious")

# ---------------------------------------------------------------------------------------------- words

_TOKEN = re.compile(r"\d+/\d+|[a-z]+(?:['/][a-z]+)*|\d+(?:\.\d+)?|[;.!?,:()]|(?<=\s)-(?=\s)")


def split_words(text: str, rewrite: dict[str, tuple[str, ...]]) -> list[str]:
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


def one_edit(a: str, b: str) -> bool:
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


# ----------------------------------------------------------------------------------------- what is found


@dataclass(frozen=True, slots=True)
class Phrase:
    words: tuple[str, ...]
    kind: str  # "group" | a marker list | a cue list
    name: str  # the group, or the marker/cue list


@dataclass(slots=True)
class Hit:
    phrase: Phrase
    start: int
    end: int  # exclusive


@dataclass(slots=True)
class Text:
    """One record text as read: words, where clauses and segments break, phrase hits, cues and drug mentions."""

    words: list[str]
    clause: list[int]
    segment: list[int]
    hits: list[Hit] = field(default_factory=list)
    cues: list[Hit] = field(default_factory=list)
    this_drug: list[tuple[int, int]] = field(default_factory=list)
    other_drug: list[tuple[int, int]] = field(default_factory=list)
    weeks: float | None = None  # the longest duration the text states


def longest(hits: list[Hit]) -> list[Hit]:
    """Drop a hit that lies strictly inside a longer hit ("reaction" inside "injection site reaction")."""
    return [h for h in hits if not any(o.start <= h.start and h.end <= o.end and o.end - o.start > h.end - h.start
                                       for o in hits)]


# ---------------------------------------------------------------------------------------------- the reader


class PhraseReader:
    """The phrases, cues, markers and drug names of stop_reasons.toml compiled once; :meth:`read` reads one text."""

    def __init__(self, data: StopReasonData, drug_names: dict[str, str], drug_family: dict[str, str]) -> None:
        self.data = data
        self.rewrite = {k: tuple(v.split()) for k, v in data.words.rewrite.items()}
        self._units = dict(data.words.duration_units)
        self._contrast = frozenset(data.scope.contrast)
        phrases = self._compile_phrases()
        self._index: dict[str, list[Phrase]] = {}  # first word -> phrases
        for p in phrases:
            self._index.setdefault(p.words[0], []).append(p)
        self._mentions = self._compile_mentions(drug_names, drug_family)
        vocab = {word for p in phrases for word in p.words if word not in (DRUG, NUMBER)}
        mentioned = {word for ms in self._mentions.values() for m, _ in ms for word in m}
        rewritten = {word for v in self.rewrite.values() for word in v}
        self._known = frozenset(vocab | mentioned | rewritten | set(data.typos.not_typos))  # never "corrected"
        self._by_initial: dict[str, list[str]] = {}  # typo targets (a deleted letter allows one letter shorter)
        for word in vocab:
            if len(word) >= data.typos.min_length - 1 and word.isalpha():
                self._by_initial.setdefault(word[0], []).append(word)

    # ------------------------------------------------------------------------------------- compiling

    def _compile_phrases(self) -> list[Phrase]:
        phrases = [self._phrase(p, "group", name) for name, g in self.data.groups.items() for p in g.phrases]
        for kind in CUE_KINDS + MARKER_KINDS:
            phrases += [self._phrase(p, kind, kind) for p in getattr(self.data.scope, kind)]
        return phrases + [self._phrase(p, "drug_word", "drug_word") for p in self.data.words.drug_words]

    def _compile_mentions(self, drug_names: dict[str, str], drug_family: dict[str, str]
                          ) -> dict[str, list[tuple[tuple[str, ...], tuple[str, str]]]]:
        """First word -> (words, (family, drug key)) for every drug name, and (family, "") for every class word."""
        named = [(n, (drug_family.get(k, ""), k)) for n, k in drug_names.items()]
        named += [(n, (family, "")) for family, names in self.data.words.class_words.items() for n in names]
        mentions: dict[str, list[tuple[tuple[str, ...], tuple[str, str]]]] = {}
        for name, tag in named:
            words = tuple(split_words(name, self.rewrite))
            if words:
                mentions.setdefault(words[0], []).append((words, tag))
        return mentions

    def _phrase(self, text: str, kind: str, name: str) -> Phrase:
        words: list[str] = []
        for part in text.split():
            words += [part] if part in (DRUG, NUMBER) else split_words(part, self.rewrite)
        if not words or any(word in SOFT or word in HARD for word in words):
            raise ValueError(f"stop_reasons.toml: phrase {text!r} ({name}) has no words or contains a break")
        return Phrase(tuple(words), kind, name)

    # ------------------------------------------------------------------------------------- reading

    @lru_cache(maxsize=4096)  # noqa: B019 - one reader per process; words repeat across records
    def _spellings(self, word: str) -> frozenset[str]:
        """The word itself, or (an unknown word of min_length+ letters) the phrase words one typing error away."""
        if word in self._known or len(word) < self.data.typos.min_length or not word.isalpha():
            return frozenset((word,))
        near = [v for v in self._by_initial.get(word[0], ()) if one_edit(word, v)]
        return frozenset((word, *near))

    def read(self, source: str, drug: str, family: str) -> Text:
        """Words, clause and segment numbers, drug mentions, phrase hits (longest) and the cues that stay free."""
        words: list[str] = []
        clause: list[int] = []
        segment: list[int] = []
        c = s = 0
        for word in split_words(source, self.rewrite):
            if word in HARD or word in self._contrast:
                c, s, word = c + 1, s + 1, ";"
            elif word in SOFT:
                s += 1
            words.append(word)
            clause.append(c)
            segment.append(s)
        t = Text(words, clause, segment)
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
        found = [Hit(p, i, end) for i in range(len(words)) for p in self._candidates(i, spell)
                 if p.kind != "drug_word" for end in self._match(p.words, i, spell, drug_at)]
        t.hits = longest([h for h in found if h.phrase.kind == "group" or h.phrase.kind in MARKER_KINDS])
        cues = longest([h for h in found if h.phrase.kind in CUE_KINDS])
        # a cue inside a phrase belongs to it ("not effective", "no relief"): it negates nothing else
        t.cues = [q for q in cues if not any(h.start <= q.start and q.end <= h.end for h in t.hits)]
        t.weeks = self._weeks(words)
        return t

    def _candidates(self, i: int, spell: list[frozenset[str]]) -> Iterable[Phrase]:
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
