"""Test helpers shared by the suites: app construction, the seed request and the CDS Hooks 2.0 response checks."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from service.app import create_app
from service.cds import CDSResponse
from service.config import SERVICE_ID, Settings
from service.fhir import PREFETCH_KEYS

REPO = Path(__file__).resolve().parent.parent
# the fixture authors' copy of the shared seed request, else ../shared/examples beside the repo (where CI puts it)
LOCAL_SEED = REPO / "fhir_fixtures" / "seed" / "_seed-source.json"
SEED = REPO.parent / "shared" / "examples" / "seed-patient.order-select.json"
HOOK_URL = f"/cds-services/{SERVICE_ID}"
FEEDBACK_URL = f"{HOOK_URL}/feedback"


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "allow_unauthenticated": True,
        "database_url": f"sqlite:///{tmp_path / 'state.sqlite3'}",
    }
    values.update(overrides)
    return Settings(**values)


def client(tmp_path: Path, **overrides: Any) -> TestClient:
    """A started app (lifespan run) in development mode with its own SQLite file."""
    return TestClient(create_app(settings(tmp_path, **overrides)), raise_server_exceptions=False)


def seed_request() -> dict[str, Any]:
    """The seed request as an EHR sends it after discovery: every template satisfied (no observations on record)."""
    return with_every_key(json.loads((LOCAL_SEED if LOCAL_SEED.exists() else SEED).read_text()))


def with_every_key(request: dict[str, Any]) -> dict[str, Any]:
    """``request`` with an empty searchset for each prefetch key it lacks (as an EHR that read discovery sends)."""
    prefetch = request.setdefault("prefetch", {})
    for key in PREFETCH_KEYS:
        if key.is_search:
            prefetch.setdefault(key.key, {"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []})
    return request


def without_prefetch(request: dict[str, Any], *keys: str) -> dict[str, Any]:
    request = copy.deepcopy(request)
    prefetch = request.get("prefetch", {})
    for key in keys or list(prefetch):
        prefetch.pop(key, None)
    if not prefetch:
        request.pop("prefetch", None)
    return request


def assert_cds_clean(body: dict[str, Any]) -> None:
    """The CDS Hooks 2.0 response invariants, checked on the JSON as it went over the wire."""
    assert isinstance(body.get("cards"), list), "cards must always be present"
    CDSResponse.model_validate(body)  # the model enforces the structural rules
    for card in body["cards"]:
        _no_empty_members(card, path="card")
        assert len(card["summary"]) < 140
        assert card["uuid"] and card["source"]["label"]
        for suggestion in card.get("suggestions", []):
            assert suggestion["uuid"]
            assert card["selectionBehavior"] in ("at-most-one", "any")
            for action in suggestion.get("actions", []):
                if action["type"] == "delete":
                    assert action["resourceId"] and "resource" not in action
        for reason in card.get("overrideReasons", []):
            assert reason["system"] and reason["code"] and reason["display"]


def _no_empty_members(value: Any, path: str) -> None:
    if isinstance(value, dict):
        for key, member in value.items():
            assert member is not None and member != "" and member != [] and member != {}, f"{path}.{key} is empty"
            _no_empty_members(member, f"{path}.{key}")
    elif isinstance(value, list):
        for index, member in enumerate(value):
            _no_empty_members(member, f"{path}[{index}]")
