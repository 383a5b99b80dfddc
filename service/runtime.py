"""What the routes share, built completely at start-up (the app's lifespan) and closed at shutdown."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass, field

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

import hooks
from service.auth import Authenticator
from service.config import Settings
from service.fhir import FhirReader, FhirServer, FhirTarget, fhir_server_allowed
from service.governance.attributes import source_attributes
from service.governance.ledger import LedgerWriter
from service.ops import Metrics
from service.startup import check_suggestion_templates, startup_check
from service.storage import Store, open_store

log = logging.getLogger("axspa.app")


@dataclass
class Runtime:
    """Settings, the store, the shared FHIR/JWKS HTTP client, the authenticator, the card ledger writer and the
    metrics of one process."""

    settings: Settings
    metrics: Metrics
    store: Store
    http: httpx.AsyncClient
    reader: FhirReader
    authenticator: Authenticator
    hook_settings: hooks.HookSettings
    ledger: LedgerWriter
    ready: bool = field(default=True)

    @classmethod
    async def start(cls, settings: Settings, metrics: Metrics) -> Runtime:
        """Check the configuration (refusing to start on a problem), open the store, warm the knowledge up."""
        startup_check(settings)
        check_suggestion_templates()
        store = await run_in_threadpool(open_store, settings.database_url)
        http = httpx.AsyncClient(
            follow_redirects=False,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            timeout=settings.fhir_timeout_s,
        )
        reader = FhirReader(
            http,
            max_bytes=settings.fhir_max_response_bytes,
            max_pages=settings.fhir_max_pages,
            max_resources=settings.fhir_max_resources,
        )
        hook_settings = hooks.HookSettings(concordant_info_card=settings.concordant_info_card)
        ledger = LedgerWriter(store, metrics, queue_size=settings.ledger_queue_size,
                              retention_days=settings.ledger_retention_days).start()
        runtime = cls(settings, metrics, store, http, reader, Authenticator(settings, store, http), hook_settings,
                      ledger)
        hooks.warm_up()
        source_attributes()  # generated from rules.toml now, as the engine loaded it
        # Start-up objects (modules, knowledge, schemas) are never scanned by the collector again, and one large
        # prefetch no longer triggers several full collections (measured -11% CPU on big histories; docs/performance.md).
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        return runtime

    async def stop(self) -> None:
        self.ready = False
        await run_in_threadpool(self.ledger.stop)  # flush the queued ledger rows before the store closes
        await self.http.aclose()
        self.store.close()

    @property
    def medication_reads(self) -> int:
        """How many referenced Medications one hook call may read from the FHIR server."""
        return self.settings.fhir_max_medication_reads

    def fhir_server(self, base_url: str | None, token: str | None) -> FhirServer | None:
        """The EHR's FHIR server, if we may call it; otherwise None (treated as no server)."""
        if not base_url:
            return None
        if not fhir_server_allowed(base_url, self.settings):
            log.warning("fhirServer not allowlisted; it will not be contacted")
            return None
        return FhirServer(FhirTarget(base_url.rstrip("/"), token), self.reader, self.settings.fhir_timeout_s)


def get_runtime(request: Request) -> Runtime:
    """The running app's runtime (a FastAPI dependency)."""
    runtime: Runtime = request.app.state.runtime
    return runtime
