"""Prometheus metrics: request latencies by route, and the counts the services report
(``services.telemetry``): checkouts started, orders finalized, webhook deliveries failed.

With several server workers each process counts on its own; ``kasse serve`` then points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder and ``/metrics`` adds up every worker's
numbers, whichever worker answers the scrape.
"""

from __future__ import annotations

import os
import threading

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

NAMESPACE = "kasse"
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Latency buckets around what a checkout server answers in: 1 ms to 10 s.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# The counters the services report, with their help text and labels.
KNOWN = {
    "checkouts_started": ("Checkouts started (token or initialize)", ("kind",)),
    "orders_finalized": ("Orders finalized", ("kind",)),
    "webhook_deliveries_failed": ("Merchant webhook delivery attempts that failed", ()),
    "emails_failed": ("Attempts to send a shopper's email that failed", ()),
    "rate_limited": ("Requests refused by a rate limit", ("route",)),
}


class PrometheusMetrics:
    """The process's metrics; also the services' meter."""

    content_type = CONTENT_TYPE

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Histogram(
            "http_request_duration_seconds", "Time to answer a request, by route",
            ("method", "route", "status"), namespace=NAMESPACE, buckets=BUCKETS,
            registry=self.registry)
        self._counters: dict[str, Counter] = {}
        self._series: dict[tuple[str, str, int], Histogram] = {}
        self._lock = threading.Lock()
        for name, (help_text, labels) in KNOWN.items():
            self._counter(name, help_text, labels)

    def _counter(self, name: str, help_text: str, labels: tuple[str, ...]) -> Counter:
        with self._lock:
            counter = self._counters.get(name)
            if counter is None:
                counter = Counter(name, help_text, labels, namespace=NAMESPACE,
                                  registry=self.registry)
                self._counters[name] = counter
            return counter

    def count(self, name: str, **labels: str) -> None:
        counter = self._counters.get(name) or self._counter(name, name, tuple(sorted(labels)))
        (counter.labels(**labels) if labels else counter).inc()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:  # labels() looks the series up under a lock: once per key
            series = self._series[key] = self.requests.labels(method, route, str(status))
        series.observe(seconds)

    def render(self) -> bytes:
        if os.environ.get(MULTIPROCESS_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return bytes(generate_latest(registry))
        return bytes(generate_latest(self.registry))
