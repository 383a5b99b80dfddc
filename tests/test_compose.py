"""Container and compose wiring, checked without a Docker engine (none on the CI machines).

docker-compose.yml is parsed with yaml and the Dockerfile line by line; the one-shot loader
(deploy/load_fixtures.py) is run for real against a real FHIR server (sekmet, the `fhir_server` fixture).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from support.net import free_port

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
LOADER = REPO / "deploy" / "load_fixtures.py"
SEED_STATEMENTS = {"ms-etn", "ms-upa", "ms-cel"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def substitute(value: str) -> str:
    """Compose's ${VAR:-default} with the defaults (what `docker compose up` uses with an empty environment)."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def env(service: dict) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: substitute(v) for k, v in raw.items()}


def test_all_services_are_there(services):
    assert {"cds", "postgres", "hapi", "loader"} <= set(services)
    assert services["cds"]["build"]["context"] == "."
    assert (REPO / services["cds"]["build"]["dockerfile"]).is_file()
    assert services["loader"]["restart"] == "no", "the loader is one-shot"


def test_images_are_pinned(services):
    for name, service in services.items():
        image = service.get("image")
        if image is None:
            assert "build" in service, f"{name} has neither image nor build"
            continue
        assert ":" in image, f"{name}: image {image} has no tag"
        tag = image.rsplit(":", 1)[1]
        assert tag != "latest" and re.search(r"\d", tag), f"{name}: image {image} is not pinned to a version"
    assert services["hapi"]["image"].startswith("hapiproject/hapi:v")
    assert services["postgres"]["image"].startswith("postgres:")
    args = {k.split("=", 1)[0]: k.split("=", 1)[1] for i, k in dockerfile_instructions() if i == "ARG" and "=" in k}
    for instruction, rest in dockerfile_instructions():
        if instruction == "FROM":
            image = rest.split()[0]
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), image)
            assert ":" in image and not image.endswith(":latest") and re.search(r":\d", image), image
            assert "slim" in image


def test_service_uses_postgres_and_hapi_by_service_name(services):
    cds = env(services["cds"])
    pg = env(services["postgres"])
    db = urlsplit(cds["CDS_DATABASE_URL"])
    assert db.scheme == "postgresql" and db.hostname == "postgres" and db.port == 5432
    assert db.username == pg["POSTGRES_USER"] and db.password == pg["POSTGRES_PASSWORD"]
    assert db.path.lstrip("/") == pg["POSTGRES_DB"]
    fhir = urlsplit(cds["CDS_FHIR_ALLOWLIST"])
    assert (fhir.scheme, fhir.hostname, fhir.port, fhir.path) == ("http", "hapi", 8080, "/fhir")
    assert cds["CDS_FHIR_ALLOW_HTTP_HOSTS"] == "hapi", "plain http to HAPI is an explicit, named exception"
    assert env(services["hapi"])["hapi.fhir.fhir_version"] == "R4"
    assert "http://hapi:8080/fhir" in services["loader"]["command"]


def test_dependencies_wait_for_health(services):
    assert services["loader"]["depends_on"]["hapi"]["condition"] == "service_healthy"
    assert services["cds"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("hapi", "postgres", "cds"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "/fhir/metadata" in " ".join(services["hapi"]["healthcheck"]["test"])


def test_ports_are_published_on_localhost_only(services):
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"
    assert "postgres" not in services or not services["postgres"].get("ports"), "the database stays internal"


def test_the_service_container_may_hold_its_connection_bound(services):
    """The connection guard needs file descriptors: CDS_MAX_CONNECTIONS (2,048 per worker) plus the FHIR pools."""
    nofile = services["cds"]["ulimits"]["nofile"]
    soft = nofile if isinstance(nofile, int) else nofile["soft"]
    assert soft >= 2048 * 2 + 256


def test_dockerfile_is_slim_non_root_and_matches_compose(services):
    instructions = dockerfile_instructions()
    users = [rest for i, rest in instructions if i == "USER"]
    assert users, "no USER"
    final_user = users[-1].split(":")[0]
    assert final_user not in ("root", "0"), "the container must not run as root"
    expose = [rest for i, rest in instructions if i == "EXPOSE"]
    assert expose == ["8000"]
    published = [str(p) for p in services["cds"]["ports"]]
    assert published == ["127.0.0.1:8000:8000"]
    cmd = next(rest for i, rest in instructions if i == "CMD")
    assert "--port 8000" in cmd and "--host 0.0.0.0" in cmd and "${WORKERS}" in cmd
    health = next(rest for i, rest in instructions if i == "HEALTHCHECK")
    assert "127.0.0.1:8000/healthz" in health
    assert any(i == "ENV" and "WORKERS=" in rest for i, rest in instructions)
    assert "WORKERS" in env(services["cds"])


def test_every_referenced_file_exists_and_reaches_the_image(services):
    ignored = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for instruction, rest in dockerfile_instructions():
        if instruction != "COPY" or "--from=" in rest:
            continue
        *sources, _dest = shlex.split(rest)
        for source in sources:
            assert (REPO / source).exists(), f"Dockerfile COPY {source}: missing"
            top = source.split("/")[0]
            assert not any(fnmatch.fnmatch(top, pattern) or fnmatch.fnmatch(source, pattern) for pattern in ignored), (
                f"{source} is excluded by .dockerignore")
    for name, service in services.items():
        for volume in service.get("volumes", []):
            host = str(volume).split(":")[0]
            if host.startswith("."):
                assert (REPO / host).exists(), f"{name} mounts {host}, which does not exist"
    loader_script = services["loader"]["command"][1]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in services["loader"]["volumes"]}
    assert (REPO / mounts[loader_script]).resolve() == LOADER.resolve()
    # package data the image relies on
    for name in ("index.html", "app.js", "style.css"):
        assert (REPO / "service" / "dev" / "web" / name).is_file()
    assert list((REPO / "hooks" / "knowledge").glob("*.toml"))
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"web/*"' in pyproject and '"knowledge/*.toml"' in pyproject


def test_trusted_clients_example_trusts_only_the_sandbox():
    """The mounted example is a valid CDS_TRUSTED_CLIENTS file (read by the service's own loader)."""
    from service.auth import load_trusted_clients

    clients = load_trusted_clients(REPO / "deploy" / "trusted-clients.example.json", frozenset({"ES384", "RS384"}))
    assert list(clients) == ["https://sandbox.cds-hooks.org"]
    sandbox = clients["https://sandbox.cds-hooks.org"]
    assert sandbox.jku == (), "inline key only: nothing is ever fetched from the sandbox's host"
    assert list(sandbox.keys) == [("44823f3d-0b01-4a6c-a80e-b9d3e8a7226f", "ES384")]


def test_compose_settings_are_accepted_by_the_service(services, tmp_path):
    """The cds container's CDS_* environment is a valid configuration, in dev mode and with JWTs required."""
    from service.config import Settings
    from service.fhir import fhir_server_allowed
    from service.startup import startup_check

    cds = env(services["cds"])
    known = {f"CDS_{name.upper()}" for name in Settings.model_fields} | {"CDS_PREVIEW_FIXTURES"}
    assert {k for k in cds if k.startswith("CDS_")} <= known
    trusted = tmp_path / "trusted.json"
    trusted.write_text((REPO / "deploy" / "trusted-clients.example.json").read_text())
    for dev_mode in ("true", "false"):
        values = {k[4:].lower(): v for k, v in cds.items() if k.startswith("CDS_") and k != "CDS_PREVIEW_FIXTURES"}
        values.update(allow_unauthenticated=dev_mode, trusted_clients=str(trusted))
        settings = Settings(**values)
        startup_check(settings)
        assert fhir_server_allowed("http://hapi:8080/fhir", settings)
        assert not fhir_server_allowed("http://elsewhere:8080/fhir", settings)


# ----------------------------------------------------------------------------- the loader, for real
def run_loader(base_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(LOADER), "--fhir", base_url, "--fixtures", str(REPO / "fhir_fixtures"),
                           *extra], capture_output=True, text=True, timeout=180)


def test_loader_puts_fixture_patients_into_a_real_fhir_server(fhir_server):
    result = run_loader(fhir_server.base_url, "--wait", "30")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "seed-patient" in result.stdout
    assert "deliberately malformed" in result.stdout, "malformed cases are skipped, and said so"

    assert fhir_server.get_json("Patient/seed-patient")["id"] == "seed-patient"
    statements = fhir_server.search_all("MedicationStatement?patient=seed-patient")
    assert {s["id"] for s in statements} == SEED_STATEMENTS
    seed = json.loads((REPO / "fhir_fixtures" / "seed"
                       / "in-seed-as-is-upadacitinib-after-upadacitinib-failure-warns-suggests-bdmard.request.json"
                       ).read_text())
    for key, kind in (("conditions", "Condition"), ("allergies", "AllergyIntolerance"),
                      ("medicationRequests", "MedicationRequest")):
        expected = {e["resource"]["id"] for e in (seed["prefetch"][key] or {}).get("entry", [])}
        found = {r["id"] for r in fhir_server.search_all(f"{kind}?patient=seed-patient")}
        assert found == expected, kind
    # the draft order is not history: it must not be on the server
    assert fhir_server.get("MedicationRequest/draft-upadacitinib").status_code == 404

    # another patient whose fixture reuses the seed's ids keeps its own records (ids namespaced, not overwritten)
    other = json.loads(next((REPO / "fhir_fixtures").glob(
        "acr-12-tnfi-primary-nonresponse/in-adalimumab-no-response-6-months-orders-*.request.json")).read_text())
    other_id = other["context"]["patientId"]
    wanted = sorted(e["resource"]["medicationCodeableConcept"].get("text", "")
                    for e in other["prefetch"]["medicationStatements"]["entry"])
    got = fhir_server.search_all(f"MedicationStatement?patient={other_id}")
    assert sorted(r["medicationCodeableConcept"].get("text", "") for r in got) == wanted
    assert {s["id"] for s in fhir_server.search_all("MedicationStatement?patient=seed-patient")} == SEED_STATEMENTS

    # idempotent: a second run changes nothing
    again = run_loader(fhir_server.base_url, "--wait", "5")
    assert again.returncode == 0, again.stderr
    assert len(fhir_server.search_all("MedicationStatement?patient=seed-patient")) == 3
    assert len(fhir_server.search_all(f"MedicationStatement?patient={other_id}")) == len(wanted)


def test_loader_gives_up_when_the_server_never_answers():
    result = run_loader(f"http://127.0.0.1:{free_port()}/fhir", "--wait", "1")
    assert result.returncode == 2
    assert "did not become ready" in result.stderr


def test_loader_relinks_synthea_urn_uuid_references_so_the_medications_are_included(fhir_server):
    """A Synthea-shaped record (urn:uuid references, Medications by reference) is stored with Type/id references:
    the medication search's _include then brings every Medication, as the service's prefetch template asks."""
    case = REPO / "fhir_fixtures" / "real-shapes" / "in-synthea-3x-biologics-by-reference-keep-their-history.request.json"
    patient_id = json.loads(case.read_text())["context"]["patientId"]
    assert run_loader(fhir_server.base_url, "--wait", "30").returncode == 0
    bundle = fhir_server.get_json(
        f"MedicationRequest?patient={patient_id}&_include=MedicationRequest:medication&_count=100")
    requests = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
    included = {e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "include"}
    assert len(requests) == 11 and len(included) == 3
    assert {r["medicationReference"]["reference"].split("/", 1)[1] for r in requests} == included
    assert all("encounter" not in r for r in requests), "the source Bundle's Encounter is not part of the record"
