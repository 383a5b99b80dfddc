"""Test keys and CDS Hooks client JWTs, generated at test time with `cryptography` (nothing checked in).

    key = TestKey.ec384("sandbox-kid")
    token = key.mint(iss="https://sandbox.example", aud="http://testserver/cds-services")
    trusted_clients_file(tmp_path, [client_entry("https://sandbox.example", keys=[key])])
"""
from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

_UNSET: Any = object()


@dataclass
class TestKey:
    __test__ = False  # not a pytest test class

    kid: str
    alg: str
    private_key: Any

    @classmethod
    def ec384(cls, kid: str = "ec384") -> TestKey:
        return cls(kid, "ES384", ec.generate_private_key(ec.SECP384R1()))

    @classmethod
    def ec256(cls, kid: str = "ec256") -> TestKey:
        return cls(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def rsa(cls, kid: str = "rsa", alg: str = "RS384", bits: int = 2048) -> TestKey:
        return cls(kid, alg, rsa.generate_private_key(public_exponent=65537, key_size=bits))

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def public_jwk(self, *, with_alg: bool = True) -> dict[str, Any]:
        algo = jwt.algorithms.ECAlgorithm if self.alg.startswith("ES") else jwt.algorithms.RSAAlgorithm
        jwk = json.loads(algo.to_jwk(self.private_key.public_key()))
        jwk.update(kid=self.kid, use="sig")
        if with_alg:
            jwk["alg"] = self.alg
        return jwk

    def mint(self, *, iss: str | None, aud: Any, lifetime: int = 300, iat: float | None = None,
             jti: Any = _UNSET, extra: dict[str, Any] | None = None, drop: tuple[str, ...] = (),
             headers: dict[str, Any] | None = None, alg: str | None = None, kid: Any = _UNSET) -> str:
        """A signed client JWT. `drop` removes claims; `headers` adds/overrides header fields."""
        now = time.time() if iat is None else iat
        claims: dict[str, Any] = {"iss": iss, "aud": aud, "iat": int(now), "exp": int(now) + lifetime,
                                  "jti": str(uuid.uuid4()) if jti is _UNSET else jti}
        claims.update(extra or {})
        for name in drop:
            claims.pop(name, None)
        header = {"typ": "JWT", "kid": self.kid if kid is _UNSET else kid}
        header.update(headers or {})
        if header["kid"] is None:
            del header["kid"]
        return jwt.encode(claims, self.private_key, algorithm=alg or self.alg, headers=header)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """Hand-assembled compact JWS (for alg=none and other forgeries PyJWT will not produce)."""
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()), b64url(signature)])


def hs_token(secret: bytes, header: dict[str, Any], claims: dict[str, Any], alg: str = "HS384") -> str:
    """HMAC-signed token with an arbitrary secret (PyJWT refuses PEM-looking secrets, so sign by hand)."""
    import hashlib
    import hmac

    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    header = {**header, "alg": alg}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


def jwks(*keys: TestKey, with_alg: bool = True) -> dict[str, Any]:
    return {"keys": [k.public_jwk(with_alg=with_alg) for k in keys]}


def client_entry(iss: str, *, keys: list[TestKey] | None = None, jku: list[str] | None = None,
                 tenants: list[str] | None = None, with_alg: bool = True) -> dict[str, Any]:
    entry: dict[str, Any] = {"iss": iss}
    if keys:
        entry["jwks"] = jwks(*keys, with_alg=with_alg)
    if jku:
        entry["jku"] = jku
    if tenants:
        entry["tenants"] = tenants
    return entry


def trusted_clients_file(directory: Path, clients: list[dict[str, Any]], name: str = "trusted-clients.json") -> Path:
    path = Path(directory) / name
    path.write_text(json.dumps({"clients": clients}, indent=2))
    return path
