"""A throwaway PostgreSQL cluster from Debian's `postgresql` package (installed by scripts/setup-tests.sh).

    with TempPostgres() as pg:
        psycopg.connect(pg.url)      # postgresql://axspa:axspa-test@127.0.0.1:PORT/axspa_test

Runs initdb / pg_ctl from /usr/lib/postgresql/<newest>/bin in a fresh temporary directory. initdb refuses to
run as root, so under euid 0 every server command runs as the `postgres` system user (created by the Debian
package) through `runuser -u postgres --`, in a 0700 directory under /tmp chowned to it. The server listens only
on 127.0.0.1:<free port>, its unix socket lives in the temp dir, fsync is off. Superuser `postgres` (password
auth on TCP) owns the cluster; the application role `axspa` (LOGIN, not superuser) owns database `axspa_test`.
"""
from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .net import free_port


def find_pg_bin() -> Path | None:
    """Newest /usr/lib/postgresql/<ver>/bin holding initdb (PG_BIN env overrides)."""
    if os.environ.get("PG_BIN"):
        p = Path(os.environ["PG_BIN"])
        return p if (p / "initdb").exists() else None
    cands = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def ver(p: str) -> tuple[int, ...]:
        m = re.search(r"/postgresql/([\d.]+)/", p)
        return tuple(int(x) for x in m.group(1).split(".")) if m else (0,)
    return Path(sorted(cands, key=ver)[-1]).parent if cands else None


def _is_root() -> bool:
    return os.geteuid() == 0


def postgres_available() -> tuple[bool, str]:
    """(ok, reason) -- whether TempPostgres can run here."""
    if find_pg_bin() is None:
        return False, "no /usr/lib/postgresql/*/bin/initdb"
    if _is_root():
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return False, "running as root but there is no `postgres` system user"
        if shutil.which("runuser") is None:
            return False, "running as root but `runuser` is missing"
    return True, ""


class TempPostgres:
    def __init__(self, *, user: str = "axspa", password: str = "axspa-test", dbname: str = "axspa_test",
                 superuser_password: str = "postgres-test", start_timeout: int = 30, keep_dir: bool | None = None):
        self.user = user
        self.password = password
        self.dbname = dbname
        self.superuser_password = superuser_password
        self.start_timeout = start_timeout
        self.keep_dir = bool(os.environ.get("KEEP_TEST_DIRS")) if keep_dir is None else keep_dir
        self.bin: Path | None = None
        self.base: Path | None = None
        self.port: int | None = None
        self.startup_seconds: float | None = None
        self._running = False

    # ------------------------------------------------------------------ URLs
    @property
    def url(self) -> str:
        """Application URL: postgresql://axspa:axspa-test@127.0.0.1:PORT/axspa_test."""
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.dbname}"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres:{self.superuser_password}@127.0.0.1:{self.port}/postgres"

    def url_for(self, dbname: str) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    @property
    def datadir(self) -> Path:
        assert self.base is not None
        return self.base / "data"

    @property
    def log_path(self) -> Path:
        assert self.base is not None
        return self.base / "postgres.log"

    # ------------------------------------------------------------------ process helpers
    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        assert self.bin is not None and self.base is not None
        cmd = [str(self.bin / args[0]), *args[1:]]
        if _is_root():
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        r = subprocess.run(cmd, cwd=self.base, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}\n"
                               f"--- server log tail ---\n{self.log_tail()}")
        return r

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, AssertionError):
            return "<no log>"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> TempPostgres:
        ok, why = postgres_available()
        if not ok:
            raise RuntimeError(f"TempPostgres unavailable: {why}")
        self.bin = find_pg_bin()
        t0 = time.monotonic()
        # /tmp is 1777, so the postgres user can reach a 0700 dir it owns right below it.
        self.base = Path(tempfile.mkdtemp(prefix="axspa-pg-", dir="/tmp" if _is_root() else None))
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.superuser_password + "\n")
        os.chmod(self.base, 0o700)
        os.chmod(pwfile, 0o600)
        if _is_root():
            pw = pwd.getpwnam("postgres")
            for p in (self.base, pwfile):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        try:
            self._run("initdb", "-D", str(self.datadir), "-U", "postgres", f"--pwfile={pwfile}",
                      "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
                      "--no-sync", "--no-instructions")
            pwfile.unlink()
            for attempt in range(3):
                self.port = free_port()
                opts = (f"-F -p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.base}"
                        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
                r = self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.log_path), "-w",
                              "-t", str(self.start_timeout), "-o", opts, "start", check=False,
                              timeout=self.start_timeout + 10)
                if r.returncode == 0:
                    break
                if "already in use" not in self.log_tail() or attempt == 2:
                    raise RuntimeError(f"pg_ctl start failed ({r.returncode}):\n{r.stdout}\n{r.stderr}\n"
                                       f"--- server log tail ---\n{self.log_tail()}")
            self._running = True
            self._psql_admin(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'")
            self._psql_admin(f"CREATE DATABASE {self.dbname} OWNER {self.user}")
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _psql_admin(self, sql: str, db: str = "postgres") -> str:
        """Run SQL as superuser over the unix socket (trust auth)."""
        r = self._run("psql", "-h", str(self.base), "-p", str(self.port), "-U", "postgres", "-d", db,
                      "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql)
        return r.stdout

    def create_database(self, dbname: str) -> str:
        """A fresh extra database owned by the app role; returns its URL (for per-test isolation)."""
        self._psql_admin(f"CREATE DATABASE {dbname} OWNER {self.user}")
        return self.url_for(dbname)

    def drop_database(self, dbname: str) -> None:
        self._psql_admin(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")

    def stop(self) -> None:
        if self.base is None:
            return
        if self._running or (self.datadir / "postmaster.pid").exists():
            r = self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "20", "stop", check=False)
            if r.returncode != 0:
                self._kill_postmaster()
            self._running = False
        if not self.keep_dir:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self.datadir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, 9)
        except (OSError, ValueError, IndexError):
            pass

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
