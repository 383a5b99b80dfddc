"""What the routes share, built completely at start-up (the app's lifespan) and closed at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

import hooks
from service.auth import Authenticator
from service.cds import pipeline
from service.config import Settings
from service.fhir import FhirReader, FhirServer, FhirTarget, ServerPools, fhir_server_allowed
from service.governance.attributes import source_attributes
from service.governance.ledger import LedgerWriter
from service.ops import Metrics, RateLimiter
from service.startup import check_suggestion_templates, startup_check
from service.storage import Store, open_store

log = logging.getLogger("axspa.app")
RETENTION_EVERY_S = 3600.0


@dataclass
class Runtime:
    """Settings, the store, the JWKS HTTP client, the FHIR reader (one pool per FHIR server), the authenticator,
    the hook's settings, the card ledger writer, the feedback rate limit and the metrics of one process."""

    settings: Settings
    metrics: Metrics
    store: Store
    http: httpx.AsyncClient  # JWKS fetches only: FHIR reads have their own pools, so neither can starve the other
    reader: FhirReader
    authenticator: Authenticator
    hook_settings: hooks.HookSettings
    ledger: LedgerWriter
    feedback_limiter: RateLimiter
    ready: bool = field(default=True)
    _retention: asyncio.Task[None] | None = field(default=None, repr=False)
    _allowed: Callable[[str], bool] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # The allowlist's answer for each fhirServer seen: a deployment talks to a handful of EHR servers, and the
        # check (canonical forms of the URL and of every entry) would otherwise run on every call. Bounded: a
        # client that sends many different URLs only evicts its own.
        self._allowed = lru_cache(maxsize=256)(partial(fhir_server_allowed, settings=self.settings))

    @classmethod
    async def start(cls, settings: Settings, metrics: Metrics) -> Runtime:
        """Check the configuration (refusing to start on a problem), open the store, warm the knowledge up."""
        startup_check(settings)
        check_suggestion_templates()
        store = await run_in_threadpool(open_store, settings.database_url)
        jwks_http = httpx.AsyncClient(
            follow_redirects=False, limits=httpx.Limits(max_connections=10, max_keepalive_connections=5)
        )
        reader = FhirReader(
            ServerPools(max_connections=settings.fhir_max_connections),
            max_bytes=settings.fhir_max_response_bytes,
            max_pages=settings.fhir_max_pages,
            max_resources=settings.fhir_max_resources,
        )
        hook_settings = pipeline.hook_settings(settings)
        ledger = LedgerWriter(store, metrics, queue_size=settings.ledger_queue_size,
                              retention_days=settings.ledger_retention_days).start()
        rate = settings.feedback_rate_per_min / 60
        limiter = RateLimiter(rate, burst=max(float(settings.feedback_max_items), 10 * rate))
        runtime = cls(settings, metrics, store, jwks_http, reader, Authenticator(settings, store, jwks_http),
                      hook_settings, ledger, limiter)
        if settings.feedback_retention_days > 0:
            runtime._retention = asyncio.create_task(runtime._apply_retention(), name="feedback-retention")
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
        if self._retention is not None:
            self._retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention
        await run_in_threadpool(self.ledger.stop)  # flush the queued ledger rows before the store closes
        await self.http.aclose()
        await self.reader.aclose()
        await self.store.aclose()
        self.store.close()

    @property
    def medication_reads(self) -> int:
        """How many referenced Medications one hook call may read from the FHIR server."""
        return self.settings.fhir_max_medication_reads

    async def _apply_retention(self) -> None:
        """Delete feedback older than ``CDS_FEEDBACK_RETENTION_DAYS``, now and every hour (each worker: idempotent)."""
        while True:
            cutoff = time.time() - self.settings.feedback_retention_days * 86_400
            try:
                deleted = await run_in_threadpool(self.store.prune_feedback, cutoff)
            except Exception as exc:  # noqa: BLE001 - the store may be down: try again next time
                log.warning("feedback retention could not run", extra={"error": type(exc).__name__})
            else:
                if deleted:
                    log.info("feedback retention: old items deleted", extra={"deleted": deleted})
            await asyncio.sleep(RETENTION_EVERY_S)

    def fhir_server(self, base_url: str | None, token: str | None) -> FhirServer | None:
        """The EHR's FHIR server, if we may call it; otherwise None (treated as no server)."""
        if not base_url:
            return None
        if not self._allowed(base_url):
            log.warning("fhirServer not allowlisted; it will not be contacted")
            return None
        return FhirServer(FhirTarget(base_url.rstrip("/"), token), self.reader, self.settings.fhir_timeout_s)


def runtime_of(request: Request) -> Runtime:
    """The running app's runtime."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    """The running app's runtime, as a FastAPI dependency (the discovery routes'). ``async`` on purpose: FastAPI runs
    a plain ``def`` dependency in a worker thread, a hop that cost more than the whole body validation
    (docs/performance.md)."""
    return runtime_of(request)
