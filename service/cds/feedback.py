"""CDS Hooks 2.0 feedback request models (tolerant, like every request) and their size limits.

Every string has a bounded length and every list a bounded size, so that what is stored is what a clinician's
answer can be: a card id (a uuid), the suggestions taken, a coded reason and a comment. The route adds the limits
that are settings: the body size (``CDS_FEEDBACK_MAX_BYTES``, 413), the items per request
(``CDS_FEEDBACK_MAX_ITEMS``, 400) and the rate per client (``CDS_FEEDBACK_RATE_PER_MIN``, 429).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from service.cds._base import Open

#: Longest id (card, suggestion): CDS Hooks ids are uuids (36 characters); room for other schemes.
ID_MAX = 256
#: Longest coded-reason system, code and display.
SYSTEM_MAX, CODE_MAX, DISPLAY_MAX = 512, 128, 512
#: Longest free-text comment a clinician can write in an override reason.
COMMENT_MAX = 2_000
#: Most accepted suggestions in one feedback item (a card carries a handful).
SUGGESTIONS_MAX = 20
#: Largest feedback item as stored (JSON), extensions and unknown members included.
ITEM_MAX_BYTES = 8_192


class AcceptedSuggestion(Open):
    id: str = Field(min_length=1, max_length=ID_MAX)


class FeedbackCoding(Open):
    system: str = Field(min_length=1, max_length=SYSTEM_MAX)
    code: str = Field(min_length=1, max_length=CODE_MAX)
    display: str | None = Field(None, max_length=DISPLAY_MAX)


class FeedbackOverrideReason(Open):
    reason: FeedbackCoding | None = None
    userComment: str | None = Field(None, max_length=COMMENT_MAX)

    @model_validator(mode="after")
    def _one_of(self) -> FeedbackOverrideReason:
        if self.reason is None and not self.userComment:
            raise ValueError("overrideReason needs a reason or a userComment (cds-fb-3)")
        return self


class Feedback(Open):
    card: str = Field(min_length=1, max_length=ID_MAX)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = Field(None, max_length=SUGGESTIONS_MAX)
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
