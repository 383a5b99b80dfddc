"""CDS Hooks client authentication (JWT in ``Authorization: Bearer``).

Checks, in order (the first failure names the check; the caller answers 401 with no detail):

 1. ``missing-token``      no ``Authorization: Bearer <jwt>``
 2. ``malformed-token``    not a compact JWS (three base64url parts, JSON header and payload; no ``crit``), or
                           absurdly long
 3. ``alg-not-allowed``    header ``alg`` not among the accepted algorithms (``none``/HMAC never are)
 4. ``bad-typ``            header ``typ`` present but not ``JWT`` (an absent ``typ`` is tolerated)
 5. ``missing-kid``        header ``kid`` absent
 6. ``missing-claim:iss``  / ``unknown-issuer``: the issuer must be trusted BEFORE any key is looked up
 7. ``jku-not-allowlisted`` header ``jku`` not in that issuer's list and ``kid`` not one of its inline keys (the
    URL is never fetched; a ``kid`` on record is verified with that key whatever ``jku`` says, as the CDS Hooks
    sandbox always sends its hosted ``jku``)
 8. ``tenant-not-allowed`` / ``missing-claim:tenant`` when the client has a tenant list
 9. ``missing-claim:aud|exp|iat|jti``, ``invalid-claim:*``
10. ``wrong-audience``     ``aud`` (string or list) does not name this endpoint's public URL
11. ``expired``, ``iat-in-future``, ``not-yet-valid`` (nbf), ``invalid-lifetime`` (exp < iat),
    ``lifetime-too-long`` (exp - iat > 5 min); 60 s of clock skew tolerated
12. ``unknown-kid``, ``jwks-unavailable``, ``key-alg-mismatch``: no key of that client to verify with
13. ``bad-signature``      (over the segments as received: the payload it covers is the one steps 8-11 read)
14. ``replay``             the (iss, jti) pair was seen before (claimed only after the signature verified);
                           a store that does not answer is a :class:`~service.storage.StoreUnavailable` (503)

Steps 8-11 read the still-unverified payload: they can only refuse, and refusing early means an expired or
misaddressed token never causes a JWKS fetch. Nothing here ever logs the token.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import httpx
import orjson
from jwt.utils import base64url_decode
from starlette.requests import Request

from service.auth.clients import load_trusted_clients
from service.auth.errors import Unauthorized
from service.auth.keys import KeyStore, TrustedClient, accepted_algorithms
from service.config import Settings
from service.storage import Store, StoreUnavailable

log = logging.getLogger("axspa.auth")

CLOCK_SKEW_S = 60
MAX_LIFETIME_S = 300
MAX_TOKEN_CHARS = 16 * 1024
MAX_JTI_CHARS = 256
#: A compact JWS (RFC 7515 7.1): three base64url segments without padding (an unsigned token's last one is empty).
COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def _number(claims: dict[str, Any], name: str) -> float:
    if name not in claims:
        raise Unauthorized(f"missing-claim:{name}")
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Unauthorized(f"invalid-claim:{name}")
    return float(value)


def _same_url(a: str, b: str) -> bool:
    """Exact comparison, tolerating one trailing slash of difference."""
    return a.removesuffix("/") == b.removesuffix("/")


class Authenticator:
    """Verifies CDS Hooks client JWTs (the checks above, in that order) against the trusted clients' keys."""

    def __init__(self, settings: Settings, store: Store, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.store = store
        self.http = http
        self.algorithms = accepted_algorithms(settings.jwt_algorithms)
        clients: dict[str, TrustedClient] = {}
        if settings.trusted_clients is not None:
            clients = load_trusted_clients(settings.trusted_clients, self.algorithms)
        self.keys = KeyStore(clients, self.algorithms, http)
        self.skew = CLOCK_SKEW_S

    async def verify(self, request: Request) -> None:
        """Raise :class:`Unauthorized` unless the request carries a JWT from a trusted client."""
        if self.settings.allow_unauthenticated:
            return
        token = self._bearer(request)
        claims = await self.verify_token(token, self.settings.endpoint_url(request.url.path))
        request.state.client_iss = claims["iss"]
        log.debug("client authenticated", extra={"iss": claims["iss"], "tenant": claims.get("tenant")})

    @staticmethod
    def _bearer(request: Request) -> str:
        header = request.headers.get("authorization")
        if not header:
            raise Unauthorized("missing-token")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("missing-token")
        return token

    async def verify_token(self, token: str, audience: str) -> dict[str, Any]:
        """Verify ``token`` for the endpoint whose public URL is ``audience``; return its claims."""
        if len(token) > MAX_TOKEN_CHARS or not COMPACT_JWS.fullmatch(token):
            raise Unauthorized("malformed-token")
        signing_input, _, signature_segment = token.rpartition(".")
        header_segment, _, payload_segment = signing_input.partition(".")
        try:
            header = orjson.loads(base64url_decode(header_segment))
            unverified = orjson.loads(base64url_decode(payload_segment))
            signature = base64url_decode(signature_segment)
        except (ValueError, TypeError):  # orjson.JSONDecodeError and binascii.Error are ValueErrors
            raise Unauthorized("malformed-token") from None
        if not isinstance(header, dict) or not isinstance(unverified, dict):
            raise Unauthorized("malformed-token")
        if "crit" in header or header.get("b64", True) is not True:
            raise Unauthorized("malformed-token")  # no JWS extension is supported (RFC 7515 4.1.11, RFC 7797)

        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise Unauthorized("alg-not-allowed")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
            raise Unauthorized("bad-typ")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("missing-kid")
        jku = header.get("jku")
        if jku is not None and not isinstance(jku, str):
            raise Unauthorized("jku-not-allowlisted")

        iss = unverified.get("iss")
        if iss is None:
            raise Unauthorized("missing-claim:iss")
        client = self.keys.clients.get(iss) if isinstance(iss, str) else None
        if client is None:
            raise Unauthorized("unknown-issuer")
        if jku is not None and jku not in client.jku and not client.has_inline_kid(kid):
            raise Unauthorized("jku-not-allowlisted")
        if client.tenants is not None:
            tenant = unverified.get("tenant")
            if tenant is None:
                raise Unauthorized("missing-claim:tenant")
            if not isinstance(tenant, str) or tenant not in client.tenants:
                raise Unauthorized("tenant-not-allowed")
        self._check_claims(unverified, audience)

        key = await self.keys.key_for(client, kid, alg, jku)  # KeyUnavailable is an Unauthorized
        # The signature over the segments as received, with the key object parsed once at load: the claims checked
        # above are the payload it covers (PyJWT's decode would parse the token again and re-check the claims).
        if key.algorithm_name != alg or not key.Algorithm.verify(signing_input.encode(), key.key, signature):
            raise Unauthorized("bad-signature")
        claims = unverified

        expires = _number(claims, "exp") + self.skew
        try:
            fresh = await self.store.claim_jti_async(iss, claims["jti"], expires)
        except Exception as exc:  # noqa: BLE001 - any store failure: the call cannot be checked, 503 (not 401)
            log.warning("jti store unavailable; the call is answered 503", extra={"error": type(exc).__name__})
            raise StoreUnavailable("the replay store did not answer") from None
        if not fresh:
            raise Unauthorized("replay")
        return claims

    def _check_claims(self, claims: dict[str, Any], audience: str) -> None:
        aud = claims.get("aud")
        if aud is None:
            raise Unauthorized("missing-claim:aud")
        exp = _number(claims, "exp")
        iat = _number(claims, "iat")
        jti = claims.get("jti")
        if jti is None:
            raise Unauthorized("missing-claim:jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_CHARS:
            raise Unauthorized("invalid-claim:jti")
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise Unauthorized("invalid-claim:aud")
        if not any(_same_url(a, audience) for a in audiences):
            raise Unauthorized("wrong-audience")
        now = time.time()
        if now > exp + self.skew:
            raise Unauthorized("expired")
        if iat > now + self.skew:
            raise Unauthorized("iat-in-future")
        if "nbf" in claims and _number(claims, "nbf") > now + self.skew:
            raise Unauthorized("not-yet-valid")
        if exp < iat:
            raise Unauthorized("invalid-lifetime")
        if exp - iat > MAX_LIFETIME_S:
            raise Unauthorized("lifetime-too-long")
