"""Client authentication: CDS Hooks client JWTs, the keys they are verified with, the trusted-clients file."""

from service.auth.clients import load_trusted_clients
from service.auth.errors import KeyUnavailable, Unauthorized
from service.auth.keys import KeyStore, TrustedClient, accepted_algorithms, check_algorithms
from service.auth.tokens import Authenticator

__all__ = [
    "Authenticator",
    "KeyStore",
    "KeyUnavailable",
    "TrustedClient",
    "Unauthorized",
    "accepted_algorithms",
    "check_algorithms",
    "load_trusted_clients",
]
