"""What bench/bench.py and bench/load.py share: the processes they start, the credentials of production mode,
the machine's noise line, and small statistics.

Processes are real: the service is ``python -m service --port P [--workers N]`` configured by CDS_* variables
(exactly how an operator starts it); the floor is ``python -m uvicorn bench.floor:app``. Both log to files in
the run's temporary directory, never to a pipe the benchmark would have to drain.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import multiprocessing
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests"))  # the tests' own key and PostgreSQL helpers (tests/support)

from support.jwt_keys import TestKey, client_entry, trusted_clients_file  # noqa: E402
from support.postgres import TempPostgres, postgres_available  # noqa: E402
from support.service import stop_group  # noqa: E402

HOOK_PATH = "/cds-services/axspa-therapy-switch"
PY = sys.executable
PUBLIC_BASE_URL = "https://cds.bench.example"  # production mode: every JWT's aud is derived from it
ISSUER = "https://ehr.bench.example"
# The seed request's fhirServer. Production mode allowlists it, as a deployment allowlists its EHR: the seed's
# prefetch is complete, so it is never contacted (and the service logs no "not allowlisted" warning per call).
SEED_FHIR_SERVER = "https://ehr.example.org/fhir"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- the machine and its noise
def machine_line(when: str) -> str:
    """``nproc`` and the load average, printed before and after a run so a reader can judge the noise."""
    one, five, fifteen = os.getloadavg()
    return (f"# machine {when}: {platform.node()}, nproc {len(os.sched_getaffinity(0))}, "
            f"load average {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min), Python {platform.python_version()}, "
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}")


# ----------------------------------------------------------------------------- /proc readings of a process tree
def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (uvicorn's supervisor and its workers), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB / 1024
    except OSError:
        return 0.0


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (fields 14 and 15 of /proc/PID/stat)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


# ----------------------------------------------------------------------------- servers as subprocesses
@dataclass
class Server:
    """A server subprocess (in its own process group) that logs to a file and answers ``ready_path`` when up."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    workdir: Path
    ready_path: str | None = "/readyz"  # None: ready when the port accepts a TCP connection
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    cwd: Path = REPO  # the checkout it runs from (bench/ab.py runs two)

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self, timeout_s: float = 60) -> Server:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([*self.cmd, "--port", str(self.port)], cwd=self.cwd, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up:\n{self.log_tail()}")
            if self.ready_path is None:  # a plain TCP server: ready when it accepts a connection
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=2):
                    return self
                time.sleep(0.1)
                continue
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", self.ready_path)
                if conn.getresponse().status == 200:
                    conn.close()
                    return self
                conn.close()
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return "<no log>"

    def pids(self) -> list[int]:
        assert self.proc is not None
        return process_tree(self.proc.pid)

    def rss_mb(self) -> dict[str, float]:
        """RSS in MiB of every process of the server, by role: with several uvicorn workers the root process is
        the supervisor, the others are the workers and multiprocessing's resource tracker."""
        pids = self.pids()
        out = {}
        for pid in pids:
            role = "worker"
            if len(pids) > 1 and pid == pids[0]:
                role = "supervisor"
            elif b"resource_tracker" in _cmdline(pid):
                role = "tracker"
            out[f"{role} {pid}"] = rss_mb(pid)
        return out

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pids())

    def stop(self) -> None:
        stop_group(self.proc)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def service(name: str, workdir: Path, env: dict[str, str], workers: int = 1) -> Server:
    """The service, started the way an operator starts it (``python -m service``)."""
    return Server(name, [PY, "-m", "service", "--workers", str(workers)], env, workdir)


def floor(workdir: Path, responses: Path) -> Server:
    """The framework floor (bench/floor.py) under the same uvicorn (uvloop + httptools), no access log."""
    return Server("floor", [PY, "-m", "uvicorn", "bench.floor:app", "--host", "127.0.0.1", "--no-access-log",
                            "--log-level", "warning"],
                  {"BENCH_FLOOR_RESPONSES": str(responses)}, workdir, ready_path="/healthz")


def dev_env(workdir: Path, name: str) -> dict[str, str]:
    """Development mode: no JWT, a temporary SQLite store; everything else at the service's defaults."""
    return {"CDS_ALLOW_UNAUTHENTICATED": "true", "CDS_DATABASE_URL": f"sqlite:///{workdir / (name + '.sqlite3')}"}


# ----------------------------------------------------------------------------- production mode
class Credentials:
    """Real keys (an ES384 and an RS384 key of one trusted client) in a trusted-clients file under ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.keys = {"ES384": TestKey.ec384("bench-es384"), "RS384": TestKey.rsa("bench-rs384", "RS384")}
        self.file = trusted_clients_file(workdir, [client_entry(ISSUER, keys=list(self.keys.values()))])
        self.audience = PUBLIC_BASE_URL + HOOK_PATH  # what the service derives from CDS_PUBLIC_BASE_URL

    def env(self, database_url: str, **extra: str) -> dict[str, str]:
        return {"CDS_ALLOW_UNAUTHENTICATED": "false", "CDS_TRUSTED_CLIENTS": str(self.file),
                "CDS_PUBLIC_BASE_URL": PUBLIC_BASE_URL, "CDS_DATABASE_URL": database_url,
                "CDS_FHIR_ALLOWLIST": SEED_FHIR_SERVER, **extra}

    def tokens(self, alg: str, n: int) -> list[str]:
        """``n`` fresh client JWTs (unique jti, 5-minute lifetime), made now: outside any timed window.
        Many tokens are signed in one process per core (ES384 costs ~0.35 ms a token here)."""
        key = self.keys[alg]
        processes = len(os.sched_getaffinity(0))
        if n < 2000 or processes < 2:
            return [key.mint(iss=ISSUER, aud=self.audience) for _ in range(n)]
        global _minting
        _minting = (key, self.audience)  # inherited by the forked pool (private keys do not pickle)
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            chunks = pool.map(_mint, [-(-n // processes)] * processes)
        return [token for chunk in chunks for token in chunk][:n]


_minting: tuple[TestKey, str] | None = None


def _mint(n: int) -> list[str]:
    assert _minting is not None
    key, audience = _minting
    return [key.mint(iss=ISSUER, aud=audience) for _ in range(n)]


@contextlib.contextmanager
def postgres_or_none() -> Iterator[tuple[TempPostgres | None, str]]:
    """A throwaway PostgreSQL cluster (tests/support/postgres.py), or (None, why not)."""
    ok, why = postgres_available()
    if not ok:
        yield None, why
        return
    with TempPostgres(dbname="axspa_bench") as pg:
        yield pg, ""


def postgres_for_modes(stack: contextlib.ExitStack, modes: list[str]) -> tuple[str | None, list[str]]:
    """For modes named ``...-pg``: a throwaway PostgreSQL database that every side shares (distinct jtis), held
    open by ``stack``. Returns its URL (None if no mode needs it, or it is not installed: said in a line) and the
    modes that can run."""
    if not any(m.endswith("-pg") for m in modes):
        return None, modes
    pg, why = stack.enter_context(postgres_or_none())
    if pg is None:
        print(f"# PostgreSQL modes skipped: {why}")
        return None, [m for m in modes if not m.endswith("-pg")]
    return pg.url, modes


def mode_arguments(parser: argparse.ArgumentParser, known: Sequence[str], default: Sequence[str]) -> None:
    """The options of the scripts that alternate servers in rounds of seed requests (bench/ab.py, bench/budget.py)."""
    parser.add_argument("--modes", default=",".join(default), help=f"comma-separated, of {', '.join(known)}")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=800, help="requests per side per round")


def modes_of(parser: argparse.ArgumentParser, args: argparse.Namespace, known: Sequence[str]) -> list[str]:
    modes = [m for m in args.modes.split(",") if m]
    unknown = sorted(set(modes) - set(known))
    if unknown:
        parser.error(f"unknown modes {unknown}")
    return modes


@contextlib.contextmanager
def workdir(keep: bool = False) -> Iterator[Path]:
    """A temporary directory for the run's logs, stores and token files; removed at the end unless ``keep``."""
    path = Path(tempfile.mkdtemp(prefix="axspa-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"# logs and files kept in {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


# ----------------------------------------------------------------------------- statistics
def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def finish(results: dict, started: float, json_path: Path | None) -> int:
    """The end of every benchmark: the machine's load after the run, the wall time, the JSON if asked for."""
    results["machine_after"] = machine_line("after")
    results["wall_s"] = time.perf_counter() - started
    print(results["machine_after"])
    print(f"# wall time {results['wall_s']:.0f} s")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=1))
    return 0


# ----------------------------------------------------------------------------- the floor's answers
def capture(port: int, body: bytes, headers: dict[str, str]) -> dict[str, object]:
    """One call to the service; its status, media type and bytes are what the floor will answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", HOOK_PATH, body=body, headers={"Content-Type": "application/json", **headers})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return {"status": response.status, "media_type": response.getheader("content-type", ""), "bytes": data}


def write_floor_responses(path: Path, captured: dict[str, dict[str, object]]) -> Path:
    """The file bench/floor.py reads: case name -> status, media type, base64 body."""
    path.write_text(json.dumps({
        case: {"status": c["status"], "media_type": c["media_type"], "body": base64.b64encode(c["bytes"]).decode()}
        for case, c in captured.items()}))
    return path
