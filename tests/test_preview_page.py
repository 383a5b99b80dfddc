"""The card preview page at ``/``: Debian Chromium (Playwright) against a real service process.

The service runs as ``python -m service`` (uvicorn, development mode, its own SQLite file) in a subprocess; the
page's own JavaScript calls the real hook endpoint. Screenshots are saved under tests/.artifacts/ and checked
with a tiny PNG decoder (size, and the warning card really is drawn in the warning colour); no golden images.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import httpx
import pytest
from support.net import free_port

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / ".artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SEED_CASE = "seed/in-seed-as-is-upadacitinib-after-upadacitinib-failure-warns-suggests-bdmard"
VIEWPORT = {"width": 1280, "height": 900}
WARNING_RGB = (0xE0, 0x8A, 0x00)  # --warning in service/web/style.css
WARNING_BG_RGB = (0xFD, 0xF0, 0xD5)  # --warning-bg


# ----------------------------------------------------------------------------- a real service process
@pytest.fixture(scope="module")
def live_service(tmp_path_factory):
    port = free_port()
    state = tmp_path_factory.mktemp("preview")
    env = {**os.environ, "CDS_ALLOW_UNAUTHENTICATED": "true", "CDS_DATABASE_URL": f"sqlite:///{state / 'db.sqlite3'}",
           "CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "CDS_LOG_LEVEL": "WARNING"}
    env.pop("CDS_TRUSTED_CLIENTS", None)
    log = open(state / "service.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"service exited with {proc.returncode}: {(state / 'service.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("service not ready within 30 s")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} missing: run `bash scripts/setup-tests.sh` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


# ----------------------------------------------------------------------------- a tiny PNG decoder
def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) for 8-bit RGB/RGBA non-interlaced PNGs (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        assert zlib.crc32(kind + chunk) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
        pos += 12 + length
    assert header is not None, "no IHDR"
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, f"unsupported PNG {header}"
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line) if bpp == 3 else bytes(v for k, v in enumerate(line) if k % 4 != 3))
        prev = line
    return width, height, rows


def pixel(rows: list[bytes], x: int, y: int) -> tuple[int, int, int]:
    r, g, b = rows[y][3 * x:3 * x + 3]
    return r, g, b


def near(color: tuple[int, int, int], target: tuple[int, int, int], tolerance: int = 18) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(color, target))


# ----------------------------------------------------------------------------- tests
def test_png_decoder_reads_what_it_should():
    """Guard for the test's own tool: a 2x1 RGB PNG built by hand decodes to its two colours."""
    raw = b"\x00" + bytes([224, 138, 0, 10, 20, 30])
    ihdr = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    width, height, rows = decode_png(png)
    assert (width, height) == (2, 1)
    assert pixel(rows, 0, 0) == WARNING_RGB and pixel(rows, 1, 0) == (10, 20, 30)


def test_preview_endpoints_list_fixture_cases(live_service):
    listing = httpx.get(f"{live_service}/preview/cases").json()
    ids = [c["id"] for c in listing["cases"]]
    assert ids[0].startswith("seed/"), "the seed patient is offered first"
    assert SEED_CASE in ids
    seed = next(c for c in listing["cases"] if c["id"] == SEED_CASE)
    assert seed["patientId"] == "seed-patient" and seed["orders"][0]["id"] == "draft-upadacitinib"
    assert listing["catalog"], "drugs to order instead"
    request = httpx.get(f"{live_service}/preview/cases/{SEED_CASE}").json()
    assert request["hook"] == "order-select" and request["context"]["patientId"] == "seed-patient"
    assert httpx.get(f"{live_service}/preview/cases/seed/..%2F..%2Fpyproject").status_code == 404
    assert httpx.get(f"{live_service}/preview/static/../app.py").status_code == 404
    page = httpx.get(f"{live_service}/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]


@pytest.mark.browser
def test_seed_case_shows_warning_card_with_recommended_suggestion(live_service, page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    page.goto(f"{live_service}/")
    page.wait_for_selector("body[data-state=ready]", timeout=15_000)
    load_ms = (time.perf_counter() - started) * 1000

    page.select_option("[data-testid=case-select]", SEED_CASE)
    page.wait_for_selector("#order-select:not([disabled]) option[value='draft:draft-upadacitinib']", state="attached")
    assert page.input_value("[data-testid=order-select]") == "draft:draft-upadacitinib"
    hook_calls: list[str] = []
    page.on("request", lambda r: hook_calls.append(r.url) if r.method == "POST" else None)
    page.click("#evaluate")
    page.wait_for_selector("[data-testid=card]", timeout=15_000)

    assert any(url.endswith("/cds-services/axspa-therapy-switch") for url in hook_calls), "the real endpoint"
    warning = page.locator("[data-testid=card][data-indicator=warning]").first
    assert warning.is_visible()
    summary = warning.locator("[data-testid=card-summary]").inner_text()
    expected = httpx.post(f"{live_service}/cds-services/axspa-therapy-switch",
                          json=httpx.get(f"{live_service}/preview/cases/{SEED_CASE}").json()).json()
    warning_cards = [c for c in expected["cards"] if c["indicator"] == "warning"]
    assert summary == warning_cards[0]["summary"]
    assert "upadacitinib" in summary.lower()

    recommended = warning.locator("[data-testid=suggestion][data-recommended=true]")
    assert recommended.count() == 1
    assert "Recommended" in recommended.inner_text()
    expected_label = next(s["label"] for s in warning_cards[0]["suggestions"] if s.get("isRecommended"))
    assert expected_label in recommended.inner_text()
    assert warning.locator("[data-testid=suggestion][data-recommended=false]").count() >= 1
    # detail markdown is rendered (a table and bold text), not shown raw
    detail = warning.locator("[data-testid=card-detail]")
    assert detail.locator("table").count() >= 1 and detail.locator("strong").count() >= 1
    assert "**" not in detail.inner_text()
    assert page.errors == []  # type: ignore[attr-defined]

    shot = page.screenshot(path=str(ARTIFACTS / "preview-seed.png"))
    width, height, _ = decode_png(shot)
    assert (width, height) == (VIEWPORT["width"], VIEWPORT["height"])

    card_png = warning.screenshot(path=str(ARTIFACTS / "preview-seed-warning-card.png"))
    cw, ch, rows = decode_png(card_png)
    box = warning.bounding_box()
    assert box is not None and abs(cw - round(box["width"])) <= 1 and abs(ch - round(box["height"])) <= 1
    # the indicator stripe (10 px left border) is the warning colour, top to bottom
    for y in (ch // 4, ch // 2, 3 * ch // 4):
        assert near(pixel(rows, 4, y), WARNING_RGB), f"stripe pixel at y={y} is {pixel(rows, 4, y)}"
    # and the header band is the warning tint: count it over the card
    tinted = sum(1 for y in range(0, ch, 2) for x in range(12, cw, 4) if near(pixel(rows, x, y), WARNING_BG_RGB, 6))
    assert tinted > 0.02 * (ch / 2) * (cw / 4), "no warning-tinted header drawn"
    print(f"\npreview page load (to fixtures listed): {load_ms:.0f} ms; card {cw}x{ch}px")


@pytest.mark.browser
def test_markdown_renderer_escapes_html(live_service, page):
    page.goto(f"{live_service}/")
    page.wait_for_selector("body[data-state=ready]")
    html = page.evaluate("""() => window.renderMarkdown(
        '# Head <b>x</b>\\n\\n**bold** <img src=x onerror=alert(1)> [ok](https://example.org) [bad](javascript:alert(1))\\n\\n'
        + '- one\\n- two\\n\\n| a | b |\\n|---|---|\\n| <i>1</i> | 2 |')""")
    assert "<img" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.org" target="_blank" rel="noopener noreferrer">ok</a>' in html
    assert "javascript:" not in html.split("bad")[0][-40:] and 'href="javascript' not in html
    assert "<ul><li>one</li><li>two</li></ul>" in html
    assert "<table>" in html and "<th>a</th>" in html and "<td>&lt;i&gt;1&lt;/i&gt;</td>" in html


@pytest.mark.browser
def test_pasted_bundle_and_catalog_order(live_service, page):
    """Paste a plain patient Bundle (built from the seed's prefetch) and order secukinumab from the catalogue."""
    request = json.loads((REPO / "fhir_fixtures" / f"{SEED_CASE}.request.json").read_text())
    resources = [request["prefetch"]["patient"]] + [
        e["resource"] for key in ("medicationStatements", "medicationRequests", "conditions", "allergies")
        for e in (request["prefetch"][key] or {}).get("entry", [])
    ] + [e["resource"] for e in request["context"]["draftOrders"]["entry"]]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    page.goto(f"{live_service}/")
    page.wait_for_selector("body[data-state=ready]")
    page.click("#paste-box summary")
    page.fill("#paste-text", json.dumps(bundle))
    page.click("#paste-load")
    page.wait_for_selector("#order-select:not([disabled]) option[value='catalog:secukinumab']", state="attached")
    assert page.input_value("[data-testid=order-select]") == "draft:draft-upadacitinib"
    page.select_option("[data-testid=order-select]", "catalog:secukinumab")
    page.click("#evaluate")
    page.wait_for_selector("body[data-state=done]")
    assert page.locator("#input-error").is_hidden()
    # secukinumab after a failed JAKi and an etanercept intolerance is concordant: never a warning
    assert page.locator("[data-testid=card][data-indicator=warning]").count() == 0
    assert page.locator("[data-testid=card][data-indicator=critical]").count() == 0
    page.screenshot(path=str(ARTIFACTS / "preview-pasted-secukinumab.png"))
