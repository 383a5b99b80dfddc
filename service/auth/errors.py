"""Errors of client authentication. The tree::

    Unauthorized              the call is refused with a bare 401; ``check`` names the failed check (log, metrics)
     └── KeyUnavailable       no key of that client to verify with (unknown-kid, jwks-unavailable, key-alg-mismatch,
                              jku-not-allowlisted)

A configuration problem (the trusted-clients file, the algorithms) is a :class:`service.config.StartupRefused`.
"""

from __future__ import annotations


class Unauthorized(Exception):
    """Authentication failed; ``check`` names the failed check for the log and metrics (never the token)."""

    def __init__(self, check: str) -> None:
        super().__init__(check)
        self.check = check


class KeyUnavailable(Unauthorized):
    """No key to verify with; ``check`` is the short reason (unknown-kid, jwks-unavailable, ...)."""
