"""Run ``wrk`` (Debian package ``wrk``) with bench/post.lua and read back its figures.

wrk is an event-driven C load generator: one epoll loop per thread drives many keep-alive connections, so it
needs far less CPU per request than Python clients (bench/client_ceiling.py measures both on this machine).
Pre-generated JWTs reach it through one file per wrk thread; the Lua script spends one per request.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from common import BENCH

SCRIPT = BENCH / "post.lua"


def available() -> bool:
    return shutil.which("wrk") is not None


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    socket_errors: dict[str, int]  # connect / read / write / timeout, as wrk counts them
    exhausted: int  # requests sent without a token because the pre-generated ones ran out (run invalid)
    cpu_s: float  # wrk's own CPU time (user + system)
    raw: dict = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else float("nan")

    def errors(self) -> dict[str, int]:
        """Everything that is not the expected answer: non-2xx statuses and socket errors, by kind."""
        out = {f"HTTP {s}": n for s, n in sorted(self.statuses.items()) if not s.startswith("2")}
        out.update({k: n for k, n in self.socket_errors.items() if n})
        return out


class Wrk:
    """One wrk run, started in the background (``start``) and collected (``wait``)."""

    def __init__(self, url: str, body: bytes, case: str, tokens: list[str] | None, *, connections: int,
                 threads: int, duration_s: float, timeout_s: float, workdir: Path, name: str) -> None:
        threads = min(threads, connections)
        body_file = workdir / f"{name}.body.json"
        body_file.write_bytes(body)
        prefix = "-"
        if tokens is not None:
            prefix = str(workdir / f"{name}.tokens")
            for k in range(threads):  # wrk thread k spends tokens[k], tokens[k + threads], ...
                Path(f"{prefix}.{k}").write_text("\n".join(tokens[k::threads]) + "\n")
        self.output = workdir / f"{name}.wrk.txt"
        self.cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration_s:g}s",
                    "--timeout", f"{timeout_s:g}s", "-s", str(SCRIPT), url, "--", str(body_file), prefix, case]
        self.proc: subprocess.Popen | None = None

    def start(self) -> Wrk:
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def wait(self) -> WrkResult:
        assert self.proc is not None
        _, status, usage = os.wait4(self.proc.pid, 0)  # wait4: wrk's own rusage, not that of other children
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        text = self.output.read_text(errors="replace")
        line = next((x for x in text.splitlines() if x.startswith("BENCH_JSON ")), None)
        if self.proc.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({self.proc.returncode}):\n{text[-2000:]}")
        raw = json.loads(line.removeprefix("BENCH_JSON "))
        return WrkResult(
            requests=raw["requests"], duration_s=raw["duration_us"] / 1e6, p50_ms=raw["p50_us"] / 1000,
            p99_ms=raw["p99_us"] / 1000, max_ms=raw["max_us"] / 1000, statuses=raw["statuses"],
            socket_errors={k: raw[k] for k in ("connect", "read", "write", "timeout")},
            exhausted=raw["exhausted"], cpu_s=usage.ru_utime + usage.ru_stime, raw=raw)


def run(url: str, body: bytes, case: str, tokens: list[str] | None = None, **options) -> WrkResult:
    return Wrk(url, body, case, tokens, **options).start().wait()
