"""Where the EHR's token may be spent: the FHIR-server allowlist (``CDS_FHIR_ALLOWLIST``) and the one URL form every
check is made on.

A URL is brought to its canonical form (:func:`canonical_url`) before any allowlist or same-base check, and the
canonical URL is what is sent: dot segments resolved (``..`` above the root refused), double slashes collapsed,
percent-encodings of unreserved characters decoded and hex upper-cased, host lower-cased, the default port dropped.
What servers disagree about is refused rather than guessed: percent-encoded ``.``, ``/``, ``\\``, ``;`` or ``%``
(a server that decodes them would see other segments), a ``..;`` or ``.;`` segment (Java servers read it as a dot
segment), backslashes, whitespace and control or non-ASCII characters, userinfo, fragments, a URL httpx would send
differently from how it was checked.
"""

from __future__ import annotations

import logging
import string
from urllib.parse import urlsplit

import httpx

from service._http import LOCAL_HOSTS
from service.config import Settings, StartupRefused

log = logging.getLogger("axspa.security")

MAX_URL_CHARS = 8_192
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-_~")  # "." stays encoded-refused, see below
_REFUSED_ESCAPES = frozenset({"2E", "2F", "5C", "3B", "25"})  # . / \ ; %
_HEX = frozenset(string.hexdigits)


class UnsafeUrl(ValueError):
    """A URL the service will not send a token to (the message names why, never the URL's query)."""


def canonical_url(url: str) -> httpx.URL:
    """``url`` in the one form it is checked and sent in, or :class:`UnsafeUrl`."""
    if not url or len(url) > MAX_URL_CHARS:
        raise UnsafeUrl("empty or too long")
    if any(c <= " " or c >= "\x7f" or c == "\\" for c in url):
        raise UnsafeUrl("whitespace, control, non-ASCII or backslash characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("not a URL (bad host or port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl("not http(s)")
    if "@" in parts.netloc or "#" in url:
        raise UnsafeUrl("userinfo or fragment")
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeUrl("no host")
    netloc = f"[{host}]" if ":" in host else host
    if port == {"https": 443, "http": 80}[scheme]:
        port = None
    if port is not None:
        netloc += f":{port}"
    path = _canonical_path(parts.path)
    try:
        sent = httpx.URL(f"{scheme}://{netloc}{path}" + (f"?{parts.query}" if parts.query else ""))
    except httpx.InvalidURL:
        raise UnsafeUrl("httpx refuses it") from None
    # Checks are made on exactly what goes over the wire: httpx must not re-encode or re-resolve the path.
    if (sent.scheme, sent.host, sent.port, wire_path(sent)) != (scheme, host, port, path):
        raise UnsafeUrl("httpx would send a different path")
    return sent


def wire_path(url: httpx.URL) -> str:
    """The path as sent (percent-encoded, without the query)."""
    return url.raw_path.split(b"?", 1)[0].decode("ascii")


def _canonical_path(path: str) -> str:
    segments: list[str] = []
    raw = path.split("/")[1:] if path.startswith("/") else ([path] if path else [])
    for index, segment in enumerate(raw):
        segment = _canonical_segment(segment)
        dot_part = segment.split(";", 1)[0]
        if dot_part != segment and dot_part in (".", ".."):
            raise UnsafeUrl("a '..;' or '.;' path segment")
        last = index == len(raw) - 1
        if segment == "..":
            if not segments:
                raise UnsafeUrl("'..' above the root")
            segments.pop()
            if last:
                segments.append("")
        elif segment == ".":
            if last:
                segments.append("")
        elif segment or last:  # empty segments (double slashes) collapse; a trailing slash stays
            segments.append(segment)
    return "/" + "/".join(segments)


def _canonical_segment(segment: str) -> str:
    if "%" not in segment:
        return segment
    out, i = [], 0
    while i < len(segment):
        c = segment[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        code = segment[i + 1:i + 3].upper()
        if len(code) != 2 or not set(code) <= _HEX:
            raise UnsafeUrl("a malformed percent-encoding")
        if code in _REFUSED_ESCAPES:
            raise UnsafeUrl("a percent-encoded '.', '/', '\\', ';' or '%'")
        decoded = chr(int(code, 16))
        out.append(decoded if decoded in _UNRESERVED else f"%{code}")
        i += 3
    return "".join(out)


def check_allowlist(settings: Settings, *, announce: bool = True) -> None:
    """Start-up: every allowlist entry is a plain https base URL (http only for localhost or a named host)."""
    if settings.fhir_allow_http_hosts and not settings.fhir_allowlist:
        raise StartupRefused("CDS_FHIR_ALLOW_HTTP_HOSTS is only accepted together with CDS_FHIR_ALLOWLIST")
    for host in settings.fhir_allow_http_hosts if announce else ():
        log.warning("CDS_FHIR_ALLOW_HTTP_HOSTS: FHIR server %s may be called over plain http (private network only)",
                    host)
    for entry in settings.fhir_allowlist:
        parts = urlsplit(entry)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _http_hosts(settings)):
            raise StartupRefused(
                f"CDS_FHIR_ALLOWLIST entry {entry!r} must use https (http only for localhost "
                "or a host named in CDS_FHIR_ALLOW_HTTP_HOSTS)"
            )
        if not parts.hostname or parts.query or parts.fragment:
            raise StartupRefused(f"CDS_FHIR_ALLOWLIST entry {entry!r} must be a base URL (scheme, host, path)")
        try:
            canonical_url(entry)
        except UnsafeUrl as exc:
            raise StartupRefused(f"CDS_FHIR_ALLOWLIST entry {entry!r} is not a plain base URL ({exc})") from None


def fhir_server_allowed(url: str, settings: Settings) -> bool:
    """May the service contact ``url`` (a request's ``fhirServer``) with the EHR's token?

    A base URL is plain or refused: no query, no dot segment, nothing :func:`canonical_url` refuses.
    With ``CDS_FHIR_ALLOWLIST`` set: only a server under one of its entries (same scheme, host and port;
    path prefix on a segment boundary, compared in canonical form). Without it: any https server, or http on
    localhost, in development mode only; in production an unlisted server is never contacted.
    """
    try:
        if "?" in url or any(segment in (".", "..") for segment in urlsplit(url).path.split("/")):
            return False
        candidate = canonical_url(url)
    except ValueError:  # UnsafeUrl, or urlsplit's own refusal
        return False
    if candidate.scheme == "http" and candidate.host not in _http_hosts(settings):
        return False
    if not settings.fhir_allowlist:
        return settings.allow_unauthenticated
    return any(under_base(candidate, canonical_url(entry)) for entry in settings.fhir_allowlist)


def under_base(url: httpx.URL, base: httpx.URL, *, strictly: bool = False) -> bool:
    """Same scheme, host and port, and ``url``'s path is ``base``'s or below it on a segment boundary
    (``strictly``: a non-empty path below it, never the base itself). Both canonical (:func:`canonical_url`)."""
    if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
        return False
    root, path = wire_path(base).rstrip("/"), wire_path(url)
    if strictly:
        return path.startswith(root + "/") and len(path) > len(root) + 1
    return path.rstrip("/") == root or path.startswith(root + "/")


def _http_hosts(settings: Settings) -> set[str]:
    """Hosts that may be reached over plain http: localhost, plus the explicitly named private hosts."""
    return set(LOCAL_HOSTS) | {host.strip().lower() for host in settings.fhir_allow_http_hosts}
