"""Start-up policy and the FHIR-server allowlist (where the EHR's token may be spent)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from service.config import Settings

log = logging.getLogger("axspa.security")

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class StartupRefused(Exception):
    """The configuration is unsafe; the service will not start."""


#: Loggers that would write outbound URLs (with ``patient=<id>`` in FHIR searches) or headers at INFO/DEBUG.
QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "psycopg")


def quiet_outbound_loggers() -> None:
    """httpx logs every request URL at INFO and httpcore logs headers at DEBUG: keep them at WARNING."""
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


def startup_check(settings: Settings, *, announce: bool = True) -> None:
    """Secure by default: no trusted clients and no explicit development mode -> refuse to start.

    Also validates what would otherwise fail later: the JWT algorithms, the trusted-clients file (every
    problem named), the FHIR allowlist entries. ``announce`` logs the warnings about relaxed settings.
    """
    from service.trust import accepted_algorithms, check_algorithms, load_trusted_clients

    quiet_outbound_loggers()
    check_algorithms(settings.jwt_algorithms)
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
    if settings.trusted_clients is not None:
        if not settings.trusted_clients.is_file():
            raise StartupRefused(f"CDS_TRUSTED_CLIENTS names {settings.trusted_clients}, which is not a file")
        load_trusted_clients(settings.trusted_clients, accepted_algorithms(settings.jwt_algorithms))
    if settings.allow_unauthenticated:
        if announce:
            log.warning(
                "CDS_ALLOW_UNAUTHENTICATED=true: development mode, calls are accepted WITHOUT a CDS Hooks JWT. "
                "Never run like this with real patient data."
            )
        return
    if settings.trusted_clients is None:
        raise StartupRefused(
            "no trusted CDS clients are configured (set CDS_TRUSTED_CLIENTS to a JSON file of trusted "
            "issuers) and CDS_ALLOW_UNAUTHENTICATED is not true"
        )


def _http_hosts(settings: Settings) -> set[str]:
    """Hosts that may be reached over plain http: localhost, plus the explicitly named private hosts."""
    return _LOCAL_HOSTS | {host.strip().lower() for host in settings.fhir_allow_http_hosts}


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
