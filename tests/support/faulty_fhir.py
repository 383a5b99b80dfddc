"""A fault-injecting fake FHIR server (pure ASGI, uvicorn in a background thread on 127.0.0.1:<free port>).

    with FaultyFhir("empty", per_type={"MedicationStatement": "hang"}) as fhir:
        call_service(fhir_server=fhir.base_url)
        assert fhir.requests_for("MedicationStatement")

Modes (per request, chosen by resource type first, then the default mode):
  "ok" / "empty"       searchset Bundle of `data[type]` (empty when none); a read Type/id answers the stored
                        resource with that id, or a minimal {"resourceType": Type, "id": id}
  "hang"               waits `hang_seconds` (default 300) or until the client disconnects, then answers "ok"
  "slow"               answers "ok" after `slow_seconds` (default 1.0)
  "500"                500 text/plain body
  "401"                401 + WWW-Authenticate + OperationOutcome
  "operation-outcome"  400 + OperationOutcome
  "garbage"            200 application/fhir+json whose body is not JSON at all
  "wrong-json"         200 with valid JSON that is not a FHIR resource (a JSON list)
  "wrong-resource"     200 with a resource of the wrong type: a Patient for a search, a Bundle for a read
  "huge"               valid searchset Bundle with `huge_count` (default 20,000) MedicationStatement entries
                        (generated once per count, streamed in 64 KiB chunks)
  "paginated"          `pages` pages (default 5) of `page_size` (default 2) entries of the searched type, each
                        page but the last with an absolute `next` link (…&_page=N)
Every request is recorded (method, path, query, Authorization header, all headers, body) in `requests`.
"""
from __future__ import annotations

import asyncio
import json
import threading
from urllib.parse import parse_qsl, urlencode

from .net import BackgroundASGIServer, RecordedRequest, ServedApp, send_response

MODES = ("ok", "empty", "hang", "slow", "500", "401", "operation-outcome", "garbage", "wrong-json",
         "wrong-resource", "huge", "paginated")
FHIR_JSON = "application/fhir+json"
_CHUNK = 64 * 1024
_huge_cache: dict[int, bytes] = {}
_huge_lock = threading.Lock()


def make_resource(rtype: str, rid: str, patient: str = "example") -> dict:
    """A minimal but valid R4 resource of `rtype` (R4B-parseable) referring to Patient/<patient>."""
    subject = {"reference": f"Patient/{patient}"}
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    if rtype == "MedicationStatement":
        return {"resourceType": "MedicationStatement", "id": rid, "status": "completed",
                "medicationCodeableConcept": {"coding": [{"system": rxnorm, "code": "214555",
                                                          "display": "etanercept"}], "text": "etanercept"},
                "subject": subject, "effectivePeriod": {"start": "2024-01-10", "end": "2024-03-01"}}
    if rtype == "MedicationRequest":
        return {"resourceType": "MedicationRequest", "id": rid, "status": "completed", "intent": "order",
                "medicationCodeableConcept": {"coding": [{"system": rxnorm, "code": "214555",
                                                          "display": "etanercept"}]},
                "subject": subject, "authoredOn": "2024-01-10"}
    if rtype == "Condition":
        return {"resourceType": "Condition", "id": rid, "subject": subject,
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "9631008",
                                     "display": "Ankylosing spondylitis"}]}}
    if rtype == "AllergyIntolerance":
        return {"resourceType": "AllergyIntolerance", "id": rid, "patient": subject,
                "code": {"text": "etanercept"}}
    if rtype == "Patient":
        return {"resourceType": "Patient", "id": rid, "gender": "unknown"}
    return {"resourceType": rtype, "id": rid}


def searchset(resources: list[dict], links: list[dict] | None = None, total: int | None = None) -> dict:
    b: dict = {"resourceType": "Bundle", "type": "searchset",
               "total": len(resources) if total is None else total}
    if links:
        b["link"] = links
    b["entry"] = [{"fullUrl": f"urn:uuid:{r['resourceType']}-{r.get('id', i)}", "resource": r,
                   "search": {"mode": "match"}} for i, r in enumerate(resources)]
    return b


def operation_outcome(code: str, diagnostics: str) -> dict:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]}


def huge_bundle_bytes(n: int) -> bytes:
    with _huge_lock:
        if n not in _huge_cache:
            res = [make_resource("MedicationStatement", f"ms-huge-{i}", "huge-patient") for i in range(n)]
            _huge_cache[n] = json.dumps(searchset(res), separators=(",", ":")).encode()
        return _huge_cache[n]


class FaultyFhir(ServedApp):
    def __init__(self, mode: str = "empty", *, per_type: dict[str, str] | None = None,
                 data: dict[str, list[dict]] | None = None, hang_seconds: float = 300.0,
                 slow_seconds: float = 1.0, huge_count: int = 20_000, pages: int = 5, page_size: int = 2):
        self.default_mode = self._check(mode)
        self.per_type: dict[str, str] = {t: self._check(m) for t, m in (per_type or {}).items()}
        self.data: dict[str, list[dict]] = {k: list(v) for k, v in (data or {}).items()}
        self.hang_seconds = hang_seconds
        self.slow_seconds = slow_seconds
        self.huge_count = huge_count
        self.pages = pages
        self.page_size = page_size
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server = BackgroundASGIServer(self._app)
        if self.default_mode == "huge" or "huge" in self.per_type.values():
            huge_bundle_bytes(self.huge_count)  # generate before serving, not inside a timed request

    # ------------------------------------------------------------------ configuration
    @staticmethod
    def _check(mode: str) -> str:
        if mode not in MODES:
            raise ValueError(f"unknown FaultyFhir mode {mode!r}; known: {', '.join(MODES)}")
        return mode

    def set_mode(self, mode: str, resource_type: str | None = None) -> None:
        """Change the default mode, or the mode for one resource type, while the server runs."""
        self._check(mode)
        if mode == "huge":
            huge_bundle_bytes(self.huge_count)
        if resource_type is None:
            self.default_mode = mode
        else:
            self.per_type[resource_type] = mode

    def mode_for(self, resource_type: str) -> str:
        return self.per_type.get(resource_type, self.default_mode)

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def base_url(self) -> str:
        """FHIR base, e.g. http://127.0.0.1:40123/fhir."""
        return f"{self._server.url}/fhir"

    def requests_for(self, resource_type: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if _split(r.path)[0] == resource_type]

    # ------------------------------------------------------------------ ASGI
    async def _app(self, scope, receive, send):
        if scope["type"] != "http":
            return
        rec = await self._record(scope, receive)
        rtype, rid = _split(scope["path"])
        mode = self.mode_for(rtype)
        if mode == "hang":
            await self._wait_or_disconnect(receive, self.hang_seconds)
            mode = "ok"
        elif mode == "slow":
            await asyncio.sleep(self.slow_seconds)
            mode = "ok"
        await self._answer(send, mode, rtype, rid, rec)

    @staticmethod
    async def _wait_or_disconnect(receive, seconds: float) -> None:
        async def disconnected():
            while (await receive())["type"] != "http.disconnect":
                pass
        try:
            await asyncio.wait_for(disconnected(), seconds)
        except TimeoutError:
            pass

    async def _answer(self, send, mode: str, rtype: str, rid: str | None, rec: RecordedRequest) -> None:
        def js(obj) -> bytes:
            return json.dumps(obj).encode()

        if mode in ("ok", "empty"):
            stored = self.data.get(rtype, [])
            if rid is not None:
                res = next((r for r in stored if r.get("id") == rid), None) or {"resourceType": rtype, "id": rid}
                await send_response(send, 200, js(res))
            else:
                await send_response(send, 200, js(searchset(stored)))
        elif mode == "500":
            await send_response(send, 500, b"Internal Server Error", "text/plain")
        elif mode == "401":
            await send_response(send, 401, js(operation_outcome("login", "Authentication required")),
                                headers=[(b"www-authenticate", b'Bearer realm="faulty"')])
        elif mode == "operation-outcome":
            await send_response(send, 400, js(operation_outcome("invalid", f"Unsupported search on {rtype}")))
        elif mode == "garbage":
            await send_response(send, 200, b"\x00\xff<html>not json{{{ \xfe\xfd garbage", FHIR_JSON)
        elif mode == "wrong-json":
            await send_response(send, 200, js([{"resourceType": rtype or "Bundle"}, 42, "not a resource"]))
        elif mode == "wrong-resource":
            if rid is not None:
                await send_response(send, 200, js(searchset([])))
            else:
                await send_response(send, 200, js({"resourceType": "Patient", "id": "not-a-bundle"}))
        elif mode == "huge":
            body = huge_bundle_bytes(self.huge_count)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", FHIR_JSON.encode()),
                                    (b"content-length", str(len(body)).encode())]})
            for i in range(0, len(body), _CHUNK):
                await send({"type": "http.response.body", "body": body[i:i + _CHUNK],
                            "more_body": i + _CHUNK < len(body)})
        elif mode == "paginated":
            await send_response(send, 200, js(self._page(rtype, rec)))
        else:  # pragma: no cover - _check guards this
            raise AssertionError(mode)

    def _page(self, rtype: str, rec: RecordedRequest) -> dict:
        params = parse_qsl(rec.query, keep_blank_values=True)
        page = next((int(v) for k, v in params if k == "_page" and v.isdigit()), 1)
        patient = next((v for k, v in params if k in ("patient", "subject")), "example").split("/")[-1]
        resources = [make_resource(rtype or "MedicationStatement", f"{(rtype or 'res').lower()}-p{page}-{i}",
                                   patient) for i in range(self.page_size)]
        base = [(k, v) for k, v in params if k != "_page"]
        links = [{"relation": "self", "url": f"{self.base_url}/{rtype}?{urlencode(base + [('_page', page)])}"}]
        if page < self.pages:
            links.append({"relation": "next",
                          "url": f"{self.base_url}/{rtype}?{urlencode(base + [('_page', page + 1)])}"})
        return searchset(resources, links, total=self.pages * self.page_size)



def _split(path: str) -> tuple[str, str | None]:
    """'/fhir/MedicationStatement' -> ('MedicationStatement', None); '/fhir/Patient/x' -> ('Patient', 'x');
    '/fhir/Condition/_search' -> ('Condition', None)."""
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "fhir":
        parts = parts[1:]
    if not parts:
        return "", None
    rid = parts[1] if len(parts) > 1 and not parts[1].startswith(("_", "$")) else None
    return parts[0], rid
