"""The CDS Hooks 2.0 surface: wire models, discovery, and the one request pipeline (routes in ``routes``)."""

from hooks.response import Card, CDSResponse
from service.cds.discovery import discovery_document
from service.cds.errors import BadRequest, CdsError, RequiredDataMissing, UnknownService
from service.cds.feedback import FeedbackRequest
from service.cds.pipeline import DataMissing, Evaluated, Outcome, Unrelated
from service.cds.request import SERVED_HOOKS, CDSRequest, HookName

__all__ = [
    "SERVED_HOOKS",
    "BadRequest",
    "CDSRequest",
    "CDSResponse",
    "Card",
    "CdsError",
    "DataMissing",
    "Evaluated",
    "FeedbackRequest",
    "HookName",
    "Outcome",
    "RequiredDataMissing",
    "UnknownService",
    "Unrelated",
    "discovery_document",
]
