"""Reading from the EHR's FHIR server: bounded GETs with the EHR's token, pagination, tolerant decoding."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

FHIR_JSON = "application/fhir+json"
# Conservative orjson decode rate for FHIR Bundles (measured 45-60 MB/s on a 2-core machine; see docs/performance.md).
DECODE_BYTES_PER_S = 30_000_000


class FhirError(Exception):
    """The FHIR server could not give us this data (timeout, status, garbage, limit). Never a 5xx of ours."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


class Deadline:
    """A total time budget shared by every call made for one hook request."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())


class FhirReader:
    """One shared ``httpx.AsyncClient`` for every hook request; limits on size and pages."""

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
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > self._max_bytes:
                        raise FhirError("FHIR response larger than the configured limit")
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > self._max_bytes:
                            raise FhirError("FHIR response larger than the configured limit")
                        chunks.append(chunk)
        except TimeoutError:
            raise FhirError("FHIR server did not answer within the time budget") from None
        except httpx.HTTPError as exc:
            raise FhirError(f"FHIR server unreachable ({type(exc).__name__})") from None
        # Decoding blocks the event loop (orjson holds the GIL: ~20 ms per MB of Bundle on 2 cores), so a
        # decode that cannot finish within the budget is not started: it would delay every other read too.
        if deadline.remaining() < size / DECODE_BYTES_PER_S:
            raise FhirError("FHIR response could not be decoded within the time budget")
        try:
            document = orjson.loads(b"".join(chunks))
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


def next_link(bundle: dict[str, Any]) -> str | None:
    links = bundle.get("link")
    if isinstance(links, list):
        for link in links:
            if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
                return link["url"]
    return None
