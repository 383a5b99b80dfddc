"""The limits of ``python -m service``'s HTTP protocol (service.ops.connections), from the ``CDS_*`` settings, and
what the process's file-descriptor limit allows: how many client connections fit beside the FHIR pools."""

from __future__ import annotations

import math
import resource
from dataclasses import dataclass

from service.config import Settings

#: File descriptors kept for everything but client connections: FHIR pools (per origin), the store, logs, files.
FD_RESERVE = 256


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    keep_alive_s: float = 5.0
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 2048
    max_header_bytes: int = 65_536
    drain_max_bytes: int = 10_000_000

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            keep_alive_s=settings.keep_alive_s,
            header_timeout_s=settings.header_timeout_s,
            body_timeout_s=settings.body_timeout_s,
            max_connections=connection_budget(settings.max_connections, settings.fhir_max_connections,
                                              len(settings.fhir_allowlist)),
            max_header_bytes=settings.max_header_bytes,
            drain_max_bytes=settings.drain_max_bytes,
        )


# ------------------------------------------------------------------------------------------ file descriptors


def raise_fd_limit() -> tuple[int, int, int]:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (workers inherit it); (before, now, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft, soft, hard
        return soft, target, hard
    return soft, soft, hard


def connection_budget(configured: int, fhir_connections: int = 100, fhir_origins: int = 0) -> int:
    """``configured``, or fewer if the file-descriptor limit cannot hold that many client connections beside the
    FHIR pools and a reserve."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    available = soft - FD_RESERVE - fhir_connections * max(1, fhir_origins)
    return max(8, min(configured, available))


def timeout_keep_alive(limits: ConnectionLimits) -> int:
    """uvicorn's own keep-alive timer (an int there): ours closes first, this is a backstop."""
    return math.ceil(limits.keep_alive_s) + 1
