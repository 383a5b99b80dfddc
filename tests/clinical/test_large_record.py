"""A large, noisy record (1,000 statements, 200 conditions, 50 allergies) is read in full and safely.

Speed is shown by bench/bench.py, not asserted here."""

from __future__ import annotations

from axspa_builders import AS, allergy, condition, hook_input, statement, suggested_drugs

from hooks.engine import evaluate, warm_up

DRUGS = ["etanercept", "adalimumab", "infliximab", "secukinumab", "celecoxib", "naproxen", None]
REASONS = ["Not effective", "lost response", "injection site reaction", None, "cost"]
ICD = ["I10", "E11.9", "K50.90", "L40.0", "J45.909", "M54.5", "Z22.7", "E78.5"]


def big_input(n_meds: int, n_conditions: int, n_allergies: int):
    meds = []
    for i in range(n_meds):
        drug = DRUGS[i % len(DRUGS)]
        text = None if drug else f"lisinopril {i} mg tablet"
        meds.append(statement(drug, text=text, start=f"{2000 + i % 25}-{1 + i % 12:02d}-01",
                              end=f"{2000 + i % 25}-{1 + i % 12:02d}-28", reason=REASONS[i % len(REASONS)],
                              id=f"ms{i}"))
    conds = [AS] + [condition(icd=ICD[i % len(ICD)], text=f"problem {i}", id=f"c{i}") for i in range(n_conditions - 1)]
    allergies = [allergy(["penicillin", "etanercept", "sulfasalazine"][i % 3], id=f"a{i}") for i in range(n_allergies)]
    return hook_input("upadacitinib", statements=meds, conditions=conds, allergies=allergies)


def _suggested(cards) -> set[str]:
    return {drug for card in cards for drug in suggested_drugs(card)}


def test_large_record_keeps_every_safety_rule():
    warm_up()
    evaluation = evaluate(big_input(1000, 200, 50))
    assert evaluation.diagnosis == "AS"
    assert evaluation.cards, "upadacitinib ordered for AS with a long biologic history must be answered"
    suggested = _suggested(evaluation.cards)
    assert suggested, "the card offers replacement options"
    assert not suggested & {"secukinumab", "ixekizumab", "bimekizumab"}, "Crohn's (K50.90) on record: never an IL-17i"
    assert not suggested & {"etanercept", "sulfasalazine"}, "recorded intolerances are never suggested"


def test_large_record_history_is_independent_of_size_noise():
    small, large = evaluate(big_input(250, 50, 12)), evaluate(big_input(1000, 200, 50))
    drugs = lambda ev: {course.drug_name for course in ev.history}  # noqa: E731
    assert drugs(small) == drugs(large), "more of the same records adds no new drug"
