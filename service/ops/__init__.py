"""Operations: structured logs, Prometheus metrics, the middleware that limits and measures every request."""

from service.ops.logs import QUIET_LOGGERS, JsonFormatter, configure, pseudonym, quiet_outbound_loggers
from service.ops.metrics import Metrics
from service.ops.middleware import BodyLimitMiddleware, MetricsMiddleware
from service.ops.ratelimit import RateLimiter

__all__ = [
    "QUIET_LOGGERS",
    "BodyLimitMiddleware",
    "JsonFormatter",
    "Metrics",
    "MetricsMiddleware",
    "RateLimiter",
    "configure",
    "pseudonym",
    "quiet_outbound_loggers",
]
