"""The two kinds of CDS Hooks wire object: tolerant on the way in (``Open``), strict on the way out (``Closed``,
shared with the cards the hook builds in :mod:`hooks.response`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from hooks.response import Closed

__all__ = ["Closed", "Open"]


class Open(BaseModel):
    """Request-side object: unknown members are accepted and kept (spec: clients may add fields)."""

    model_config = ConfigDict(extra="allow")
