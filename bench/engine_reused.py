"""The service as ``python -m service`` runs it, except that the clinical engine's work is done once per request
body and then reused: what every call would cost if the engine were free. A measuring instrument for
bench/budget.py, never a way to run the service.

    .venv/bin/python bench/engine_reused.py --port 8001      # same arguments and CDS_* variables as python -m service

What is reused is exactly ``service.cds.pipeline._evaluate``'s result (the engine's evaluation, the response model
and its bytes), keyed by the hookInstance: bench/budget.py sends one body, again and again. Everything else runs as
in the service for every call: uvicorn and its protocol, the middleware, authentication and the replay claim,
the body's parsing and validation, the prefetch's resolution, the relevance check, the metrics, the card ledger.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout this script is in

from service.__main__ import main
from service.cds import pipeline

_computed = pipeline._evaluate
_answers: dict[str, Any] = {}


def _reused(hook_input: Any, relevant: bool, max_response_bytes: int | None) -> Any:
    key = f"{hook_input.hook}:{hook_input.hook_instance}:{relevant}"
    if key not in _answers:
        _answers[key] = _computed(hook_input, relevant, max_response_bytes)
    return _answers[key]


pipeline._evaluate = _reused

if __name__ == "__main__":
    sys.exit(main())
