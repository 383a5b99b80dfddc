"""Where the EHR's token may go (CDS_FHIR_ALLOWLIST, FhirTarget.owns) and the limits on everything we read:
request bodies (also through a real uvicorn), FHIR response size, page count and time."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from cds import HOOK_URL, client, seed_request, without_prefetch
from support import BackgroundASGIServer, LiveService
from support.faulty_fhir import make_resource, searchset
from support.jwt_keys import TestKey, client_entry, jwks, trusted_clients_file

from service.config import Settings, StartupRefused
from service.fhir import Deadline, FhirError, FhirReader, FhirTarget, fhir_server_allowed
from service.fhir.allowlist import UnsafeUrl, canonical_url
from service.startup import startup_check

TOKEN = "ehr-access-token-do-not-leak-7f3a"
ENTRY = "https://ehr.example.org/fhir"


def production(**overrides) -> Settings:
    return Settings(allow_unauthenticated=False, fhir_allowlist=[ENTRY], **overrides)


# --------------------------------------------------------------------------- fhir_server_allowed (unit)

ALLOWED = [
    "https://ehr.example.org/fhir",
    "https://ehr.example.org/fhir/",
    "https://ehr.example.org/fhir/R4",
    "https://EHR.Example.org/fhir",
    "https://ehr.example.org:443/fhir",
]
REFUSED = [
    "https://ehr.example.org/fhirevil",
    "https://ehr.example.org/fhir-evil/R4",
    "https://ehr.example.org.evil.com/fhir",
    "https://evil.com/ehr.example.org/fhir",
    "https://ehr.example.org@evil.com/fhir",
    "https://user:pw@ehr.example.org/fhir",
    "http://ehr.example.org/fhir",
    "https://ehr.example.org:8443/fhir",
    "https://ehr.example.org/",
    "https://ehr.example.org",
    "https://ehr.example.org/FHIR",
    "https://ehr.example.org/other/fhir",
    "https://ehr.example.org/fhir/../admin",
    "https://ehr.example.org/fhir/%2e%2e/admin",
    "https://ehr.example.org/fhir%2F..%2Fadmin",
    "https://ehr.example.org/fhir?x=1",
    "https://ehr.example.org/fhir#frag",
    "https://ehr.example.org\\@evil.com/fhir",
    "https://ehr.example.org/fhir\n",
    "ftp://ehr.example.org/fhir",
    "//ehr.example.org/fhir",
    "ehr.example.org/fhir",
    "https://ehr.example.org:99999/fhir",
    "",
    "not a url",
]


@pytest.mark.parametrize("url", ALLOWED)
def test_allowlisted_server_matches(url):
    assert fhir_server_allowed(url, production())


@pytest.mark.parametrize("url", REFUSED)
def test_lookalike_servers_do_not_match(url):
    assert not fhir_server_allowed(url, production())


def test_without_an_allowlist_production_contacts_no_server_and_development_only_https_or_localhost():
    prod = Settings(allow_unauthenticated=False)
    dev = Settings(allow_unauthenticated=True)
    assert not fhir_server_allowed("https://ehr.example.org/fhir", prod)
    assert fhir_server_allowed("https://ehr.example.org/fhir", dev)
    assert fhir_server_allowed("http://127.0.0.1:8080/fhir", dev)
    assert fhir_server_allowed("http://localhost:8080/fhir", dev)
    assert not fhir_server_allowed("http://ehr.example.org/fhir", dev)


def test_an_http_entry_must_be_localhost():
    assert fhir_server_allowed("http://127.0.0.1:8080/fhir/R4",
                               Settings(allow_unauthenticated=False, fhir_allowlist=["http://127.0.0.1:8080/fhir"]))
    with pytest.raises(StartupRefused, match="https"):
        startup_check(Settings(allow_unauthenticated=True, fhir_allowlist=["http://ehr.example.org/fhir"]))
    with pytest.raises(StartupRefused, match="base URL"):
        startup_check(Settings(allow_unauthenticated=True, fhir_allowlist=["https://ehr.example.org/fhir?x=1"]))
    startup_check(Settings(allow_unauthenticated=True, fhir_allowlist=["http://localhost:8080/fhir", ENTRY]))


def test_allowlist_env_is_comma_separated(monkeypatch):
    monkeypatch.setenv("CDS_FHIR_ALLOWLIST", "https://a.example.org/fhir, https://b.example.org/r4")
    settings = Settings(allow_unauthenticated=False)
    assert settings.fhir_allowlist == ["https://a.example.org/fhir", "https://b.example.org/r4"]
    assert fhir_server_allowed("https://b.example.org/r4/Patient", settings)
    assert not fhir_server_allowed("https://c.example.org/fhir", settings)


# --------------------------------------------------------------------------- FhirTarget.owns (unit)


@pytest.mark.parametrize(
    ("url", "owned"),
    [
        ("https://ehr.example.org/fhir/Condition?patient=p", True),
        ("https://ehr.example.org/fhir/Condition?_page=2", True),
        ("https://ehr.example.org/fhirevil/Condition", False),
        ("https://ehr.example.org.evil.com/fhir/Condition", False),
        ("http://ehr.example.org/fhir/Condition", False),
        ("https://ehr.example.org:8443/fhir/Condition", False),
        ("https://evil.example.org/fhir/Condition", False),
        ("https://ehr.example.org/other/Condition", False),
    ],
)
def test_fhir_target_owns_only_urls_under_its_base(url, owned):
    assert FhirTarget("https://ehr.example.org/fhir", TOKEN).owns(url) is owned


def test_fhir_target_never_shows_its_token():
    target = FhirTarget("https://ehr.example.org/fhir", TOKEN)
    assert TOKEN not in repr(target) and TOKEN not in str(target)


# --------------------------------------------------------------------------- live: never contacted


def hook_call(api, fhir_base: str, **changes) -> httpx.Response:
    request = without_prefetch(seed_request())
    request["fhirServer"] = fhir_base
    request["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                    "scope": "patient/*.read", "subject": "axspa-cds"}
    request.update(changes)
    return api.post(HOOK_URL, json=request)


def seeded(faulty_fhir, mode: str = "ok", **kwargs):
    patient = seed_request()["context"]["patientId"]
    data = {t: [make_resource(t, f"{t.lower()}-1", patient)]
            for t in ("MedicationStatement", "Condition", "AllergyIntolerance")}
    return faulty_fhir(mode, data=data, **kwargs)


def test_allowlisted_server_is_read_with_the_token(tmp_path, faulty_fhir):
    fhir = seeded(faulty_fhir)
    with client(tmp_path, fhir_allowlist=[fhir.base_url]) as api:
        response = hook_call(api, fhir.base_url)
    assert response.status_code == 200, response.text
    assert fhir.requests and all(r.authorization == f"Bearer {TOKEN}" for r in fhir.requests)


@pytest.mark.parametrize("variant", ["other-entry", "path-prefix", "other-port"])
def test_a_server_outside_the_allowlist_is_never_contacted(tmp_path, faulty_fhir, variant):
    fhir = seeded(faulty_fhir)
    other = seeded(faulty_fhir)
    allow = {
        "other-entry": [ENTRY],
        "path-prefix": [fhir.url + "/fh"],  # http://127.0.0.1:P/fh must not admit http://127.0.0.1:P/fhir
        "other-port": [other.base_url],
    }[variant]
    with client(tmp_path, fhir_allowlist=allow) as api:
        response = hook_call(api, fhir.base_url)
    assert response.status_code == 412, response.text  # treated as no server: the data is unobtainable
    assert fhir.requests == []
    assert other.requests == []


def test_a_prefetch_next_link_to_another_host_is_not_followed(tmp_path, faulty_fhir):
    fhir = seeded(faulty_fhir)
    foreign = seeded(faulty_fhir)
    request = seed_request()
    conditions = request["prefetch"]["conditions"]
    conditions["link"] = [{"relation": "next", "url": f"{foreign.base_url}/Condition?patient=x&_page=2"}]
    with client(tmp_path, fhir_allowlist=[fhir.base_url]) as api:
        response = api.post(HOOK_URL, json={**request, "fhirServer": fhir.base_url,
                                            "fhirAuthorization": {"access_token": TOKEN, "token_type": "Bearer",
                                                                  "expires_in": 300, "scope": "patient/*.read",
                                                                  "subject": "axspa-cds"}})
    assert response.status_code in (200, 412), response.text
    assert foreign.requests == []


def test_a_server_next_link_to_another_host_is_not_followed_with_the_token():
    """A FHIR server's own page answering a `next` link elsewhere: FhirReader refuses before sending."""
    foreign_hits: list[str] = []

    async def foreign_app(scope, receive, send):
        if scope["type"] == "http":
            foreign_hits.append(scope["path"])
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

    with BackgroundASGIServer(foreign_app) as foreign:
        page = json.dumps(searchset([make_resource("Condition", "c1")],
                                    links=[{"relation": "next", "url": f"{foreign.url}/fhir/Condition?_page=2"}]))

        async def ehr_app(scope, receive, send):
            if scope["type"] == "http":
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/fhir+json")]})
                await send({"type": "http.response.body", "body": page.encode()})

        with BackgroundASGIServer(ehr_app) as ehr:
            async def run():
                async with httpx.AsyncClient() as http:
                    reader = FhirReader(http, max_bytes=1_000_000, max_pages=10)
                    target = FhirTarget(f"{ehr.url}/fhir", TOKEN)
                    with pytest.raises(FhirError, match="outside the FHIR server"):
                        await reader.search(target, f"{ehr.url}/fhir/Condition?patient=x", Deadline(5))

            asyncio.run(run())
    assert foreign_hits == []


# --------------------------------------------------------------------------- limits on what the FHIR server sends


def test_huge_response_is_cut_at_the_limit_and_never_a_5xx(tmp_path, faulty_fhir):
    fhir = seeded(faulty_fhir, per_type={"MedicationStatement": "huge"}, huge_count=20_000)
    with client(tmp_path, fhir_allowlist=[fhir.base_url], fhir_max_response_bytes=200_000) as api:
        started = time.monotonic()
        response = hook_call(api, fhir.base_url)
        elapsed = time.monotonic() - started
    # MedicationStatement is unavailable; MedicationRequest (empty) still answers for medications
    assert response.status_code in (200, 412), response.text
    assert elapsed < 5
    assert fhir.requests_for("MedicationStatement")


def test_huge_everything_is_412_not_5xx(tmp_path, faulty_fhir):
    fhir = faulty_fhir("huge", huge_count=20_000)
    with client(tmp_path, fhir_allowlist=[fhir.base_url], fhir_max_response_bytes=200_000) as api:
        response = hook_call(api, fhir.base_url)
    assert response.status_code == 412, response.text
    assert "larger than the configured limit" in response.text


def test_pagination_stops_at_the_page_limit(tmp_path, faulty_fhir):
    fhir = faulty_fhir("paginated", pages=50, page_size=2)
    with client(tmp_path, fhir_allowlist=[fhir.base_url], fhir_max_pages=3) as api:
        response = hook_call(api, fhir.base_url)
    assert response.status_code == 412, response.text
    assert 1 <= len(fhir.requests_for("Condition")) <= 3
    assert all(r.authorization == f"Bearer {TOKEN}" for r in fhir.requests)


def test_pagination_within_the_limit_is_read_completely(tmp_path, faulty_fhir):
    fhir = faulty_fhir("paginated", pages=3, page_size=2)
    with client(tmp_path, fhir_allowlist=[fhir.base_url], fhir_max_pages=3) as api:
        response = hook_call(api, fhir.base_url)
    assert response.status_code in (200, 412), response.text
    assert len(fhir.requests_for("Condition")) == 3


# --------------------------------------------------------------------------- request body limit, real server


@pytest.fixture()
def live_service(tmp_path):
    """`python -m service` (uvicorn) in development mode with a 10 kB body limit; its port."""
    with LiveService(tmp_path, CDS_MAX_BODY_BYTES="10000") as service:
        yield service.port


def test_declared_oversized_body_gets_413_before_the_body_is_sent(live_service):
    """A real uvicorn socket: the 413 arrives although not one body byte was sent."""
    with socket.create_connection(("127.0.0.1", live_service), timeout=5) as sock:
        sock.sendall(
            f"POST {HOOK_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: 50000000\r\n\r\n".encode()
        )
        started = time.monotonic()
        answer = sock.recv(65536).decode(errors="replace")  # no body byte was ever sent
        elapsed = time.monotonic() - started
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert elapsed < 2


def test_chunked_oversized_body_gets_413(live_service):
    def chunks():
        for _ in range(100):
            yield b"x" * 1000

    response = httpx.post(f"http://127.0.0.1:{live_service}{HOOK_URL}", content=chunks(), timeout=10,
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_body_under_the_limit_is_processed(live_service):
    response = httpx.post(f"http://127.0.0.1:{live_service}{HOOK_URL}", content=b"[]", timeout=10,
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 400


# --------------------------------------------------------------------------- canonical URLs (what is checked is sent)

CANONICAL = [
    ("https://EHR.Example.org:443/fhir//Patient/./p1", "https://ehr.example.org/fhir/Patient/p1"),
    ("https://ehr.example.org/fhir/a/../Condition?patient=p&_page=2",
     "https://ehr.example.org/fhir/Condition?patient=p&_page=2"),
    ("https://ehr.example.org/fhir/%7e%41x", "https://ehr.example.org/fhir/~Ax"),
    ("https://ehr.example.org/fhir/a%c3%a9", "https://ehr.example.org/fhir/a%C3%A9"),
    ("http://127.0.0.1:8080/fhir/", "http://127.0.0.1:8080/fhir/"),
    ("https://ehr.example.org/fhir/Observation?code=http://loinc.org|1988-5",
     "https://ehr.example.org/fhir/Observation?code=http://loinc.org|1988-5"),
]
UNSAFE = [
    "https://ehr.example.org/fhir/../../admin",  # above the root
    "https://ehr.example.org/fhir/%2e%2e/admin",
    "https://ehr.example.org/fhir/%2E/x",
    "https://ehr.example.org/fhir%2f..%2fadmin",
    "https://ehr.example.org/fhir/..;/admin",  # Tomcat and friends read '..;' as '..'
    "https://ehr.example.org/fhir/.;x/admin",
    "https://ehr.example.org/fhir/%252e%252e/admin",  # double-encoded
    "https://ehr.example.org/fhir/a%5cb",
    "https://ehr.example.org/fhir/a%3bb",
    "https://ehr.example.org/fhir\\..\\admin",
    "https://ehr.example.org/fhir/a%zz",
    "https://user@ehr.example.org/fhir",
    "https://ehr.example.org/fhir#x",
    "https://ehr.example.org/fhir/a b",
    "https://ehr.example.org/fhir/é",
    "https://ehr.example.org/fhir/\"x\"",  # httpx would send %22: not what was checked
    "ftp://ehr.example.org/fhir",
]


@pytest.mark.parametrize(("url", "canonical"), CANONICAL)
def test_urls_are_brought_to_one_canonical_form(url, canonical):
    assert str(canonical_url(url)) == canonical


@pytest.mark.parametrize("url", UNSAFE)
def test_urls_servers_disagree_about_are_refused(url):
    with pytest.raises(UnsafeUrl):
        canonical_url(url)


@pytest.mark.parametrize(
    ("url", "owned"),
    [
        ("https://ehr.example.org/fhir/../admin/x", False),  # the next link: /admin/x once resolved
        ("https://ehr.example.org/fhir/Condition/../../admin", False),
        ("https://ehr.example.org/fhir/..;/admin/x", False),
        ("https://ehr.example.org/fhir/%2e%2e/admin/x", False),
        ("https://ehr.example.org/fhir/", False),  # the base itself: never a read
        ("https://ehr.example.org/fhir/Patient/..", False),
        ("https://ehr.example.org/fhir/Condition/../Patient/p1", True),
        ("https://ehr.example.org//fhir//Condition?_page=2", True),
    ],
)
def test_fhir_target_checks_the_canonical_url(url, owned):
    assert FhirTarget("https://ehr.example.org/fhir", TOKEN).owns(url) is owned


DOT_LINKS = ["{base}/../admin/x", "{base}/Condition/../../admin/x", "{base}/..;/admin/x", "{base}/%2e%2e/admin/x"]


@pytest.mark.parametrize("link", DOT_LINKS)
def test_a_next_link_with_dot_segments_never_takes_the_token_out_of_the_base(link):
    """Real sockets: what the server receives is what was checked; nothing reaches /admin."""
    seen: list[tuple[str, str | None]] = []

    async def ehr_app(scope, receive, send):
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        wire = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
        seen.append((wire.decode(), (headers.get(b"authorization") or b"").decode() or None))
        base = f"http://127.0.0.1:{scope['server'][1]}/fhir"
        body = json.dumps(searchset([make_resource("Condition", "c1")],
                                    links=[{"relation": "next", "url": link.format(base=base)}])).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/fhir+json")]})
        await send({"type": "http.response.body", "body": body})

    with BackgroundASGIServer(ehr_app) as ehr:
        async def run():
            async with httpx.AsyncClient() as http:
                reader = FhirReader(http, max_bytes=1_000_000, max_pages=10)
                with pytest.raises(FhirError, match="outside the FHIR server|not plain"):
                    await reader.search(FhirTarget(f"{ehr.url}/fhir", TOKEN), f"{ehr.url}/fhir/Condition?patient=x",
                                        Deadline(5))

        asyncio.run(run())
    assert seen == [("/fhir/Condition?patient=x", f"Bearer {TOKEN}")]


@pytest.mark.parametrize("patient_id", [".", ".."])
def test_a_dot_patient_id_is_400_and_never_reaches_a_url(tmp_path, faulty_fhir, patient_id):
    fhir = seeded(faulty_fhir)
    with client(tmp_path, fhir_allowlist=[fhir.base_url]) as api:
        request = without_prefetch(seed_request())
        request["context"]["patientId"] = patient_id
        response = hook_call(api, fhir.base_url, context=request["context"])
    assert response.status_code == 400 and "patientId" in response.text
    assert fhir.requests == []


# --------------------------------------------------------------------------- one pool per FHIR server


def test_a_hanging_fhir_server_exhausts_only_its_own_pool(tmp_path, faulty_fhir):
    """25 calls stuck on one allowlisted server that never answers; meanwhile calls to a healthy server are served,
    and a JWKS fetch (its own client) goes through. Real sockets, `python -m service` in production mode."""
    hanging = faulty_fhir("hang", hang_seconds=10)
    healthy = seeded(faulty_fhir)
    keys = {"a": TestKey.ec384("ehr-a-kid"), "b": TestKey.ec384("ehr-b-kid")}
    jwks_hits: list[str] = []

    async def jwks_app(scope, receive, send):
        if scope["type"] == "http":
            jwks_hits.append(scope["path"])
            key = keys[scope["path"].rsplit("/", 1)[-1]]
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": json.dumps(jwks(key)).encode()})

    with BackgroundASGIServer(jwks_app) as jwks_host:
        clients = trusted_clients_file(tmp_path, [client_entry(f"https://ehr-{n}.example.org", jku=[f"{jwks_host.url}/{n}"])
                                                  for n in keys])
        env = {"CDS_ALLOW_UNAUTHENTICATED": "false", "CDS_TRUSTED_CLIENTS": str(clients),
               "CDS_FHIR_ALLOWLIST": f"{hanging.base_url},{healthy.base_url}", "CDS_FHIR_TIMEOUT_S": "3",
               "CDS_FHIR_MAX_CONNECTIONS": "20"}
        with LiveService(tmp_path, **env) as svc:
            def call(fhir_base: str, issuer: str) -> int:
                request = without_prefetch(seed_request())
                request["fhirServer"] = fhir_base
                request["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                                "scope": "patient/*.read", "subject": "axspa-cds"}
                token = keys[issuer].mint(iss=f"https://ehr-{issuer}.example.org", aud=f"{svc.url}{HOOK_URL}")
                return httpx.post(f"{svc.url}{HOOK_URL}", json=request, timeout=20,
                                  headers={"Authorization": f"Bearer {token}"}).status_code

            assert call(healthy.base_url, "a") == 200  # issuer a's keys are fetched and cached
            with ThreadPoolExecutor(30) as pool:
                stuck = [pool.submit(call, hanging.base_url, "a") for _ in range(25)]
                deadline = time.monotonic() + 5
                while len(hanging.requests) < 20 and time.monotonic() < deadline:
                    time.sleep(0.02)
                started = time.monotonic()
                served = [pool.submit(call, healthy.base_url, "b").result() for _ in range(5)]  # b: a first fetch
                healthy_s = time.monotonic() - started
                held = len(hanging.requests)  # before any stuck call's budget ends: what its pool let through
                stuck_statuses = [f.result() for f in stuck]
    assert served == [200] * 5, served
    assert healthy_s < 2.5, healthy_s  # never waited on the hanging server's pool (its calls wait 3 s)
    assert stuck_statuses == [412] * 25  # the hanging server's own calls: unobtainable data, never a 5xx
    assert held == 20  # its pool is bounded (CDS_FHIR_MAX_CONNECTIONS): the other 130 reads waited for it
    assert jwks_hits == ["/a", "/b"]  # b's keys were fetched while the hanging server's pool was full
