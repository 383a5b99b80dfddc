"""What the governance commands share: one-line argument errors (exit 2), ISO dates, the plot file check."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import orjson

PLOT_FORMATS = (".svg", ".png")


class CliError(Exception):
    """The command cannot run as asked; the message is shown on one line (exit 2)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints usage + message)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date (YYYY-MM-DD)") from None


def plot_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in PLOT_FORMATS:
        raise argparse.ArgumentTypeError(f"{text!r}: the plot is written as .svg or .png")
    return path


def emit(as_json: bool, document: dict[str, Any], text: Callable[[], str]) -> int:
    """Print the result: ``document`` as indented JSON, else the readable ``text``. Returns the exit status 0."""
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n" if as_json else text())
    return 0
