"""The FHIR side: the prefetch keys, resolving them (prefetch or the EHR's FHIR server), and where the token may go."""

from service.fhir.allowlist import check_allowlist, fhir_server_allowed
from service.fhir.client import Deadline, FhirReader, FhirServer, FhirTarget, ServerPools
from service.fhir.errors import FhirError
from service.fhir.keys import PREFETCH_KEYS, PrefetchKey, required_data_missing, templates
from service.fhir.prefetch import Resolution, resolve_prefetch

__all__ = [
    "PREFETCH_KEYS",
    "Deadline",
    "FhirError",
    "FhirReader",
    "FhirServer",
    "FhirTarget",
    "PrefetchKey",
    "Resolution",
    "ServerPools",
    "check_allowlist",
    "fhir_server_allowed",
    "required_data_missing",
    "resolve_prefetch",
    "templates",
]
