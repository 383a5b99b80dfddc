"""Small HTTP helpers: the JSON media types the service accepts, bounded outbound reads (FHIR server, JWKS hosts)."""

from __future__ import annotations

import httpx

#: Hosts that may be reached over plain http (tests, development).
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: Request bodies the service reads: JSON (RFC 8259: UTF-8), as ``application/json`` or ``application/fhir+json``.
JSON_MEDIA_TYPES = ("application/json", "application/fhir+json")


def is_json_content_type(header: str | None) -> bool:
    """``application/json`` or ``application/fhir+json``, parameters allowed (a charset only if it is UTF-8).

    Anything else (``text/plain``, a form, no header) is refused: those are the bodies a browser sends
    cross-site without a CORS preflight.
    """
    media, *params = (header or "").split(";")
    if media.strip().lower() not in JSON_MEDIA_TYPES:
        return False
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


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
