"""The discovery document, and which service id serves which hook.

Two modes (``CDS_DISCOVERY_MODE``):

* ``distinct`` (default): ``axspa-therapy-switch`` for order-select, ``axspa-therapy-switch-sign`` for order-sign.
  Clients that store services by id (the CDS Hooks sandbox keys them by ``{discovery URL}/{id}``) keep both.
* ``shared``: both hooks under ``axspa-therapy-switch``, for clients that replace stale order-select guidance with
  the order-sign answer of the same id (CDS Hooks 2.0 "Update stale guidance").

Both ids are routed in either mode (a registration made under one mode keeps working); a hook sent to an id that
does not serve it is a 400 naming the id that does.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from service.cds._base import Closed
from service.cds.request import SERVED_HOOKS, HookName
from service.config import SERVICE_ID, SIGN_SERVICE_ID
from service.fhir import PREFETCH_KEYS, templates

DiscoveryMode = Literal["distinct", "shared"]

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


def listed_id(hook: HookName, mode: DiscoveryMode) -> str:
    """The service id discovery lists for ``hook``."""
    return SIGN_SERVICE_ID if hook == "order-sign" and mode == "distinct" else SERVICE_ID


def hooks_served(service_id: str, mode: DiscoveryMode) -> tuple[HookName, ...]:
    """The hooks ``service_id`` answers (empty: no such service). The sign id answers order-sign in both modes."""
    if service_id == SIGN_SERVICE_ID:
        return ("order-sign",)
    if service_id == SERVICE_ID:
        return SERVED_HOOKS if mode == "shared" else ("order-select",)
    return ()


def discovery_document(mode: DiscoveryMode = "distinct", extension: dict[str, Any] | None = None) -> dict[str, Any]:
    """``extension``: the entries' ``extension`` member (the source-attributes summary and URL)."""
    services = [
        ServiceDefinition(
            hook=hook, id=listed_id(hook, mode), title=TITLE, description=DESCRIPTION, prefetch=templates(),
            usageRequirements=USAGE, extension=extension,
        )
        for hook in SERVED_HOOKS
    ]
    return DiscoveryResponse(services=services).model_dump(mode="json", exclude_none=True)
