"""CDS Hooks 2.0 feedback request models (tolerant, like every request)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from hooks.response import Coding
from service.cds._base import Open


class AcceptedSuggestion(Open):
    id: str = Field(min_length=1)


class FeedbackOverrideReason(Open):
    reason: Coding | None = None
    userComment: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> FeedbackOverrideReason:
        if self.reason is None and not self.userComment:
            raise ValueError("overrideReason needs a reason or a userComment (cds-fb-3)")
        return self


class Feedback(Open):
    card: str = Field(min_length=1)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: FeedbackOverrideReason | None = None
    outcomeTimestamp: datetime

    @field_validator("outcomeTimestamp")
    @classmethod
    def _has_timezone(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("outcomeTimestamp must carry a timezone (RFC 3339)")
        return value

    @model_validator(mode="after")
    def _accepted_needs_suggestions(self) -> Feedback:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required when outcome is accepted (cds-fb-2)")
        return self


class FeedbackRequest(Open):
    feedback: list[Feedback] = Field(min_length=1)
