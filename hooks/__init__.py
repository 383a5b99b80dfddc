"""Clinical reasoning for axSpA therapy switching. No HTTP here.

The service hands the hook a :class:`HookInput` (the order context plus the patient's data, wherever it
came from) and gets back an :class:`Evaluation` whose ``cards`` are typed CDS Hooks 2.0 cards
(:mod:`hooks.response`), ready to serialise.
"""

from hooks.contract import Evaluation, HookInput, HookSettings, PatientData
from hooks.engine import evaluate, is_relevant_order, relevant_orders, warm_up

__all__ = ["Evaluation", "HookInput", "HookSettings", "PatientData", "evaluate", "is_relevant_order", "relevant_orders",
           "warm_up"]
