"""The governance charts (SVG or PNG, by the file's suffix), drawn with matplotlib from the ``plot`` extra.

matplotlib rather than hand-written SVG: a PNG needs a rasteriser and fonts anyway, and one drawing path gives both
formats the same axes, labels and legend. It is an optional extra (``pip install 'axspa-cds[plot]'``) because only
these two commands draw: the service never imports it. Output is reproducible (no timestamp, fixed SVG ids).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from service.governance._cli import CliError

OUTCOME_COLOURS = {"accepted": "#2e7d32", "overridden": "#ef6c00", "ignored": "#9e9e9e"}
INDICATOR_COLOURS = {"critical": "#c62828", "warning": "#f9a825", "info": "#1565c0"}


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise CliError("--plot needs matplotlib: pip install 'axspa-cds[plot]'") from None
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "axspa-cds"  # stable element ids: the same data gives the same file
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: searchable, accessible, smaller
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    metadata: dict[str, Any] = {"Date": None} if path.suffix.lower() == ".svg" else {"Software": None}
    try:
        fig.savefig(path, format=path.suffix.lower().lstrip("."), metadata=metadata, bbox_inches="tight", dpi=120)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


def _stacked(title: str, xlabel: str, labels: Sequence[str], series: Mapping[str, Sequence[float]],
             colours: Mapping[str, str], notes: Sequence[str], path: Path, *, percent: bool) -> None:
    """Horizontal stacked bars, one per label (top to bottom in the given order), a note at each bar's end."""
    plt = _pyplot()
    height = 1.8 + 0.32 * max(len(labels), 1)
    fig, ax = plt.subplots(figsize=(9.0, height), layout="constrained")
    try:
        positions = list(range(len(labels)))[::-1]
        left = [0.0] * len(labels)
        for name, values in series.items():
            ax.barh(positions, values, left=left, color=colours[name], label=name, height=0.7)
            left = [a + b for a, b in zip(left, values)]
        for y, x, note in zip(positions, left, notes):
            ax.text(x, y, f" {note}", va="center", fontsize=8)
        ax.set_yticks(positions, labels, fontsize=8)
        ax.set_ylim(-0.6, len(labels) - 0.4)
        ax.set_xlabel(xlabel)
        ax.set_title(title, fontsize=10)
        if percent:
            ax.set_xlim(0, 112)
        else:
            ax.set_xlim(0, max(left, default=1) * 1.15 or 1)
        fig.legend(loc="outside lower center", ncols=len(series), fontsize=8, frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        _save(fig, path)
    finally:
        plt.close(fig)


def plot_outcomes(rules: Mapping[str, Mapping[str, Any]], period: str, path: Path) -> None:
    """The report's chart: per rule, the share of its cards accepted, overridden and ignored (n shown at the end)."""
    names = sorted(rules, key=lambda r: (-rules[r]["shown"], r))
    shares: dict[str, list[float]] = {outcome: [] for outcome in OUTCOME_COLOURS}
    for name in names:
        shown = rules[name]["shown"] or 1
        for outcome in OUTCOME_COLOURS:
            shares[outcome].append(100.0 * rules[name][outcome] / shown)
    _stacked(f"What clinicians did with each rule's cards ({period})", "% of the rule's cards", names, shares,
             OUTCOME_COLOURS, [f"n={rules[name]['shown']}" for name in names], path, percent=True)


def plot_burden(by_rule_indicator: Mapping[str, Mapping[str, int]], patients: int, path: Path) -> None:
    """The replay's chart: cards per rule, by indicator, with cards per 100 patients at each bar's end."""
    totals = {rule: sum(counts.values()) for rule, counts in by_rule_indicator.items()}
    names = sorted(totals, key=lambda r: (-totals[r], r))
    series = {ind: [float(by_rule_indicator[r].get(ind, 0)) for r in names] for ind in INDICATOR_COLOURS}
    per_100 = [f"{100.0 * totals[r] / patients:.1f} per 100 patients" if patients else "" for r in names]
    _stacked(f"Alert burden per rule (silent-mode replay, {patients} patients)", "cards", names, series,
             INDICATOR_COLOURS, per_100, path, percent=False)
