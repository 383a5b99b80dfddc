"""Start-up checks: the service refuses to start on an unsafe or invalid configuration, or on an invalid
suggestion template. Secure by default: no trusted clients and no explicit development mode -> refuse."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest
from pydantic import ValidationError

from hooks.cards import medication_request
from hooks.knowledge import knowledge
from service.auth import accepted_algorithms, check_algorithms, load_trusted_clients
from service.config import Settings, StartupRefused
from service.fhir import check_allowlist
from service.ops import quiet_outbound_loggers

log = logging.getLogger("axspa.security")

_DIAGNOSES = ("AS", "nr-axSpA")
_templates_valid = False  # checked once per process: the knowledge does not change while it runs


def startup_check(settings: Settings, *, announce: bool = True) -> None:
    """Refuse to start (:class:`StartupRefused`) on an unsafe configuration; ``announce`` logs relaxed settings.

    Also validates what would otherwise fail later: the JWT algorithms, the trusted-clients file (every
    problem named), the FHIR allowlist entries.
    """
    quiet_outbound_loggers()
    check_algorithms(settings.jwt_algorithms)
    check_allowlist(settings, announce=announce)
    if settings.trusted_clients is not None:
        if not settings.trusted_clients.is_file():
            raise StartupRefused(f"CDS_TRUSTED_CLIENTS names {settings.trusted_clients}, which is not a file")
        load_trusted_clients(settings.trusted_clients, accepted_algorithms(settings.jwt_algorithms))
    if settings.allow_unauthenticated:
        if announce:
            log.warning(
                "CDS_ALLOW_UNAUTHENTICATED=true: development mode, calls are accepted WITHOUT a CDS Hooks JWT. "
                "Never run like this with real patient data."
            )
        return
    if settings.trusted_clients is None:
        raise StartupRefused(
            "no trusted CDS clients are configured (set CDS_TRUSTED_CLIENTS to a JSON file of trusted "
            "issuers) and CDS_ALLOW_UNAUTHENTICATED is not true"
        )


def suggestion_templates() -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, resource) for every MedicationRequest a suggestion can create: each orderable drug, each diagnosis."""
    for drug in knowledge().drugs.values():
        if drug.order_text:
            for diagnosis in _DIAGNOSES:
                yield f"{drug.key} ({diagnosis})", medication_request(drug, diagnosis, "template-check")


def check_suggestion_templates() -> None:
    """Every suggested MedicationRequest is valid FHIR R4 (fhir.resources R4B), or the service does not start."""
    global _templates_valid
    if _templates_valid:
        return
    for name, resource in suggestion_templates():
        try:
            MedicationRequest.model_validate(resource)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"]) or "resource"
            raise StartupRefused(
                f"the suggested MedicationRequest for {name} is not valid FHIR R4 ({where}: {first['msg']})"
            ) from None
    _templates_valid = True
