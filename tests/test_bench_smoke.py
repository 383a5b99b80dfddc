"""The benchmark scripts run and print their tables (no figure is asserted: speed is shown by bench/, not tested)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_quick_seed_prints_the_seed_row_beside_the_floor(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, str(REPO / "bench" / "bench.py"), "--quick", "--only", "seed",
                          "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("# machine before:") and "nproc" in line and "load average" in line for line in lines)
    assert any(line.startswith("# machine after:") for line in lines)
    header = next(line for line in lines if line.startswith("row "))
    assert "svc p50" in header and "flr p50" in header and "ratio" in header and "goal" in header
    seed_rows = [line for line in lines if line.startswith("seed ")]
    assert len(seed_rows) == 1, run.stdout  # --only seed is that row, not seed-c8
    assert seed_rows[0].rstrip().endswith(("MET", "MISSED")), seed_rows[0]
    assert "UNEXPECTED STATUSES" not in seed_rows[0]
    results = json.loads(out.read_text())
    (row,) = results["rows"]
    assert row["row"] == "seed" and row["service"]["statuses"] == {"200": row["service"]["n"]}
    assert row["floor"]["statuses"] == {"200": row["floor"]["n"]}


@pytest.mark.slow
def test_ab_compares_a_checkout_with_itself_in_both_modes() -> None:
    run = subprocess.run([sys.executable, str(REPO / "bench" / "ab.py"), str(REPO), str(REPO), "--modes", "dev,RS384",
                          "--rounds", "2", "--requests", "30"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    rows = {line.split()[0]: line for line in run.stdout.splitlines() if "| B/A cpu" in line}
    assert set(rows) == {"dev", "RS384"}, run.stdout  # every request of both sides was answered 200
    assert all("A cpu" in row and "B cpu" in row for row in rows.values())


@pytest.mark.slow
def test_auth_path_prints_each_piece_of_the_production_path() -> None:
    run = subprocess.run([sys.executable, str(REPO / "bench" / "auth_path.py"), "--calls", "5"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    for piece in ("ES384 jwt.decode", "RS384 signature alone", "ES384 Authenticator.verify_token",
                  "SQLite claim as verify_token makes it", "SQLite claim through anyio"):
        assert any(line.startswith(piece) for line in run.stdout.splitlines()), (piece, run.stdout)


@pytest.mark.slow
def test_budget_prints_what_each_goal_leaves_the_engine() -> None:
    run = subprocess.run([sys.executable, str(REPO / "bench" / "budget.py"), "--modes", "dev,dev-c8,RS384",
                          "--rounds", "1", "--requests", "30"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr  # every request of the three sides was answered 200
    rows = {line.split()[0]: line for line in run.stdout.splitlines() if "| goal " in line}
    assert set(rows) == {"dev", "dev-c8", "RS384"}, run.stdout
    for mode, goal, figure in (("dev", "<= 2.0x", "p50"), ("dev-c8", ">= 0.5x", "req/s"), ("RS384", "<= 4.0x", "p50")):
        row = rows[mode]
        assert all(f"{side} {figure}" in row for side in ("floor", "service", "engine reused")), row
        assert f"goal {goal}: budget" in row and row.rstrip().endswith(("fits", "cheaper", "no budget")), row
