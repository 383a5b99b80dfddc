"""The discovery document: one service id for order-select and order-sign (stale cards get replaced)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from service.cds._base import Closed
from service.cds.request import SERVED_HOOKS
from service.config import SERVICE_ID
from service.fhir import PREFETCH_KEYS, templates

TITLE = "axSpA therapy switch"
DESCRIPTION = (
    "When a b/tsDMARD, csDMARD or systemic glucocorticoid is ordered for a patient with ankylosing "
    "spondylitis or non-radiographic axial spondyloarthritis, reads the therapy history and recommends "
    "the next agent per the 2019 ACR/SAA/SPARTAN and 2022 ASAS-EULAR recommendations and the FDA labels, "
    "with suggestions that write the new MedicationRequest."
)
_TYPES = [key.resource_type for key in PREFETCH_KEYS]
USAGE = (
    f"R4 MedicationRequest drafts. Reads {', '.join(_TYPES[:-1])} and {_TYPES[-1]} for the patient "
    "(prefetch, or the FHIR server with the EHR's token). Silent for unrelated orders and for patients without axSpA."
)


class ServiceDefinition(Closed):
    hook: str
    id: str
    title: str | None = None
    description: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None


class DiscoveryResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    services: list[ServiceDefinition]


def discovery_document(extension: dict[str, Any] | None = None) -> dict[str, Any]:
    """``extension``: the entries' ``extension`` member (the source-attributes summary and URL)."""
    services = [
        ServiceDefinition(
            hook=hook, id=SERVICE_ID, title=TITLE, description=DESCRIPTION, prefetch=templates(),
            usageRequirements=USAGE, extension=extension,
        )
        for hook in SERVED_HOOKS
    ]
    return DiscoveryResponse(services=services).model_dump(mode="json", exclude_none=True)
