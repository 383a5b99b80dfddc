"""The trusted-clients file (``CDS_TRUSTED_CLIENTS``), validated at start-up with every problem named.

File format (JSON)::

    {"clients": [
        {"iss": "https://sandbox.cds-hooks.org",
         "jku": ["https://sandbox.cds-hooks.org/.well-known/jwks.json"],   # optional: allowlisted JWKS URLs
         "jwks": {"keys": [ {...public JWK with kid...} ]},                # optional: inline keys
         "tenants": ["org-1"],                                              # optional: allowed `tenant` claims
         "name": "...", "comment": "..."}                                   # optional: for the reader
    ]}

Each client needs inline keys, a ``jku`` list, or both. Unknown members are refused (a typo such as
``jwk_uri`` must not silently leave a client without keys); the top level may carry a ``_comment``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, StringConstraints, ValidationError

from service._http import LOCAL_HOSTS
from service.auth.keys import KeyTable, TrustedClient, build_keys
from service.config import StartupRefused

_SETTING = "CDS_TRUSTED_CLIENTS"
_Text = Annotated[StrictStr, StringConstraints(min_length=1)]


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _not_blank(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("blank")
    return value


class _ClientEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    iss: Annotated[_Text, BeforeValidator(_not_blank)]
    jku: Annotated[list[_Text], BeforeValidator(_one_or_many)] = []
    jwks: Any = None  # checked key by key by build_keys, which names each problem
    tenants: Annotated[list[_Text], Field(min_length=1)] | None = None
    name: StrictStr | None = None
    comment: StrictStr | None = None


class _ClientsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clients: Annotated[list[_ClientEntry], Field(min_length=1)]
    comment: Any = Field(None, alias="_comment")


def url_allowed_for_keys(url: str) -> bool:
    """https, or http on localhost (tests, development)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return False
    if not host:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in LOCAL_HOSTS)


def load_trusted_clients(path: Path, algorithms: frozenset[str]) -> dict[str, TrustedClient]:
    """Read and validate the trusted-clients file; any problem -> :class:`StartupRefused` naming each one."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StartupRefused(f"{_SETTING}: cannot read {path}: {exc.strerror or exc}") from None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise StartupRefused(f"{_SETTING}: {path} is not valid JSON ({exc})") from None
    try:
        parsed = _ClientsFile.model_validate(document)
    except ValidationError as exc:
        raise StartupRefused(f"{_SETTING}: " + "; ".join(_structure_problems(exc, document, path))) from None
    clients: dict[str, TrustedClient] = {}
    problems: list[str] = []
    for entry in parsed.clients:
        where = f"client {entry.iss!r}"
        if entry.iss in clients:
            problems.append(f"{where} is listed twice")
            continue
        bad_urls = [url for url in entry.jku if not url_allowed_for_keys(url)]
        problems += [f"{where}: jku {url!r} must be an https URL (http only for localhost)" for url in bad_urls]
        keys: KeyTable = {}
        if "jwks" in entry.model_fields_set:
            try:
                keys = build_keys(entry.jwks, algorithms, source=f"{where} jwks", strict=True)
            except StartupRefused as exc:
                problems.append(str(exc))
                continue
            if not keys:
                problems.append(f"{where}: jwks has no keys")
        if not keys and not entry.jku and "jwks" not in entry.model_fields_set:
            problems.append(f'{where} needs inline "jwks" keys or a "jku" list to fetch them from')
        if bad_urls:
            continue
        tenants = frozenset(entry.tenants) if entry.tenants is not None else None
        clients[entry.iss] = TrustedClient(iss=entry.iss, jku=tuple(entry.jku), keys=keys, tenants=tenants)
    if problems:
        raise StartupRefused(f"{_SETTING}: " + "; ".join(problems))
    return clients


def _structure_problems(exc: ValidationError, document: Any, path: Path) -> list[str]:
    """One sentence per problem pydantic found, in the file's own terms (never echoing a key's value)."""
    problems: list[str] = []
    unknown: dict[str, list[str]] = {}
    for error in exc.errors(include_input=False, include_url=False):
        loc = error["loc"]
        if not loc or loc[0] != "clients":
            if error["type"] == "extra_forbidden":
                unknown.setdefault(f"{path}", []).append(str(loc[-1]))
            else:
                problems.append(f'{path} must be an object with a "clients" list')
            continue
        if len(loc) == 1:
            problems.append(f"{path} lists no clients" if error["type"] == "too_short"
                            else f'{path} must be an object with a "clients" list')
            continue
        where = _where(document, loc[1])
        if len(loc) == 2:
            problems.append(f"{where} is not an object")
        elif error["type"] == "extra_forbidden":
            unknown.setdefault(where, []).append(str(loc[2]))
        elif loc[2] == "iss":
            problems.append(f'{where} has no "iss" string')
        elif loc[2] == "jku":
            problems.append(f'{where}: "jku" must be a list of URLs')
        elif loc[2] == "tenants":
            problems.append(f'{where}: "tenants" must be a non-empty list of strings (or absent)')
        else:
            problems.append(f'{where}: "{loc[2]}" must be a string')
    problems += [f"{where} has unknown member(s) {', '.join(sorted(names))}" for where, names in unknown.items()]
    return list(dict.fromkeys(problems))


def _where(document: Any, index: Any) -> str:
    """``client 'iss'`` when the entry names a usable issuer, else ``clients[i]``."""
    try:
        iss = document["clients"][index]["iss"]
    except (KeyError, IndexError, TypeError):
        iss = None
    return f"client {iss!r}" if isinstance(iss, str) and iss.strip() else f"clients[{index}]"
