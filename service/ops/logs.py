"""Structured (JSON-lines) logging. Never a token, a JWT or a patient identifier: hash what must correlate."""

from __future__ import annotations

import hashlib
import logging
import sys
from typing import Any

import orjson

#: Loggers that would write outbound URLs (with ``patient=<id>`` in FHIR searches) or headers at INFO/DEBUG.
QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "psycopg")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "color_message"}


def pseudonym(value: str) -> str:
    """A short, stable, non-reversible tag for correlating log lines about one identifier."""
    return hashlib.sha256(b"axspa-cds:" + value.encode()).hexdigest()[:12]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the record's extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(level: str = "INFO") -> None:
    """JSON lines on stderr for the root logger and uvicorn's; outbound HTTP loggers quiet."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    quiet_outbound_loggers()


def quiet_outbound_loggers() -> None:
    """httpx logs every request URL at INFO and httpcore logs headers at DEBUG: keep them at WARNING."""
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
