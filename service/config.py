"""Settings, read from ``CDS_*`` environment variables (see the README's configuration table)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SERVICE_ID = "axspa-therapy-switch"  # order-select (and, in shared discovery mode, order-sign too)
SIGN_SERVICE_ID = "axspa-therapy-switch-sign"  # order-sign in distinct discovery mode (the default)


class StartupRefused(Exception):
    """The configuration is unsafe or invalid; the service will not start (the message names the problem)."""


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CDS_", extra="ignore")

    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="External URL of the service; JWT `aud` is checked against URLs derived from it.",
    )
    database_url: str = Field(
        "sqlite:///axspa-cds.sqlite3",
        description="Feedback and JWT replay store: sqlite:///path (default, in the working directory) "
        "or postgresql://user:pass@host/db (shared by replicas).",
    )
    allow_unauthenticated: bool = Field(
        False, description="Development mode: accept calls without a CDS Hooks JWT. Never in production."
    )
    trusted_clients: Path | None = Field(
        None, description="JSON file of trusted CDS clients (iss, jku allowlist or inline jwks, tenants)."
    )
    fhir_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated FHIR base URLs the service may call with the EHR's token. "
        "Empty: any https server, or http on localhost (development only).",
    )
    fhir_allow_http_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated host names (besides localhost) that may be called over plain http, e.g. `hapi` "
        "on a docker compose network. Only for hosts reached over a private network; each must also be in "
        "CDS_FHIR_ALLOWLIST to be contacted.",
    )
    fhir_timeout_s: float = Field(
        2.0, gt=0, le=30, description="Total time budget for fetching missing prefetch data from the FHIR server."
    )
    fhir_max_response_bytes: int = Field(10_000_000, gt=0, description="Largest FHIR response read.")
    fhir_max_pages: int = Field(10, ge=1, description="Most Bundle pages followed per prefetch key.")
    fhir_max_resources: int = Field(
        5_000, ge=1, description="Most resources read per prefetch key from the FHIR server (beyond: unavailable)."
    )
    max_body_bytes: int = Field(5_000_000, gt=0, description="Largest request body accepted (413 beyond).")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"], description="Comma-separated allowed CORS origins (default any)."
    )
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["ES384", "RS384"],
        description="Accepted JWT algorithms; ES256/RS256 may be added, none/HMAC never.",
    )
    discovery_mode: Literal["distinct", "shared"] = Field(
        "distinct",
        description="distinct: one service id per hook (order-sign as axspa-therapy-switch-sign; clients that key "
        "services by id, such as the CDS Hooks sandbox); shared: order-select and order-sign under one id (clients "
        "that replace stale guidance by id). Both ids are routed in either mode.",
    )
    fhir_max_medication_reads: int = Field(
        100, ge=0, le=1000,
        description="Most referenced Medication resources read from the FHIR server per hook call (batched "
        "Medication?_id=...); 0 never reads them. References beyond are reported as unresolved.",
    )
    concordant_info_card: bool = Field(
        False,
        description="Answer a concordant order that needs no action with a short informational card (default: no "
        "card; alert fatigue is a defect).",
    )
    log_level: str = Field("INFO", description="Python logging level.")
    access_log: bool = Field(
        False, description="uvicorn's access log (`python -m service`): one line per HTTP request with its method, "
        "path, status and client address. Off by default: /metrics counts every request by route and status, and "
        "the line cost as much as a fifth of a seed call's own work.",
    )
    ledger_retention_days: int = Field(
        400, ge=1, description="Card ledger rows last shown longer ago than this are deleted (checked hourly)."
    )
    ledger_queue_size: int = Field(
        10_000, ge=1, description="Answers waiting for the card ledger writer; beyond, their rows are dropped "
        "(cds_ledger_dropped_rows_total) and the answers are unaffected.",
    )

    # Limits against hostile or broken clients (README "Operations: limits"). Connection settings apply to
    # `python -m service` (its HTTP protocol, service.ops.connections); the others to any server.
    keep_alive_s: float = Field(
        5.0, gt=0, le=300, description="A connection with no request in progress (before its first request, and "
        "between requests) is closed after this many seconds.",
    )
    header_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Most seconds from the first byte of a request to the end of its headers "
        "(408, then the connection is closed).",
    )
    body_timeout_s: float = Field(
        30.0, gt=0, le=600, description="Most seconds from the end of the headers to the end of the body (408, "
        "then closed); also bounds the drain of a refused body.",
    )
    max_connections: int = Field(
        2048, ge=8, description="Most open connections per process. At the limit one is closed to admit a new one: "
        "idle first (no request yet, or between requests), then one whose body is still arriving, oldest first; a "
        "new one is refused only when every request has been read and awaits its answer.",
    )
    max_header_bytes: int = Field(65_536, ge=4096, description="Largest request line and headers (431 beyond).")
    backlog: int = Field(2048, ge=16, description="Listen backlog (the kernel caps it at net.core.somaxconn).")
    drain_max_bytes: int = Field(
        10_000_000, ge=0, description="After an answer sent before the body was read (413), up to this many body "
        "bytes are read and discarded so that a client that writes its whole body first can read the answer.",
    )
    fhir_max_connections: int = Field(
        100, ge=1, description="Most connections to one FHIR server origin (its own pool): a server that hangs "
        "exhausts only its own share.",
    )
    max_orders: int = Field(
        20, ge=1, le=1000, description="Most relevant draft orders evaluated per call (identical drafts count "
        "once); beyond, one card names the orders that were not checked.",
    )
    max_response_bytes: int = Field(
        2_000_000, ge=4096, description="Largest hook response; beyond it one small card says the answer was "
        "withheld.",
    )
    feedback_max_bytes: int = Field(65_536, ge=1024, description="Largest feedback request body (413 beyond).")
    feedback_max_items: int = Field(100, ge=1, description="Most feedback items in one request (400 beyond).")
    feedback_rate_per_min: float = Field(
        600, gt=0, description="Feedback items accepted per client (JWT `iss`; the remote address in development "
        "mode) per minute and process; bursts up to 10 s' worth (at least one full request). 429 beyond.",
    )
    feedback_retention_days: float = Field(
        365, ge=0, description="Stored feedback older than this is deleted (checked hourly); 0 keeps it forever.",
    )

    @field_validator("fhir_allowlist", "fhir_allow_http_hosts", "cors_origins", "jwt_algorithms", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def endpoint_url(self, path: str) -> str:
        """The public URL of a route (what a client's JWT ``aud`` must name)."""
        return f"{self.public_base_url}{path}"


def load_settings() -> Settings:
    """The ``CDS_*`` settings, or :class:`StartupRefused` naming every variable that does not parse and why (never
    its value: a URL may hold a password)."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [f"CDS_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
                    for error in exc.errors(include_input=False, include_url=False)]
        raise StartupRefused("; ".join(problems)) from None
