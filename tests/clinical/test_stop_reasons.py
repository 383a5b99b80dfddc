"""The stop-reason classifier against its examples table (hooks/knowledge/stop_reasons.toml), one test per example,
plus the schema's guarantees and a property: no stop that is no failure ever reads as a failure."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hooks.history import CATEGORIES, LABEL_FAILURE, NOT_FAILURE, classify_stop
from hooks.knowledge import knowledge
from hooks.stop_reason_data import DATA_FILE, StopReasonData, load_data, stop_reason_data
from hooks.stop_reasons import Coding

EXAMPLES = stop_reason_data().examples.cases
KB = knowledge()


def _id(i: int, ex) -> str:
    what = ex.text or f"{ex.system or 'no-system'}|{ex.code}"
    slug = re.sub(r"[^a-z0-9]+", "-", what.lower()).strip("-")[:48] or "no-reason"
    weeks = "" if ex.weeks is None else f"-{ex.weeks:g}w"
    return f"{i:03d}-{slug}{weeks}-{ex.drug}"


def _classify(ex, text: str | None = None):
    texts = (text if text is not None else ex.text,)
    codes = (Coding(ex.system or "", ex.code),) if ex.code is not None else ()
    days = round(ex.weeks * 7) if ex.weeks is not None else None
    return classify_stop(KB, ex.drug, tuple(t for t in texts if t), codes, [], days)


@pytest.mark.parametrize("ex", EXAMPLES, ids=[_id(i, ex) for i, ex in enumerate(EXAMPLES)])
def test_example(ex):
    read = _classify(ex)
    assert read.reason == ex.expect, f"{ex.text or ex.code!r} read as {read.reason} ({read.evidence}); {ex.why}"
    if ex.serious is not None:
        assert read.serious is ex.serious


def test_examples_table_has_at_least_150_examples_covering_every_category():
    assert len(EXAMPLES) >= 150
    assert {ex.expect for ex in EXAMPLES} == CATEGORIES


def test_examples_name_known_drugs():
    assert {ex.drug for ex in EXAMPLES} <= set(KB.drugs)


def test_data_categories_are_exactly_the_history_categories():
    assert set(stop_reason_data().categories) == CATEGORIES


def test_every_hl7_status_reason_code_is_mapped_deliberately():
    hl7 = stop_reason_data().code_systems["hl7_medicationrequest_status_reason"].codes
    assert set(hl7) == {"altchoice", "clarif", "drughigh", "hospadm", "labint", "non-avail", "preg", "salg", "sddi",
                        "sdupther", "sintol", "surg", "washout"}
    v3 = stop_reason_data().code_systems["v3_act_reason"].codes
    assert {c.lower() for c in v3} >= set(hl7), "the v3 ActReason forms of the same suspend reasons are mapped too"


def test_every_code_system_names_its_source():
    for name, system in stop_reason_data().code_systems.items():
        assert system.source.strip(), name


def test_coded_reason_evidence_names_the_system_and_code():
    ex = next(e for e in EXAMPLES if e.code == "182872003" and e.system == "http://snomed.info/sct")
    assert _classify(ex).evidence == ("Drug discontinued - too expensive (SNOMED CT 182872003)",)


def test_the_deciding_text_is_the_evidence():
    read = classify_stop(KB, "etanercept", ("Limited pain relief elsewhere", "injection site reaction"), (), [], 50)
    assert read.evidence == ("injection site reaction",)


# ---------------------------------------------------------------------------------------- the schema


def _raw() -> dict:
    with DATA_FILE.open("rb") as fh:
        return tomllib.load(fh)


def _write(tmp_path: Path, raw: dict) -> Path:
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f'"{k}" = {value(x)}' for k, x in v.items()) + "}"
        raise TypeError(v)

    lines = [f'"{k}" = {value(v)}' for k, v in raw.items()]
    path = tmp_path / "stop_reasons.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_the_data_file_loads():
    assert isinstance(load_data(), StopReasonData)


def test_an_unknown_key_fails_at_load(tmp_path):
    raw = _raw()
    raw["groups"]["ae_local"]["phrase"] = ["typo for phrases"]
    with pytest.raises(ValidationError, match="phrase"):
        load_data(_write(tmp_path, raw))


def test_a_misspelt_category_fails_at_load(tmp_path):
    raw = _raw()
    raw["groups"]["access"]["category"] = "cost_access"
    with pytest.raises(ValidationError, match="cost_access"):
        load_data(_write(tmp_path, raw))


def test_a_group_missing_from_the_precedence_fails_at_load(tmp_path):
    raw = _raw()
    raw["precedence"]["order"].remove("remission")
    with pytest.raises(ValidationError, match="remission"):
        load_data(_write(tmp_path, raw))


def test_a_code_mapped_to_an_unknown_group_fails_at_load(tmp_path):
    raw = _raw()
    raw["code_systems"]["snomed"]["codes"]["182872003"]["group"] = "acces"
    with pytest.raises(ValidationError, match="acces"):
        load_data(_write(tmp_path, raw))


# ---------------------------------------------------------------------------------------- the property

NOT_FAILURE_EXAMPLES = [ex for ex in EXAMPLES if ex.expect in NOT_FAILURE and ex.text]
TEXT_EXAMPLES = [ex for ex in EXAMPLES if ex.text]
FILLER = ["patient", "today", "clinic", "visit", "per", "reviewed", "plan", "the", "and", "on", "follow-up",
          "Dr", "Smith", "2024", "x", "q2w", "sc", "noted", "record", "team", "phone", "call", "spoke", "with",
          "family", "at", "home", "letter", "sent", "meds", "list", "updated", "rheum"]


@st.composite
def in_noise(draw, pool):
    """An example, its text in random case between random neutral words."""
    ex = draw(st.sampled_from(pool))
    words = st.lists(st.sampled_from(FILLER), max_size=4).map(" ".join)
    before, after = draw(words), draw(words)
    sep1, sep2 = draw(st.sampled_from([" ", ", ", "; ", ". ", " - "])), draw(st.sampled_from([" ", ", ", "; ", ". "]))
    flips = draw(st.lists(st.booleans(), min_size=1, max_size=64))
    cased = "".join(ch.upper() if flips[i % len(flips)] else ch.lower() for i, ch in enumerate(ex.text))
    return ex, f"{before}{sep1 if before else ''}{cased}{sep2 if after else ''}{after}"


@settings(max_examples=400, deadline=None)
@given(case=in_noise(NOT_FAILURE_EXAMPLES))
def test_a_stop_that_is_no_failure_never_reads_as_a_failure(case):
    ex, text = case
    read = _classify(ex, text)
    assert read.reason not in LABEL_FAILURE, (text, read)


def test_the_property_samples_every_kind_of_stop_that_is_no_failure():
    assert {ex.expect for ex in NOT_FAILURE_EXAMPLES} == NOT_FAILURE


@settings(max_examples=400, deadline=None)
@given(case=in_noise(TEXT_EXAMPLES))
def test_surrounding_words_and_case_never_change_a_reading(case):
    ex, text = case
    assert _classify(ex, text).reason == ex.expect, text
