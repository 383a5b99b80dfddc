"""Trusted CDS clients: the ``CDS_TRUSTED_CLIENTS`` file, and the keys we verify their JWTs with.

File format (JSON)::

    {"clients": [
        {"iss": "https://sandbox.cds-hooks.org",
         "jku": ["https://sandbox.cds-hooks.org/.well-known/jwks.json"],   # optional: allowlisted JWKS URLs
         "jwks": {"keys": [ {...public JWK with kid...} ]},                # optional: inline keys
         "tenants": ["org-1"]}                                              # optional: allowed `tenant` claims
    ]}

Each client needs inline keys, a ``jku`` list, or both. A JWKS is only ever fetched from a URL listed for
the token's issuer (the token's own ``jku`` header is honoured only when it is in that list). Fetched sets
are cached (``JWKS_TTL_S``) and refetched on an unknown ``kid`` at most once per ``JWKS_COOLDOWN_S``.
Key objects are built once, when a set is loaded, never per request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

import httpx
import orjson
from jwt import PyJWK
from jwt.exceptions import PyJWKError

from service.security import StartupRefused

log = logging.getLogger("axspa.trust")

#: Algorithms this service can ever accept. ``none`` and HMAC (HS*) are never among them.
SUPPORTED_ALGORITHMS = frozenset({"ES384", "RS384", "ES256", "RS256"})
#: What a key of a given type can verify (the token's ``alg`` must match its key).
_ALGS_FOR_KEY = {
    ("EC", "P-384"): ("ES384",),
    ("EC", "P-256"): ("ES256",),
    ("RSA", None): ("RS384", "RS256"),
}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}

JWKS_TTL_S = 300.0
JWKS_COOLDOWN_S = 30.0
JWKS_TIMEOUT_S = 3.0
JWKS_MAX_BYTES = 256 * 1024
JWKS_MAX_KEYS = 50


class KeyUnavailable(Exception):
    """No key to verify with; ``check`` is the short reason (unknown-kid, jwks-unavailable, ...)."""

    def __init__(self, check: str) -> None:
        super().__init__(check)
        self.check = check


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


def url_allowed_for_keys(url: str) -> bool:
    """https, or http on localhost (tests, development)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    if not host:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in _LOCAL_HOSTS)


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
        if kty == "RSA":
            try:
                modulus_bits = _rsa_bits(jwk)
            except ValueError:
                modulus_bits = 0
            if modulus_bits < 2048:
                problem(f"{where} is an RSA key under 2048 bits")
                continue
        for alg in usable:
            try:
                table[(kid, alg)] = PyJWK(jwk, algorithm=alg)
            except (PyJWKError, ValueError, TypeError) as exc:
                problem(f"{where} is not a valid {kty} key ({type(exc).__name__})")
                break
    return table


def _rsa_bits(jwk: dict[str, Any]) -> int:
    n = jwk.get("n")
    if not isinstance(n, str):
        raise ValueError("no modulus")
    try:
        raw = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("bad modulus") from None
    return int.from_bytes(raw, "big").bit_length()


def _has_kid(keys: KeyTable, kid: str) -> bool:
    return any(k == kid for k, _ in keys)


@dataclass(frozen=True)
class TrustedClient:
    iss: str
    jku: tuple[str, ...] = ()
    keys: KeyTable = field(default_factory=dict)
    tenants: frozenset[str] | None = None  # None: the tenant claim is not checked


def load_trusted_clients(path: Path, algorithms: frozenset[str]) -> dict[str, TrustedClient]:
    """Read and validate the trusted-clients file; any problem -> :class:`StartupRefused` naming it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StartupRefused(f"CDS_TRUSTED_CLIENTS: cannot read {path}: {exc.strerror or exc}") from None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise StartupRefused(f"CDS_TRUSTED_CLIENTS: {path} is not valid JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("clients"), list):
        raise StartupRefused(f'CDS_TRUSTED_CLIENTS: {path} must be an object with a "clients" list')
    if not document["clients"]:
        raise StartupRefused(f"CDS_TRUSTED_CLIENTS: {path} lists no clients")
    clients: dict[str, TrustedClient] = {}
    for index, entry in enumerate(document["clients"]):
        where = f"CDS_TRUSTED_CLIENTS: clients[{index}]"
        if not isinstance(entry, dict):
            raise StartupRefused(f"{where} is not an object")
        unknown = set(entry) - {"iss", "jku", "jwks", "tenants", "name", "comment"}
        if unknown:
            raise StartupRefused(f"{where} has unknown member(s) {', '.join(sorted(unknown))}")
        iss = entry.get("iss")
        if not isinstance(iss, str) or not iss.strip():
            raise StartupRefused(f'{where} has no "iss" string')
        where = f"CDS_TRUSTED_CLIENTS: client {iss!r}"
        if iss in clients:
            raise StartupRefused(f"{where} is listed twice")
        jku = entry.get("jku", [])
        if isinstance(jku, str):
            jku = [jku]
        if not isinstance(jku, list) or not all(isinstance(u, str) and u for u in jku):
            raise StartupRefused(f'{where}: "jku" must be a list of URLs')
        for url in jku:
            if not url_allowed_for_keys(url):
                raise StartupRefused(f"{where}: jku {url!r} must be an https URL (http only for localhost)")
        keys: KeyTable = {}
        if "jwks" in entry:
            keys = build_keys(entry["jwks"], algorithms, source=f"{where} jwks", strict=True)
            if not keys:
                raise StartupRefused(f"{where}: jwks has no keys")
        if not keys and not jku:
            raise StartupRefused(f'{where} needs inline "jwks" keys or a "jku" list to fetch them from')
        tenants = entry.get("tenants")
        if tenants is not None:
            if not isinstance(tenants, list) or not tenants or not all(isinstance(t, str) and t for t in tenants):
                raise StartupRefused(f'{where}: "tenants" must be a non-empty list of strings (or absent)')
            tenants = frozenset(tenants)
        clients[iss] = TrustedClient(iss=iss, jku=tuple(jku), keys=keys, tenants=tenants)
    return clients


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
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > self.max_bytes:
                        raise ValueError("JWKS larger than the limit")
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise ValueError("JWKS larger than the limit")
                        chunks.append(chunk)
            keys = build_keys(orjson.loads(b"".join(chunks)), self.algorithms, source=url, strict=False)
        except (TimeoutError, httpx.HTTPError, ValueError) as exc:  # orjson.JSONDecodeError is a ValueError
            log.warning("jwks fetch failed", extra={"jku": url, "reason": str(exc)[:200] or type(exc).__name__})
            return  # keep serving the keys we had (if any) until a later fetch succeeds
        cached.keys = keys
        cached.fetched_at = time.monotonic()
        log.info("jwks fetched", extra={"jku": url, "keys": len(keys)})
