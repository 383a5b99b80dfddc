"""CDS Hooks 2.0 response models: what the hook returns (cards) and the service serialises.

Strict on purpose: these models state the 2.0 invariants (non-empty members, a delete carries its resourceId, at most
one recommended suggestion under ``at-most-one``...). The hook's card builders (hooks/cards.py) guarantee them by
construction and build with ``model_construct``, without running the validators on every call (they were most of
a card's cost: docs/performance.md); the tests re-validate every card of every fixture, and of the property tests,
with these models (tests/test_response_contract.py). Instances are frozen: the builders share the parts that never
change (override reasons) between cards. Serialise with ``CDSResponse(cards=...).model_dump_json(exclude_none=True)``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Action", "CDSResponse", "Card", "Closed", "Coding", "Link", "OverrideReason", "Source", "Suggestion"]


class Closed(BaseModel):
    """A CDS Hooks response-side object (cards, discovery): only what 2.0 defines, plus ``extension``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
    model_config = ConfigDict(extra="forbid", frozen=True)
    cards: list[Card]
    systemActions: list[Action] | None = None
