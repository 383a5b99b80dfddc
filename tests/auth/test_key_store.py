"""KeyStore units over httpx.MockTransport: keys from an allowlisted jku only, cached, refetched once for an
unknown kid, bounded in size (the real JWKS host and the whole token matrix: test_auth)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from support.jwt_keys import TestKey, jwks

from service.auth import KeyStore, KeyUnavailable, TrustedClient

JKU = "https://ehr.example.org/jwks.json"
EC = TestKey.ec384("ec-kid")
ALGS = frozenset({"ES384", "RS384"})


def lookups(document: Any, kids: list[str], **options: Any) -> tuple[list[str], int]:
    """Ask the store for each kid in turn; (the outcome of each: 'key' or the check, the number of fetches)."""
    content = document if isinstance(document, bytes) else None

    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == JKU
        return httpx.Response(200, content=content) if content is not None else httpx.Response(200, json=document)

    async def run() -> tuple[list[str], int]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            store = KeyStore({}, ALGS, http, **options)
            client = TrustedClient(iss="https://ehr.example.org", jku=(JKU,))
            outcomes = []
            for kid in kids:
                try:
                    await store.key_for(client, kid, "ES384", None)
                    outcomes.append("key")
                except KeyUnavailable as exc:
                    outcomes.append(exc.check)
            return outcomes, store.fetches

    return asyncio.run(run())


def test_a_fetched_key_is_cached():
    assert lookups(jwks(EC), ["ec-kid"] * 3) == (["key"] * 3, 1)


def test_an_unknown_kid_refetches_once_then_cools_down():
    assert lookups(jwks(EC), ["ec-kid", "other", "other"], cooldown_s=0.0) == (["key", "unknown-kid", "unknown-kid"], 3)
    assert lookups(jwks(EC), ["ec-kid", "other", "other"]) == (["key", "unknown-kid", "unknown-kid"], 1)


@pytest.mark.parametrize("document", [b"<html>", {"hello": "world"}, {"keys": [EC.public_jwk()], "pad": "x" * 300_000}])
def test_an_unusable_set_is_jwks_unavailable(document):
    assert lookups(document, ["ec-kid"]) == (["jwks-unavailable"], 1)


def test_a_jku_header_outside_the_clients_list_is_never_fetched():
    async def run() -> str:
        async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: pytest.fail("fetched"))) as http:
            store = KeyStore({}, ALGS, http)
            try:
                await store.key_for(TrustedClient(iss="i", jku=(JKU,)), "ec-kid", "ES384", "https://evil.example/j")
            except KeyUnavailable as exc:
                return exc.check
            return "key"

    assert asyncio.run(run()) == "jku-not-allowlisted"
