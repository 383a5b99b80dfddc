"""Reading from the EHR's FHIR server: bounded GETs with the EHR's token, and a search with its pages, within
the time budget of one hook call. Nothing else in the service follows a ``next`` link."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import orjson

from service._http import read_capped
from service.fhir.errors import FhirError

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

    def owns(self, url: str) -> bool:
        """True if ``url`` lives under this server's base (so the token may be sent to it)."""
        base, other = urlsplit(self.base_url), urlsplit(url)
        return (
            (base.scheme, base.hostname, base.port) == (other.scheme, other.hostname, other.port)
            and other.path.startswith(base.path.rstrip("/") + "/")
        )

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


class FhirReader:
    """One shared ``httpx.AsyncClient`` for every hook request; limits on size, pages and resources."""

    def __init__(
        self, client: httpx.AsyncClient, *, max_bytes: int, max_pages: int, max_resources: int = 5_000
    ) -> None:
        self._client = client
        self._max_bytes = max_bytes
        self._max_pages = max_pages
        self._max_resources = max_resources

    async def get_json(self, target: FhirTarget, url: str, deadline: Deadline) -> dict[str, Any] | None:
        """GET ``url`` (absolute, under ``target``) and decode it. 404 -> None (nothing there)."""
        if not target.owns(url):
            raise FhirError("refused to follow a URL outside the FHIR server")
        remaining = deadline.remaining()
        if remaining <= 0:
            raise FhirError("time budget exhausted")
        headers = {"Accept": FHIR_JSON}
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        try:
            async with asyncio.timeout(remaining):
                async with self._client.stream("GET", url, headers=headers, timeout=remaining) as response:
                    if response.status_code == 404:
                        return None
                    if response.status_code in (401, 403):
                        raise FhirError(f"FHIR server refused the token ({response.status_code})")
                    if response.status_code >= 400:
                        raise FhirError(f"FHIR server answered {response.status_code}")
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
