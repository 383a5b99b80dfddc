"""Prometheus metrics. Labels are bounded sets (route templates, hooks, indicators): never an identifier."""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric

#: The methods the request metrics name; any other is counted as "other" (a label set is bounded: never what a
#: client chose to send).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ConnectionMetrics:
    """What the HTTP protocol counts (service.ops.connections), below any app: one set per process, shown by every
    app's ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.disconnects = Counter(
            "cds_client_disconnects_total", "Clients that went away mid-request, by stage (headers, body, response).",
            ["stage"], registry=self.registry,
        )
        self.closed = Counter(
            "cds_connections_closed_total", "Connections the server closed, by reason (idle-timeout, header-timeout, "
            "body-timeout, header-too-large, invalid-request, shed, refused, drained, drain-limit).",
            ["reason"], registry=self.registry,
        )
        self.open = Gauge(
            "cds_connections_open", "Open client connections.", registry=self.registry, multiprocess_mode="livesum",
        )


CONNECTIONS = ConnectionMetrics()


class _Forward:
    """A collector that shows another registry's metrics (the process-wide connection metrics in an app's)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


class Metrics:
    """One registry per app, so that several apps in one process (tests) do not collide."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "cds_http_requests_total", "HTTP requests by route, hook and status.",
            ["route", "method", "hook", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "cds_http_request_duration_seconds", "HTTP request latency by route and hook.",
            ["route", "method", "hook"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.cards = Counter(
            "cds_cards_total", "Cards returned, by hook and indicator.", ["hook", "indicator"], registry=self.registry
        )
        self.silent = Counter(
            "cds_silent_responses_total", "Responses with no card, by hook and why.", ["hook", "reason"],
            registry=self.registry,
        )
        self.fhir_latency = Histogram(
            "cds_fhir_fetch_duration_seconds", "Time spent resolving data from the FHIR server per hook call.",
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.fhir_failures = Counter(
            "cds_fhir_fetch_failures_total", "Prefetch keys that could not be read from the FHIR server.", ["key"],
            registry=self.registry,
        )
        self.feedback = Counter(
            "cds_feedback_total", "Feedback items received, by outcome.", ["outcome"], registry=self.registry
        )
        self.auth_failures = Counter(
            "cds_auth_failures_total", "Requests refused by client authentication, by failed check.", ["check"],
            registry=self.registry,
        )
        # The card ledger (service/governance): rule ids come from the knowledge file's closed set, or "unknown".
        self.rule_cards = Counter(
            "cds_rule_cards_total",
            "Ledger cards by rule and outcome: shown (a card uuid recorded for the first time), accepted or "
            "overridden (feedback received for a ledger card).",
            ["rule", "outcome"], registry=self.registry,
        )
        self.ledger_written = Counter(
            "cds_ledger_written_rows_total", "Card ledger rows written to the store.", registry=self.registry
        )
        self.ledger_dropped = Counter(
            "cds_ledger_dropped_rows_total", "Card ledger rows lost, by reason (queue-full, store-error).", ["reason"],
            registry=self.registry,
        )
        self.registry.register(_Forward(CONNECTIONS.registry))
        self._per_request: dict[tuple[str, str, str, int], tuple[Counter, Histogram]] = {}

    def request_done(self, route: str, method: str, hook: str, status: int, seconds: float) -> None:
        """Count and time one HTTP request. The label children of each combination are looked up once and kept
        (``labels()`` costs a lock and a tuple of strings per call; the combinations are few)."""
        key = (route, method if method in METHODS else "other", hook, status)
        children = self._per_request.get(key)
        if children is None:
            children = self._per_request[key] = (
                self.requests.labels(key[0], key[1], hook, str(status)), self.latency.labels(key[0], key[1], hook))
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        """This process's metrics; with several workers (PROMETHEUS_MULTIPROC_DIR set) every worker's, summed."""
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]  # unannotated upstream
            return generate_latest(registry)
        return generate_latest(self.registry)
