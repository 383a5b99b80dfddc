"""The FHIR-server allowlist: where the EHR's token may be spent (``CDS_FHIR_ALLOWLIST``)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from service._http import LOCAL_HOSTS
from service.config import Settings, StartupRefused

log = logging.getLogger("axspa.security")


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


def fhir_server_allowed(url: str, settings: Settings) -> bool:
    """May the service contact ``url`` with the EHR's token?

    With ``CDS_FHIR_ALLOWLIST`` set: only a server under one of its entries (same scheme, host and port;
    path prefix on a segment boundary). Without it: any https server, or http on localhost, in
    development mode only; in production an unlisted server is never contacted.
    """
    if not _plain_url(url):
        return False
    try:
        scheme, host, port, path = _origin_and_path(url)
    except ValueError:
        return False
    if not host or scheme not in ("http", "https"):
        return False
    if scheme == "http" and host not in _http_hosts(settings):
        return False
    if not settings.fhir_allowlist:
        return settings.allow_unauthenticated
    for entry in settings.fhir_allowlist:
        e_scheme, e_host, e_port, e_path = _origin_and_path(entry)
        if (scheme, host, port) == (e_scheme, e_host, e_port) and (path == e_path or path.startswith(e_path + "/")):
            return True
    return False


def _http_hosts(settings: Settings) -> set[str]:
    """Hosts that may be reached over plain http: localhost, plus the explicitly named private hosts."""
    return set(LOCAL_HOSTS) | {host.strip().lower() for host in settings.fhir_allow_http_hosts}


def _origin_and_path(url: str) -> tuple[str, str | None, int | None, str]:
    parts = urlsplit(url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme.lower(), (parts.hostname or "").lower() or None, port, parts.path.rstrip("/")


def _plain_url(url: str) -> bool:
    """No tricks: no userinfo, query, fragment, backslash, whitespace/control characters or dot segments."""
    if not url or any(c in url for c in "\\ \t\r\n") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if "@" in parts.netloc or parts.query or parts.fragment or "?" in url or "#" in url:
        return False
    lowered = parts.path.lower()
    if "%2e" in lowered or "%2f" in lowered or "%5c" in lowered:
        return False
    return not any(segment in (".", "..") for segment in parts.path.split("/"))
