"""CDS Hooks client JWT authentication: the full refusal matrix with real keys, JWKS fetching and caching,
and the sandbox / Epic token shapes. Every refusal is a bare 401; the log names the failed check."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cds import FEEDBACK_URL, HOOK_URL, seed_request
from fastapi.testclient import TestClient
from support import BackgroundASGIServer
from support.jwt_keys import TestKey, client_entry, hs_token, jwks, trusted_clients_file, unsigned_token

from service.auth import load_trusted_clients
from service.config import Settings, StartupRefused
from service.startup import startup_check

PUBLIC = "https://cds.example.org"  # deliberately not the TestClient's http://testserver: aud uses the public URL
DISCOVERY_AUD = f"{PUBLIC}/cds-services"
HOOK_AUD = f"{PUBLIC}{HOOK_URL}"
FEEDBACK_AUD = f"{PUBLIC}{FEEDBACK_URL}"
ISS = "https://ehr.example.org"
EPIC_ISS = "https://fhir.epic-customer.example.org/api/FHIR/R4"
TENANT_ISS = "https://multi.example.org"
REFUSED_BODY = b'{"error":"unauthorized"}'
REPO = Path(__file__).resolve().parent.parent

EC = TestKey.ec384("ec-kid")
RSA = TestKey.rsa("rsa-kid", "RS384")
EPIC = TestKey.rsa("epic-kid", "RS384")
EC256 = TestKey.ec256("ec256-kid")
STRANGER = TestKey.ec384("ec-kid")  # same kid as EC, different key


# --------------------------------------------------------------------------- JWKS host for jku tests


class JwksHost:
    """A tiny JWKS server (uvicorn in a thread) that records every request and can change its answer."""

    def __init__(self, document: dict[str, Any] | None = None) -> None:
        self.document: Any = document or {"keys": []}
        self.status = 200
        self.delay = 0.0
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self.server = BackgroundASGIServer(self.app)

    async def app(self, scope, receive, send):
        if scope["type"] != "http":
            return
        with self._lock:
            self.requests.append(scope["path"])
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        body = self.document if isinstance(self.document, bytes) else json.dumps(self.document).encode()
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    @property
    def url(self) -> str:
        return f"{self.server.url}/jwks.json"

    def __enter__(self) -> JwksHost:
        self.server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.stop()


@pytest.fixture()
def jwks_host():
    hosts: list[JwksHost] = []

    def make(document: dict[str, Any] | None = None) -> JwksHost:
        host = JwksHost(document).__enter__()
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.__exit__()


# --------------------------------------------------------------------------- app under test


def make_settings(tmp_path: Path, clients: list[dict[str, Any]], **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "allow_unauthenticated": False,
        "trusted_clients": trusted_clients_file(tmp_path, clients),
        "public_base_url": PUBLIC,
        "database_url": f"sqlite:///{tmp_path / 'state.sqlite3'}",
    }
    values.update(overrides)
    return Settings(**values)


def secured_client(tmp_path: Path, clients: list[dict[str, Any]], **overrides: Any) -> TestClient:
    from service.app import create_app

    return TestClient(create_app(make_settings(tmp_path, clients, **overrides)), raise_server_exceptions=False)


DEFAULT_CLIENTS = [
    client_entry(ISS, keys=[EC, RSA]),
    client_entry(EPIC_ISS, keys=[EPIC], with_alg=False),  # Epic-style JWKS: no "alg" member
    client_entry(TENANT_ISS, keys=[EC], tenants=["tenant-a"]),
]
pytestmark = pytest.mark.api(allow_unauthenticated=False, public_base_url=PUBLIC,
                             trusted_clients=lambda tmp_path: trusted_clients_file(tmp_path, DEFAULT_CLIENTS))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def failed_check(caplog: pytest.LogCaptureFixture) -> str | None:
    checks = [r.check for r in caplog.records if r.name == "axspa.app" and hasattr(r, "check")]
    return checks[-1] if checks else None


def assert_refused(response, caplog, check: str) -> None:
    assert response.status_code == 401, response.text
    assert response.content == REFUSED_BODY
    assert check not in response.text
    assert response.headers.get("www-authenticate") == "Bearer"
    assert failed_check(caplog) == check


def discover(api: TestClient, token: str | None = None, headers: dict[str, str] | None = None):
    return api.get("/cds-services", headers=headers if headers is not None else (bearer(token) if token else {}))


def ec(**kwargs: Any) -> str:
    kwargs.setdefault("iss", ISS)
    kwargs.setdefault("aud", DISCOVERY_AUD)
    return EC.mint(**kwargs)


# --------------------------------------------------------------------------- accepted shapes


def test_valid_es384_and_rs384_tokens_are_accepted_on_discovery(api):
    assert discover(api, ec()).status_code == 200
    assert discover(api, RSA.mint(iss=ISS, aud=DISCOVERY_AUD)).status_code == 200


def test_every_route_requires_the_token(api, caplog):
    for method, path in (("GET", "/cds-services"), ("GET", "/cds-services/"), ("POST", HOOK_URL), ("POST", FEEDBACK_URL)):
        caplog.clear()
        assert_refused(api.request(method, path, json={}), caplog, "missing-token")


def test_hook_and_feedback_accept_a_token_for_their_own_url(api):
    response = api.post(HOOK_URL, content=b"[]", headers={**bearer(ec(aud=HOOK_AUD)), "Content-Type": "application/json"})
    assert response.status_code == 400  # past authentication: the (empty) body is what is wrong
    feedback = {"feedback": [{"card": "c-1", "outcome": "overridden", "outcomeTimestamp": "2024-05-01T10:00:00Z",
                              "overrideReason": {"reason": {"code": "x", "system": "y", "display": "z"}}}]}
    response = api.post(FEEDBACK_URL, json=feedback, headers=bearer(ec(aud=FEEDBACK_AUD)))
    assert response.status_code == 200, response.text


def test_operational_routes_stay_open(api):
    assert api.get("/healthz").status_code == 200
    assert api.get("/readyz").status_code == 200


def test_aud_tolerates_a_trailing_slash_and_may_be_a_list(api):
    assert discover(api, ec(aud=DISCOVERY_AUD + "/")).status_code == 200
    assert api.get("/cds-services/", headers=bearer(ec(aud=DISCOVERY_AUD))).status_code == 200
    assert discover(api, ec(aud=["https://other.example.org/cds-services", DISCOVERY_AUD])).status_code == 200


def test_clock_skew_up_to_60_seconds_is_tolerated(api):
    assert discover(api, ec(iat=time.time() - 330, lifetime=300)).status_code == 200  # expired 30 s ago
    assert discover(api, ec(iat=time.time() + 30)).status_code == 200  # issued 30 s "in the future"
    assert discover(api, ec(lifetime=300)).status_code == 200  # exactly 5 minutes


def test_epic_shaped_rs384_token_with_sub_and_nbf_is_accepted(api):
    now = time.time()
    token = EPIC.mint(iss=EPIC_ISS, aud=DISCOVERY_AUD, iat=now,
                      extra={"sub": "epic-cds-client-id", "nbf": int(now) - 300})
    assert discover(api, token).status_code == 200


def test_tenant_in_the_clients_list_is_accepted(api):
    assert discover(api, EC.mint(iss=TENANT_ISS, aud=DISCOVERY_AUD, extra={"tenant": "tenant-a"})).status_code == 200


def test_es256_only_when_configured(tmp_path, caplog):
    clients = [client_entry(ISS, keys=[EC, EC256])]
    with pytest.raises(StartupRefused, match="ec256-kid"):  # an ES256 key is useless unless ES256 is accepted
        startup_check(make_settings(tmp_path, clients))
    with secured_client(tmp_path, [client_entry(ISS, keys=[EC])]) as api:
        assert_refused(discover(api, EC256.mint(iss=ISS, aud=DISCOVERY_AUD)), caplog, "alg-not-allowed")
    with secured_client(tmp_path, clients, jwt_algorithms=["ES384", "RS384", "ES256"]) as api:
        assert discover(api, EC256.mint(iss=ISS, aud=DISCOVERY_AUD)).status_code == 200


# --------------------------------------------------------------------------- the refusal matrix


def _tampered() -> str:
    header, payload, signature = ec().split(".")
    other_payload = ec().split(".")[1]  # a different jti, same everything else
    return f"{header}.{other_payload}.{signature}"


def _bad_signature_bytes() -> str:
    header, payload, signature = ec().split(".")
    flipped = ("A" if signature[5] != "A" else "B")
    return f"{header}.{payload}.{signature[:5]}{flipped}{signature[6:]}"


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISS, "aud": DISCOVERY_AUD, "iat": now, "exp": now + 300, "jti": f"j-{time.time_ns()}"}
    claims.update(overrides)
    return claims


MATRIX: list[tuple[str, Any, str]] = [
    ("malformed: not a JWT", lambda: "not-a-jwt", "malformed-token"),
    ("malformed: three garbage parts", lambda: "a.b.c", "malformed-token"),
    ("malformed: payload not JSON", lambda: ec().split(".")[0] + ".bm90IGpzb24." + ec().split(".")[2], "malformed-token"),
    ("malformed: padded segment", lambda: ec().replace(".", "=.", 1), "malformed-token"),
    ("malformed: standard base64 (not base64url) in the signature", lambda: ec()[:-2] + "+/", "malformed-token"),
    ("malformed: a crit extension, signed", lambda: ec(headers={"crit": ["exp"]}), "malformed-token"),
    ("malformed: unencoded payload (b64 false)", lambda: unsigned_token(
        {"alg": "ES384", "typ": "JWT", "kid": "ec-kid", "b64": False, "crit": ["b64"]}, _claims(), b"x" * 96),
     "malformed-token"),
    ("alg none", lambda: unsigned_token({"alg": "none", "typ": "JWT", "kid": "ec-kid"}, _claims()), "alg-not-allowed"),
    ("alg None", lambda: unsigned_token({"alg": "None", "typ": "JWT", "kid": "ec-kid"}, _claims()), "alg-not-allowed"),
    ("HS384 with the RSA public key PEM as secret (key confusion)",
     lambda: hs_token(RSA.public_pem, {"typ": "JWT", "kid": "rsa-kid"}, _claims()), "alg-not-allowed"),
    ("HS256 with the EC public key PEM as secret",
     lambda: hs_token(EC.public_pem, {"typ": "JWT", "kid": "ec-kid"}, _claims(), "HS256"), "alg-not-allowed"),
    ("RS256 not configured", lambda: RSA.mint(iss=ISS, aud=DISCOVERY_AUD, alg="RS256"), "alg-not-allowed"),
    ("PS384 never supported", lambda: RSA.mint(iss=ISS, aud=DISCOVERY_AUD, alg="PS384"), "alg-not-allowed"),
    ("typ not JWT", lambda: ec(headers={"typ": "at+jwt"}), "bad-typ"),
    ("no kid", lambda: ec(kid=None), "missing-kid"),
    ("missing iss", lambda: ec(drop=("iss",)), "missing-claim:iss"),
    ("unknown iss", lambda: ec(iss="https://evil.example.org"), "unknown-issuer"),
    ("missing aud", lambda: ec(drop=("aud",)), "missing-claim:aud"),
    ("missing exp", lambda: ec(drop=("exp",)), "missing-claim:exp"),
    ("missing iat", lambda: ec(drop=("iat",)), "missing-claim:iat"),
    ("missing jti", lambda: ec(drop=("jti",)), "missing-claim:jti"),
    ("empty jti", lambda: ec(jti=""), "invalid-claim:jti"),
    ("exp not a number", lambda: ec(extra={"exp": "soon"}), "invalid-claim:exp"),
    ("wrong aud: another host", lambda: ec(aud="https://evil.example.org/cds-services"), "wrong-audience"),
    ("wrong aud: http instead of https", lambda: ec(aud="http://cds.example.org/cds-services"), "wrong-audience"),
    ("wrong aud: the hook URL on discovery", lambda: ec(aud=HOOK_AUD), "wrong-audience"),
    ("wrong aud: prefix only", lambda: ec(aud=PUBLIC), "wrong-audience"),
    ("wrong aud: the request URL, not the public one", lambda: ec(aud="http://testserver/cds-services"), "wrong-audience"),
    ("wrong aud: empty list", lambda: ec(aud=[]), "wrong-audience"),
    ("expired beyond skew", lambda: ec(iat=time.time() - 400, lifetime=300), "expired"),
    ("iat in the future beyond skew", lambda: ec(iat=time.time() + 120), "iat-in-future"),
    ("nbf in the future beyond skew", lambda: ec(extra={"nbf": int(time.time()) + 120}), "not-yet-valid"),
    ("exp - iat over 5 minutes", lambda: ec(lifetime=301), "lifetime-too-long"),
    ("exp - iat one hour", lambda: ec(lifetime=3600), "lifetime-too-long"),
    ("exp before iat", lambda: ec(lifetime=-10, iat=time.time() + 5), "invalid-lifetime"),
    ("unknown kid, no jku to fetch from", lambda: ec(kid="nobody"), "unknown-kid"),
    ("kid of an RSA key with alg ES384", lambda: ec(kid="rsa-kid"), "key-alg-mismatch"),
    ("signed by another key with the same kid", lambda: STRANGER.mint(iss=ISS, aud=DISCOVERY_AUD), "bad-signature"),
    ("payload swapped under a valid signature", _tampered, "bad-signature"),
    ("signature bytes flipped", _bad_signature_bytes, "bad-signature"),
    ("tenant not allowed", lambda: EC.mint(iss=TENANT_ISS, aud=DISCOVERY_AUD, extra={"tenant": "tenant-b"}),
     "tenant-not-allowed"),
    ("tenant missing for a tenant-scoped client", lambda: EC.mint(iss=TENANT_ISS, aud=DISCOVERY_AUD),
     "missing-claim:tenant"),
]


@pytest.mark.parametrize(("case", "make_token", "check"), MATRIX, ids=[m[0] for m in MATRIX])
def test_refusal_matrix(api, caplog, case, make_token, check):
    caplog.set_level(logging.INFO)
    token = make_token()
    assert_refused(discover(api, token), caplog, check)
    assert all(token not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("headers", "check"),
    [
        ({}, "missing-token"),
        ({"Authorization": ""}, "missing-token"),
        ({"Authorization": "Bearer"}, "missing-token"),
        ({"Authorization": "Bearer "}, "missing-token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing-token"),
        ({"Authorization": "Bearer " + "a" * 20000 + ".b.c"}, "malformed-token"),
    ],
)
def test_missing_or_unusable_authorization_header(api, caplog, headers, check):
    assert_refused(discover(api, headers=headers), caplog, check)


def test_replayed_jti_is_refused_for_the_tokens_lifetime(api, caplog):
    token = ec()
    assert discover(api, token).status_code == 200
    assert_refused(discover(api, token), caplog, "replay")
    # the same jti in a fresh token is still a replay
    jti = "fixed-jti-1"
    assert discover(api, ec(jti=jti)).status_code == 200
    assert_refused(discover(api, ec(jti=jti)), caplog, "replay")
    # ... but the jti space is per issuer
    assert discover(api, EPIC.mint(iss=EPIC_ISS, aud=DISCOVERY_AUD, jti=jti)).status_code == 200


def test_a_replay_claim_that_must_wait_for_another_writer_waits_and_still_refuses_replays(tmp_path, caplog):
    """The claim is made on the event loop only when nothing holds the database; otherwise it waits in a thread
    (here behind another connection's write transaction) and guards the token ids just the same."""
    with secured_client(tmp_path, DEFAULT_CLIENTS) as api:
        assert discover(api, ec()).status_code == 200  # the first claim also ran the clean-up of expired rows
        writer = sqlite3.connect(tmp_path / "state.sqlite3", isolation_level=None, check_same_thread=False)
        writer.execute("BEGIN IMMEDIATE")
        threading.Timer(0.3, writer.execute, ("COMMIT",)).start()
        token = ec()
        started = time.monotonic()
        assert discover(api, token).status_code == 200
        assert time.monotonic() - started >= 0.25  # it waited for the writer (a thread), it was not refused
        assert_refused(discover(api, token), caplog, "replay")  # claimed on the fast path once the lock is free
        writer.close()


def test_a_refused_token_does_not_burn_its_jti(api, caplog):
    """The jti is claimed only after the signature verified: a forgery cannot pre-empt a real token."""
    jti = "victim-jti"
    assert_refused(discover(api, STRANGER.mint(iss=ISS, aud=DISCOVERY_AUD, jti=jti)), caplog, "bad-signature")
    assert discover(api, ec(jti=jti)).status_code == 200


def test_refusals_on_hook_and_feedback_are_bare_401s(api, caplog):
    for path, aud in ((HOOK_URL, HOOK_AUD), (FEEDBACK_URL, FEEDBACK_AUD)):
        caplog.clear()
        assert_refused(api.post(path, json={}, headers=bearer(ec(aud=DISCOVERY_AUD))), caplog, "wrong-audience")
        caplog.clear()
        assert_refused(api.post(path, json={}, headers=bearer(ec(aud=aud, lifetime=900))), caplog, "lifetime-too-long")


@pytest.mark.api(max_body_bytes=1000)
@pytest.mark.parametrize("how", ["declared", "chunked"])
def test_oversized_body_is_413_before_anything_is_read(api, caplog, how):
    """The body limit comes first: no token is even looked at (the one in-process 413 test; the live one is in
    test_allowlist)."""
    body = b"x" * 5000
    content = body if how == "declared" else (body[i:i + 500] for i in range(0, len(body), 500))
    response = api.post(HOOK_URL, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["issue"][0]["code"] == "too-costly"
    assert failed_check(caplog) is None, "refused before authentication"


def test_auth_failures_are_counted_by_check(api):
    discover(api, ec(iss="https://evil.example.org"))
    metrics = api.get("/metrics").text
    assert "unknown-issuer" in metrics


# --------------------------------------------------------------------------- jku: allowlist, fetch, cache, cooldown


def test_sandbox_shaped_token_with_allowlisted_jku_is_fetched_once_and_cached(tmp_path, jwks_host):
    host = jwks_host(jwks(EC))
    sandbox_iss = "https://sandbox.cds-hooks.example.org"
    with secured_client(tmp_path, [client_entry(sandbox_iss, jku=[host.url])]) as api:
        for _ in range(3):
            # the sandbox's shape: ES384, header {alg, typ, kid, jku}, claims iss, aud, exp=+300, iat, jti; no sub
            token = EC.mint(iss=sandbox_iss, aud=DISCOVERY_AUD, lifetime=300, headers={"jku": host.url})
            assert discover(api, token).status_code == 200
        # without a jku header the client's listed jku is used (already cached)
        assert discover(api, EC.mint(iss=sandbox_iss, aud=DISCOVERY_AUD)).status_code == 200
    assert host.requests == ["/jwks.json"]


def test_jku_not_in_the_issuers_list_is_never_fetched(tmp_path, jwks_host, caplog):
    listed = jwks_host(jwks(EC))
    rogue = jwks_host(jwks(STRANGER))
    with secured_client(tmp_path, [client_entry(ISS, jku=[listed.url])]) as api:
        token = STRANGER.mint(iss=ISS, aud=DISCOVERY_AUD, headers={"jku": rogue.url})
        assert_refused(discover(api, token), caplog, "jku-not-allowlisted")
    assert rogue.requests == [] and listed.requests == []


def test_inline_kid_is_verified_with_the_key_on_record_whatever_jku_says(tmp_path, jwks_host, caplog):
    rogue = jwks_host(jwks(STRANGER))  # serves a key under the same kid as the inline one
    with secured_client(tmp_path, [client_entry(ISS, keys=[EC])]) as api:
        assert discover(api, ec(headers={"jku": rogue.url})).status_code == 200
        # a forger naming the inline kid and its own jku: verified with the key on record, so the signature fails
        forged = STRANGER.mint(iss=ISS, aud=DISCOVERY_AUD, headers={"jku": rogue.url})
        assert_refused(discover(api, forged), caplog, "bad-signature")
        # a kid that is not on record would have to come from the jku: refused, never fetched
        other = TestKey.ec384("not-on-record")
        caplog.clear()
        assert_refused(discover(api, other.mint(iss=ISS, aud=DISCOVERY_AUD, headers={"jku": rogue.url})), caplog,
                       "jku-not-allowlisted")
        assert api.app.state.runtime.authenticator.keys.fetches == 0
    assert rogue.requests == []


def test_inline_kid_with_another_algorithm_is_refused_whatever_jku_says(tmp_path, jwks_host, caplog):
    rogue = jwks_host(jwks(STRANGER))
    rsa_as_ec = TestKey.rsa("ec-kid", "RS384")  # the inline kid is an ES384 key
    with secured_client(tmp_path, [client_entry(ISS, keys=[EC])]) as api:
        token = rsa_as_ec.mint(iss=ISS, aud=DISCOVERY_AUD, headers={"jku": rogue.url})
        assert_refused(discover(api, token), caplog, "key-alg-mismatch")
    assert rogue.requests == []


# --------------------------------------------------------------------------- the real CDS Hooks sandbox's tokens

SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
#: A test key registered inline under the sandbox's kid (the sandbox's own private key is public, but a fresh key
#: proves the same thing without copying it).
SANDBOX = TestKey.ec384(SANDBOX_KID)


def sandbox_token(aud: str, *, ahead_s: float = 0.5) -> str:
    """A token shaped exactly like the sandbox's (sandbox-findings.md section 3): header {alg ES384, typ JWT, kid,
    jku}; claims iss, aud = the URL called, iat = the clock rounded (so up to 0.5 s ahead), exp = iat + 300, a new
    jti; no sub, no nbf."""
    iat = time.time() + ahead_s
    return SANDBOX.mint(iss=SANDBOX_ISS, aud=aud, iat=iat, extra={"iat": iat, "exp": iat + 300},
                        headers={"jku": SANDBOX_JKU})


def test_sandbox_token_with_its_inline_key_is_accepted_on_every_route_and_nothing_is_fetched(tmp_path):
    from cds import SIGN_URL

    sign_request = seed_request()
    sign_request["hook"] = "order-sign"
    with secured_client(tmp_path, [client_entry(SANDBOX_ISS, keys=[SANDBOX])]) as api:
        header = jwt.get_unverified_header(sandbox_token(DISCOVERY_AUD))
        assert header == {"alg": "ES384", "typ": "JWT", "kid": SANDBOX_KID, "jku": SANDBOX_JKU}
        assert set(jwt.decode(sandbox_token(DISCOVERY_AUD), options={"verify_signature": False})) == {
            "iss", "aud", "iat", "exp", "jti"}
        assert discover(api, sandbox_token(DISCOVERY_AUD)).status_code == 200
        for path, body in ((HOOK_URL, seed_request()), (SIGN_URL, sign_request)):
            response = api.post(path, json=body, headers=bearer(sandbox_token(f"{PUBLIC}{path}")))
            assert response.status_code == 200 and response.json()["cards"], (path, response.text)
        for path in (FEEDBACK_URL, f"{SIGN_URL}/feedback"):
            feedback = {"feedback": [{"card": str(uuid.uuid4()), "outcome": "overridden",
                                      "outcomeTimestamp": "2026-12-01T11:22:06.123Z"}]}
            response = api.post(path, json=feedback, headers=bearer(sandbox_token(f"{PUBLIC}{path}")))
            assert response.status_code == 200, (path, response.text)
        assert api.app.state.runtime.authenticator.keys.fetches == 0, "the sandbox's jku is never fetched"


def test_sandbox_token_for_one_service_id_is_refused_at_the_other(tmp_path, caplog):
    from cds import SIGN_URL

    with secured_client(tmp_path, [client_entry(SANDBOX_ISS, keys=[SANDBOX])]) as api:
        request = seed_request()
        request["hook"] = "order-sign"
        token = sandbox_token(f"{PUBLIC}{HOOK_URL}")  # aud: the order-select id's URL
        assert_refused(api.post(SIGN_URL, json=request, headers=bearer(token)), caplog, "wrong-audience")


def test_the_documented_sandbox_entry_accepts_a_sandbox_shaped_token(tmp_path):
    """deploy/trusted-clients.example.json is the published sandbox key; a token from that key pair verifies."""
    example = json.loads((REPO / "deploy" / "trusted-clients.example.json").read_text())
    (entry,) = example["clients"]
    published = entry["jwks"]["keys"][0]
    assert (entry["iss"], published["kid"], published["alg"], published["crv"]) == (
        SANDBOX_ISS, SANDBOX_KID, "ES384", "P-384")
    # swap in the public half of our test key under the same kid: the entry's shape is what is being checked
    entry["jwks"]["keys"][0] = {**published, **{k: SANDBOX.public_jwk()[k] for k in ("x", "y")}}
    path = tmp_path / "sandbox-entry.json"
    path.write_text(json.dumps(example))
    with secured_client(tmp_path, [], trusted_clients=path) as api:
        assert discover(api, sandbox_token(DISCOVERY_AUD, ahead_s=0.3)).status_code == 200
        assert api.app.state.runtime.authenticator.keys.fetches == 0


def test_unknown_issuer_never_causes_a_fetch(tmp_path, jwks_host, caplog):
    host = jwks_host(jwks(EC))
    with secured_client(tmp_path, [client_entry(ISS, jku=[host.url])]) as api:
        token = EC.mint(iss="https://evil.example.org", aud=DISCOVERY_AUD, headers={"jku": host.url})
        assert_refused(discover(api, token), caplog, "unknown-issuer")
        caplog.clear()
        assert_refused(discover(api, EC.mint(iss=ISS, aud=DISCOVERY_AUD, lifetime=9999)), caplog, "lifetime-too-long")
    assert host.requests == []  # neither an unknown issuer nor a bad claim triggers a key fetch


def test_unknown_kid_refetches_once_then_cools_down_and_picks_up_a_rotated_key(tmp_path, jwks_host, caplog):
    host = jwks_host(jwks(EC))
    rotated = TestKey.ec384("rotated-kid")
    with secured_client(tmp_path, [client_entry(ISS, jku=[host.url])]) as api:
        keys = api.app.state.runtime.authenticator.keys
        keys.cooldown_s = 0.5
        assert discover(api, ec()).status_code == 200
        assert len(host.requests) == 1
        time.sleep(0.6)
        assert_refused(discover(api, rotated.mint(iss=ISS, aud=DISCOVERY_AUD)), caplog, "unknown-kid")
        assert len(host.requests) == 2  # one refetch for the unknown kid ...
        for _ in range(5):
            caplog.clear()
            assert_refused(discover(api, rotated.mint(iss=ISS, aud=DISCOVERY_AUD)), caplog, "unknown-kid")
        assert len(host.requests) == 2  # ... then the cooldown: no hammering the JWKS host
        host.document = jwks(EC, rotated)  # the client rotates its keys
        time.sleep(0.6)
        assert discover(api, rotated.mint(iss=ISS, aud=DISCOVERY_AUD)).status_code == 200
        assert discover(api, ec()).status_code == 200
        assert len(host.requests) == 3


def test_default_cooldown_is_30_seconds_and_ttl_300(tmp_path, jwks_host, caplog):
    host = jwks_host(jwks(EC))
    with secured_client(tmp_path, [client_entry(ISS, jku=[host.url])]) as api:
        keys = api.app.state.runtime.authenticator.keys
        assert (keys.cooldown_s, keys.ttl_s) == (30.0, 300.0)
        for n in range(20):
            assert_refused(discover(api, EC.mint(iss=ISS, aud=DISCOVERY_AUD, kid=f"random-{n}")), caplog, "unknown-kid")
    assert len(host.requests) == 1


@pytest.mark.parametrize("failure", ["500", "not-json", "too-big", "slow", "not-a-jwks"])
def test_unusable_jwks_host_is_a_401_within_budget(tmp_path, jwks_host, caplog, failure):
    host = jwks_host(jwks(EC))
    if failure == "500":
        host.status = 500
    elif failure == "not-json":
        host.document = b"<html>oops</html>"
    elif failure == "too-big":
        host.document = {"keys": [EC.public_jwk()], "padding": "x" * 400_000}
    elif failure == "slow":
        host.delay = 3.0
    elif failure == "not-a-jwks":
        host.document = {"hello": "world"}
    with secured_client(tmp_path, [client_entry(ISS, jku=[host.url])]) as api:
        api.app.state.runtime.authenticator.keys.timeout_s = 0.5
        started = time.monotonic()
        assert_refused(discover(api, ec()), caplog, "jwks-unavailable")
        assert time.monotonic() - started < 2.0
        caplog.clear()
        assert_refused(discover(api, ec()), caplog, "jwks-unavailable")
    assert len(host.requests) == 1  # the failure is also under the cooldown


def test_fetched_jwks_skips_hmac_and_private_material(tmp_path, jwks_host):
    private_leak = dict(EC.public_jwk(), d="AAAA")
    host = jwks_host({"keys": [{"kty": "oct", "kid": "ec-kid", "k": "c2VjcmV0"}, private_leak]})
    with secured_client(tmp_path, [client_entry(ISS, jku=[host.url])]) as api:
        assert discover(api, ec()).status_code == 200  # the public part of the EC key is used


# --------------------------------------------------------------------------- start-up validation


def _write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "clients.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not valid JSON"),
        ({"issuers": []}, '"clients" list'),
        ({"clients": []}, "lists no clients"),
        ({"clients": [{"jku": ["https://x.example/jwks"]}]}, 'no "iss"'),
        ({"clients": [{"iss": "a"}]}, "needs inline"),
        ({"clients": [{"iss": "a", "jku": ["http://x.example/jwks"]}]}, "must be an https URL"),
        ({"clients": [{"iss": "a", "jku": "https://x.example/jwks"}, {"iss": "a", "jku": ["https://y.example/j"]}]},
         "listed twice"),
        ({"clients": [{"iss": "a", "jwks": {"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]}}]}, "symmetric"),
        ({"clients": [{"iss": "a", "jwks": {"keys": [dict(EC.public_jwk(), d="AAAA")]}}]}, "PRIVATE"),
        ({"clients": [{"iss": "a", "jwks": {"keys": [dict(EC.public_jwk(), kid=None)]}}]}, 'no "kid"'),
        ({"clients": [{"iss": "a", "jwks": {"keys": [TestKey.rsa("small", bits=1024).public_jwk()]}}]}, "2048"),
        ({"clients": [{"iss": "a", "jwks": {"keys": [EC.public_jwk()]}, "tenants": "t"}]}, "tenants"),
        ({"clients": [{"iss": "a", "jwks": {"keys": [EC.public_jwk()]}, "jwk_uri": "x"}]}, "unknown member"),
    ],
)
def test_trusted_clients_file_problems_are_named_at_start_up(tmp_path, document, message):
    path = _write(tmp_path, document)
    with pytest.raises(StartupRefused, match=message):
        load_trusted_clients(path, frozenset({"ES384", "RS384"}))
    with pytest.raises(StartupRefused, match=message):
        startup_check(Settings(trusted_clients=path))


@pytest.mark.parametrize("algs", [["ES384", "HS384"], ["none"], ["RS384", "HS256"], ["ES512"]])
def test_hmac_none_or_unknown_algorithms_in_config_refuse_start_up(tmp_path, algs):
    path = trusted_clients_file(tmp_path, [client_entry(ISS, keys=[EC])])
    with pytest.raises(StartupRefused, match="CDS_JWT_ALGORITHMS"):
        startup_check(Settings(trusted_clients=path, jwt_algorithms=algs))


def test_hmac_is_refused_even_if_an_authenticator_is_built_with_it(tmp_path, caplog):
    """Defence in depth: the Authenticator drops none/HMAC from its accepted set whatever the settings say."""
    import asyncio

    import httpx

    from service.auth import Authenticator, Unauthorized
    from service.storage import SqliteStore

    settings = make_settings(tmp_path, [client_entry(ISS, keys=[EC])], jwt_algorithms=["ES384", "HS384", "none"])
    store = SqliteStore(":memory:")

    async def run() -> str:
        async with httpx.AsyncClient() as http:
            auth = Authenticator(settings, store, http)
            assert auth.algorithms == {"ES384"}
            token = hs_token(EC.public_pem, {"typ": "JWT", "kid": "ec-kid"}, _claims())
            try:
                await auth.verify_token(token, DISCOVERY_AUD)
            except Unauthorized as exc:
                return exc.check
            return "accepted"

    assert asyncio.run(run()) == "alg-not-allowed"


def test_development_mode_starts_with_a_warning_and_accepts_no_token(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    startup_check(Settings(allow_unauthenticated=True))
    assert any("development mode" in r.getMessage() for r in caplog.records)
    from cds import client

    with client(tmp_path) as api:
        assert api.get("/cds-services").status_code == 200

