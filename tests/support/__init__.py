"""Test infrastructure: real FHIR server (sekmet), recording proxy, fault-injecting fake FHIR
server, a throwaway PostgreSQL and the service itself in a subprocess (LiveService). Nothing here imports service/
or hooks/."""
from .faulty_fhir import FaultyFhir
from .fhir_server import RecordingProxy, SekmetServer, prefetch_to_resources, sekmet_available
from .net import BackgroundASGIServer, free_port
from .policy import in_ci, missing_infra
from .postgres import TempPostgres, postgres_available
from .service import LiveService

__all__ = [
    "BackgroundASGIServer",
    "FaultyFhir",
    "LiveService",
    "RecordingProxy",
    "SekmetServer",
    "TempPostgres",
    "free_port",
    "in_ci",
    "missing_infra",
    "postgres_available",
    "prefetch_to_resources",
    "sekmet_available",
]
