"""Developer tools: the offline CLI (``python -m service evaluate``) and the card preview page (``GET /``)."""

from service.dev.errors import InputError
from service.dev.offline import evaluate_request, main
from service.dev.preview import router

__all__ = ["InputError", "evaluate_request", "main", "router"]
