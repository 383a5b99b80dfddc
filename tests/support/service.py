"""The service as an operator runs it: ``python -m service`` in a subprocess (its own process group), configured
by ``CDS_*`` variables, logging to a file, ready when ``/readyz`` answers 200.

    with LiveService(tmp_path, CDS_HEADER_TIMEOUT_S="0.5") as svc:
        httpx.get(f"{svc.url}/healthz")
        svc.metric("cds_client_disconnects_total", stage="body")
"""
from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .net import free_port

REPO = Path(__file__).resolve().parents[2]


class LiveService:
    def __init__(self, workdir: Path, *, workers: int = 1, fd_soft_limit: int | None = None, **env: str) -> None:
        self.workdir = workdir
        self.workers = workers
        self.fd_soft_limit = fd_soft_limit
        self.port = free_port()
        self.log_path = workdir / f"service-{self.port}.log"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("CDS_")},
                    "CDS_ALLOW_UNAUTHENTICATED": "true", "CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",
                    "CDS_DATABASE_URL": f"sqlite:///{workdir / f'state-{self.port}.sqlite3'}",
                    "PYTHONPATH": str(REPO), **env}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> LiveService:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "service", "--port", str(self.port), "--workers", str(self.workers)],
                cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=self._limit_fds if self.fd_soft_limit else None)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"service not ready after {timeout_s} s:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def _limit_fds(self) -> None:  # in the child, before exec: a low soft limit the service should raise
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.fd_soft_limit, hard))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample of ``/metrics`` (0 when absent)."""
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        for line in text.splitlines():
            match = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
            if match and match[1] == name and dict(re.findall(r'(\w+)="([^"]*)"', match[2] or "")) == labels:
                return float(match[3])
        return 0.0

    def stop(self) -> None:
        stop_group(self.proc)

    def __enter__(self) -> LiveService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_group(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop a server started in its own process group (its workers too): SIGTERM, then SIGKILL after 15 s."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
