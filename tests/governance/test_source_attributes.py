"""The source-attributes document (ONC HTI-1): generated from rules.toml, so it lists every rule with every field as
the file says it (compared here with the file read independently); served without a JWT; summarised with its URL in
every discovery entry's extension. And the rule identity every card carries in source.topic."""

from __future__ import annotations

import hashlib
import json
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from cds import HOOK_URL, assert_cds_clean, client, with_every_key
from support.jwt_keys import TestKey, client_entry, trusted_clients_file

from service.fhir import PREFETCH_KEYS
from service.governance.attributes import EXTENSION_KEY, PATH, REGULATED_DATA

REPO = Path(__file__).resolve().parents[2]
RULES_TOML = REPO / "hooks" / "knowledge" / "rules.toml"
RULES = tomllib.loads(RULES_TOML.read_text())
HTI1_RULE_FIELDS = {"title", "bibliographic_citation", "dois", "sources", "strength", "developer", "source_developers",
                    "funding", "released", "revised", "data_elements", "uses", "recommendation", "unverified"}


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> dict:
    with client(tmp_path_factory.mktemp("attributes")) as api:
        response = api.get(PATH)
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        return response.json()


def test_every_rule_of_rules_toml_is_listed_with_every_field_as_the_file_says(document):
    assert list(document["rules"]) == RULES["precedence"]  # every rule, highest precedence first
    assert set(document["rules"]) == set(RULES["rules"])
    for rule_id, spec in RULES["rules"].items():
        listed = document["rules"][rule_id]
        assert set(listed) == HTI1_RULE_FIELDS, rule_id
        sources = [RULES["sources"][key] for key in spec["sources"]]
        assert listed["title"] == spec["title"] and listed["bibliographic_citation"] == spec["citation"]
        assert listed["strength"] == spec["strength"] and listed["sources"] == spec["sources"]
        assert listed["dois"] == [s["doi"] for s in sources if s.get("doi")]
        assert listed["source_developers"] == list(dict.fromkeys(s["developer"] for s in sources))
        assert listed["funding"]["sources"] == list(dict.fromkeys(s["funding"] for s in sources))
        assert (listed["released"], listed["revised"]) == (spec["released"].isoformat(), spec["revised"].isoformat())
        assert listed["data_elements"] == spec["data_elements"] and listed["recommendation"] == spec["text"]
        assert listed["unverified"] == (spec.get("unverified", False) or any(s.get("unverified") for s in sources))
        assert set(listed["uses"]) == set(REGULATED_DATA)
        assert listed["uses"]["date_of_birth"] == ("age" in spec["data_elements"])
        assert listed["uses"]["sex"] == ("sex" in spec["data_elements"])
        assert listed["uses"]["health_status_assessments"] == bool(
            {"pregnancy status", "lactation", "smoking status"} & set(spec["data_elements"]))
        assert not any(listed["uses"][k] for k in ("race", "ethnicity", "language", "sexual_orientation",
                                                   "gender_identity", "social_determinants_of_health"))
    for key, source in RULES["sources"].items():
        listed = document["sources"][key]
        for field in ("label", "citation", "url", "developer", "funding", "published"):
            assert listed[field] == source[field], (key, field)
        assert listed["doi"] == source.get("doi", "") and listed["unverified"] == source.get("unverified", False)


def test_the_intervention_names_its_developer_version_use_data_limitations_and_unverified_items(document):
    intervention = document["intervention"]
    assert intervention["developer"]["name"] and intervention["funding"] and intervention["intended_use"]
    assert intervention["version"] == metadata.version("axspa-cds")
    assert [d["resource"] for d in intervention["data_read"]] == [k.resource_type for k in PREFETCH_KEYS]
    assert intervention["known_limitations"]
    assert intervention["unverified"]["rules"] == sorted(r for r, v in document["rules"].items() if v["unverified"])
    assert intervention["unverified"]["sources"] == sorted(k for k, s in RULES["sources"].items() if s.get("unverified"))
    assert intervention["knowledge_sha256"] == hashlib.sha256(RULES_TOML.read_bytes()).hexdigest()
    assert intervention["rule_topic_system"] == RULES["topic_system"]
    assert intervention["revised"] == max(r["revised"] for r in RULES["rules"].values()).isoformat()
    assert document["regulation_text_verified"] is False  # the attribute list was read in secondary material


def test_the_document_is_public_and_discovery_points_to_it(tmp_path):
    key = TestKey.ec384("attributes-kid")
    clients = trusted_clients_file(tmp_path, [client_entry("https://ehr.example.org", keys=[key])])
    base = "https://cds.example.org"
    with client(tmp_path, allow_unauthenticated=False, trusted_clients=clients, public_base_url=base) as api:
        assert api.get("/cds-services").status_code == 401  # discovery needs the client's JWT
        assert api.get(PATH).status_code == 200  # the source attributes do not
        token = key.mint(iss="https://ehr.example.org", aud=f"{base}/cds-services")
        services = api.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).json()["services"]
    for service in services:
        summary = service["extension"][EXTENSION_KEY]
        assert summary["url"] == f"{base}{PATH}"
        assert summary["rules"] == len(RULES["rules"]) and str(len(RULES["rules"])) in summary["summary"]


def test_every_card_names_its_rule_in_source_topic_and_stays_a_valid_2_0_card(tmp_path):
    rule_ids = set(RULES["rules"])
    seen = set()
    with client(tmp_path) as api:
        for path in sorted((REPO / "fhir_fixtures").rglob("in-*.request.json")):
            body = api.post(HOOK_URL, json=with_every_key(json.loads(path.read_text()))).json()
            assert_cds_clean(body)  # the strict 2.0 model: topic is a 2.0 Source member, so clients may ignore it
            for card in body["cards"]:
                topic = card["source"]["topic"]
                assert topic["system"] == RULES["topic_system"] and topic["code"] in rule_ids, path.name
                assert topic["display"] == RULES["rules"][topic["code"]]["title"]
                seen.add(topic["code"])
    assert len(seen) >= 10  # the fixtures exercise many rules
