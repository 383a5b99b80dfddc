"""Small helpers for the service's outbound HTTP reads (FHIR server, JWKS hosts)."""

from __future__ import annotations

import httpx

#: Hosts that may be reached over plain http (tests, development).
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


async def read_capped(response: httpx.Response, max_bytes: int) -> bytes | None:
    """The streamed body, or None as soon as it is (declared or actually) larger than ``max_bytes``."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        return None
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
