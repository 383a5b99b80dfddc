"""A real FHIR R4 server for integration tests: sekmet-fhir (PyPI, pinned 0.1.1) in its own venv.

scripts/setup-tests.sh installs it into <repo>/.venv-sekmet. SekmetServer runs `sekmet serve` as a
subprocess on 127.0.0.1:<free port> with a fresh SQLite file, inbound validation off and the hospital
simulator off. RecordingProxy sits in front of any FHIR base URL and records each request's method,
path, query and Authorization header (sekmet itself only logs the header redacted to its scheme).

What sekmet 0.1.1 supports (read from sekmet/fhir/search.py, search_params.py; checked by tests/test_support.py):
  * GET {type}?patient=X for MedicationStatement, MedicationRequest, Condition (patient -> subject:Patient)
    and AllergyIntolerance (patient -> patient); `patient=Patient/X` works too; also subject, status, code
    (token system|code), date params with prefixes, _id, _sort, _include/_revinclude, _summary, _elements,
    POST {type}/_search.
  * Paging: _count (default 20, clamped to 0..1000) and _offset. Links self/first/(previous)/(next)/last are
    ABSOLUTE URLs built from settings.base_url, e.g. {base}/MedicationStatement?patient=X&_count=1&_offset=1.
    `total` is always present in searchset Bundles.
  * Unknown search parameters are ignored (lenient, an OperationOutcome issue is added to the Bundle) unless
    the client sends `Prefer: handling=strict`.
  * Optional inbound auth: server_auth.types=["bearer"] + static tokens -> 401 OperationOutcome without a
    valid `Authorization: Bearer <token>` (SekmetServer(bearer_tokens=[...])).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from .net import BackgroundASGIServer, RecordedRequest, ServedApp, free_port, send_response

REPO_ROOT = Path(__file__).resolve().parents[2]
SEKMET_VENV = Path(os.environ.get("SEKMET_VENV", REPO_ROOT / ".venv-sekmet"))
SEKMET_BIN = SEKMET_VENV / "bin" / "sekmet"


def sekmet_available() -> bool:
    return SEKMET_BIN.is_file() and os.access(SEKMET_BIN, os.X_OK)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"<no log: {e}>"


class SekmetServer:
    """Run sekmet-fhir as a subprocess.

        with SekmetServer() as fhir:
            fhir.load_resources(prefetch_to_resources(seed_request))
            r = fhir.get("MedicationStatement?patient=seed-patient")

    bearer_tokens: when given, sekmet requires `Authorization: Bearer <one of them>` on /fhir (401 otherwise);
    this harness's own calls (get/load_*) send the first token automatically.
    """

    def __init__(self, *, bearer_tokens: list[str] | None = None, startup_timeout: float = 30.0,
                 sekmet_bin: str | os.PathLike | None = None, extra_settings: dict[str, Any] | None = None,
                 keep_dir: bool | None = None):
        self.sekmet_bin = Path(sekmet_bin) if sekmet_bin else SEKMET_BIN
        self.bearer_tokens = list(bearer_tokens or [])
        self.startup_timeout = startup_timeout
        self.extra_settings = extra_settings or {}
        self.keep_dir = bool(os.environ.get("KEEP_TEST_DIRS")) if keep_dir is None else keep_dir
        self.workdir: Path | None = None
        self.log_path: Path | None = None
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None
        self._client: httpx.Client | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        """e.g. http://127.0.0.1:41234/fhir (no trailing slash)."""
        if self.port is None:
            raise RuntimeError("SekmetServer not started")
        return f"http://127.0.0.1:{self.port}/fhir"

    def _settings(self) -> dict[str, Any]:
        assert self.workdir is not None and self.port is not None
        s: dict[str, Any] = {
            "base_url": f"http://127.0.0.1:{self.port}/fhir",
            "host": "127.0.0.1",
            "port": self.port,
            "data_dir": str(self.workdir / "data"),
            "db_path": str(self.workdir / "data" / "sekmet.db"),
            "own_private_key_path": str(self.workdir / "keys" / "sekmet_private.pem"),
            "validation": {"inbound": "off"},
            "simulator": {"enabled": False},
            "log_inbound": True,
        }
        if self.bearer_tokens:
            s["server_auth"] = {"types": ["bearer"], "tokens": self.bearer_tokens}
        s.update(self.extra_settings)
        return s

    def start(self) -> SekmetServer:
        if not self.sekmet_bin.is_file():
            raise RuntimeError(f"sekmet not installed at {self.sekmet_bin}: run `bash scripts/setup-tests.sh`")
        self.workdir = Path(tempfile.mkdtemp(prefix="sekmet-"))
        (self.workdir / "data").mkdir()
        (self.workdir / "keys").mkdir()
        self.log_path = self.workdir / "sekmet.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEKMET_")}
        env["PYTHONUNBUFFERED"] = "1"
        t0 = time.monotonic()
        last_error = ""
        for attempt in range(3):  # retry only if the free port was grabbed in between
            self.port = free_port()
            settings_path = self.workdir / "settings.yaml"
            settings_path.write_text(yaml.safe_dump(self._settings(), sort_keys=False))
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [str(self.sekmet_bin), "serve", "-c", str(settings_path)],
                    cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True)
            try:
                self._wait_ready(t0)
                self.startup_seconds = time.monotonic() - t0
                return self
            except _EarlyExit as e:
                last_error = str(e)
                if "address already in use" in _tail(self.log_path).lower() and attempt < 2:
                    continue
                break
            except Exception as e:  # noqa: BLE001 - a timeout or any transport error: report it below
                last_error = str(e)
                break
        self.stop()
        raise RuntimeError(last_error)

    def _wait_ready(self, t0: float) -> None:
        assert self.proc is not None and self.log_path is not None
        deadline = t0 + self.startup_timeout
        url = f"{self.base_url}/metadata"
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise _EarlyExit(f"sekmet exited with code {rc} during start-up (log {self.log_path}):\n"
                                 f"{_tail(self.log_path)}")
            try:
                r = httpx.get(url, timeout=2.0, headers=self._auth_headers())
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"sekmet did not answer GET {url} within {self.startup_timeout:.0f}s "
                                   f"(log {self.log_path}):\n{_tail(self.log_path)}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        self.proc = None
        if self.workdir is not None and not self.keep_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> SekmetServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines) if self.log_path else ""

    # ------------------------------------------------------------------ HTTP helpers
    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer_tokens[0]}"} if self.bearer_tokens else {}

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=30.0, headers={"Accept": "application/fhir+json",
                                                               **self._auth_headers()})
        return self._client

    def url(self, path: str) -> str:
        """Absolute URL for `path` relative to the FHIR base (absolute URLs, e.g. next links, pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def get(self, path: str, **kwargs) -> httpx.Response:
        """GET relative to the FHIR base: fhir.get("Patient/seed-patient"), fhir.get("Condition?patient=x")."""
        return self.client.get(self.url(path), **kwargs)

    def get_json(self, path: str, **kwargs) -> dict:
        r = self.get(path, **kwargs)
        if r.status_code != 200:
            raise AssertionError(f"GET {path} -> {r.status_code}: {r.text[:2000]}")
        return r.json()

    def search_all(self, path: str, max_pages: int = 100) -> list[dict]:
        """Follow `next` links and return every entry resource."""
        out: list[dict] = []
        url: str | None = path
        for _ in range(max_pages):
            if url is None:
                break
            b = self.get_json(url)
            out += [e["resource"] for e in b.get("entry", []) if "resource" in e]
            url = next((link["url"] for link in b.get("link", []) if link.get("relation") == "next"), None)
        return out

    def load_transaction(self, bundle: dict) -> dict:
        """POST a transaction (or batch) Bundle to the base; returns the response Bundle, raises on failure."""
        r = self.client.post(self.base_url, content=json.dumps(bundle),
                             headers={"Content-Type": "application/fhir+json"})
        if r.status_code not in (200, 201):
            raise AssertionError(f"transaction -> {r.status_code}: {r.text[:4000]}")
        resp = r.json()
        bad = [e.get("response", {}).get("status") for e in resp.get("entry", [])
               if not str(e.get("response", {}).get("status", "")).startswith(("200", "201"))]
        if bad:
            raise AssertionError(f"transaction entries failed: {bad}: {r.text[:4000]}")
        return resp

    def load_resources(self, resources: list[dict]) -> dict:
        """Load resources in one transaction; resources with an id are PUT as Type/id (ids preserved)."""
        return self.load_transaction(transaction_bundle(resources))


class _EarlyExit(RuntimeError):
    pass


def transaction_bundle(resources: list[dict]) -> dict:
    entries = []
    for res in resources:
        rtype = res["resourceType"]
        if res.get("id"):
            entries.append({"fullUrl": f"{rtype}/{res['id']}", "resource": res,
                            "request": {"method": "PUT", "url": f"{rtype}/{res['id']}"}})
        else:
            entries.append({"resource": res, "request": {"method": "POST", "url": rtype}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def prefetch_to_resources(request: dict) -> list[dict]:
    """All resources in a CDS Hooks request's `prefetch` (single resources + Bundle entries), de-duplicated
    by (resourceType, id), Patient first. context.draftOrders is NOT included (drafts are not on the server)."""
    out: list[dict] = []
    seen: set[tuple[str, str]] = set()

    def add(res: Any) -> None:
        if not isinstance(res, dict) or "resourceType" not in res:
            return
        if res["resourceType"] == "Bundle":
            for e in res.get("entry") or []:
                add((e or {}).get("resource"))
            return
        key = (res["resourceType"], res.get("id") or f"#{len(out)}")
        if key in seen:
            return
        seen.add(key)
        out.append(res)

    for value in (request.get("prefetch") or {}).values():
        add(value)
    out.sort(key=lambda r: r["resourceType"] != "Patient")
    return out


# ---------------------------------------------------------------------- recording reverse proxy
_HOP_BY_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "trailer",
               "upgrade", "proxy-authorization", "proxy-authenticate", "accept-encoding"}


class RecordingProxy(ServedApp):
    """Reverse proxy in front of `upstream_base` (a FHIR base URL such as sekmet's .../fhir) that records every
    request (method, path, query, Authorization header). Upstream absolute URLs in response bodies (e.g. paging
    `next` links) are rewritten to point at the proxy, so a client following links keeps going through it.

        with RecordingProxy(fhir_server.base_url) as proxy:
            call_service(fhir_server=proxy.base_url, token="abc")
            assert proxy.requests[0].authorization == "Bearer abc"
    """

    def __init__(self, upstream_base: str, *, timeout: float = 30.0):
        self.upstream_base = upstream_base.rstrip("/")
        up = httpx.URL(self.upstream_base)
        self._upstream_root = f"{up.scheme}://{up.host}:{up.port}" if up.port else f"{up.scheme}://{up.host}"
        self._upstream_path = up.path.rstrip("/")  # e.g. /fhir
        self.timeout = timeout
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server = BackgroundASGIServer(self._app)

    @property
    def base_url(self) -> str:
        """The proxy's FHIR base (same path as upstream), e.g. http://127.0.0.1:40000/fhir."""
        return f"{self._server.url}{self._upstream_path}"

    def authorizations(self) -> list[str | None]:
        with self._lock:
            return [r.authorization for r in self.requests]

    async def _app(self, scope, receive, send):
        if scope["type"] != "http":
            return
        rec = await self._record(scope, receive)
        body = rec.body
        headers = {k: v for k, v in rec.headers.items() if k not in _HOP_BY_HOP}
        url = self._upstream_root + scope["path"] + (f"?{rec.query}" if rec.query else "")
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                r = await client.request(scope["method"], url, headers=headers, content=body)
        except httpx.HTTPError as e:
            await send_response(send, 502, f"proxy upstream error: {e!r}".encode(), "text/plain")
            return
        content = r.content.replace(self.upstream_base.encode(), self.base_url.encode())
        out_headers = [(k.encode(), v.encode()) for k, v in r.headers.items()
                       if k.lower() not in _HOP_BY_HOP | {"content-type", "content-encoding"}]
        await send_response(send, r.status_code, content, r.headers.get("content-type", "application/fhir+json"),
                            out_headers)

