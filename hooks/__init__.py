"""Clinical reasoning for axSpA therapy switching. No HTTP here.

The service hands the hook a :class:`HookInput` (the order context plus the patient's data, wherever it
came from) and gets back an :class:`Evaluation` whose ``cards`` are CDS Hooks 2.0 card objects.
"""

from hooks.contract import Evaluation, HookInput, PatientData
from hooks.engine import evaluate, is_relevant_order, warm_up

__all__ = ["Evaluation", "HookInput", "PatientData", "evaluate", "is_relevant_order", "warm_up"]
