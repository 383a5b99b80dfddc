"""The keys trusted clients sign with: inline JWK Sets and JWKS fetched from allowlisted ``jku`` URLs.

A JWKS is only ever fetched from a URL listed for the token's issuer. Fetched sets are cached (``JWKS_TTL_S``)
and refetched on an unknown ``kid`` at most once per ``JWKS_COOLDOWN_S``. Key objects are built once, when a
set is loaded, never per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt import PyJWK
from jwt.exceptions import PyJWKError

from service._http import read_capped
from service.auth.errors import KeyUnavailable
from service.config import StartupRefused

log = logging.getLogger("axspa.trust")

#: Algorithms this service can ever accept. ``none`` and HMAC (HS*) are never among them.
SUPPORTED_ALGORITHMS = frozenset({"ES384", "RS384", "ES256", "RS256"})
#: What a key of a given type can verify (the token's ``alg`` must match its key).
_ALGS_FOR_KEY: dict[tuple[Any, Any], tuple[str, ...]] = {
    ("EC", "P-384"): ("ES384",),
    ("EC", "P-256"): ("ES256",),
    ("RSA", None): ("RS384", "RS256"),
}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MIN_RSA_BITS = 2048

JWKS_TTL_S = 300.0
JWKS_COOLDOWN_S = 30.0
JWKS_TIMEOUT_S = 3.0
JWKS_MAX_BYTES = 256 * 1024
JWKS_MAX_KEYS = 50


def refused_algorithm(alg: str) -> bool:
    return alg.lower() == "none" or alg.upper().startswith("HS")


def accepted_algorithms(configured: Iterable[str]) -> frozenset[str]:
    """The configured algorithms this service supports; ``none``/HMAC are dropped whatever the config says."""
    return frozenset(a for a in configured if a in SUPPORTED_ALGORITHMS and not refused_algorithm(a))


def check_algorithms(configured: Iterable[str]) -> None:
    """Start-up: refuse a configuration naming ``none``, HMAC or an algorithm we do not implement."""
    configured = list(configured)
    bad = [a for a in configured if refused_algorithm(a)]
    if bad:
        raise StartupRefused(
            f"CDS_JWT_ALGORITHMS names {', '.join(bad)}: 'none' and HMAC algorithms are never accepted "
            "(CDS Hooks forbids symmetric algorithms)"
        )
    unknown = [a for a in configured if a not in SUPPORTED_ALGORITHMS]
    if unknown:
        raise StartupRefused(
            f"CDS_JWT_ALGORITHMS names {', '.join(unknown)}; supported: {', '.join(sorted(SUPPORTED_ALGORITHMS))}"
        )
    if not configured:
        raise StartupRefused("CDS_JWT_ALGORITHMS is empty")


KeyTable = dict[tuple[str, str], PyJWK]  # (kid, alg) -> key


def build_keys(jwks: Any, algorithms: frozenset[str], *, source: str, strict: bool) -> KeyTable:
    """Build verification keys from a JWK Set, once. One :class:`PyJWK` per (kid, algorithm it may verify).

    ``strict`` (the trusted-clients file): any problem is a :class:`StartupRefused` naming it.
    Otherwise (a fetched set): unusable keys are skipped with a log line.
    """

    def problem(message: str) -> None:
        if strict:
            raise StartupRefused(f"{source}: {message}")
        log.warning("jwks key skipped", extra={"source": source, "reason": message})

    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        if strict:
            raise StartupRefused(f'{source}: "jwks" must be an object with a "keys" list')
        raise ValueError("not a JWK Set")
    table: KeyTable = {}
    for index, jwk in enumerate(jwks["keys"][:JWKS_MAX_KEYS]):
        where = f"key #{index}"
        if not isinstance(jwk, dict):
            problem(f"{where} is not an object")
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            problem(f'{where} has no "kid" (tokens name their key by kid)')
            continue
        where = f"key {kid!r}"
        kty = jwk.get("kty")
        if kty == "oct":
            problem(f"{where} is a symmetric (oct) key; only EC and RSA public keys are accepted")
            continue
        if _PRIVATE_MEMBERS & jwk.keys():
            if strict:
                raise StartupRefused(f"{source}: {where} contains PRIVATE key material; give the public key only")
            jwk = {k: v for k, v in jwk.items() if k not in _PRIVATE_MEMBERS}
        if jwk.get("use") not in (None, "sig"):
            problem(f"{where} has use={jwk.get('use')!r}, not 'sig'")
            continue
        shape = (kty, jwk.get("crv") if kty == "EC" else None)
        possible = _ALGS_FOR_KEY.get(shape)
        if possible is None:
            problem(f"{where}: unsupported key type {kty!r} {jwk.get('crv') or ''}".rstrip())
            continue
        declared = jwk.get("alg")
        usable = [a for a in possible if a in algorithms and (declared is None or declared == a)]
        if not usable:
            problem(f"{where} ({declared or kty}) cannot verify any accepted algorithm ({', '.join(sorted(algorithms))})")
            continue
        built: dict[str, PyJWK] = {}
        for alg in usable:
            try:
                built[alg] = PyJWK(jwk, algorithm=alg)
            except (PyJWKError, ValueError, TypeError) as exc:
                problem(f"{where} is not a valid {kty} key ({type(exc).__name__})")
                break
        else:
            if any(_rsa_bits(key) < MIN_RSA_BITS for key in built.values()):
                problem(f"{where} is an RSA key under {MIN_RSA_BITS} bits")
                continue
            table.update({(kid, alg): key for alg, key in built.items()})
    return table


def _rsa_bits(key: PyJWK) -> int:
    """The modulus size of an RSA key (the cryptography key object knows it); other key types: no limit here."""
    return key.key.key_size if isinstance(key.key, RSAPublicKey) else MIN_RSA_BITS


def _has_kid(keys: KeyTable, kid: str) -> bool:
    return any(k == kid for k, _ in keys)


@dataclass(frozen=True)
class TrustedClient:
    """A trusted CDS client: its issuer, the JWKS URLs allowlisted for it, its inline keys, its tenants."""

    iss: str
    jku: tuple[str, ...] = ()
    keys: KeyTable = field(default_factory=dict)
    tenants: frozenset[str] | None = None  # None: the tenant claim is not checked


@dataclass
class _CachedSet:
    keys: KeyTable = field(default_factory=dict)
    fetched_at: float = float("-inf")  # last successful fetch (monotonic)
    attempted_at: float = float("-inf")  # last attempt, successful or not (monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class KeyStore:
    """Keys of trusted clients: inline ones, and JWKS fetched from allowlisted ``jku`` URLs (cached)."""

    def __init__(
        self,
        clients: dict[str, TrustedClient],
        algorithms: frozenset[str],
        http: httpx.AsyncClient,
        *,
        ttl_s: float = JWKS_TTL_S,
        cooldown_s: float = JWKS_COOLDOWN_S,
        timeout_s: float = JWKS_TIMEOUT_S,
        max_bytes: int = JWKS_MAX_BYTES,
    ) -> None:
        self.clients = clients
        self.algorithms = algorithms
        self.http = http
        self.ttl_s = ttl_s
        self.cooldown_s = cooldown_s
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self._sets: dict[str, _CachedSet] = {}
        self.fetches = 0  # JWKS fetch attempts (for tests and metrics)

    async def key_for(self, client: TrustedClient, kid: str, alg: str, jku: str | None) -> PyJWK:
        """The key named ``kid`` for ``alg``; raise :class:`KeyUnavailable` if there is none we may use."""
        if jku is not None and jku not in client.jku:
            raise KeyUnavailable("jku-not-allowlisted")  # never fetched
        key = client.keys.get((kid, alg))
        if key is not None:
            return key
        if _has_kid(client.keys, kid):
            raise KeyUnavailable("key-alg-mismatch")
        sources = (jku,) if jku is not None else client.jku
        reachable = False
        for url in sources:
            cached = await self._lookup(url, kid)
            reachable = reachable or cached.fetched_at > float("-inf")
            key = cached.keys.get((kid, alg))
            if key is not None:
                return key
            if _has_kid(cached.keys, kid):
                raise KeyUnavailable("key-alg-mismatch")
        if sources and not reachable:
            raise KeyUnavailable("jwks-unavailable")
        raise KeyUnavailable("unknown-kid")

    async def _lookup(self, url: str, kid: str) -> _CachedSet:
        cached = self._sets.setdefault(url, _CachedSet())
        if not self._needs_fetch(cached, kid):
            return cached
        async with cached.lock:  # concurrent requests wait for one fetch
            if self._needs_fetch(cached, kid):
                await self._fetch(url, cached)
        return cached

    def _needs_fetch(self, cached: _CachedSet, kid: str) -> bool:
        now = time.monotonic()
        if now - cached.attempted_at < self.cooldown_s:
            return False  # fetched (or tried) moments ago: never hammer the JWKS host
        if now - cached.fetched_at >= self.ttl_s:
            return True  # stale or never fetched
        return not _has_kid(cached.keys, kid)  # unknown kid: the client may have rotated keys

    async def _fetch(self, url: str, cached: _CachedSet) -> None:
        cached.attempted_at = time.monotonic()
        self.fetches += 1
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self.http.stream(
                    "GET", url, headers={"Accept": "application/json"}, timeout=self.timeout_s,
                    follow_redirects=False,
                ) as response:
                    if response.status_code != 200:
                        raise ValueError(f"status {response.status_code}")
                    raw = await read_capped(response, self.max_bytes)
            if raw is None:
                raise ValueError("JWKS larger than the limit")
            keys = build_keys(orjson.loads(raw), self.algorithms, source=url, strict=False)
        except (TimeoutError, httpx.HTTPError, ValueError) as exc:  # orjson.JSONDecodeError is a ValueError
            log.warning("jwks fetch failed", extra={"jku": url, "reason": str(exc)[:200] or type(exc).__name__})
            return  # keep serving the keys we had (if any) until a later fetch succeeds
        cached.keys = keys
        cached.fetched_at = time.monotonic()
        log.info("jwks fetched", extra={"jku": url, "keys": len(keys)})
