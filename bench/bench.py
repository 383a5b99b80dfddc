"""Latency/throughput benchmark of the CDS Hooks service against a floor, side by side in one run.

    .venv/bin/python bench/bench.py                # full run (~2-3 minutes on 2 cores)
    .venv/bin/python bench/bench.py --duration 1   # quicker, noisier
    .venv/bin/python bench/bench.py --no-fhir      # skip the FHIR-fallback rows (no sekmet needed)

What it does:
  1. starts the service as a real uvicorn subprocess (dev mode CDS_ALLOW_UNAUTHENTICATED=true, a temp SQLite),
     records its RSS at rest after start-up;
  2. starts a local sekmet FHIR server (tests/support/fhir_server.SekmetServer, needs .venv-sekmet from
     scripts/setup-tests.sh) loaded with the seed patient, for the FHIR-fallback rows (no prefetch);
  3. sends each request once to the service and captures status + response bytes;
  4. starts the floor (bench/floor.py: a bare FastAPI route under the same uvicorn that JSON-parses the same
     body and returns the captured bytes);
  5. for every row, drives the service and the floor alternately with an httpx.AsyncClient load generator
     (keep-alive, `concurrency` connections, warm-up requests excluded, bounded by count and time) and prints
     p50/p99 latency, requests/s and the service/floor ratios; then the linearity of cost in history size
     and the service's peak RSS (VmHWM).
Results are also written as JSON to bench/results/latest.json (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO / "tests"))

import gen  # noqa: E402

HOOK_PATH = "/cds-services/axspa-therapy-switch"
PY = sys.executable

TARGETS = {
    "seed_ratio": 2.0,
    "h1000_ratio": 2.5,
    "h1000_p50_ms": 60.0,
    "rss_rest_mb": 150.0,
}


# ----------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    module: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, workdir: Path, ready_path: str) -> float:
        self.log = workdir / f"{self.name}.log"
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        cmd = [PY, "-m", "uvicorn", self.module, "--host", "127.0.0.1", "--port", str(self.port),
               "--no-access-log", "--log-level", "warning"]
        t0 = time.perf_counter()
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = t0 + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + ready_path, timeout=1).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{self.name} not ready after 30 s:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.05)

    def status_kb(self, key: str) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


# ----------------------------------------------------------------------------- load generator
@dataclass
class Point:
    latencies_ms: list[float]
    elapsed_s: float
    errors: int

    @property
    def n(self) -> int:
        return len(self.latencies_ms)

    def pct(self, p: float) -> float:
        data = sorted(self.latencies_ms)
        if not data:
            return float("nan")
        k = min(len(data) - 1, max(0, round(p / 100 * (len(data) - 1))))
        return data[k]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99(self) -> float:
        return self.pct(99)

    @property
    def rps(self) -> float:
        return self.n / self.elapsed_s if self.elapsed_s else float("nan")


async def _drive(url: str, body: bytes, case: str, expect: int, concurrency: int, warmup: int,
                 max_requests: int, duration_s: float) -> Point:
    headers = {"Content-Type": "application/json", "X-Bench-Case": case}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        errors = 0

        async def one() -> float:
            nonlocal errors
            t0 = time.perf_counter()
            r = await client.post(url, content=body, headers=headers)
            dt = (time.perf_counter() - t0) * 1000
            if r.status_code != expect:
                errors += 1
            return dt

        # warm-up (excluded): opens the keep-alive connections
        for _ in range(max(1, warmup // concurrency)):
            await asyncio.gather(*(one() for _ in range(concurrency)))
        errors = 0
        latencies: list[float] = []
        started = time.perf_counter()
        deadline = started + duration_s
        remaining = max_requests

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                latencies.append(await one())

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return Point(latencies, time.perf_counter() - started, errors)


def drive(url: str, body: bytes, case: str, expect: int, concurrency: int, args: argparse.Namespace) -> Point:
    return asyncio.run(_drive(url, body, case, expect, concurrency, args.warmup, args.max_requests,
                              args.duration))


# ----------------------------------------------------------------------------- cases
def build_cases(fhir_base: str | None) -> dict[str, tuple[str, bytes]]:
    """name -> (description, request body bytes)."""
    seed = gen.load_seed()
    cases: dict[str, tuple[str, bytes]] = {
        "seed": ("seed request (3 MS, 1 Cond, 1 Allergy)", orjson.dumps(seed)),
    }
    for n in (250, 500, 1000, 2000):
        cases[f"h{n}"] = (f"history {n} MS / {n // 5} Cond / {n // 20} Allergy",
                          orjson.dumps(gen.history_request(n)))
    if fhir_base:
        fallback = copy.deepcopy(seed)
        fallback.pop("prefetch", None)
        fallback["fhirServer"] = fhir_base
        cases["fhir"] = ("FHIR fallback (no prefetch; 5 reads from sekmet)", orjson.dumps(fallback))
    return cases


def start_sekmet(seed: dict[str, Any]):
    from support.fhir_server import SekmetServer, prefetch_to_resources, sekmet_available

    if not sekmet_available():
        print("bench: sekmet not installed (bash scripts/setup-tests.sh); skipping the FHIR-fallback rows",
              file=sys.stderr)
        return None
    server = SekmetServer()
    server.start()
    server.load_resources(prefetch_to_resources(seed))
    return server


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=2.5, help="seconds measured per row and server")
    parser.add_argument("--max-requests", type=int, default=3000, help="most requests measured per row")
    parser.add_argument("--warmup", type=int, default=16, help="warm-up requests per row (excluded)")
    parser.add_argument("--no-fhir", action="store_true", help="skip the FHIR-fallback rows")
    parser.add_argument("--json", type=Path, default=BENCH / "results" / "latest.json")
    parser.add_argument("--app", default="service.app:app", help="ASGI app of the service (for A/B runs)")
    args = parser.parse_args(argv)
    wall0 = time.perf_counter()

    workdir = Path(tempfile.mkdtemp(prefix="axspa-bench-"))
    service = Server("service", args.app, {
        "CDS_ALLOW_UNAUTHENTICATED": "true",
        "CDS_DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "CDS_LOG_LEVEL": "WARNING",
    })
    floor = Server("floor", "bench.floor:app", {"BENCH_FLOOR_RESPONSES": str(workdir / "responses.json")})
    sekmet = None
    results: dict[str, Any] = {"rows": []}
    try:
        startup_s = service.start(workdir, "/readyz")
        time.sleep(1.0)
        rest_rss_kb = service.status_kb("VmRSS")
        if not args.no_fhir:
            sekmet = start_sekmet(gen.load_seed())
        cases = build_cases(sekmet.base_url if sekmet else None)

        # capture the service's answer to each request: the floor returns the same bytes
        captured: dict[str, dict[str, Any]] = {}
        with httpx.Client(timeout=30) as client:
            for name, (_, body) in cases.items():
                r = client.post(service.url + HOOK_PATH, content=body,
                                headers={"Content-Type": "application/json"})
                captured[name] = {"status": r.status_code, "media_type": r.headers.get("content-type", ""),
                                  "body": base64.b64encode(r.content).decode(), "size": len(r.content),
                                  "cards": len(r.json().get("cards", [])) if r.status_code == 200 else None}
                if r.status_code != 200:
                    print(f"bench: WARNING: {name} -> HTTP {r.status_code}: {r.text[:300]}", file=sys.stderr)
        (workdir / "responses.json").write_bytes(orjson.dumps(captured))
        floor.start(workdir, "/healthz")

        plan = [(name, 1) for name in cases] + [(name, 8) for name in ("seed", "h1000", "fhir") if name in cases]
        print(f"# axSpA CDS Hooks service benchmark  {time.strftime('%Y-%m-%d %H:%M')}  "
              f"{platform.node()}  {os.cpu_count()} cores  Python {platform.python_version()}")
        print(f"# service start-up {startup_s:.2f} s; {args.duration:.1f} s or {args.max_requests} requests per "
              f"row and server after {args.warmup} warm-up requests; latencies in ms, client-side (httpx)")
        header = (f"{'case':<7}{'conc':>5}{'req KiB':>9}{'resp B':>8} | {'svc p50':>8}{'svc p99':>8}{'svc rps':>8} | "
                  f"{'flr p50':>8}{'flr p99':>8}{'flr rps':>8} | {'p50 x':>6}{'p99 x':>6}{'rps x':>6}")
        print(header)
        print("-" * len(header))
        for name, conc in plan:
            desc, body = cases[name]
            expect = captured[name]["status"]
            svc = drive(service.url + HOOK_PATH, body, name, expect, conc, args)
            flr = drive(floor.url + HOOK_PATH, body, name, expect, conc, args)
            row = {
                "case": name, "description": desc, "concurrency": conc, "request_bytes": len(body),
                "response_bytes": captured[name]["size"], "status": expect, "cards": captured[name]["cards"],
                "service": {"p50": svc.p50, "p99": svc.p99, "rps": svc.rps, "n": svc.n, "errors": svc.errors},
                "floor": {"p50": flr.p50, "p99": flr.p99, "rps": flr.rps, "n": flr.n, "errors": flr.errors},
                "ratio_p50": svc.p50 / flr.p50, "ratio_p99": svc.p99 / flr.p99, "ratio_rps": svc.rps / flr.rps,
            }
            results["rows"].append(row)
            flag = "" if not (svc.errors or flr.errors) else f"  ERRORS svc={svc.errors} floor={flr.errors}"
            print(f"{name:<7}{conc:>5}{len(body) / 1024:>9.0f}{captured[name]['size']:>8} | "
                  f"{svc.p50:>8.2f}{svc.p99:>8.2f}{svc.rps:>8.0f} | {flr.p50:>8.2f}{flr.p99:>8.2f}{flr.rps:>8.0f} | "
                  f"{row['ratio_p50']:>6.2f}{row['ratio_p99']:>6.2f}{row['ratio_rps']:>6.2f}  n={svc.n}/{flr.n}{flag}",
                  flush=True)

        peak_kb = service.status_kb("VmHWM")
        end_rss_kb = service.status_kb("VmRSS")
        floor_rest_kb = floor.status_kb("VmRSS")
        results["memory"] = {"service_rss_rest_mb": rest_rss_kb / 1024, "service_peak_mb": peak_kb / 1024,
                             "service_rss_end_mb": end_rss_kb / 1024, "floor_rss_mb": floor_rest_kb / 1024}
        print()
        print(f"service RSS at rest after start-up: {rest_rss_kb / 1024:.1f} MiB; peak (VmHWM) {peak_kb / 1024:.1f} MiB;"
              f" at the end {end_rss_kb / 1024:.1f} MiB   (floor: {floor_rest_kb / 1024:.1f} MiB)")

        # linearity: service-only cost (p50 service - p50 floor) against history size
        by = {(r["case"], r["concurrency"]): r for r in results["rows"]}
        sizes = [n for n in (250, 500, 1000, 2000) if (f"h{n}", 1) in by]
        lin: dict[str, Any] = {}
        if len(sizes) >= 3:
            xs = [float(n) for n in sizes]
            ys = [by[(f"h{n}", 1)]["service"]["p50"] for n in sizes]
            own = [by[(f"h{n}", 1)]["service"]["p50"] - by[(f"h{n}", 1)]["floor"]["p50"] for n in sizes]
            slope, intercept, r2 = _fit(xs, ys)
            slope_own, intercept_own, r2_own = _fit(xs, own)
            per_stmt = [y / x * 1000 for x, y in zip(xs, own)]
            lin = {"sizes": sizes, "p50": ys, "own_p50": own, "slope_ms_per_1000": slope * 1000,
                   "intercept_ms": intercept, "r2": r2, "own_slope_ms_per_1000": slope_own * 1000,
                   "own_r2": r2_own, "own_ms_per_1000_by_size": per_stmt,
                   "ratio_2000_over_1000": ys[-1] / by[("h1000", 1)]["service"]["p50"] if 2000 in sizes else None}
            print("history size:            " + "".join(f"{n:>9}" for n in sizes))
            print("service p50 (ms):        " + "".join(f"{y:>9.2f}" for y in ys))
            print("service - floor (ms):    " + "".join(f"{y:>9.2f}" for y in own))
            print(f"linear fit of p50: {slope * 1000:.2f} ms per 1,000 statements + {intercept:.2f} ms, R^2 = {r2:.4f};"
                  f" service-own cost: {slope_own * 1000:.2f} ms per 1,000, R^2 = {r2_own:.4f}")
        results["linearity"] = lin

        # targets
        print()
        seed_r = by.get(("seed", 1))
        h1000 = by.get(("h1000", 1))
        checks = []
        if seed_r:
            checks.append(("seed p50 <= 2.0x floor", seed_r["ratio_p50"] <= TARGETS["seed_ratio"],
                           f"{seed_r['ratio_p50']:.2f}x ({seed_r['service']['p50']:.2f} vs {seed_r['floor']['p50']:.2f} ms)"))
        if h1000:
            checks.append(("1,000-statement p50 <= 2.5x floor", h1000["ratio_p50"] <= TARGETS["h1000_ratio"],
                           f"{h1000['ratio_p50']:.2f}x ({h1000['service']['p50']:.2f} vs {h1000['floor']['p50']:.2f} ms)"))
            checks.append(("1,000-statement p50 <= 60 ms", h1000["service"]["p50"] <= TARGETS["h1000_p50_ms"],
                           f"{h1000['service']['p50']:.2f} ms"))
        if lin:
            ok = lin["r2"] >= 0.98 and (lin["ratio_2000_over_1000"] or 2) <= 2.3
            checks.append(("cost linear in history size", ok,
                           f"R^2 {lin['r2']:.4f}, p50(2000)/p50(1000) = {lin['ratio_2000_over_1000']:.2f}"))
        checks.append(("RSS at rest <= 150 MB", rest_rss_kb / 1024 <= TARGETS["rss_rest_mb"],
                       f"{rest_rss_kb / 1024:.1f} MiB (peak {peak_kb / 1024:.1f} MiB)"))
        for what, ok, figure in checks:
            print(f"target {'MET ' if ok else 'MISSED'}  {what:<36} {figure}")
        results["targets"] = [{"target": w, "met": ok, "figure": f} for w, ok, f in checks]
        results["wall_s"] = time.perf_counter() - wall0
        print(f"\nbenchmark wall time {results['wall_s']:.0f} s")
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
        return 0 if all(ok for _, ok, _ in checks) else 1
    finally:
        floor.stop()
        service.stop()
        if sekmet is not None:
            sekmet.stop()


def _fit(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    slope = sxy / sxx
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys))
    return slope, intercept, 1 - ss_res / ss_tot if ss_tot else 1.0


if __name__ == "__main__":
    raise SystemExit(main())
