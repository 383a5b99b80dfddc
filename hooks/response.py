"""CDS Hooks 2.0 response models: what the hook returns (cards) and the service serialises.

Strict on purpose: the 2.0 invariants are enforced when a card is built, so a card that breaks the spec cannot leave
the hook. Serialise with ``CDSResponse(cards=...).model_dump_json(exclude_none=True)``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Action", "CDSResponse", "Card", "Closed", "Coding", "Link", "OverrideReason", "Source", "Suggestion"]


class Closed(BaseModel):
    """A CDS Hooks response-side object (cards, discovery): only what 2.0 defines, plus ``extension``."""

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


class Coding(Closed):
    system: str = Field(min_length=1)
    code: str = Field(min_length=1)
    display: str | None = None


class OverrideReason(Coding):
    display: str = Field(min_length=1)  # required for override reasons


class Source(Closed):
    label: str = Field(min_length=1)
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(Closed):
    type: Literal["create", "update", "delete"]
    description: str = Field(min_length=1)
    resource: dict[str, Any] | None = None
    resourceId: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Action:
        if self.type == "delete":
            if not self.resourceId or self.resource is not None:
                raise ValueError("a delete action carries resourceId and no resource (cds-resp-2)")
        elif self.resource is None:
            raise ValueError(f"a {self.type} action carries the resource")
        return self


class Suggestion(Closed):
    label: str = Field(min_length=1)
    uuid: str
    isRecommended: bool | None = None
    actions: list[Action] | None = None


class Link(Closed):
    label: str = Field(min_length=1)
    url: str = Field(min_length=1)
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None


class Card(Closed):
    uuid: str
    summary: str = Field(min_length=1, max_length=139)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[OverrideReason] | None = None
    links: list[Link] | None = None

    @model_validator(mode="after")
    def _suggestion_rules(self) -> Card:
        if self.suggestions:
            if self.selectionBehavior is None:
                raise ValueError("selectionBehavior is required when there are suggestions")
            recommended = sum(1 for s in self.suggestions if s.isRecommended)
            if self.selectionBehavior == "at-most-one" and recommended > 1:
                raise ValueError("at-most-one allows at most one recommended suggestion (cds-resp-1)")
        return self


class CDSResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cards: list[Card]
    systemActions: list[Action] | None = None
