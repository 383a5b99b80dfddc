"""Reading from the EHR's FHIR server: bounded GETs with the EHR's token, and a search with its pages, within
the time budget of one hook call. Nothing else in the service follows a ``next`` link.

Every URL is brought to its canonical form (``allowlist.canonical_url``) and checked to be under the server's base
before the token is attached; the canonical URL is the one sent. Redirects are never followed and never read as
data. Each FHIR server origin has its own connection pool (:class:`ServerPools`), so that a server that hangs
can only exhaust its own connections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx
import orjson

from service._http import read_capped
from service.fhir.allowlist import UnsafeUrl, canonical_url, under_base
from service.fhir.errors import FhirError

log = logging.getLogger("axspa.fhir")

FHIR_JSON = "application/fhir+json"
# Conservative orjson decode rate for FHIR Bundles (measured 45-60 MB/s on a 2-core machine; see docs/performance.md).
DECODE_BYTES_PER_S = 30_000_000


@dataclass(frozen=True, slots=True)
class FhirTarget:
    """Where and how to read: the server's base URL and the bearer token (never logged)."""

    base_url: str
    token: str | None = None

    def __repr__(self) -> str:
        return f"FhirTarget(base_url={self.base_url!r}, token={'<redacted>' if self.token else None})"

    def owns(self, url: str | httpx.URL) -> bool:
        """True if ``url`` lives under this server's base (so the token may be sent to it), both compared in
        canonical form (a URL that has none is not owned)."""
        try:
            candidate = url if isinstance(url, httpx.URL) else canonical_url(url)
            return under_base(candidate, canonical_url(self.base_url), strictly=True)
        except UnsafeUrl:
            return False

    def url(self, reference: str) -> str:
        """``reference`` (``Condition?patient=p``, or a link the server gave) as an absolute URL on this server."""
        return urljoin(self.base_url.rstrip("/") + "/", reference)


class Deadline:
    """A total time budget shared by every call made for one hook request."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())


def next_link(bundle: dict[str, Any]) -> str | None:
    """The Bundle's ``next`` page URL, if it has one."""
    links = bundle.get("link")
    if isinstance(links, list):
        for link in links:
            if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
                url: str = link["url"]
                return url
    return None


class ServerPools:
    """One ``httpx.AsyncClient`` (connection pool) per FHIR server origin (scheme, host, port), created on first
    use: a server that hangs holds at most ``max_connections`` connections, its own, and the others keep theirs.

    Production contacts only allowlisted servers, so the origins are few; in development mode any https server
    may be named, so after ``max_origins`` distinct origins the newest share one overflow pool (said once in
    the log). Redirects are never followed.
    """

    def __init__(self, *, max_connections: int, max_keepalive: int = 20, max_origins: int = 64,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._limits = httpx.Limits(max_connections=max_connections,
                                    max_keepalive_connections=min(max_keepalive, max_connections))
        # One TLS context for every pool, made now: loading the CA bundle costs ~0.1 s, never inside a hook call.
        self._tls = httpx.create_ssl_context() if transport is None else None
        self._max_origins = max_origins
        self._transport = transport
        self._clients: OrderedDict[tuple[str, str, int | None], httpx.AsyncClient] = OrderedDict()
        self._overflow: httpx.AsyncClient | None = None

    @classmethod
    def shared(cls, client: httpx.AsyncClient) -> ServerPools:
        """Every origin on one given client (tests: an ``httpx.MockTransport``)."""
        pools = cls(max_connections=1, max_origins=0)
        pools._overflow = client
        return pools

    def client_for(self, url: httpx.URL) -> httpx.AsyncClient:
        origin = (url.scheme, url.host, url.port)
        client = self._clients.get(origin)
        if client is not None:
            return client
        if len(self._clients) >= self._max_origins:
            if self._overflow is None:
                log.warning("more than %d FHIR server origins: the others share one connection pool",
                            self._max_origins)
                self._overflow = self._new_client()
            return self._overflow
        client = self._clients[origin] = self._new_client()
        return client

    def _new_client(self) -> httpx.AsyncClient:
        if self._transport is not None:
            return httpx.AsyncClient(follow_redirects=False, transport=self._transport)
        return httpx.AsyncClient(follow_redirects=False, limits=self._limits, verify=self._tls or True)

    async def aclose(self) -> None:
        for client in [*self._clients.values(), *([self._overflow] if self._overflow else [])]:
            await client.aclose()
        self._clients.clear()
        self._overflow = None


class FhirReader:
    """Reads for every hook request, through per-origin pools; limits on size, pages and resources."""

    def __init__(
        self, pools: ServerPools | httpx.AsyncClient, *, max_bytes: int, max_pages: int, max_resources: int = 5_000
    ) -> None:
        self._pools = pools if isinstance(pools, ServerPools) else ServerPools.shared(pools)
        self._max_bytes = max_bytes
        self._max_pages = max_pages
        self._max_resources = max_resources

    async def aclose(self) -> None:
        await self._pools.aclose()

    async def get_json(self, target: FhirTarget, url: str, deadline: Deadline) -> dict[str, Any] | None:
        """GET ``url`` (absolute, under ``target``) and decode it. 404 -> None (nothing there)."""
        try:
            request_url = canonical_url(url)
        except UnsafeUrl as exc:
            raise FhirError(f"refused to follow a URL that is not plain ({exc})") from None
        if not target.owns(request_url):
            raise FhirError("refused to follow a URL outside the FHIR server")
        remaining = deadline.remaining()
        if remaining <= 0:
            raise FhirError("time budget exhausted")
        headers = {"Accept": FHIR_JSON}
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        client = self._pools.client_for(request_url)
        try:
            async with asyncio.timeout(remaining):
                async with client.stream("GET", request_url, headers=headers, timeout=remaining,
                                         follow_redirects=False) as response:
                    status = response.status_code
                    if status == 404:
                        return None
                    if status in (401, 403):
                        raise FhirError(f"FHIR server refused the token ({status})")
                    if 300 <= status < 400:
                        raise FhirError(f"FHIR server answered a redirect ({status}); redirects are not followed")
                    if status != 200:
                        raise FhirError(f"FHIR server answered {status}")
                    raw = await read_capped(response, self._max_bytes)
        except TimeoutError:
            raise FhirError("FHIR server did not answer within the time budget") from None
        except httpx.HTTPError as exc:
            raise FhirError(f"FHIR server unreachable ({type(exc).__name__})") from None
        if raw is None:
            raise FhirError("FHIR response larger than the configured limit")
        # Decoding blocks the event loop (orjson holds the GIL: ~20 ms per MB of Bundle on 2 cores), so a
        # decode that cannot finish within the budget is not started: it would delay every other read too.
        if deadline.remaining() < len(raw) / DECODE_BYTES_PER_S:
            raise FhirError("FHIR response could not be decoded within the time budget")
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise FhirError("FHIR server answered something that is not JSON") from None
        if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
            raise FhirError("FHIR server answered JSON that is not a FHIR resource")
        return document

    async def search(self, target: FhirTarget, first_url: str, deadline: Deadline) -> list[dict[str, Any]]:
        """Run a search and follow ``next`` links within the budget; returns the Bundles read.

        More than ``max_resources`` entries fails closed: a truncated history could hide a failed drug.
        """
        pages: list[dict[str, Any]] = []
        entries = 0
        url: str | None = first_url
        while url is not None:
            if len(pages) >= self._max_pages:
                raise FhirError(f"more than {self._max_pages} pages of results")
            bundle = await self.get_json(target, url, deadline)
            if bundle is None:
                break
            if bundle.get("resourceType") == "OperationOutcome":
                raise FhirError("FHIR server answered an OperationOutcome")
            if bundle.get("resourceType") != "Bundle":
                raise FhirError("FHIR search did not return a Bundle")
            page_entries = bundle.get("entry")
            entries += len(page_entries) if isinstance(page_entries, list) else 0
            if entries > self._max_resources:
                raise FhirError(f"more than {self._max_resources} resources in the search results")
            pages.append(bundle)
            url = next_link(bundle)
        return pages


@dataclass(frozen=True, slots=True)
class FhirServer:
    """A FHIR server one hook call may read: where (and with which token), the shared reader, the time budget."""

    target: FhirTarget
    reader: FhirReader
    budget_s: float
