"""The discovery document: one service id for order-select and order-sign (stale cards get replaced)."""

from __future__ import annotations

from typing import Any

from service.config import SERVICE_ID
from service.models import DiscoveryResponse, ServiceDefinition
from service.prefetch import TEMPLATES

SERVED_HOOKS = ("order-select", "order-sign")

TITLE = "axSpA therapy switch"
DESCRIPTION = (
    "When a b/tsDMARD, csDMARD or systemic glucocorticoid is ordered for a patient with ankylosing "
    "spondylitis or non-radiographic axial spondyloarthritis, reads the therapy history and recommends "
    "the next agent per the 2019 ACR/SAA/SPARTAN and 2022 ASAS-EULAR recommendations and the FDA labels, "
    "with suggestions that write the new MedicationRequest."
)
USAGE = (
    "R4 MedicationRequest drafts. Reads Patient, MedicationStatement, MedicationRequest, Condition and "
    "AllergyIntolerance for the patient (prefetch, or the FHIR server with the EHR's token). "
    "Silent for unrelated orders and for patients without axSpA."
)


def discovery_document() -> dict[str, Any]:
    prefetch = {key: template for key, (template, _, _) in TEMPLATES.items()}
    services = [
        ServiceDefinition(
            hook=hook, id=SERVICE_ID, title=TITLE, description=DESCRIPTION, prefetch=prefetch, usageRequirements=USAGE
        )
        for hook in SERVED_HOOKS
    ]
    return DiscoveryResponse(services=services).model_dump(mode="json", exclude_none=True)
