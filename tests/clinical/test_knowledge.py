"""The knowledge files as reviewable data: a schema that refuses typos, one implementation per rules.toml id (and no
implementation without one), every citation a clinician reads taken from rules.toml, and the source attributes an
ONC HTI-1 document will need."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from hooks.knowledge import KNOWLEDGE_DIR, knowledge
from hooks.rules import REGISTRY, Rulebook
from hooks.rules.base import RulesOut
from hooks.schema import (
    ConditionsFile,
    DrugsFile,
    KnowledgeError,
    ObservationsFile,
    RulesFile,
    validate,
)

HOOKS = Path(__file__).resolve().parents[2] / "hooks"
CITATION = re.compile(r"(ACR\s*20\d\d|ASAS|EULAR|NICE\s*TA|FDA\s*20|EMA\s*20)[^\"']*#?\d*")


def raw(name: str) -> dict:
    return tomllib.loads((KNOWLEDGE_DIR / name).read_text())


def test_every_rules_toml_id_has_an_implementation_and_every_implementation_an_id():
    kb = knowledge()
    assert set(REGISTRY) == set(kb.rules), (sorted(set(kb.rules) - set(REGISTRY)), sorted(set(REGISTRY) - set(kb.rules)))
    assert [u.rule.id for u in Rulebook(kb).units] == list(kb.precedence)


def test_a_plan_asks_each_drug_every_excluding_rule_except_those_that_name_other_drugs():
    kb = knowledge()
    book = Rulebook(kb)
    asked = {key: {u.rule.id for u in units} for key, units in book.excluding_drug.items()}
    assert set(asked) == set(kb.drugs)
    # the rules every drug is asked: the allergen, the failed molecule, its biosimilar, a drug tried before
    for rule_id in ("never_allergen", "never_failed_molecule", "previously_tried"):
        assert all(rule_id in ids for ids in asked.values()), rule_id
    assert "ibd_tnf_mab_no_il17" in asked["secukinumab"] and "ibd_tnf_mab_no_il17" in asked["etanercept"]
    assert "ibd_tnf_mab_no_il17" not in asked["adalimumab"]  # IBD favours it: that rule never rules it out
    assert "jak_boxed_warning" in asked["upadacitinib"] and "jak_boxed_warning" not in asked["adalimumab"]
    assert "hf_demyelinating_no_tnfi" in asked["golimumab"] and "hf_demyelinating_no_tnfi" not in asked["ixekizumab"]
    everything = {u.rule.id for u in book.excluding}
    for key, drug in kb.drugs.items():  # a rule is skipped only when its own rules_out says the drug is not its
        for unit in book.excluding:
            if unit.rule.id not in asked[key]:
                assert type(unit).excludes is RulesOut.excludes and not unit.rules_out(drug), (key, unit.rule.id)
    assert max(len(ids) for ids in asked.values()) < len(everything)


def test_a_rules_toml_id_without_an_implementation_is_refused_at_start():
    kb = knowledge()
    extra = dict(kb.rules)
    extra["made_up_rule"] = kb.rule("tnfi_first")
    from dataclasses import replace
    with pytest.raises(KnowledgeError, match="made_up_rule"):
        Rulebook(replace(kb, rules=extra, precedence=(*kb.precedence, "made_up_rule")))


def test_one_rule_class_serves_several_ids_only_through_attributes_it_declares():
    from hooks.rules.base import Recommendation, register

    holds = {rid: REGISTRY[rid] for rid in ("active_tb_hold", "active_infection_hold")}
    assert {rid: (cls.value_set, cls.id) for rid, cls in holds.items()} == {
        "active_tb_hold": ("active_tb", "active_tb_hold"),
        "active_infection_hold": ("serious_infection", "active_infection_hold"),
    }

    class Loose(Recommendation):
        pass

    with pytest.raises(TypeError, match=r"declares no \['value_set'\]"):
        register("a_made_up_hold", value_set="active_tb")(Loose)
    with pytest.raises(ValueError, match="implemented twice"):
        register("tnfi_first")(Loose)
    assert "a_made_up_hold" not in REGISTRY


@pytest.mark.parametrize(("file", "model"), [("drugs.toml", DrugsFile), ("conditions.toml", ConditionsFile),
                                             ("observations.toml", ObservationsFile), ("rules.toml", RulesFile)])
def test_the_committed_knowledge_files_follow_their_schema(file, model):
    validate(model, raw(file), file)


def test_a_typo_in_a_drug_is_refused_naming_the_file_and_the_key():
    data = raw("drugs.toml")
    data["drugs"]["upadacitinib"]["fda_nraxpsa"] = True
    with pytest.raises(KnowledgeError, match=r"drugs.toml: drugs\.upadacitinib\.fda_nraxpsa"):
        validate(DrugsFile, data, "drugs.toml")


def test_a_typo_in_a_rule_is_refused_naming_the_file_and_the_key():
    data = raw("rules.toml")
    data["rules"]["tnfi_first"]["stength"] = "strong"
    with pytest.raises(KnowledgeError, match=r"rules.toml: rules\.tnfi_first\.stength"):
        validate(RulesFile, data, "rules.toml")


def test_an_unknown_data_element_or_an_unlisted_source_is_refused():
    data = raw("rules.toml")
    data["rules"]["tnfi_first"]["data_elements"] = ["medications", "blood type"]
    with pytest.raises(KnowledgeError, match="data_elements"):
        validate(RulesFile, data, "rules.toml")
    data = raw("rules.toml")
    data["rules"]["tnfi_first"]["sources"] = ["acr2019", "acr2031"]
    with pytest.raises(KnowledgeError, match="acr2031"):
        validate(RulesFile, data, "rules.toml")


@pytest.mark.parametrize(("setting", "value", "problem"), [
    ("nsaid_avoid_weeks", 0, "nsaid_avoid_weeks"),
    ("nsaid_stop_weeks", 60, "nsaid_stop_weeks"),  # beyond any pregnancy
    ("third_trimester_weeks", -28, "third_trimester_weeks"),
    ("jak_age", -65, "jak_age"),
    ("first_line_nsaids", -1, "first_line_nsaids"),
    ("nsaid_stop_weeks", 18, "before nsaid_avoid_weeks"),  # FDA 2020: avoid from 20 weeks, stop from 30
    ("jak_age_with_cv_risk", 70, "below jak_age_with_cv_risk"),  # the age with a CV risk factor is the lower one
])
def test_a_setting_out_of_its_range_or_order_is_refused(setting, value, problem):
    data = raw("rules.toml")
    data["settings"][setting] = value
    with pytest.raises(KnowledgeError, match=problem):
        validate(RulesFile, data, "rules.toml")


def test_precedence_lists_every_rule_exactly_once():
    data = raw("rules.toml")
    data["precedence"] = data["precedence"][1:]
    with pytest.raises(KnowledgeError, match="precedence"):
        validate(RulesFile, data, "rules.toml")


def test_a_condition_code_list_typo_is_refused():
    data = raw("conditions.toml")
    data["ibd"]["snomed_unverifed"] = ["1"]
    with pytest.raises(KnowledgeError, match=r"conditions.toml: ibd\.snomed_unverifed"):
        validate(ConditionsFile, data, "conditions.toml")


def test_every_source_carries_what_an_hti1_source_attribute_document_needs():
    data = validate(RulesFile, raw("rules.toml"), "rules.toml")
    for key, source in data.sources.items():
        assert source.label and source.citation and source.developer and source.funding and source.published, key
        assert source.url.startswith("https://"), key
        if source.doi:
            assert source.url == f"https://doi.org/{source.doi}", key
    for rid, rule in data.rules.items():
        assert rule.title and rule.citation and rule.strength and rule.text and rule.data_elements, rid
        assert rule.released <= rule.revised, rid


def test_no_citation_is_written_in_python():
    """Every citation string a clinician reads comes from rules.toml: no string literal in hooks/ names one."""
    offenders = []
    for path in sorted(HOOKS.rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if CITATION.search(node.value):
                    offenders.append(f"{path.relative_to(HOOKS.parent)}:{node.lineno}: {node.value[:60]!r}")
    assert not offenders, "citations hard-coded in Python:\n" + "\n".join(offenders)


def test_the_knowledge_files_cite_publications_not_a_path_outside_the_repository():
    for path in sorted(KNOWLEDGE_DIR.glob("*.toml")):
        text = path.read_text()
        assert "/work/" not in text and "shared/reference" not in text, path.name


def test_drug_warnings_and_unverified_fields_are_shown_in_the_card():
    from axspa_builders import hook_input, statement

    from hooks.engine import evaluate

    kb = knowledge()
    assert kb.drugs["bimekizumab"].warnings and "rxnorm_ingredient" in kb.drugs["upadacitinib"].unverified
    sec = statement("secukinumab", start="2024-01-01", end="2024-09-01", reason="not effective")
    [card] = evaluate(hook_input("upadacitinib", statements=[sec])).cards
    assert "Upadacitinib: RxNorm ingredient code" in (card.detail or "")
