"""The two kinds of CDS Hooks wire object: tolerant on the way in, strict on the way out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class Open(BaseModel):
    """Request-side object: unknown members are accepted and kept (spec: clients may add fields)."""

    model_config = ConfigDict(extra="allow")


class Closed(BaseModel):
    """Response-side object: only what 2.0 defines, plus ``extension``."""

    model_config = ConfigDict(extra="forbid")

    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _no_empty_members(self) -> Closed:
        # 2.0 "Use of JSON": optional members without a value are omitted, never "", [] or {}.
        for name, value in self:
            if name == "cards":
                continue
            if value == "" or value == [] or value == {}:
                raise ValueError(f"{name} must be omitted rather than empty")
        return self
