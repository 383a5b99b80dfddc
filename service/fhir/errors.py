"""Errors of the FHIR side. The tree::

    FhirError                 the FHIR server could not give us this data (timeout, status, garbage, a limit)

A ``FhirError`` makes one prefetch key unavailable (the hook says so, or the answer is 412); it is never a 5xx.
"""

from __future__ import annotations


class FhirError(Exception):
    """The FHIR server could not give us this data; ``reason`` is shown to the clinician (never a token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
